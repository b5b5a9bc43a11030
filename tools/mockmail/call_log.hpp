#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace herald::mockmail {

// One send as the mock received it. Credentials are never kept: only whether they were present.
struct Call {
    std::uint64_t seq = 0;
    std::uint64_t connection = 0;  // which TCP connection carried it (1, 2, … in accept order)
    std::int64_t received_at_ms = 0;
    std::string idempotency_key;  // "" when the header was absent
    bool authorization = false;
    std::string authorization_scheme;  // "Bearer", "Basic", …; "" when absent
    std::string authorization_user;    // Basic only: the user name (never the password)
    std::string traceparent;           // "" when absent
    boost::json::value message_id;     // from the body; null when absent or the body is not JSON
    boost::json::value subject;
    boost::json::value from;
    boost::json::value to;
    boost::json::value id;
    std::string route = "herald";  // the send route: herald, sendgrid or mailgun (SendRoute)
    std::string content_type;      // the request's Content-Type
    // sendgrid and mailgun: what the provider-shaped body said (ParsedSend::fields, also the
    // source of message_id, subject, from and to above); null on the herald route.
    boost::json::value fields;
    std::string body;  // the raw request body
    int answer = 0;    // the status the mock chose; 0 when it dropped the connection instead
};

// Every send received since start (or the last reset), in arrival order. Not thread-safe: the
// mock runs on one thread.
class CallLog {
public:
    Call& add(Call call);
    void reset();

    boost::json::array to_json() const;
    // {"calls":N,"answers":{"200":A,…},"distinct_keys":M,"repeated_calls":R,"in_flight":F,
    // "peak_in_flight":P}: `answers` counts the calls by the status chosen ("0": dropped); R counts
    // the calls whose key an earlier call already carried (what a deduplicating provider would
    // have swallowed); F the sends being answered now, P the most at once.
    boost::json::object stats() const;
    // {"KEY":N,…}: how many calls carried each Idempotency-Key (calls without one are left out).
    boost::json::object key_counts() const;

    std::uint64_t next_seq() const { return calls_.size() + 1; }

    // A send is being answered (from its arrival until its answer or drop): for the in-flight
    // figures of stats(), which show whether herald sent in parallel.
    void begin_send();
    void end_send();

private:
    std::vector<Call> calls_;
    std::uint64_t in_flight_ = 0;
    std::uint64_t peak_in_flight_ = 0;  // since start or the last reset
};

}  // namespace herald::mockmail
