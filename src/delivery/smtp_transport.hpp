#pragma once

#include "delivery/curl_driver.hpp"
#include "delivery/transport.hpp"

#include <curl/curl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace herald::delivery {

enum class StartTls {
    off,            // plain text, never upgrade
    opportunistic,  // upgrade when the server offers STARTTLS
    required,       // fail the attempt (transient) when the server does not offer it
};

struct SmtpTransportOptions {
    std::string url;   // smtp://host:port (STARTTLS per `starttls`) or smtps://host:port (TLS)
    std::string user;  // AUTH when not empty
    std::string password;
    StartTls starttls = StartTls::opportunistic;
    bool verify_tls = true;
    std::string helo;  // the EHLO/HELO name; empty: curl's default
    // 5xx replies to treat as transient rather than permanent (some servers answer 550 or 554
    // for what is really a temporary condition, such as greylisting).
    std::vector<int> transient_replies;
};

// Sends OutboundMessage::mime over SMTP through libcurl on a CurlDriver thread owned by the
// transport. Each message gets a connection of its own, closed (QUIT) after it: a connection is
// never reused, so a transaction that timed out or broke off cannot leave late replies behind
// for the next one. Sends run concurrently, one connection each. The envelope is MAIL FROM:<from>
// and one RCPT TO per recipient (to, cc, bcc); a single refused recipient fails the whole send,
// so a message reaches all recipients or none. The message must use CRLF and contain no line
// that starts with '.' (mail::compose guarantees both), so curl's dot-stuffing changes nothing.
//
// Outcomes (see classify_smtp_attempt): accepted → sent; 421 (the server sheds load) →
// throttled; another 4xx reply → transient; a 5xx reply → permanent unless listed in
// transient_replies; no connection → transient; the connection failed or timed out once the message
// body had started to flow → ambiguous (the server may have queued it). Bounded by
// OutboundMessage::timeout.
//
// Known shortcoming: curl 7.88 cannot ask for SMTPUTF8 (MAIL FROM … SMTPUTF8), so a message
// whose envelope holds an address with a non-ASCII local part is failed at once as permanent,
// with that reason, instead of being sent mangled. It bites for such recipients only; the fix is
// a newer curl (8.x negotiates SMTPUTF8) or an SMTP client of our own.
class SmtpTransport final : public Transport {
public:
    explicit SmtpTransport(SmtpTransportOptions options);
    ~SmtpTransport() override;

    std::string_view name() const override { return "smtp"; }
    void send(std::shared_ptr<const OutboundMessage> message, Done done) override;
    void stop() override;

private:
    const SmtpTransportOptions options_;
    const std::string url_;  // options_.url with the HELO name as its path
    CurlDriver driver_;
};

// Maps a finished transfer to an outcome. `reply` is the last SMTP reply code (0 when none);
// `data_started` tells whether the server had accepted DATA and the body had begun to flow;
// `transient_replies` lists the 5xx codes that count as transient.
SendResult classify_smtp_attempt(CURLcode code,
                                 long reply,
                                 bool data_started,
                                 const std::vector<int>& transient_replies = {});

}  // namespace herald::delivery
