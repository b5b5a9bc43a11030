#include "delivery/smtp_transport.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

namespace herald::delivery {
namespace {

// One transfer in flight: the easy handle and everything its options point into.
struct SmtpTransfer {
    CURL* easy = nullptr;
    curl_slist* recipients = nullptr;
    std::shared_ptr<const OutboundMessage> message;
    std::string mail_from;
    std::size_t offset = 0;
    bool data_started = false;
    Transport::Done done;

    SmtpTransfer() = default;
    SmtpTransfer(const SmtpTransfer&) = delete;
    SmtpTransfer& operator=(const SmtpTransfer&) = delete;
    ~SmtpTransfer() {
        curl_slist_free_all(recipients);
        if (easy != nullptr) {
            curl_easy_cleanup(easy);
        }
    }
};

// curl asks for body bytes only after the server answered DATA with 354.
std::size_t read_body(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<SmtpTransfer*>(user);
    transfer->data_started = true;
    const std::string& mime = transfer->message->mime;
    const std::size_t length = std::min(size * count, mime.size() - transfer->offset);
    std::memcpy(buffer, mime.data() + transfer->offset, length);
    transfer->offset += length;
    return length;
}

// curl may ask to rewind the body before sending it again; it never does on a connection of its
// own (we forbid reuse), but a rewind must still leave the transfer consistent.
int seek_body(void* user, curl_off_t offset, int origin) {
    auto* transfer = static_cast<SmtpTransfer*>(user);
    if (origin != SEEK_SET || offset < 0 ||
        static_cast<std::size_t>(offset) > transfer->message->mime.size()) {
        return CURL_SEEKFUNC_CANTSEEK;
    }
    transfer->offset = static_cast<std::size_t>(offset);
    transfer->data_started = false;
    return CURL_SEEKFUNC_OK;
}

SendResult outcome(AttemptOutcome kind, std::string detail, long reply = 0) {
    SendResult result;
    result.outcome = kind;
    result.detail = std::move(detail);
    result.status_code = static_cast<int>(reply);
    return result;
}

bool needs_smtputf8(const mail::Message& message) {
    const auto any = [](const std::vector<mail::Mailbox>& boxes) {
        return std::any_of(boxes.begin(), boxes.end(), [](const mail::Mailbox& box) {
            return box.needs_smtputf8();
        });
    };
    return message.from.needs_smtputf8() || any(message.to) || any(message.cc) || any(message.bcc);
}

long use_ssl_level(StartTls starttls) {
    switch (starttls) {
        case StartTls::off:
            return CURLUSESSL_NONE;
        case StartTls::opportunistic:
            return CURLUSESSL_TRY;
        case StartTls::required:
            return CURLUSESSL_ALL;
    }
    return CURLUSESSL_TRY;
}

// curl takes the EHLO name from the URL's path: smtp://host:port/helo.name
std::string url_with_helo(const SmtpTransportOptions& options) {
    std::string url = options.url;
    const auto authority = url.find("://");
    const auto path = url.find('/', authority == std::string::npos ? 0 : authority + 3);
    if (path != std::string::npos) {
        url.erase(path);
    }
    if (!options.helo.empty()) {
        url += "/" + options.helo;
    }
    return url;
}

}  // namespace

SendResult classify_smtp_attempt(CURLcode code,
                                 long reply,
                                 bool data_started,
                                 const std::vector<int>& transient_replies) {
    if (code == CURLE_OK) {
        return outcome(AttemptOutcome::sent, fmt::format("SMTP {}", reply), reply);
    }
    if (code == CURLE_ABORTED_BY_CALLBACK) {
        return outcome(data_started ? AttemptOutcome::ambiguous : AttemptOutcome::transient,
                       "transport stopped",
                       reply);
    }
    // A refusal by the server: its reply code says whether to come back.
    if (reply == 421) {
        return outcome(AttemptOutcome::throttled, "SMTP 421", reply);
    }
    if (reply >= 400 && reply < 500) {
        return outcome(AttemptOutcome::transient, fmt::format("SMTP {}", reply), reply);
    }
    if (reply >= 500 && reply < 600) {
        const bool transient = std::find(transient_replies.begin(),
                                         transient_replies.end(),
                                         static_cast<int>(reply)) != transient_replies.end();
        return outcome(transient ? AttemptOutcome::transient : AttemptOutcome::permanent,
                       fmt::format("SMTP {}", reply),
                       reply);
    }

    const std::string reason = curl_easy_strerror(code);
    if (data_started) {
        // The body (perhaps all of it, with the final dot) went out and no verdict came back.
        return outcome(AttemptOutcome::ambiguous, fmt::format("no answer: {}", reason), reply);
    }
    return outcome(AttemptOutcome::transient, fmt::format("no delivery: {}", reason), reply);
}

SmtpTransport::SmtpTransport(SmtpTransportOptions options)
    : options_(std::move(options)), url_(url_with_helo(options_)) {}

SmtpTransport::~SmtpTransport() {
    stop();
}

void SmtpTransport::send(std::shared_ptr<const OutboundMessage> message, Done done) {
    if (needs_smtputf8(message->message)) {
        done(outcome(AttemptOutcome::permanent,
                     "an envelope address has a non-ASCII local part and needs SMTPUTF8, which "
                     "this SMTP client cannot negotiate"));
        return;
    }
    auto transfer = std::make_shared<SmtpTransfer>();
    transfer->easy = curl_easy_init();
    if (transfer->easy == nullptr) {
        done(outcome(AttemptOutcome::transient, "curl_easy_init failed"));
        return;
    }
    transfer->message = message;
    transfer->done = std::move(done);
    transfer->mail_from = "<" + message->message.from.address + ">";
    for (const std::string& recipient : message->message.recipients()) {
        transfer->recipients =
            curl_slist_append(transfer->recipients, ("<" + recipient + ">").c_str());
    }

    CURL* easy = transfer->easy;
    curl_easy_setopt(easy, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(easy, CURLOPT_MAIL_FROM, transfer->mail_from.c_str());
    curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, transfer->recipients);
    curl_easy_setopt(easy, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 0L);  // all recipients or none
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message->mime.size()));
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, &read_body);
    curl_easy_setopt(easy, CURLOPT_READDATA, transfer.get());
    curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, &seek_body);
    curl_easy_setopt(easy, CURLOPT_SEEKDATA, transfer.get());
    // One connection per message, closed after it. curl 7.88 waits for the reply to the final
    // "." inside its smtp_done step, and when that wait fails (our timeout) it leaves the
    // connection in the multi handle's cache for the next send: the late reply to the abandoned
    // transaction then answers the new one's MAIL FROM, every reply after it is one step late,
    // and curl quits during DATA although the server had queued the first message. Closing
    // only after a failure cannot be done reliably: whether a transfer fails is known only once
    // curl has already cached its connection, and a concurrent send may pick it up before we
    // could act. SMTP sessions are cheap to open next to the cost of a duplicate or a lost
    // message, so correctness wins over the saved handshake.
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(easy, CURLOPT_USE_SSL, use_ssl_level(options_.starttls));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(message->timeout.count()));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(message->timeout.count()));
    if (!options_.user.empty()) {
        curl_easy_setopt(easy, CURLOPT_USERNAME, options_.user.c_str());
        curl_easy_setopt(easy, CURLOPT_PASSWORD, options_.password.c_str());
    }
    if (!options_.verify_tls) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    driver_.perform(
        easy, [transfer, transient = options_.transient_replies](CURLcode code, long reply) {
            transfer->done(classify_smtp_attempt(code, reply, transfer->data_started, transient));
        });
}

void SmtpTransport::stop() {
    driver_.stop();
}

}  // namespace herald::delivery
