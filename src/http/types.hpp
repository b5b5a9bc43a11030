#pragma once

#include "observe/trace.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace herald::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;
using Status = beast_http::status;
using Verb = beast_http::verb;

// Lets a handler that waits (for a delivery, say) learn that its client has left: closed the
// connection (FIN) or reset it. The server does not watch the connection while a handler runs
// until the handler asks with watch(); then it reads ahead on the socket, keeping any pipelined
// bytes for the next request, until the handler returns. A client gone is not answered.
// Used only on the connection's I/O thread, and only while the handler runs.
class PeerWatch {
public:
    virtual ~PeerWatch() = default;
    // Starts watching, once; `on_gone` runs on the connection's thread when the client leaves
    // (at once when it has already left). Later calls only replace `on_gone`.
    virtual void watch(std::function<void()> on_gone) = 0;
    virtual bool gone() const = 0;
};

// What a handler receives. Passed by value into the handler coroutine, so nothing dangles
// across a suspension.
struct RequestContext {
    Request request;
    std::vector<std::string> params;  // values captured by the route pattern's {name} segments
    std::string request_id;
    std::chrono::steady_clock::time_point received_at;
    PeerWatch* peer = nullptr;  // the connection, while the handler runs; null outside a server
    // When the client stops waiting (see request_budget in deadline.hpp); work that cannot
    // finish by then should not start.
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    // The request's own span (W3C trace context): the parent of the spans a handler starts and
    // the context it stores for work done later. A child of the request's valid traceparent,
    // else the root of a new trace.
    observe::TraceContext trace;
};

// A handler runs on the I/O thread that owns the connection and must never block it.
using Handler = std::function<boost::asio::awaitable<Response>(RequestContext)>;

// application/json response with `body` serialised.
Response json_response(Status status, const boost::json::value& body);
// The same with a body already serialized (e.g. a stored response being replayed).
Response json_response(Status status, std::string body);

// One bad part of a request: a body field named by a JSON Pointer (RFC 6901, "#/to/1"), or,
// when `pointer` is empty, the request header named by `header` or the query parameter named by
// `parameter`.
struct FieldProblem {
    std::string pointer;
    std::string detail;
    std::string header = {};
    std::string parameter = {};
    // It names a query parameter: `parameter` is listed even when empty (a query "?=1").
    bool in_query = false;
};

// RFC 9457 application/problem+json: {"type","title","status","detail","errors":[…]}.
// `type` is a relative URI under /problems/ naming the kind of problem.
Response problem_response(Status status,
                          std::string_view type,
                          std::string_view title,
                          std::string_view detail,
                          const std::vector<FieldProblem>& errors = {});

// The problem object problem_response() sends, for a caller that adds members of its own (RFC
// 9457 extension members) before sending it with problem_response(status, body).
boost::json::object problem_body(Status status,
                                 std::string_view type,
                                 std::string_view title,
                                 std::string_view detail,
                                 const std::vector<FieldProblem>& errors = {});
Response problem_response(Status status, const boost::json::object& body);

}  // namespace herald::http
