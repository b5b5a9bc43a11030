#include "support/metrics_text.hpp"

#include <cstdlib>
#include <string>

namespace herald::test {

std::optional<double> metric_value(std::string_view exposition, std::string_view series) {
    while (!exposition.empty()) {
        const auto end = exposition.find('\n');
        std::string_view line = exposition.substr(0, end);
        exposition =
            end == std::string_view::npos ? std::string_view{} : exposition.substr(end + 1);
        if (line.empty() || line.front() == '#') {
            continue;
        }
        // The series ends at the first space outside its label braces.
        const auto close = line.find('}');
        const auto space = line.find(' ', close == std::string_view::npos ? 0 : close);
        if (space == std::string_view::npos || line.substr(0, space) != series) {
            continue;
        }
        const std::string value{line.substr(space + 1, line.find(' ', space + 1) - space - 1)};
        char* parsed_end = nullptr;
        const double number = std::strtod(value.c_str(), &parsed_end);
        if (parsed_end == value.c_str() || *parsed_end != '\0') {
            return std::nullopt;
        }
        return number;
    }
    return std::nullopt;
}

}  // namespace herald::test
