#include "api/idempotency.hpp"

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <openssl/evp.h>
#include <utility>
#include <vector>

namespace herald::api {
namespace {

constexpr std::string_view kHeader = "Idempotency-Key";

http::FieldProblem key_problem(std::string detail) {
    return http::FieldProblem{{}, std::move(detail), std::string{kHeader}};
}

// Undoes RFC 8941 sf-string quoting. nullopt when the quoting is malformed.
std::optional<std::string> unquote(std::string_view quoted) {
    std::string out;
    for (std::size_t i = 1; i + 1 < quoted.size(); ++i) {
        char c = quoted[i];
        if (c == '"') {
            return std::nullopt;
        }
        if (c == '\\') {
            if (i + 2 >= quoted.size() || (quoted[i + 1] != '"' && quoted[i + 1] != '\\')) {
                return std::nullopt;
            }
            c = quoted[++i];
        }
        out.push_back(c);
    }
    return out;
}

void write_canonical(const boost::json::value& value, std::string& out) {
    if (const auto* object = value.if_object()) {
        std::vector<const boost::json::key_value_pair*> members;
        members.reserve(object->size());
        for (const auto& member : *object) {
            members.push_back(&member);
        }
        std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
            return a->key() < b->key();
        });
        out.push_back('{');
        for (std::size_t i = 0; i < members.size(); ++i) {
            if (i > 0) {
                out.push_back(',');
            }
            out += boost::json::serialize(boost::json::string_view{members[i]->key()});
            out.push_back(':');
            write_canonical(members[i]->value(), out);
        }
        out.push_back('}');
        return;
    }
    if (const auto* array = value.if_array()) {
        out.push_back('[');
        for (std::size_t i = 0; i < array->size(); ++i) {
            if (i > 0) {
                out.push_back(',');
            }
            write_canonical((*array)[i], out);
        }
        out.push_back(']');
        return;
    }
    out += boost::json::serialize(value);
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    return out;
}

std::string sha256_hex(std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
        // Only a broken crypto library fails here; an empty fingerprint then matches nothing
        // stored by a working one, and equal requests still match each other.
        return {};
    }
    std::string hex;
    hex.reserve(length * 2);
    for (unsigned int i = 0; i < length; ++i) {
        hex += fmt::format("{:02x}", digest[i]);
    }
    return hex;
}

}  // namespace

boost::system::result<std::optional<std::string>, http::FieldProblem> read_idempotency_key(
    const http::Request& request) {
    const auto [first, last] = request.equal_range(kHeader);
    if (first == last) {
        return std::optional<std::string>{};
    }
    if (std::next(first) != last) {
        return key_problem("send one Idempotency-Key header, not several");
    }
    const std::string_view raw = first->value();
    std::optional<std::string> key{std::string{raw}};
    if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') {
        key = unquote(raw);
        if (!key) {
            return key_problem("the quoted key is malformed (only \\\" and \\\\ may be escaped)");
        }
    }
    if (key->empty()) {
        return key_problem("the key is empty");
    }
    if (key->size() > kMaxIdempotencyKeyBytes) {
        return key_problem(fmt::format("the key is longer than {} bytes", kMaxIdempotencyKeyBytes));
    }
    const bool printable =
        std::all_of(key->begin(), key->end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
    if (!printable) {
        return key_problem("the key may hold only printable ASCII (no control characters)");
    }
    return key;
}

std::string canonical_json(const boost::json::value& value) {
    std::string out;
    write_canonical(value, out);
    return out;
}

std::string request_fingerprint(const ValidNotification& notification) {
    boost::json::object message = mail::to_json(notification.message);
    message.erase("message_id");  // assigned by intake, not asked for by the client
    message.erase("date_ms");

    // Custom headers as sorted [lower-cased name, value] pairs: their JSON order in the
    // request is not meaningful (repeats of one name keep their relative order).
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& [name, value] : notification.message.headers) {
        headers.emplace_back(lower(name), value);
    }
    std::stable_sort(headers.begin(), headers.end(), [](const auto& a, const auto& b) {
        return a.first < b.first;
    });
    boost::json::array header_list;
    for (auto& [name, value] : headers) {
        header_list.push_back(
            boost::json::array{boost::json::string{name}, boost::json::string{value}});
    }
    message["headers"] = std::move(header_list);
    message["tags"] = notification.tags;
    message["metadata"] = notification.metadata;
    // The expiry as asked (a relative max_age_s stays relative, so a retry sent later matches);
    // added only when asked, so the fingerprints of requests without one are unchanged.
    if (notification.expiry.expires_at) {
        message["expires_at"] = *notification.expiry.expires_at;
    }
    if (notification.expiry.max_age_s) {
        message["max_age_s"] = *notification.expiry.max_age_s;
    }
    return sha256_hex(canonical_json(message));
}

}  // namespace herald::api
