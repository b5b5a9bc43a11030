#pragma once

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace herald::mail {

// One mailbox: an optional display name (UTF-8, any characters but CR/LF) and an address.
// `address` is stored as it will be sent: the local part as given (ASCII, or UTF-8 which then
// needs SMTPUTF8) and the domain in ASCII (IDNs converted to A-labels at parse time).
struct Mailbox {
    std::string name;
    std::string address;

    // True when the local part holds non-ASCII octets (RFC 6531): only an SMTPUTF8 server can
    // carry it.
    bool needs_smtputf8() const;

    friend bool operator==(const Mailbox&, const Mailbox&) = default;
};

// A validated, fully rendered message: what herald stores and later composes into RFC 5322.
// Every string is valid UTF-8 and free of CR/LF where it lands in a header.
struct Message {
    Mailbox from;
    std::vector<Mailbox> to;
    std::vector<Mailbox> cc;
    std::vector<Mailbox> bcc;
    std::vector<Mailbox> reply_to;
    std::string subject;
    std::string text;                                          // empty when absent
    std::string html;                                          // empty when absent
    std::vector<std::pair<std::string, std::string>> headers;  // extra headers, in order
    std::string message_id;    // "local@domain", without angle brackets
    std::int64_t date_ms = 0;  // the Date header (Unix milliseconds), fixed at intake

    // Every envelope recipient: to, then cc, then bcc, each address once (first occurrence
    // wins; addresses compare as stored, domains being lower-case already).
    std::vector<std::string> recipients() const;
};

// The canonical JSON form used for storage and for the http transport (keys in a fixed order):
//   {"from":{"name":"…","address":"…"},
//    "to":[mailbox…],"cc":[mailbox…],"bcc":[mailbox…],"reply_to":[mailbox…],
//    "subject":"…","text":"…","html":"…",
//    "headers":[["Name","value"],…],          // an array of pairs: order and repeats are kept
//    "message_id":"local@domain","date_ms":1764787565123}
// Every key is always written; absent text/html and empty lists are "" and [].
boost::json::object to_json(const Message& message);

// Reads what to_json wrote. Fails (with a one-line description) on a mistyped field or a missing
// from, to, subject, message_id or date_ms; cc, bcc, reply_to, text, html and headers read as
// empty when absent, and a mailbox's "name" as "". It does not re-validate addresses, which
// were validated before the message was stored.
boost::system::result<Message, std::string> message_from_json(const boost::json::value& json);

}  // namespace herald::mail
