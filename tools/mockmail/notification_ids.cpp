#include "notification_ids.hpp"

namespace herald::mockmail {
namespace {

bool is_run_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

}  // namespace

std::string find_storm_id(std::string_view body) {
    constexpr std::string_view kPrefix = "storm-";
    for (auto at = body.find(kPrefix); at != std::string_view::npos;
         at = body.find(kPrefix, at + 1)) {
        std::size_t end = at + kPrefix.size();
        const std::size_t run_start = end;
        while (end < body.size() && is_run_char(body[end])) {
            ++end;
        }
        // The run id may itself contain digits: the id's number is after its last '-'.
        if (end == run_start || end >= body.size() || body[end] != '-') {
            continue;
        }
        const std::size_t number_start = ++end;
        while (end < body.size() && is_digit(body[end])) {
            ++end;
        }
        if (end > number_start) {
            return std::string(body.substr(at, end - at));
        }
    }
    return {};
}

}  // namespace herald::mockmail
