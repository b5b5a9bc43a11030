#pragma once

#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "mail/message.hpp"

namespace herald::mail {

// Parses one mailbox written as "addr@domain" or "Display Name <addr@domain>" (the name may be
// quoted). Refuses, with a one-line reason: CR or LF anywhere, invalid UTF-8, more than one
// address or anything ambiguous (commas, unbalanced brackets or quotes, text after '>'), a
// missing or malformed local part or domain. IDN domains are converted to A-labels.
boost::system::result<Mailbox, std::string> parse_mailbox(std::string_view text);

// The same checks for a mailbox given as separate name and address (the JSON object form).
boost::system::result<Mailbox, std::string> make_mailbox(std::string_view name,
                                                         std::string_view address);

}  // namespace herald::mail
