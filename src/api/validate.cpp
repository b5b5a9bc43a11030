#include "api/validate.hpp"

#include "mail/address.hpp"
#include "mail/mime.hpp"

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <cmath>

namespace herald::api {
namespace {

using Problems = std::vector<http::FieldProblem>;

// RFC 6901 escaping of one reference token.
std::string pointer_token(std::string_view key) {
    std::string out;
    for (char c : key) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

bool has_control_characters(std::string_view text) {
    for (unsigned char c : text) {
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return true;
        }
    }
    return false;
}

// A mailbox as "Name <addr>" or {"name": …, "address": …}.
std::optional<mail::Mailbox> read_mailbox(const boost::json::value& value,
                                          const std::string& pointer,
                                          Problems& problems) {
    if (const auto* text = value.if_string()) {
        auto parsed = mail::parse_mailbox(*text);
        if (!parsed) {
            problems.push_back({pointer, parsed.error()});
            return std::nullopt;
        }
        return *parsed;
    }
    const auto* object = value.if_object();
    if (object == nullptr) {
        problems.push_back({pointer, "must be a string \"Name <address>\" or an object"});
        return std::nullopt;
    }
    for (const auto& member : *object) {
        if (member.key() != "name" && member.key() != "address") {
            problems.push_back({pointer + "/" + pointer_token(member.key()), "unknown field"});
            return std::nullopt;
        }
    }
    const auto* address = object->if_contains("address");
    if (address == nullptr || !address->is_string()) {
        problems.push_back({pointer + "/address", "is required and must be a string"});
        return std::nullopt;
    }
    std::string_view name;
    if (const auto* n = object->if_contains("name")) {
        if (!n->is_string()) {
            problems.push_back({pointer + "/name", "must be a string"});
            return std::nullopt;
        }
        name = n->get_string();
        if (has_control_characters(name)) {
            problems.push_back({pointer + "/name",
                                "must not contain line breaks or control "
                                "characters"});
            return std::nullopt;
        }
    }
    auto made = mail::make_mailbox(name, address->get_string());
    if (!made) {
        problems.push_back({pointer + "/address", made.error()});
        return std::nullopt;
    }
    return *made;
}

std::vector<mail::Mailbox> read_mailbox_list(const boost::json::object& body,
                                             std::string_view key,
                                             bool required,
                                             bool allow_single,
                                             Problems& problems) {
    std::vector<mail::Mailbox> out;
    const std::string pointer = fmt::format("#/{}", key);
    const auto* value = body.if_contains(key);
    if (value == nullptr || value->is_null()) {
        if (required) {
            problems.push_back({pointer, "is required: an array of one or more addresses"});
        }
        return out;
    }
    const auto* array = value->if_array();
    if (array == nullptr) {
        if (allow_single) {
            if (auto mailbox = read_mailbox(*value, pointer, problems)) {
                out.push_back(std::move(*mailbox));
            }
        } else {
            problems.push_back({pointer, "must be an array of addresses"});
        }
        return out;
    }
    if (required && array->empty()) {
        problems.push_back({pointer, "must hold at least one address"});
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
        if (auto mailbox = read_mailbox((*array)[i], fmt::format("{}/{}", pointer, i), problems)) {
            out.push_back(std::move(*mailbox));
        }
    }
    return out;
}

// The string at `key`, pointing into `body`; null when absent, null or of another type.
const boost::json::string* read_string(const boost::json::object& body,
                                       std::string_view key,
                                       Problems& problems) {
    const auto* value = body.if_contains(key);
    if (value == nullptr || value->is_null()) {
        return nullptr;
    }
    if (!value->is_string()) {
        problems.push_back({fmt::format("#/{}", key), "must be a string"});
        return nullptr;
    }
    return &value->get_string();
}

void check_subject(std::string_view subject,
                   std::string_view pointer,
                   const IntakeLimits& limits,
                   Problems& problems) {
    if (has_control_characters(subject)) {
        problems.push_back(
            {std::string{pointer}, "must not contain line breaks or control characters"});
    } else if (subject.size() > limits.max_subject_bytes) {
        problems.push_back({std::string{pointer},
                            fmt::format("must be at most {} bytes", limits.max_subject_bytes)});
    }
}

void check_body_text(std::string_view text, std::string_view pointer, Problems& problems) {
    if (text.find('\0') != std::string_view::npos) {
        problems.push_back({std::string{pointer}, "must not contain NUL characters"});
    }
}

void read_headers(const boost::json::object& body,
                  const IntakeLimits& limits,
                  mail::Message& message,
                  Problems& problems) {
    const auto* value = body.if_contains("headers");
    if (value == nullptr || value->is_null()) {
        return;
    }
    const auto* headers = value->if_object();
    if (headers == nullptr) {
        problems.push_back({"#/headers", "must be an object of header name to string value"});
        return;
    }
    if (static_cast<int>(headers->size()) > limits.max_headers) {
        problems.push_back(
            {"#/headers", fmt::format("must hold at most {} headers", limits.max_headers)});
        return;
    }
    for (const auto& member : *headers) {
        const std::string pointer = "#/headers/" + pointer_token(member.key());
        const std::string_view name = member.key();
        if (!mail::is_valid_header_name(name)) {
            problems.push_back(
                {pointer, "is not a valid header name (printable ASCII, no spaces or ':')"});
            continue;
        }
        if (mail::is_reserved_header(name)) {
            problems.push_back({pointer, "is set by herald and cannot be supplied"});
            continue;
        }
        if (!member.value().is_string()) {
            problems.push_back({pointer, "must be a string"});
            continue;
        }
        const auto& header_value = member.value().get_string();
        if (has_control_characters(header_value)) {
            problems.push_back({pointer, "must not contain line breaks or control characters"});
            continue;
        }
        if (header_value.size() > limits.max_header_value_bytes) {
            problems.push_back(
                {pointer, fmt::format("must be at most {} bytes", limits.max_header_value_bytes)});
            continue;
        }
        message.headers.emplace_back(std::string{name}, std::string{header_value});
    }
}

boost::json::array read_tags(const boost::json::object& body,
                             const IntakeLimits& limits,
                             Problems& problems) {
    const auto* value = body.if_contains("tags");
    if (value == nullptr || value->is_null()) {
        return {};
    }
    const auto* tags = value->if_array();
    if (tags == nullptr || tags->size() > limits.max_tags) {
        problems.push_back(
            {"#/tags", fmt::format("must be an array of at most {} strings", limits.max_tags)});
        return {};
    }
    for (std::size_t i = 0; i < tags->size(); ++i) {
        const auto* tag = (*tags)[i].if_string();
        if (tag == nullptr || tag->empty() || tag->size() > limits.max_tag_bytes ||
            has_control_characters(*tag)) {
            problems.push_back({fmt::format("#/tags/{}", i),
                                fmt::format("must be a string of 1 to {} printable characters",
                                            limits.max_tag_bytes)});
        }
    }
    return *tags;
}

boost::json::object read_metadata(const boost::json::object& body,
                                  const IntakeLimits& limits,
                                  Problems& problems) {
    const auto* value = body.if_contains("metadata");
    if (value == nullptr || value->is_null()) {
        return {};
    }
    const auto* metadata = value->if_object();
    if (metadata == nullptr) {
        problems.push_back({"#/metadata", "must be an object"});
        return {};
    }
    if (boost::json::serialize(*metadata).size() > limits.max_metadata_bytes) {
        problems.push_back(
            {"#/metadata",
             fmt::format("must serialise to at most {} bytes", limits.max_metadata_bytes)});
        return {};
    }
    return *metadata;
}

// Fills subject/text/html from the template named or given inline, rendered with `data`.
void apply_template(const boost::json::object& body,
                    const mail::TemplateLibrary* templates,
                    const IntakeLimits& limits,
                    mail::Message& message,
                    Problems& problems) {
    const auto& spec = body.at("template");
    mail::TemplateSource source;
    if (const auto* name = spec.if_string()) {
        const auto* found = templates == nullptr ? nullptr : templates->find(std::string{*name});
        if (found == nullptr) {
            problems.push_back({"#/template", "names no known template"});
            return;
        }
        source = *found;
    } else if (const auto* inline_spec = spec.if_object()) {
        for (const auto& member : *inline_spec) {
            const std::string pointer = "#/template/" + pointer_token(member.key());
            if (member.key() != "subject" && member.key() != "text" && member.key() != "html") {
                problems.push_back({pointer, "unknown field"});
            } else if (!member.value().is_string()) {
                problems.push_back({pointer, "must be a string"});
            }
        }
        auto part = [&](const char* key) {
            const auto* v = inline_spec->if_contains(key);
            return v != nullptr && v->is_string() ? std::string{v->get_string()} : std::string{};
        };
        source = mail::TemplateSource{part("subject"), part("text"), part("html")};
    } else {
        problems.push_back({"#/template", "must be a template name or an object"});
        return;
    }

    boost::json::object data;
    if (const auto* d = body.if_contains("data"); d != nullptr && !d->is_null()) {
        if (!d->is_object()) {
            problems.push_back({"#/data", "must be an object"});
            return;
        }
        data = d->get_object();
    }
    auto rendered = mail::render(source, data);
    if (!rendered) {
        problems.push_back({"#/template", rendered.error()});
        return;
    }
    if (!rendered->subject.empty()) {
        message.subject = std::move(rendered->subject);
        check_subject(message.subject, "#/data", limits, problems);
    }
    message.text = std::move(rendered->text);
    message.html = std::move(rendered->html);
    if (message.text.empty() && message.html.empty()) {
        problems.push_back({"#/template", "renders neither text nor html"});
    }
}

// JSON allows numbers no double can hold (1e999); Boost.JSON reads them as infinity and would
// store text its own parser refuses. Such numbers are refused wherever they appear.
void find_non_finite_numbers(const boost::json::value& value,
                             const std::string& pointer,
                             Problems& problems) {
    if (const auto* number = value.if_double()) {
        if (!std::isfinite(*number)) {
            problems.push_back({pointer, "is a number out of range"});
        }
    } else if (const auto* array = value.if_array()) {
        for (std::size_t i = 0; i < array->size(); ++i) {
            find_non_finite_numbers((*array)[i], pointer + "/" + std::to_string(i), problems);
        }
    } else if (const auto* object = value.if_object()) {
        for (const auto& member : *object) {
            find_non_finite_numbers(
                member.value(), pointer + "/" + pointer_token(member.key()), problems);
        }
    }
}

constexpr std::string_view kKnownFields[] = {"from",
                                             "to",
                                             "cc",
                                             "bcc",
                                             "reply_to",
                                             "subject",
                                             "text",
                                             "html",
                                             "template",
                                             "data",
                                             "headers",
                                             "tags",
                                             "metadata",
                                             "expires_at",
                                             "max_age_s"};

}  // namespace

boost::system::result<ValidNotification, std::vector<http::FieldProblem>> validate_notification(
    const boost::json::value& body_value,
    const IntakeLimits& limits,
    const mail::TemplateLibrary* templates) {
    Problems problems;
    const auto* body = body_value.if_object();
    if (body == nullptr) {
        problems.push_back({"#", "the body must be a JSON object"});
        return problems;
    }
    for (const auto& member : *body) {
        bool known = false;
        for (auto field : kKnownFields) {
            known = known || member.key() == field;
        }
        if (!known) {
            problems.push_back({"#/" + pointer_token(member.key()), "unknown field"});
        }
    }

    const std::size_t before = problems.size();
    find_non_finite_numbers(body_value, "#", problems);
    if (problems.size() > before) {
        return problems;
    }

    ValidNotification result;
    mail::Message& message = result.message;
    if (const auto* from = body->if_contains("from"); from != nullptr && !from->is_null()) {
        if (auto mailbox = read_mailbox(*from, "#/from", problems)) {
            message.from = std::move(*mailbox);
        }
    } else {
        problems.push_back({"#/from", "is required"});
    }
    message.to = read_mailbox_list(*body, "to", true, false, problems);
    message.cc = read_mailbox_list(*body, "cc", false, false, problems);
    message.bcc = read_mailbox_list(*body, "bcc", false, false, problems);
    message.reply_to = read_mailbox_list(*body, "reply_to", false, true, problems);
    const auto recipients = message.to.size() + message.cc.size() + message.bcc.size();
    if (recipients > static_cast<std::size_t>(limits.max_recipients)) {
        problems.push_back({"#/to",
                            fmt::format("to, cc and bcc together hold more than {} addresses",
                                        limits.max_recipients)});
    }

    if (const auto* subject = read_string(*body, "subject", problems)) {
        message.subject = *subject;
        check_subject(message.subject, "#/subject", limits, problems);
    }
    const bool has_template = body->contains("template") && !body->at("template").is_null();
    const auto* text = read_string(*body, "text", problems);
    if (text != nullptr) {
        message.text = *text;
        check_body_text(message.text, "#/text", problems);
    }
    const auto* html = read_string(*body, "html", problems);
    if (html != nullptr) {
        message.html = *html;
        check_body_text(message.html, "#/html", problems);
    }
    if (has_template) {
        if (!message.text.empty() || !message.html.empty()) {
            problems.push_back({"#/template", "give either a template or text/html, not both"});
        } else {
            apply_template(*body, templates, limits, message, problems);
        }
    } else {
        // Without a template, data renders nothing; it is checked for shape and then ignored.
        if (const auto* d = body->if_contains("data");
            d != nullptr && !d->is_null() && !d->is_object()) {
            problems.push_back({"#/data", "must be an object"});
        }
        if (message.text.empty() && message.html.empty()) {
            problems.push_back({"#/text", "one of text, html or template is required"});
        }
    }
    read_headers(*body, limits, message, problems);
    result.tags = read_tags(*body, limits, problems);
    result.metadata = read_metadata(*body, limits, problems);
    result.expiry = read_expiry(*body, problems);

    if (!problems.empty()) {
        return problems;
    }
    return result;
}

RequestedExpiry read_expiry(const boost::json::object& body, Problems& problems) {
    RequestedExpiry expiry;
    const auto* at = body.if_contains("expires_at");
    const auto* age = body.if_contains("max_age_s");
    at = at != nullptr && !at->is_null() ? at : nullptr;
    age = age != nullptr && !age->is_null() ? age : nullptr;
    if (at != nullptr && age != nullptr) {
        problems.push_back({"#/max_age_s", "give either expires_at or max_age_s, not both"});
        return expiry;
    }
    if (at != nullptr) {
        const auto* text = at->if_string();
        expiry.expires_at = text != nullptr ? core::parse_rfc3339(*text) : std::nullopt;
        if (!expiry.expires_at) {
            problems.push_back({"#/expires_at",
                                "must be an RFC 3339 date-time with an offset, e.g. "
                                "2026-12-03T18:46:05Z"});
        }
    }
    if (age != nullptr) {
        const std::string range =
            fmt::format("must be a whole number of seconds from 1 to {}", kMaxAgeLimitSeconds);
        if (const auto* number = age->if_int64()) {
            if (*number < 1 || *number > kMaxAgeLimitSeconds) {
                problems.push_back({"#/max_age_s", range});
            } else {
                expiry.max_age_s = *number;
            }
        } else {
            // Fractions, exponents (1e3 is a double in JSON parsers), strings, numbers beyond
            // int64, booleans: none of them is a whole number of seconds as sent.
            problems.push_back({"#/max_age_s", range});
        }
    }
    return expiry;
}

boost::system::result<std::optional<core::UnixMs>, http::FieldProblem> resolve_expiry(
    const RequestedExpiry& requested, core::UnixMs now, std::int64_t default_max_age_s) {
    if (requested.max_age_s) {
        return std::optional<core::UnixMs>{now + *requested.max_age_s * 1000};
    }
    if (requested.expires_at) {
        if (*requested.expires_at <= now) {
            return http::FieldProblem{"#/expires_at", "is not in the future"};
        }
        if (*requested.expires_at - now > kMaxAgeLimitSeconds * 1000) {
            return http::FieldProblem{
                "#/expires_at", fmt::format("is more than {} seconds ahead", kMaxAgeLimitSeconds)};
        }
        return std::optional<core::UnixMs>{*requested.expires_at};
    }
    if (default_max_age_s > 0) {
        return std::optional<core::UnixMs>{now + default_max_age_s * 1000};
    }
    return std::optional<core::UnixMs>{};
}

}  // namespace herald::api
