#pragma once

#include "core/time.hpp"
#include "delivery/curl_driver.hpp"
#include "delivery/http_profiles.hpp"
#include "delivery/transport.hpp"

#include <curl/curl.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace herald::delivery {

struct HttpTransportOptions {
    std::string url;    // http:// or https://, the provider's send endpoint
    std::string token;  // when not empty: "Bearer <token>", or Basic "api:<token>" for mailgun
    bool verify_tls = true;
    HttpProfile profile = HttpProfile::herald;  // the request shape (see http_profiles.hpp)
};

// Posts each message to an HTTP email API, as herald's JSON (below) or in the shape of a provider
// profile (http_profiles.hpp), through libcurl on a CurlDriver thread owned by the transport.
// Connections are kept alive and reused between sends, but only after a clean exchange: curl closes
// a connection whose transfer timed out or was cut off, so a late answer to an abandoned request
// can never be read as the answer to the next one (tested).
//
// Request: POST <url> with
//   Content-Type: application/json          (the profile's; form-urlencoded for mailgun)
//   Idempotency-Key: <notification id>      (the same on every attempt: providers deduplicate)
//   Authorization: Bearer <token>           (only when a token is configured; Basic for mailgun)
//   traceparent, tracestate                 (W3C trace context of the attempt's span, when set)
// and, for the herald profile, the body (see http_request_body):
//   {"id": "<notification id>", "message_id": "<local@domain>",
//    "from": …, "to": […], "cc": […], "bcc": […], "reply_to": […],
//    "subject": "…", "text": "…", "html": "…", "headers": …}
// where every field after message_id is copied as mail::to_json writes it. Strings are UTF-8,
// unencoded (no RFC 2047): the provider composes the email.
//
// Outcomes (see classify_http_attempt): 2xx → sent; 429 and 503 → throttled, other 5xx and 408
// → transient (429/5xx carry the provider's Retry-After); any other status → permanent; no
// connection (DNS, refused, TLS handshake) → transient; the request went out but no answer came
// back (connection dropped, nothing received, timeout after connecting) → ambiguous. The same for
// every profile; a 2xx with an empty body (SendGrid's 202) is sent. A message that
// build_provider_request refuses (a line break in a header field) is permanent without a
// request. Each attempt is bounded by OutboundMessage::timeout. The detail never includes the
// body or the token.
class HttpTransport final : public Transport {
public:
    explicit HttpTransport(HttpTransportOptions options);
    ~HttpTransport() override;

    std::string_view name() const override { return "http"; }
    void send(std::shared_ptr<const OutboundMessage> message, Done done) override;
    void stop() override;

private:
    const HttpTransportOptions options_;
    CurlDriver driver_;
};

// The JSON body of the herald profile, described above.
std::string http_request_body(const OutboundMessage& message);

// Maps a finished transfer to an outcome. `status` is the HTTP status (0 when none arrived);
// `request_sent` tells whether curl got as far as sending the request; `retry_after` is the
// Retry-After header of the final response, if any, parsed relative to `now`.
SendResult classify_http_attempt(CURLcode code,
                                 long status,
                                 bool request_sent,
                                 std::optional<std::string_view> retry_after,
                                 core::UnixMs now);

}  // namespace herald::delivery
