#pragma once

#include "http/types.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace herald::http {

// Maps (method, path) to a handler. Patterns are literal segments and {name} captures, e.g.
// "/v1/notifications/{id}". Routes are added at start, before serving; matching is read-only
// and safe from every I/O thread at once.
class Router {
public:
    void add(Verb method, std::string pattern, Handler handler);

    struct Match {
        const Handler* handler = nullptr;  // null: `error` holds the 404 or 405 response
        std::string pattern;               // the matched route, for logs and metrics
        std::vector<std::string> params;
        Response error;
    };

    // The query string is ignored. A path that matches a route with another method gives 405
    // with an Allow header listing the methods that route accepts.
    Match match(Verb method, std::string_view target) const;

private:
    struct Route {
        Verb method;
        std::string pattern;
        std::vector<std::string> segments;
        Handler handler;
    };
    std::vector<Route> routes_;
};

}  // namespace herald::http
