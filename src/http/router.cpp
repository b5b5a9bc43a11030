#include "http/router.hpp"

#include <boost/beast/http/verb.hpp>

namespace herald::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> segments;
    std::size_t start = 1;
    while (start <= path.size()) {
        const auto slash = path.find('/', start);
        const auto end = slash == std::string_view::npos ? path.size() : slash;
        segments.push_back(path.substr(start, end - start));
        start = end + 1;
    }
    return segments;
}

bool is_capture(std::string_view segment) {
    return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::add(Verb method, std::string pattern, Handler handler) {
    std::vector<std::string> segments;
    for (auto s : split_path(pattern)) {
        segments.emplace_back(s);
    }
    routes_.push_back(Route{method, std::move(pattern), std::move(segments), std::move(handler)});
}

Router::Match Router::match(Verb method, std::string_view target) const {
    Match result;
    const auto query = target.find('?');
    const std::string_view path = target.substr(0, query);
    if (path.empty() || path.front() != '/') {
        result.error = problem_response(
            Status::bad_request, "bad-target", "Bad request target", "the target must be a path");
        return result;
    }
    const auto segments = split_path(path);

    std::string allow;
    for (const auto& route : routes_) {
        if (route.segments.size() != segments.size()) {
            continue;
        }
        std::vector<std::string> params;
        bool matched = true;
        for (std::size_t i = 0; i < segments.size() && matched; ++i) {
            if (is_capture(route.segments[i])) {
                matched = !segments[i].empty();
                params.emplace_back(segments[i]);
            } else {
                matched = route.segments[i] == segments[i];
            }
        }
        if (!matched) {
            continue;
        }
        if (route.method == method) {
            result.handler = &route.handler;
            result.pattern = route.pattern;
            result.params = std::move(params);
            return result;
        }
        if (!allow.empty()) {
            allow += ", ";
        }
        allow += std::string{beast_http::to_string(route.method)};
    }

    if (allow.empty()) {
        result.error =
            problem_response(Status::not_found, "not-found", "Not found", "no such resource");
        return result;
    }
    result.error = problem_response(Status::method_not_allowed,
                                    "method-not-allowed",
                                    "Method not allowed",
                                    "this resource does not accept that method");
    result.error.set(beast_http::field::allow, allow);
    return result;
}

}  // namespace herald::http
