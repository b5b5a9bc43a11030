#pragma once

#include "core/time.hpp"
#include "http/types.hpp"
#include "mail/message.hpp"
#include "mail/template.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace herald::api {

struct IntakeLimits {
    int max_recipients = 100;
    std::size_t max_subject_bytes = 4096;
    std::size_t max_header_value_bytes = 4096;
    int max_headers = 50;
    std::size_t max_tags = 20;
    std::size_t max_tag_bytes = 64;
    std::size_t max_metadata_bytes = 8192;
};

// The longest expiry a request (or delivery.max_age_s) may ask for: 30 days. A notification
// meant to wait longer than that is not a notification.
inline constexpr std::int64_t kMaxAgeLimitSeconds = 30 * 86400;

// The expiry a request asks for, as it asked: an absolute `expires_at` (RFC 3339, read as
// milliseconds) or a relative `max_age_s`; at most one of them is set.
struct RequestedExpiry {
    std::optional<core::UnixMs> expires_at;
    std::optional<std::int64_t> max_age_s;
};

// A request that passed every check, with templates rendered. `message` lacks message_id and
// date_ms, which intake assigns.
struct ValidNotification {
    mail::Message message;
    boost::json::array tags;
    boost::json::object metadata;
    RequestedExpiry expiry;
};

// Checks a parsed POST /v1/notifications body and renders its template. Every problem found is
// reported, each naming its field as a JSON Pointer ("#/to/1"); values are never echoed, so a
// response cannot carry injected text. `templates` may be null (no named templates).
boost::system::result<ValidNotification, std::vector<http::FieldProblem>> validate_notification(
    const boost::json::value& body,
    const IntakeLimits& limits,
    const mail::TemplateLibrary* templates);

// Reads `expires_at` and `max_age_s` from `body` (null counts as absent), appending a problem
// naming the field for: both given; an expires_at that is not an RFC 3339 date-time string; a
// max_age_s that is not a whole number from 1 to kMaxAgeLimitSeconds.
RequestedExpiry read_expiry(const boost::json::object& body,
                            std::vector<http::FieldProblem>& problems);

// The expiry to store for a request made at `now`: now + max_age_s, expires_at, or, when the
// request asked for neither, now + `default_max_age_s` (0: none, nullopt). A problem naming
// #/expires_at when it is not after `now` or lies more than kMaxAgeLimitSeconds beyond it.
boost::system::result<std::optional<core::UnixMs>, http::FieldProblem> resolve_expiry(
    const RequestedExpiry& requested, core::UnixMs now, std::int64_t default_max_age_s);

}  // namespace herald::api
