#pragma once

#include "http/types.hpp"
#include "mail/message.hpp"
#include "mail/template.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
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

// A request that passed every check, with templates rendered. `message` lacks message_id and
// date_ms, which intake assigns.
struct ValidNotification {
    mail::Message message;
    boost::json::array tags;
    boost::json::object metadata;
};

// Checks a parsed POST /v1/notifications body and renders its template. Every problem found is
// reported, each naming its field as a JSON Pointer ("#/to/1"); values are never echoed, so a
// response cannot carry injected text. `templates` may be null (no named templates).
boost::system::result<ValidNotification, std::vector<http::FieldProblem>> validate_notification(
    const boost::json::value& body,
    const IntakeLimits& limits,
    const mail::TemplateLibrary* templates);

}  // namespace herald::api
