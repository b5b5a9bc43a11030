#include "support/json_util.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace herald::test {

std::optional<boost::json::value> parse_json(std::string_view text) {
    boost::system::error_code ec;
    boost::json::parse_options options;
    options.max_depth = 10000;
    auto value = boost::json::parse(text, ec, {}, options);
    if (ec) {
        return std::nullopt;
    }
    return value;
}

std::string json_text(const boost::json::value& value) {
    return boost::json::serialize(value);
}

const boost::json::value* find_at(const boost::json::value& object, std::string_view key) {
    const auto* obj = object.if_object();
    if (obj == nullptr) {
        return nullptr;
    }
    return obj->if_contains(key);
}

std::string string_at(const boost::json::value& object, std::string_view key) {
    const auto* found = find_at(object, key);
    if (found == nullptr || !found->is_string()) {
        return {};
    }
    return std::string{found->as_string()};
}

std::int64_t int_at(const boost::json::value& object, std::string_view key, std::int64_t fallback) {
    const auto* found = find_at(object, key);
    if (found == nullptr) {
        return fallback;
    }
    if (found->is_int64()) {
        return found->as_int64();
    }
    if (found->is_uint64()) {
        return static_cast<std::int64_t>(found->as_uint64());
    }
    if (found->is_double()) {
        return static_cast<std::int64_t>(found->as_double());
    }
    return fallback;
}

const boost::json::value* find_path(const boost::json::value& root, std::string_view path) {
    const boost::json::value* at = &root;
    while (at != nullptr && !path.empty()) {
        const auto dot = path.find('.');
        const std::string_view step = path.substr(0, dot);
        path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
        if (const auto* array = at->if_array()) {
            std::size_t index = 0;
            for (char c : step) {
                if (c < '0' || c > '9') {
                    return nullptr;
                }
                index = index * 10 + static_cast<std::size_t>(c - '0');
            }
            at = index < array->size() ? &(*array)[index] : nullptr;
        } else {
            at = find_at(*at, step);
        }
    }
    return at;
}

}  // namespace herald::test
