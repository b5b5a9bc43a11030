#pragma once

#include <string>
#include <string_view>

#include "mail/message.hpp"

namespace herald::mail {

// Composes `message` as an RFC 5322 / MIME message: CRLF line ends only, no line longer than
// 998 octets (headers folded near 78), header bytes all ASCII (RFC 2047 encoded-words for
// non-ASCII display names, subject and extra header values; addresses stay literal), bodies in
// 7bit, quoted-printable or base64 as their content needs, no body line that starts with '.',
// multipart/alternative when both text and html are present. Bcc never appears in the headers.
// Deterministic: the same message gives the same bytes (boundaries derive from message_id).
std::string compose(const Message& message);

// Header checks shared with request validation.
bool is_valid_header_name(std::string_view name);  // printable ASCII except ':' and space
bool is_reserved_header(std::string_view name);    // set by herald; callers may not supply it
bool is_valid_utf8(std::string_view text);
bool contains_cr_or_lf(std::string_view text);

}  // namespace herald::mail
