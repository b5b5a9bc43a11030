#pragma once

#include "delivery/transport.hpp"

#include <boost/system/result.hpp>

#include <memory>
#include <string>
#include <vector>

namespace herald::delivery {

// Everything needed to build a transport. A plain struct so that delivery does not depend on
// config: the caller (main) copies config::DeliverySettings into it.
struct TransportOptions {
    // "maildir:PATH", "smtp://host:port", "smtps://host:port", "http://…" or "https://…".
    std::string url;

    struct Smtp {
        std::string user;
        std::string password;
        std::string starttls = "opportunistic";  // off | opportunistic | required
        bool verify_tls = true;
        std::string helo;                    // empty: curl's default
        std::vector<int> transient_replies;  // 5xx codes treated as transient
    } smtp;

    struct Http {
        std::string token;  // bearer token; empty: no Authorization header
        bool verify_tls = true;
    } http;
};

// Builds the transport the URL names (MaildirTransport, SmtpTransport or HttpTransport).
// Fails with a one-line reason for an unknown scheme, a malformed URL, an unknown starttls mode,
// or a maildir that cannot be created. Call at start-up: a maildir is created on this thread.
boost::system::result<std::unique_ptr<Transport>, std::string> make_transport(
    const TransportOptions& options);

}  // namespace herald::delivery
