#include "api/debug.hpp"

#include <charconv>
#include <optional>
#include <string_view>
#include <thread>

namespace herald::api {
namespace {

using http::Response;
using http::Status;

// The value of `ms` in the query of `target` as a number of milliseconds within the cap;
// nullopt when it is missing, repeated, not a whole number or over the cap.
std::optional<std::chrono::milliseconds> block_time(std::string_view target) {
    const auto question = target.find('?');
    if (question == std::string_view::npos) {
        return std::nullopt;
    }
    std::string_view query = target.substr(question + 1);
    std::optional<std::chrono::milliseconds> found;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (!pair.starts_with("ms=")) {
            continue;
        }
        const std::string_view text = pair.substr(3);
        long long value = -1;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (found || ec != std::errc{} || end != text.data() + text.size() || value < 0 ||
            value > kMaxDebugBlock.count()) {
            return std::nullopt;
        }
        found = std::chrono::milliseconds{value};
    }
    return found;
}

boost::asio::awaitable<Response> block(http::RequestContext context) {
    const auto time = block_time(context.request.target());
    if (!time) {
        co_return http::problem_response(
            Status::bad_request,
            "invalid-query",
            "Invalid query",
            "ms must be given once, as a whole number of milliseconds from 0 to 5000");
    }
    // Blocking on purpose: this route exists to stall its I/O thread (see debug.hpp).
    std::this_thread::sleep_for(*time);
    co_return http::json_response(Status::ok, boost::json::object{{"blocked_ms", time->count()}});
}

}  // namespace

void add_debug_blocking_route(http::Router& router) {
    router.add(http::Verb::post, "/debug/block", block);
}

}  // namespace herald::api
