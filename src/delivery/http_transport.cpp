#include "delivery/http_transport.hpp"

#include "delivery/retry_after.hpp"
#include "mail/message.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <utility>

namespace herald::delivery {
namespace {

// One transfer in flight: the easy handle and everything its options point into.
struct HttpTransfer {
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    std::string body;
    std::optional<std::string> retry_after;
    Transport::Done done;

    HttpTransfer() = default;
    HttpTransfer(const HttpTransfer&) = delete;
    HttpTransfer& operator=(const HttpTransfer&) = delete;
    ~HttpTransfer() {
        curl_slist_free_all(headers);
        if (easy != nullptr) {
            curl_easy_cleanup(easy);
        }
    }
};

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) ==
                      std::tolower(static_cast<unsigned char>(b));
           });
}

// Keeps the Retry-After of the last response only: a new status line (after 100 Continue, say)
// forgets what came before.
std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<HttpTransfer*>(user);
    const std::size_t length = size * count;
    std::string_view line(data, length);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
        line.remove_suffix(1);
    }
    if (starts_with_ignoring_case(line, "HTTP/")) {
        transfer->retry_after.reset();
    } else if (starts_with_ignoring_case(line, "retry-after:")) {
        transfer->retry_after = std::string(line.substr(12));
    }
    return length;
}

std::size_t discard_body(char*, std::size_t size, std::size_t count, void*) {
    return size * count;
}

SendResult outcome(AttemptOutcome kind, std::string detail, long status = 0) {
    SendResult result;
    result.outcome = kind;
    result.detail = std::move(detail);
    result.status_code = static_cast<int>(status);
    return result;
}

bool is_connect_failure(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
            return true;
        default:
            return false;
    }
}

SendResult classify_status(long status,
                           std::optional<std::string_view> retry_after,
                           core::UnixMs now) {
    if (status >= 200 && status < 300) {
        return outcome(AttemptOutcome::sent, fmt::format("HTTP {}", status), status);
    }
    if (status == 429 || (status >= 500 && status < 600)) {
        // 429 and 503 ask herald to slow down; other server errors are failures.
        const AttemptOutcome kind =
            status == 429 || status == 503 ? AttemptOutcome::throttled : AttemptOutcome::transient;
        SendResult result = outcome(kind, fmt::format("HTTP {}", status), status);
        if (retry_after) {
            result.retry_after = parse_retry_after(*retry_after, now);
        }
        return result;
    }
    if (status == 408) {
        return outcome(AttemptOutcome::transient, "HTTP 408", status);
    }
    return outcome(AttemptOutcome::permanent, fmt::format("HTTP {}", status), status);
}

}  // namespace

SendResult classify_http_attempt(CURLcode code,
                                 long status,
                                 bool request_sent,
                                 std::optional<std::string_view> retry_after,
                                 core::UnixMs now) {
    if (code == CURLE_OK) {
        return classify_status(status, retry_after, now);
    }
    // A status line arrived before the failure (a body cut short): the provider did decide.
    if (status >= 200 && code != CURLE_ABORTED_BY_CALLBACK) {
        return classify_status(status, retry_after, now);
    }
    const std::string reason = curl_easy_strerror(code);
    if (code == CURLE_ABORTED_BY_CALLBACK) {
        return outcome(request_sent ? AttemptOutcome::ambiguous : AttemptOutcome::transient,
                       "transport stopped");
    }
    if (is_connect_failure(code) || !request_sent) {
        return outcome(AttemptOutcome::transient, fmt::format("no connection: {}", reason));
    }
    // GOT_NOTHING, RECV_ERROR, SEND_ERROR, OPERATION_TIMEDOUT and the like, after the request
    // (or part of it) went out: the provider may have acted on it.
    return outcome(AttemptOutcome::ambiguous, fmt::format("no answer: {}", reason));
}

std::string http_request_body(const OutboundMessage& message) {
    const boost::json::object fields = mail::to_json(message.message);
    boost::json::object body;
    body["id"] = message.notification_id;
    body["message_id"] = "<" + message.message.message_id + ">";
    for (const char* key :
         {"from", "to", "cc", "bcc", "reply_to", "subject", "text", "html", "headers"}) {
        if (const auto* value = fields.if_contains(key)) {
            body[key] = *value;
        }
    }
    return boost::json::serialize(body);
}

HttpTransport::HttpTransport(HttpTransportOptions options) : options_(std::move(options)) {}

HttpTransport::~HttpTransport() {
    stop();
}

void HttpTransport::send(std::shared_ptr<const OutboundMessage> message, Done done) {
    auto transfer = std::make_shared<HttpTransfer>();
    transfer->easy = curl_easy_init();
    if (transfer->easy == nullptr) {
        done(outcome(AttemptOutcome::transient, "curl_easy_init failed"));
        return;
    }
    auto request = build_provider_request(options_.profile, *message);
    if (!request) {
        done(outcome(AttemptOutcome::permanent, request.error()));
        return;
    }
    transfer->body = std::move(request->body);
    transfer->done = std::move(done);

    curl_slist* headers = nullptr;
    headers =
        curl_slist_append(headers, fmt::format("Content-Type: {}", request->content_type).c_str());
    headers = curl_slist_append(headers, "Accept: application/json");
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    headers = curl_slist_append(
        headers, fmt::format("Idempotency-Key: {}", message->notification_id).c_str());
    if (!message->traceparent.empty()) {
        headers = curl_slist_append(headers, ("traceparent: " + message->traceparent).c_str());
        if (!message->tracestate.empty()) {
            headers = curl_slist_append(headers, ("tracestate: " + message->tracestate).c_str());
        }
    }
    const bool basic_auth = options_.profile == HttpProfile::mailgun;
    if (!options_.token.empty() && !basic_auth) {
        headers = curl_slist_append(
            headers, fmt::format("Authorization: Bearer {}", options_.token).c_str());
    }
    transfer->headers = headers;

    CURL* easy = transfer->easy;
    curl_easy_setopt(easy, CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, transfer->body.data());
    curl_easy_setopt(
        easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(transfer->body.size()));
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer->headers);
    if (!options_.token.empty() && basic_auth) {
        // Mailgun: HTTP Basic with the fixed user "api" and the API key as the password.
        curl_easy_setopt(easy, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
        curl_easy_setopt(easy, CURLOPT_USERNAME, "api");
        curl_easy_setopt(easy, CURLOPT_PASSWORD, options_.token.c_str());
    }
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "herald/0.1");
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer.get());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &discard_body);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(message->timeout.count()));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(message->timeout.count()));
    if (!options_.verify_tls) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    driver_.perform(easy, [transfer](CURLcode code, long status) {
        curl_off_t pretransfer_us = 0;
        curl_easy_getinfo(transfer->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
        std::optional<std::string_view> retry_after;
        if (transfer->retry_after) {
            retry_after = *transfer->retry_after;
        }
        transfer->done(classify_http_attempt(
            code, status, pretransfer_us > 0, retry_after, core::unix_now_ms()));
    });
}

void HttpTransport::stop() {
    driver_.stop();
}

}  // namespace herald::delivery
