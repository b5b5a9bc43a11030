#include "provider_shapes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include <cctype>
#include <utility>
#include <vector>

namespace herald::mockmail {
namespace {

using Field = std::pair<std::string, std::string>;

boost::json::object empty_fields() {
    return boost::json::object{{"from", nullptr},
                               {"to", boost::json::array{}},
                               {"cc", boost::json::array{}},
                               {"bcc", boost::json::array{}},
                               {"reply_to", boost::json::array{}},
                               {"subject", nullptr},
                               {"text", nullptr},
                               {"html", nullptr},
                               {"headers", boost::json::object{}},
                               {"tags", boost::json::array{}},
                               {"variables", boost::json::object{}}};
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

// A header value; a repeated name turns into an array of its values.
void add_header(boost::json::object& headers, const std::string& name, std::string value) {
    auto* existing = headers.if_contains(name);
    if (existing == nullptr) {
        headers[name] = std::move(value);
    } else if (existing->is_array()) {
        existing->get_array().emplace_back(std::move(value));
    } else {
        *existing = boost::json::array{*existing, boost::json::value(std::move(value))};
    }
}

boost::json::value header_value(const boost::json::object& headers, std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) {
            return value;
        }
    }
    return nullptr;
}

std::string sendgrid_mailbox_text(const boost::json::value& mailbox) {
    const auto* object = mailbox.if_object();
    if (object == nullptr) {
        return "?";
    }
    const auto* email = object->if_contains("email");
    const auto* name = object->if_contains("name");
    const std::string address = email != nullptr && email->is_string()
                                    ? std::string(email->get_string())
                                    : std::string("?");
    if (name == nullptr || !name->is_string() || name->get_string().empty()) {
        return address;
    }
    return std::string(name->get_string()) + " <" + address + ">";
}

void copy_mailboxes(const boost::json::object& from,
                    std::string_view key,
                    boost::json::array& into) {
    if (const auto* list = from.if_contains(key); list != nullptr && list->is_array()) {
        for (const auto& mailbox : list->get_array()) {
            into.emplace_back(sendgrid_mailbox_text(mailbox));
        }
    }
}

std::optional<std::vector<Field>> parse_urlencoded(std::string_view body) {
    std::vector<Field> fields;
    while (!body.empty()) {
        const auto amp = body.find('&');
        const std::string_view pair = body.substr(0, amp);
        body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        const auto eq = pair.find('=');
        auto name = form_decode(pair.substr(0, eq));
        auto value = form_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
        if (!name || !value) {
            return std::nullopt;
        }
        fields.emplace_back(std::move(*name), std::move(*value));
    }
    return fields;
}

// The value of a `key=value` or `key="value"` parameter of a header value; "" when absent.
std::string parameter(std::string_view header, std::string_view key) {
    for (std::size_t at = header.find(';'); at != std::string_view::npos;
         at = header.find(';', at + 1)) {
        std::string_view rest = header.substr(at + 1);
        while (!rest.empty() && rest.front() == ' ') {
            rest.remove_prefix(1);
        }
        if (rest.size() <= key.size() || !iequals(rest.substr(0, key.size()), key) ||
            rest[key.size()] != '=') {
            continue;
        }
        rest.remove_prefix(key.size() + 1);
        if (!rest.empty() && rest.front() == '"') {
            return std::string(rest.substr(1, rest.find('"', 1) - 1));
        }
        return std::string(rest.substr(0, rest.find(';')));
    }
    return {};
}

// multipart/form-data (RFC 7578): each part's Content-Disposition name and its body.
std::optional<std::vector<Field>> parse_multipart(std::string_view body,
                                                  std::string_view content_type) {
    const std::string boundary = parameter(content_type, "boundary");
    if (boundary.empty()) {
        return std::nullopt;
    }
    const std::string delimiter = "--" + boundary;
    std::vector<Field> fields;
    auto at = body.find(delimiter);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    for (int parts = 0; parts < 10000; ++parts) {
        at += delimiter.size();
        if (body.substr(at, 2) == "--") {
            return fields;  // the close delimiter
        }
        if (body.substr(at, 2) != "\r\n") {
            return std::nullopt;
        }
        at += 2;
        const auto head_end = body.find("\r\n\r\n", at);
        const auto next = body.find("\r\n" + delimiter, at);
        if (head_end == std::string_view::npos || next == std::string_view::npos ||
            head_end > next) {
            return std::nullopt;
        }
        std::string name;
        const std::string_view head = body.substr(at, head_end - at);
        for (std::size_t line_at = 0; line_at < head.size();) {
            const auto line_end = std::min(head.find("\r\n", line_at), head.size());
            const std::string_view line = head.substr(line_at, line_end - line_at);
            constexpr std::string_view kDisposition = "content-disposition:";
            if (line.size() > kDisposition.size() &&
                iequals(line.substr(0, kDisposition.size()), kDisposition)) {
                name = parameter(line, "name");
            }
            line_at = line_end + 2;
        }
        if (name.empty()) {
            return std::nullopt;
        }
        fields.emplace_back(std::move(name),
                            std::string(body.substr(head_end + 4, next - head_end - 4)));
        at = next + 2;
    }
    return std::nullopt;
}

}  // namespace

