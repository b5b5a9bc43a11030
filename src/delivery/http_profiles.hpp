#pragma once

#include "delivery/transport.hpp"

#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace herald::delivery {

// The request shape the http transport posts: herald's own JSON, or one email API's documented
// send request. Only the body, its Content-Type and the Authorization scheme differ; the
// Idempotency-Key header, the timeouts and the mapping of answers to outcomes
// (classify_http_attempt) are the same for every profile. See docs/http-transport.md.
enum class HttpProfile {
    herald,    // herald's JSON (http_request_body); Authorization: Bearer <token>
    sendgrid,  // SendGrid v3 mail/send JSON; Authorization: Bearer <token>
    mailgun,   // Mailgun messages form (x-www-form-urlencoded); HTTP Basic "api:<token>"
};

// "herald", "sendgrid", "mailgun"; nullopt for anything else (case-sensitive, like every
// other choice setting).
std::optional<HttpProfile> parse_http_profile(std::string_view name);
std::string_view to_string(HttpProfile profile);

// One request body and the Content-Type it goes with.
struct ProviderRequest {
    std::string content_type;
    std::string body;
};

// Builds the request of `profile` for one attempt. Pure and thread-safe. Fails, with a one-line
// reason that names the field but not its value, when a field that a provider turns into a
// header (an address, a display name, the subject, a custom header, a tag, a metadata key)
// holds CR or LF: intake refuses those, so this is a second guard against header injection, not
// a path expected in service.
boost::system::result<ProviderRequest, std::string> build_provider_request(
    HttpProfile profile, const OutboundMessage& message);

// SendGrid v3 (POST /v3/mail/send), as JSON with keys in this order:
//   {"personalizations":[{"to":[{"email","name"?}…],"cc":[…]?,"bcc":[…]?}],
//    "from":{"email","name"?}, "reply_to":{…}? | "reply_to_list":[…]?, "subject":"…",
//    "content":[{"type":"text/plain","value"}?, {"type":"text/html","value"}?],
//    "headers":{"Message-ID":"<id>", custom…}, "categories":[tag…]?, "custom_args":{…}}
// - An address repeated across to, cc and bcc is kept at its first place only (SendGrid
//   refuses duplicates inside one personalization); empty lists and empty names are left out.
// - One reply-to is "reply_to", several are "reply_to_list".
// - "headers" is an object: a custom header repeated (names compare ignoring case) keeps its
//   first value.
// - "categories" are the first kMaxSendgridCategories tags; "custom_args" holds
//   "herald_notification_id" and then each metadata entry (a string as is, any other JSON value
//   serialised), herald's id winning over a metadata key of the same name.
std::string sendgrid_request_body(const OutboundMessage& message);
inline constexpr std::size_t kMaxSendgridCategories = 10;

// Mailgun (POST /v3/<domain>/messages), application/x-www-form-urlencoded, fields in order:
//   from, to (one per recipient), cc…, bcc…, subject, text?, html?, h:Reply-To?,
//   h:Message-Id, h:<custom>… (repeats kept), o:tag… (the first kMaxMailgunTags tags),
//   v:herald_notification_id, v:<metadata key>… (values as for SendGrid's custom_args).
// Mailboxes are written as mailbox_text does. Every name and value is form_encode'd.
std::string mailgun_request_body(const OutboundMessage& message);
inline constexpr std::size_t kMaxMailgunTags = 3;

// A mailbox as an RFC 5322 / RFC 6532 address: "addr" without a name, `Name <addr>` when the
// name is only atext (UTF-8 counts as atext, so encoded-words and UTF-8 names pass unchanged)
// and spaces, else `"Name" <addr>` with '"' and '\' escaped.
std::string mailbox_text(const mail::Mailbox& mailbox);

// application/x-www-form-urlencoded for one name or value: ALPHA, DIGIT and "-._~" as they are,
// every other octet (space, UTF-8, '+', '&', '=', CR, LF…) as %XX with upper-case hex.
std::string form_encode(std::string_view text);

}  // namespace herald::delivery
