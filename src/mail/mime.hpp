#pragma once

#include "mail/message.hpp"

#include <string>
#include <string_view>

namespace herald::mail {

// Composes `message` as an RFC 5322 / MIME message: CRLF line ends only, no line longer than
// 998 octets (headers folded near 78), header bytes all ASCII (RFC 2047 encoded-words for
// non-ASCII display names, subject and extra header values; addresses stay literal), bodies in
// 7bit, quoted-printable or base64 as their content needs, no body line that starts with '.',
// multipart/alternative when both text and html are present. Bcc never appears in the headers.
// Deterministic: the same message gives the same bytes (boundaries derive from message_id).
//
// Details callers may rely on:
// - Header order: Date, From, To (omitted when empty), Cc (when not empty), Reply-To (when not
//   empty), Subject, Message-ID (omitted when message_id is empty), MIME-Version, the extra
//   headers in order, then Content-Type and Content-Transfer-Encoding.
// - Extra headers whose name is invalid or reserved are dropped (intake refuses them first).
// - CR or LF inside a header value (which validation refuses) is written as a space.
// - Body line breaks (CR, LF, CRLF) are normalised to CRLF. Transfer encoding: 7bit when the
//   body is ASCII without NUL, its lines are at most 998 octets and none starts with '.';
//   otherwise base64 when more than half its octets are non-ASCII, else quoted-printable.
//   Decoding gives the normalised body back exactly, except that a single-part 7bit body that
//   does not end with a line break gets one (the message must end with CRLF).
// - Header bytes are ASCII except for an address whose local part is UTF-8; such a message can
//   only travel over SMTPUTF8 (Mailbox::needs_smtputf8), and the transport must check.
// Never fails; pure; thread-safe.
std::string compose(const Message& message);

// Header checks shared with request validation.
// RFC 5322 field-name: 1 to 76 octets of printable ASCII (33..126) except ':'.
bool is_valid_header_name(std::string_view name);
// Set by herald; callers may not supply it. Case-insensitive: From, To, Cc, Bcc, Subject, Date,
// Message-ID, MIME-Version, Reply-To, Sender, Return-Path, Received and every Content-*.
bool is_reserved_header(std::string_view name);
// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF, no truncated sequence.
bool is_valid_utf8(std::string_view text);
bool contains_cr_or_lf(std::string_view text);

}  // namespace herald::mail
