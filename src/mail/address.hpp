#pragma once

#include "mail/message.hpp"

#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace herald::mail {

// Parses one mailbox written as "addr@domain" or "Display Name <addr@domain>" (the name may be
// quoted). Refuses, with a one-line reason: CR or LF anywhere, invalid UTF-8, more than one
// address or anything ambiguous (commas, unbalanced brackets or quotes, text after '>'), a
// missing or malformed local part or domain. IDN domains are converted to A-labels.
//
// Accepted: a dot-atom local part (ASCII atext, or UTF-8, which then needs SMTPUTF8) of at most
// 64 octets; a domain of letters, digits and hyphens in non-empty labels (one label is enough),
// lower-cased, an IDN converted with libidn2 (UTS 46 non-transitional); at most 254 octets in
// all. A display name may hold quoted-strings, which are unquoted. Refused as well: quoted local
// parts, IP-literal domains (and numeric top-level labels), groups, comments, control
// characters in the name, input above 2048 octets. Errors are short, one line, and never
// quote the input. Pure; thread-safe.
boost::system::result<Mailbox, std::string> parse_mailbox(std::string_view text);

// The same checks for a mailbox given as separate name and address (the JSON object form);
// surrounding spaces of both are trimmed.
boost::system::result<Mailbox, std::string> make_mailbox(std::string_view name,
                                                         std::string_view address);

}  // namespace herald::mail
