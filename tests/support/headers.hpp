#pragma once

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::test {

// HTTP header fields in arrival order; names compare case-insensitively. Copyable value type.
class Headers {
public:
    void add(std::string name, std::string value) {
        fields_.emplace_back(std::move(name), std::move(value));
    }

    // The first value of `name`, or nullopt.
    std::optional<std::string> get(std::string_view name) const {
        for (const auto& [field, value] : fields_) {
            if (equal(field, name)) {
                return value;
            }
        }
        return std::nullopt;
    }

    std::vector<std::string> all(std::string_view name) const {
        std::vector<std::string> out;
        for (const auto& [field, value] : fields_) {
            if (equal(field, name)) {
                out.push_back(value);
            }
        }
        return out;
    }

    bool has(std::string_view name) const { return get(name).has_value(); }
    const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
    void clear() { fields_.clear(); }

    static bool equal(std::string_view a, std::string_view b) {
        return a.size() == b.size() &&
               std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
                   return std::tolower(static_cast<unsigned char>(x)) ==
                          std::tolower(static_cast<unsigned char>(y));
               });
    }

private:
    std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace herald::test
