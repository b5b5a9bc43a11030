#include "delivery/http_profiles.hpp"

#include "delivery/http_transport.hpp"
#include "mail/mime.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>
#include <vector>

namespace herald::delivery {
namespace {

std::string lower_ascii(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    return out;
}

// to, cc and bcc with each address once, at its first place (addresses compared ignoring ASCII
// case, as providers compare them).
struct Recipients {
    std::vector<mail::Mailbox> to, cc, bcc;
};

Recipients distinct_recipients(const mail::Message& message) {
    Recipients out;
    std::set<std::string> seen;
    const auto keep = [&seen](const std::vector<mail::Mailbox>& from,
                              std::vector<mail::Mailbox>& into) {
        for (const auto& mailbox : from) {
            if (seen.insert(lower_ascii(mailbox.address)).second) {
                into.push_back(mailbox);
            }
        }
    };
    keep(message.to, out.to);
    keep(message.cc, out.cc);
    keep(message.bcc, out.bcc);
    return out;
}

std::optional<std::string> line_break_in(const OutboundMessage& outbound) {
    const mail::Message& m = outbound.message;
    const auto mailbox_broken = [](const mail::Mailbox& mailbox) {
        return mail::contains_cr_or_lf(mailbox.name) || mail::contains_cr_or_lf(mailbox.address);
    };
    if (mailbox_broken(m.from)) {
        return std::string("from");
    }
    const std::pair<const char*, const std::vector<mail::Mailbox>*> lists[] = {
        {"to", &m.to}, {"cc", &m.cc}, {"bcc", &m.bcc}, {"reply_to", &m.reply_to}};
    for (const auto& [name, list] : lists) {
        if (std::any_of(list->begin(), list->end(), mailbox_broken)) {
            return std::string(name);
        }
    }
    if (mail::contains_cr_or_lf(m.subject)) {
        return std::string("subject");
    }
    if (mail::contains_cr_or_lf(m.message_id)) {
        return std::string("message_id");
    }
    for (const auto& [name, value] : m.headers) {
        if (mail::contains_cr_or_lf(name) || mail::contains_cr_or_lf(value)) {
            return std::string("headers");
        }
    }
    for (const auto& tag : outbound.tags) {
        if (mail::contains_cr_or_lf(tag)) {
            return std::string("tags");
        }
    }
    return std::nullopt;
}

// A metadata value as providers take variables: text, or JSON for anything else.
std::string variable_text(const boost::json::value& value) {
    if (const auto* text = value.if_string()) {
        return std::string(*text);
    }
    return boost::json::serialize(value);
}

constexpr std::string_view kNotificationIdVariable = "herald_notification_id";

boost::json::object sendgrid_mailbox(const mail::Mailbox& mailbox) {
    boost::json::object out{{"email", mailbox.address}};
    if (!mailbox.name.empty()) {
        out["name"] = mailbox.name;
    }
    return out;
}

boost::json::array sendgrid_mailboxes(const std::vector<mail::Mailbox>& list) {
    boost::json::array out;
    for (const auto& mailbox : list) {
        out.push_back(sendgrid_mailbox(mailbox));
    }
    return out;
}

bool is_atext(unsigned char c) {
    return std::isalnum(c) != 0 || c >= 0x80 ||
           std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
               std::string_view::npos;
}

// Words of atext separated by single spaces: a phrase that needs no quotes.
bool is_plain_phrase(std::string_view name) {
    if (name.front() == ' ' || name.back() == ' ' || name.find("  ") != std::string_view::npos) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) { return c == ' ' || is_atext(c); });
}

class FormWriter {
public:
    void add(std::string_view name, std::string_view value) {
        if (!body_.empty()) {
            body_.push_back('&');
        }
        body_ += form_encode(name);
        body_.push_back('=');
        body_ += form_encode(value);
    }
    std::string take() { return std::move(body_); }

private:
    std::string body_;
};

}  // namespace

std::optional<HttpProfile> parse_http_profile(std::string_view name) {
    if (name == "herald") {
        return HttpProfile::herald;
    }
    if (name == "sendgrid") {
        return HttpProfile::sendgrid;
    }
    if (name == "mailgun") {
        return HttpProfile::mailgun;
    }
    return std::nullopt;
}

std::string_view to_string(HttpProfile profile) {
    switch (profile) {
        case HttpProfile::herald:
            return "herald";
        case HttpProfile::sendgrid:
            return "sendgrid";
        case HttpProfile::mailgun:
            return "mailgun";
    }
    return "herald";
}

std::string form_encode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto octet = static_cast<unsigned char>(c);
        if (std::isalnum(octet) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(kHex[octet >> 4]);
            out.push_back(kHex[octet & 0x0f]);
        }
    }
    return out;
}

