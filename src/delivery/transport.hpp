#pragma once

#include "mail/message.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::delivery {

// How one attempt ended, from herald's point of view.
enum class AttemptOutcome {
    sent,       // the provider accepted the message
    transient,  // refused or failed in a way worth retrying (5xx, SMTP 4xx, no connection)
    permanent,  // refused for good (4xx other than 408/429, SMTP 5xx, an address it cannot carry)
    ambiguous,  // the request may have reached the provider but no answer came back
    throttled,  // the provider asked herald to slow down (HTTP 429 or 503, SMTP 421): the
                // transport pauses; does not count towards delivery.max_attempts
};

std::string_view to_string(AttemptOutcome outcome);

struct SendResult {
    AttemptOutcome outcome = AttemptOutcome::transient;
    std::string detail;   // short, human-readable, never contains credentials or the body
    int status_code = 0;  // HTTP status or SMTP reply code when one was received
    std::optional<std::chrono::milliseconds> retry_after;  // provider asked to wait this long
};

// One delivery attempt's input. `mime` is the composed RFC 5322 message (CRLF line ends);
// `message` is the same content as fields, for transports that post JSON. `tags` and
// `metadata` are the notification's, as intake accepted them (empty when it had none): only
// the http transport's provider profiles send them.
struct OutboundMessage {
    std::string notification_id;
    int attempt = 1;
    mail::Message message;
    std::string mime;
    std::vector<std::string> tags;
    boost::json::object metadata;
    std::chrono::milliseconds timeout{30000};
    // The W3C trace context of this attempt's span, for transports that can carry it (http sends
    // them as the traceparent and tracestate headers). "" when none.
    std::string traceparent;
    std::string tracestate;
};

// A way to hand a message to a provider. `send` returns at once; `done` runs exactly once, on a
// thread owned by the transport (never the caller's I/O thread), also when the transport stops.
// Implementations are thread-safe and keep no reference to the caller after `done` runs.
class Transport {
public:
    using Done = std::function<void(SendResult)>;

    virtual ~Transport() = default;
    virtual std::string_view name() const = 0;
    virtual void send(std::shared_ptr<const OutboundMessage> message, Done done) = 0;
    // Fails every queued send (as transient) and joins the transport's threads. Idempotent.
    virtual void stop() = 0;
};

}  // namespace herald::delivery
