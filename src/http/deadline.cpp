#include "http/deadline.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::http {
namespace {

// Saturates instead of overflowing: any budget is capped far below this.
constexpr std::int64_t kSaturated = std::int64_t{1} << 40;

std::optional<std::int64_t> digits_value(std::string_view text, std::size_t max_digits) {
    if (text.empty() || text.size() > max_digits) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        value = std::min(value * 10 + (c - '0'), kSaturated);
    }
    return value;
}

// gRPC's TimeoutValue TimeoutUnit, in milliseconds (rounded up, so that a tiny budget does not
// become 0, "already gone").
std::optional<std::int64_t> grpc_timeout_ms(std::string_view text) {
    if (text.size() < 2) {
        return std::nullopt;
    }
    const auto amount = digits_value(text.substr(0, text.size() - 1), 8);
    if (!amount) {
        return std::nullopt;
    }
    const std::int64_t n = *amount;
    switch (text.back()) {
        case 'H':
            return n * 3600 * 1000;
        case 'M':
            return n * 60 * 1000;
        case 'S':
            return n * 1000;
        case 'm':
            return n;
        case 'u':
            return (n + 999) / 1000;
        case 'n':
            return (n + 999999) / 1000000;
        default:
            return std::nullopt;
    }
}

struct TimeoutHeader {
    std::string_view name;
    std::optional<std::int64_t> (*parse)(std::string_view);
};

std::optional<std::int64_t> milliseconds_value(std::string_view text) {
    return digits_value(text, std::string_view::npos);  // any length: large values saturate
}

constexpr TimeoutHeader kHeaders[] = {
    {"X-Request-Timeout-Ms", &milliseconds_value},
    {"grpc-timeout", &grpc_timeout_ms},
    {"x-envoy-expected-rq-timeout-ms", &milliseconds_value},
};

}  // namespace

boost::system::result<std::chrono::milliseconds, FieldProblem> request_budget(
    const Request& request, const DeadlineOptions& options) {
    std::int64_t budget = options.max_budget.count();
    bool any = false;
    for (const auto& header : kHeaders) {
        const auto [first, last] = request.equal_range(header.name);
        if (first == last) {
            continue;
        }
        if (std::next(first) != last) {
            return FieldProblem{{}, "sent more than once", std::string{header.name}};
        }
        const auto value = header.parse(core::trim_blanks(first->value()));
        if (!value) {
            return FieldProblem{{}, "not a valid timeout", std::string{header.name}};
        }
        budget = std::min(budget, *value);
        any = true;
    }
    if (!any) {
        budget = std::min(budget, options.default_budget.count());
    }
    return std::chrono::milliseconds{budget};
}

}  // namespace herald::http