std::optional<RouteMatch> match_send_route(std::string_view target) {
    target = target.substr(0, target.find('?'));
    if (target == "/v3/mail/send") {
        return RouteMatch{SendRoute::sendgrid, {}};
    }
    constexpr std::string_view kPrefix = "/v3/";
    constexpr std::string_view kSuffix = "/messages";
    if (target.starts_with(kPrefix) && target.ends_with(kSuffix) &&
        target.size() > kPrefix.size() + kSuffix.size()) {
        const std::string_view domain =
            target.substr(kPrefix.size(), target.size() - kPrefix.size() - kSuffix.size());
        if (domain.find('/') == std::string_view::npos) {
            return RouteMatch{SendRoute::mailgun, std::string(domain)};
        }
    }
    if (target.ends_with("/send")) {
        return RouteMatch{SendRoute::herald, {}};
    }
    return std::nullopt;
}

std::string_view to_string(SendRoute route) {
    switch (route) {
        case SendRoute::herald:
            return "herald";
        case SendRoute::sendgrid:
            return "sendgrid";
        case SendRoute::mailgun:
            return "mailgun";
    }
    return "herald";
}

std::string basic_auth_user(std::string_view authorization) {
    constexpr std::string_view kScheme = "Basic ";
    if (authorization.size() <= kScheme.size() ||
        !iequals(authorization.substr(0, kScheme.size()), kScheme)) {
        return {};
    }
    constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string decoded;
    unsigned bits = 0;
    int count = 0;
    for (const char c : authorization.substr(kScheme.size())) {
        if (c == '=') {
            break;
        }
        const auto value = kAlphabet.find(c);
        if (value == std::string_view::npos) {
            return {};
        }
        bits = (bits << 6) | static_cast<unsigned>(value);
        count += 6;
        if (count >= 8) {
            count -= 8;
            decoded.push_back(static_cast<char>((bits >> count) & 0xff));
        }
    }
    const auto colon = decoded.find(':');
    return colon == std::string::npos ? std::string() : decoded.substr(0, colon);
}

std::optional<std::string> form_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '+') {
            out.push_back(' ');
        } else if (c != '%') {
            out.push_back(c);
        } else {
            if (i + 2 >= text.size()) {
                return std::nullopt;
            }
            const auto hex = [](char h) -> int {
                if (h >= '0' && h <= '9') {
                    return h - '0';
                }
                h = static_cast<char>(std::tolower(static_cast<unsigned char>(h)));
                return h >= 'a' && h <= 'f' ? h - 'a' + 10 : -1;
            };
            const int high = hex(text[i + 1]);
            const int low = hex(text[i + 2]);
            if (high < 0 || low < 0) {
                return std::nullopt;
            }
            out.push_back(static_cast<char>(high * 16 + low));
            i += 2;
        }
    }
    return out;
}

