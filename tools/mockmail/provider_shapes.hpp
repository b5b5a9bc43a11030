#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace herald::mockmail {

// The send routes the mock answers, by the request shape they take.
enum class SendRoute {
    herald,    // POST …/send (but not /v3/mail/send): herald's own JSON
    sendgrid,  // POST /v3/mail/send: SendGrid v3 JSON; accepted with 202 and an empty body
    mailgun,   // POST /v3/<domain>/messages: form fields (urlencoded or multipart); 200 JSON
};

struct RouteMatch {
    SendRoute route = SendRoute::herald;
    std::string domain;  // mailgun only: the <domain> of the path
};

// The send route of a request target (the query is ignored); nullopt when it is none.
std::optional<RouteMatch> match_send_route(std::string_view target);

std::string_view to_string(SendRoute route);

// What a provider-shaped send said, in one form for every shape, for the call log:
//   {"from": "…", "to": ["…"], "cc": […], "bcc": […], "reply_to": […], "subject": "…",
//    "text": "…"|null, "html": "…"|null, "headers": {"Name": "value"|[…repeats]},
//    "tags": […], "variables": {"name": "value"}}
// Mailboxes are text: "addr" or "Name <addr>" as SendGrid's {email,name} reads, Mailgun's
// fields as sent. `message_id` is the Message-ID header's value (SendGrid "headers", Mailgun
// "h:Message-Id"); null when absent. `error` is set when the body could not be read (the mock
// then answers 400).
struct ParsedSend {
    boost::json::object fields;
    boost::json::value message_id;
    std::string error;
};

// A SendGrid v3 /v3/mail/send JSON body.
ParsedSend parse_sendgrid(std::string_view body);

// A Mailgun messages body: application/x-www-form-urlencoded, or multipart/form-data with the
// boundary of `content_type`. Repeated fields (to, cc, bcc, o:tag, h:X…) are all kept.
ParsedSend parse_mailgun(std::string_view body, std::string_view content_type);

// The user name of an Authorization "Basic <base64 user:password>" value; "" for any other
// scheme or a malformed value. The password is never returned.
std::string basic_auth_user(std::string_view authorization);

// The form decoding of one urlencoded name or value ('+' is a space, %XX an octet); nullopt for
// a malformed escape.
std::optional<std::string> form_decode(std::string_view text);

}  // namespace herald::mockmail
