#include "mail/message.hpp"

#include "mail/failure.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <tuple>
#include <unordered_set>

namespace herald::mail {

namespace {

using detail::fail;
using detail::ok;

template <typename T>
using Result = boost::system::result<T, std::string>;

boost::json::object mailbox_to_json(const Mailbox& mailbox) {
    boost::json::object out;
    out["name"] = mailbox.name;
    out["address"] = mailbox.address;
    return out;
}

boost::json::array mailboxes_to_json(const std::vector<Mailbox>& mailboxes) {
    boost::json::array out;
    out.reserve(mailboxes.size());
    for (const Mailbox& mailbox : mailboxes) {
        out.emplace_back(mailbox_to_json(mailbox));
    }
    return out;
}

Result<Mailbox> mailbox_from_json(const boost::json::value& json, std::string_view field) {
    const auto* object = json.if_object();
    if (object == nullptr) {
        return fail("'" + std::string{field} + "' holds a mailbox that is not an object");
    }
    const auto* address = object->if_contains("address");
    if (address == nullptr || !address->is_string()) {
        return fail("'" + std::string{field} + "' holds a mailbox without a string 'address'");
    }
    Mailbox mailbox;
    mailbox.address = address->get_string();
    if (const auto* name = object->if_contains("name"); name != nullptr) {
        if (!name->is_string()) {
            return fail("'" + std::string{field} +
                        "' holds a mailbox whose 'name' is not a string");
        }
        mailbox.name = name->get_string();
    }
    return mailbox;
}

// Optional list fields read as empty when absent, so that rows stored before a field existed
// still load.
Result<std::vector<Mailbox>> mailboxes_from_json(const boost::json::object& object,
                                                 std::string_view field) {
    std::vector<Mailbox> out;
    const auto* value = object.if_contains(field);
    if (value == nullptr) {
        return out;
    }
    const auto* array = value->if_array();
    if (array == nullptr) {
        return fail("'" + std::string{field} + "' is not an array");
    }
    out.reserve(array->size());
    for (const auto& element : *array) {
        auto mailbox = mailbox_from_json(element, field);
        if (!mailbox) {
            return fail(mailbox.error());
        }
        out.push_back(std::move(*mailbox));
    }
    return out;
}

Result<std::string> string_from_json(const boost::json::object& object,
                                     std::string_view field,
                                     bool required) {
    const auto* value = object.if_contains(field);
    if (value == nullptr) {
        if (required) {
            return fail("missing field '" + std::string{field} + "'");
        }
        return ok(std::string{});
    }
    if (!value->is_string()) {
        return fail("'" + std::string{field} + "' is not a string");
    }
    return ok(std::string{value->get_string()});
}

Result<std::vector<std::pair<std::string, std::string>>> headers_from_json(
    const boost::json::object& object) {
    std::vector<std::pair<std::string, std::string>> out;
    const auto* value = object.if_contains("headers");
    if (value == nullptr) {
        return out;
    }
    const auto* array = value->if_array();
    if (array == nullptr) {
        return fail("'headers' is not an array");
    }
    for (const auto& element : *array) {
        const auto* pair = element.if_array();
        if (pair == nullptr || pair->size() != 2 || !(*pair)[0].is_string() ||
            !(*pair)[1].is_string()) {
            return fail("'headers' holds an element that is not a [name, value] pair");
        }
        out.emplace_back(std::string{(*pair)[0].get_string()},
                         std::string{(*pair)[1].get_string()});
    }
    return out;
}

Result<std::int64_t> date_from_json(const boost::json::object& object) {
    const auto* value = object.if_contains("date_ms");
    if (value == nullptr) {
        return fail("missing field 'date_ms'");
    }
    if (value->is_int64()) {
        return value->get_int64();
    }
    if (value->is_uint64() &&
        value->get_uint64() <=
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return static_cast<std::int64_t>(value->get_uint64());
    }
    return fail("'date_ms' is not an integer");
}

}  // namespace

bool Mailbox::needs_smtputf8() const {
    return std::any_of(address.begin(), address.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x80;
    });
}

std::vector<std::string> Message::recipients() const {
    std::vector<std::string> out;
    std::unordered_set<std::string> seen;
    for (const auto* list : {&to, &cc, &bcc}) {
        for (const Mailbox& mailbox : *list) {
            if (seen.insert(mailbox.address).second) {
                out.push_back(mailbox.address);
            }
        }
    }
    return out;
}

boost::json::object to_json(const Message& message) {
    boost::json::object out;
    out["from"] = mailbox_to_json(message.from);
    out["to"] = mailboxes_to_json(message.to);
    out["cc"] = mailboxes_to_json(message.cc);
    out["bcc"] = mailboxes_to_json(message.bcc);
    out["reply_to"] = mailboxes_to_json(message.reply_to);
    out["subject"] = message.subject;
    out["text"] = message.text;
    out["html"] = message.html;
    boost::json::array headers;
    headers.reserve(message.headers.size());
    for (const auto& [name, value] : message.headers) {
        headers.emplace_back(
            boost::json::array{boost::json::string{name}, boost::json::string{value}});
    }
    out["headers"] = std::move(headers);
    out["message_id"] = message.message_id;
    out["date_ms"] = message.date_ms;
    return out;
}

boost::system::result<Message, std::string> message_from_json(const boost::json::value& json) {
    const auto* object = json.if_object();
    if (object == nullptr) {
        return fail("message is not a JSON object");
    }
    const auto* from = object->if_contains("from");
    if (from == nullptr) {
        return fail("missing field 'from'");
    }
    if (object->if_contains("to") == nullptr) {
        return fail("missing field 'to'");
    }

    Message message;
    auto from_mailbox = mailbox_from_json(*from, "from");
    if (!from_mailbox) {
        return fail(from_mailbox.error());
    }
    message.from = std::move(*from_mailbox);

    const std::pair<std::string_view, std::vector<Mailbox>*> lists[] = {
        {"to", &message.to},
        {"cc", &message.cc},
        {"bcc", &message.bcc},
        {"reply_to", &message.reply_to}};
    for (const auto& [field, target] : lists) {
        auto mailboxes = mailboxes_from_json(*object, field);
        if (!mailboxes) {
            return fail(mailboxes.error());
        }
        *target = std::move(*mailboxes);
    }

    const std::tuple<std::string_view, bool, std::string*> strings[] = {
        {"subject", true, &message.subject},
        {"text", false, &message.text},
        {"html", false, &message.html},
        {"message_id", true, &message.message_id}};
    for (const auto& [field, required, target] : strings) {
        auto text = string_from_json(*object, field, required);
        if (!text) {
            return fail(text.error());
        }
        *target = std::move(*text);
    }

    auto headers = headers_from_json(*object);
    if (!headers) {
        return fail(headers.error());
    }
    message.headers = std::move(*headers);
    auto date_ms = date_from_json(*object);
    if (!date_ms) {
        return fail(date_ms.error());
    }
    message.date_ms = *date_ms;
    return message;
}

}  // namespace herald::mail
