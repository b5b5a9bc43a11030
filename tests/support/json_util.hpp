#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::test {

// Small, forgiving accessors for JSON that a test inspects: a missing key or a wrong type gives
// the empty / fallback value, and the test's own assertion then names what was expected.
std::optional<boost::json::value> parse_json(std::string_view text);
std::string json_text(const boost::json::value& value);
std::string string_at(const boost::json::value& object, std::string_view key);
std::int64_t int_at(const boost::json::value& object, std::string_view key, std::int64_t fallback);
const boost::json::value* find_at(const boost::json::value& object, std::string_view key);
// Follows a dotted path of object keys and array indexes ("to.0.address").
const boost::json::value* find_path(const boost::json::value& root, std::string_view path);

}  // namespace herald::test