ParsedSend parse_sendgrid(std::string_view body) {
    ParsedSend parsed;
    parsed.fields = empty_fields();
    boost::system::error_code error;
    const boost::json::value json = boost::json::parse(body, error);
    const auto* object = error ? nullptr : json.if_object();
    if (object == nullptr) {
        parsed.error = "body is not a JSON object";
        return parsed;
    }
    auto& fields = parsed.fields;
    if (const auto* list = object->if_contains("personalizations");
        list != nullptr && list->is_array()) {
        for (const auto& personalization : list->get_array()) {
            if (const auto* p = personalization.if_object()) {
                copy_mailboxes(*p, "to", fields["to"].get_array());
                copy_mailboxes(*p, "cc", fields["cc"].get_array());
                copy_mailboxes(*p, "bcc", fields["bcc"].get_array());
            }
        }
    }
    if (const auto* from = object->if_contains("from")) {
        fields["from"] = sendgrid_mailbox_text(*from);
    }
    if (const auto* reply_to = object->if_contains("reply_to")) {
        fields["reply_to"].get_array().emplace_back(sendgrid_mailbox_text(*reply_to));
    }
    copy_mailboxes(*object, "reply_to_list", fields["reply_to"].get_array());
    if (const auto* subject = object->if_contains("subject")) {
        fields["subject"] = *subject;
    }
    if (const auto* content = object->if_contains("content"); content && content->is_array()) {
        for (const auto& part : content->get_array()) {
            const auto* p = part.if_object();
            const auto* type = p != nullptr ? p->if_contains("type") : nullptr;
            const auto* value = p != nullptr ? p->if_contains("value") : nullptr;
            if (type != nullptr && value != nullptr && *type == "text/plain") {
                fields["text"] = *value;
            } else if (type != nullptr && value != nullptr && *type == "text/html") {
                fields["html"] = *value;
            }
        }
    }
    if (const auto* headers = object->if_contains("headers"); headers && headers->is_object()) {
        fields["headers"] = *headers;
        parsed.message_id = header_value(headers->get_object(), "Message-ID");
    }
    if (const auto* categories = object->if_contains("categories")) {
        fields["tags"] = *categories;
    }
    if (const auto* args = object->if_contains("custom_args"); args && args->is_object()) {
        fields["variables"] = *args;
    }
    return parsed;
}

ParsedSend parse_mailgun(std::string_view body, std::string_view content_type) {
    ParsedSend parsed;
    parsed.fields = empty_fields();
    const std::string_view media = content_type.substr(0, content_type.find(';'));
    std::optional<std::vector<Field>> form;
    if (iequals(media, "application/x-www-form-urlencoded")) {
        form = parse_urlencoded(body);
    } else if (iequals(media, "multipart/form-data")) {
        form = parse_multipart(body, content_type);
    } else {
        parsed.error = "Content-Type must be a form";
        return parsed;
    }
    if (!form) {
        parsed.error = "malformed form body";
        return parsed;
    }
    auto& fields = parsed.fields;
    auto& headers = fields["headers"].get_object();
    for (auto& [name, value] : *form) {
        if (name == "to" || name == "cc" || name == "bcc") {
            fields[name].get_array().emplace_back(std::move(value));
        } else if (name == "from" || name == "subject" || name == "text" || name == "html") {
            fields[name] = std::move(value);
        } else if (name == "o:tag") {
            fields["tags"].get_array().emplace_back(std::move(value));
        } else if (name.starts_with("v:")) {
            fields["variables"].get_object()[name.substr(2)] = std::move(value);
        } else if (name.starts_with("h:")) {
            if (iequals(name, "h:Reply-To")) {
                fields["reply_to"].get_array().emplace_back(value);
            }
            add_header(headers, name.substr(2), std::move(value));
        }
    }
    parsed.message_id = header_value(headers, "Message-Id");
    return parsed;
}

}  // namespace herald::mockmail
