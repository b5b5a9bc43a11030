#include "delivery/transports.hpp"

#include "delivery/http_transport.hpp"
#include "delivery/maildir_transport.hpp"
#include "delivery/smtp_transport.hpp"

#include <boost/url/parse.hpp>
#include <fmt/format.h>

namespace herald::delivery {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

boost::system::result<StartTls, std::string> parse_starttls(std::string_view mode) {
    if (mode == "off") {
        return StartTls::off;
    }
    if (mode == "opportunistic") {
        return StartTls::opportunistic;
    }
    if (mode == "required") {
        return StartTls::required;
    }
    return fmt::format("smtp starttls must be off, opportunistic or required, not \"{}\"", mode);
}

// Checks that a network URL parses and names a host; the scheme was checked by the caller.
boost::system::result<void, std::string> check_url(const std::string& url, bool path_allowed) {
    const auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) {
        return fmt::format("transport URL is malformed: {}", parsed.error().message());
    }
    if (parsed->host().empty()) {
        return std::string("transport URL has no host");
    }
    if (!path_allowed && !parsed->path().empty() && parsed->path() != "/") {
        return std::string("smtp transport URL must not have a path (use smtp.helo)");
    }
    return {};
}

}  // namespace

boost::system::result<std::unique_ptr<Transport>, std::string> make_transport(
    const TransportOptions& options) {
    const std::string& url = options.url;

    if (starts_with(url, "maildir:")) {
        auto maildir = MaildirTransport::open(url.substr(8));
        if (!maildir) {
            return maildir.error();
        }
        return std::unique_ptr<Transport>(std::move(*maildir));
    }

    if (starts_with(url, "smtp://") || starts_with(url, "smtps://")) {
        if (auto checked = check_url(url, false); !checked) {
            return checked.error();
        }
        auto starttls = parse_starttls(options.smtp.starttls);
        if (!starttls) {
            return starttls.error();
        }
        SmtpTransportOptions smtp;
        smtp.url = url;
        smtp.user = options.smtp.user;
        smtp.password = options.smtp.password;
        smtp.starttls = *starttls;
        smtp.verify_tls = options.smtp.verify_tls;
        smtp.helo = options.smtp.helo;
        smtp.transient_replies = options.smtp.transient_replies;
        return std::unique_ptr<Transport>(std::make_unique<SmtpTransport>(std::move(smtp)));
    }

    if (starts_with(url, "http://") || starts_with(url, "https://")) {
        if (auto checked = check_url(url, true); !checked) {
            return checked.error();
        }
        HttpTransportOptions http;
        http.url = url;
        http.token = options.http.token;
        http.verify_tls = options.http.verify_tls;
        return std::unique_ptr<Transport>(std::make_unique<HttpTransport>(std::move(http)));
    }

    return fmt::format(
        "unknown transport \"{}\": use maildir:PATH, smtp://, smtps://, http:// or https://",
        url.substr(0, url.find(':')));
}

}  // namespace herald::delivery
