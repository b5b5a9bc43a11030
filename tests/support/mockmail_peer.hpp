#pragma once

#include "support/process.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace herald::test {

struct MockmailOptions {
    std::filesystem::path binary;  // the herald-mockmail executable
    std::uint16_t port = 0;        // 0: a free port (retried on a start-up collision)
    std::optional<int> latency_ms;
    std::optional<int> latency_count;  // only the first N sends wait latency_ms (default: all)
    std::optional<int> fail_status;    // with fail_count: answer this status to the first N sends
    std::optional<int> fail_count;
    std::optional<int> drop_count;           // read the first N sends, then close without answering
    std::optional<std::string> retry_after;  // Retry-After on the failed sends
    std::optional<int> fail_for_ms;          // an outage: fail every send for this long
    std::optional<double> rate_limit;        // sends a second; beyond: 429 with Retry-After
    std::optional<int> rate_burst;
};

// herald's mock email API, run as a real process on 127.0.0.1. The constructor starts it and
// returns once it listens (throws std::runtime_error with its output otherwise); the destructor
// kills it. calls() is GET /calls: records {seq, received_at_ms, idempotency_key, traceparent,
// message_id, subject, from, to, id, body}; key_counts() is GET /keys, the calls per
// Idempotency-Key. Every call blocks; not thread-safe.
class MockmailPeer {
public:
    MockmailPeer(const std::filesystem::path& work_dir, MockmailOptions options);
    ~MockmailPeer();
    MockmailPeer(const MockmailPeer&) = delete;
    MockmailPeer& operator=(const MockmailPeer&) = delete;

    std::uint16_t port() const { return port_; }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::string send_url() const { return base_url() + "/v1/send"; }

    boost::json::array calls();  // throws std::runtime_error when it does not answer
    boost::json::value stats();
    std::map<std::string, std::int64_t> key_counts();  // throws like calls()
    void clear();                                      // DELETE /calls

    bool running() { return process_.running(); }
    void stop() { process_.kill_and_wait(); }
    std::string log() const;

private:
    std::uint16_t port_ = 0;
    Process process_;
};

}  // namespace herald::test