std::string mailbox_text(const mail::Mailbox& mailbox) {
    if (mailbox.name.empty()) {
        return mailbox.address;
    }
    if (is_plain_phrase(mailbox.name)) {
        return fmt::format("{} <{}>", mailbox.name, mailbox.address);
    }
    std::string quoted = "\"";
    for (const char c : mailbox.name) {
        if (c == '"' || c == '\\') {
            quoted.push_back('\\');
        }
        quoted.push_back(c);
    }
    return fmt::format("{}\" <{}>", quoted, mailbox.address);
}

std::string sendgrid_request_body(const OutboundMessage& outbound) {
    const mail::Message& m = outbound.message;
    const Recipients recipients = distinct_recipients(m);

    boost::json::object personalization{{"to", sendgrid_mailboxes(recipients.to)}};
    if (!recipients.cc.empty()) {
        personalization["cc"] = sendgrid_mailboxes(recipients.cc);
    }
    if (!recipients.bcc.empty()) {
        personalization["bcc"] = sendgrid_mailboxes(recipients.bcc);
    }

    boost::json::object body;
    body["personalizations"] = boost::json::array{std::move(personalization)};
    body["from"] = sendgrid_mailbox(m.from);
    if (m.reply_to.size() == 1) {
        body["reply_to"] = sendgrid_mailbox(m.reply_to.front());
    } else if (m.reply_to.size() > 1) {
        body["reply_to_list"] = sendgrid_mailboxes(m.reply_to);
    }
    body["subject"] = m.subject;

    // SendGrid requires text/plain before text/html, and no empty values.
    boost::json::array content;
    if (!m.text.empty()) {
        content.push_back(boost::json::object{{"type", "text/plain"}, {"value", m.text}});
    }
    if (!m.html.empty()) {
        content.push_back(boost::json::object{{"type", "text/html"}, {"value", m.html}});
    }
    body["content"] = std::move(content);

    boost::json::object headers{{"Message-ID", "<" + m.message_id + ">"}};
    std::set<std::string> names{"message-id"};
    for (const auto& [name, value] : m.headers) {
        if (names.insert(lower_ascii(name)).second) {
            headers[name] = value;
        }
    }
    body["headers"] = std::move(headers);

    if (!outbound.tags.empty()) {
        boost::json::array categories;
        for (std::size_t i = 0; i < outbound.tags.size() && i < kMaxSendgridCategories; ++i) {
            categories.emplace_back(outbound.tags[i]);
        }
        body["categories"] = std::move(categories);
    }

    boost::json::object custom_args{{kNotificationIdVariable, outbound.notification_id}};
    for (const auto& [key, value] : outbound.metadata) {
        if (key != kNotificationIdVariable) {
            custom_args[key] = variable_text(value);
        }
    }
    body["custom_args"] = std::move(custom_args);
    return boost::json::serialize(body);
}

std::string mailgun_request_body(const OutboundMessage& outbound) {
    const mail::Message& m = outbound.message;
    const Recipients recipients = distinct_recipients(m);
    FormWriter form;

    form.add("from", mailbox_text(m.from));
    for (const auto& mailbox : recipients.to) {
        form.add("to", mailbox_text(mailbox));
    }
    for (const auto& mailbox : recipients.cc) {
        form.add("cc", mailbox_text(mailbox));
    }
    for (const auto& mailbox : recipients.bcc) {
        form.add("bcc", mailbox_text(mailbox));
    }
    form.add("subject", m.subject);
    if (!m.text.empty()) {
        form.add("text", m.text);
    }
    if (!m.html.empty()) {
        form.add("html", m.html);
    }

    if (!m.reply_to.empty()) {
        std::string reply_to;
        for (const auto& mailbox : m.reply_to) {
            reply_to += (reply_to.empty() ? "" : ", ") + mailbox_text(mailbox);
        }
        form.add("h:Reply-To", reply_to);
    }
    form.add("h:Message-Id", "<" + m.message_id + ">");
    for (const auto& [name, value] : m.headers) {
        form.add("h:" + name, value);
    }

    for (std::size_t i = 0; i < outbound.tags.size() && i < kMaxMailgunTags; ++i) {
        form.add("o:tag", outbound.tags[i]);
    }
    form.add(fmt::format("v:{}", kNotificationIdVariable), outbound.notification_id);
    for (const auto& [key, value] : outbound.metadata) {
        if (key != kNotificationIdVariable) {
            form.add(fmt::format("v:{}", std::string_view(key)), variable_text(value));
        }
    }
    return form.take();
}

boost::system::result<ProviderRequest, std::string> build_provider_request(
    HttpProfile profile, const OutboundMessage& message) {
    if (auto field = line_break_in(message)) {
        return {boost::system::in_place_error,
                fmt::format("refused to send: {} holds a line break", *field)};
    }
    switch (profile) {
        case HttpProfile::sendgrid:
            return ProviderRequest{"application/json", sendgrid_request_body(message)};
        case HttpProfile::mailgun:
            return ProviderRequest{"application/x-www-form-urlencoded",
                                   mailgun_request_body(message)};
        case HttpProfile::herald:
            break;
    }
    return ProviderRequest{"application/json", http_request_body(message)};
}

}  // namespace herald::delivery
