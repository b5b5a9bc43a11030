#pragma once

#include "call_log.hpp"
#include "fault_plan.hpp"
#include "provider_shapes.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>

namespace herald::mockmail {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// A mock email API over HTTP/1.1 (keep-alive), for tests and the incident lab.
//
//   POST …/send    records the call, then answers per the FaultPlan: 200 {"id":"mock-<seq>"},
//                  the failure status (with Retry-After when configured), or no answer at all
//                  (the connection is closed after the request was read). 400 for a body that
//                  is not JSON (still recorded).
//   POST /v3/mail/send            SendGrid v3 JSON; like …/send, but accepted with 202 and an
//                                 empty body
//   POST /v3/<domain>/messages    Mailgun form (urlencoded or multipart/form-data); accepted with
//                                 200 {"id":"<mock-<seq>@domain>","message":"Queued. Thank you."}
//                  Both record the parsed fields (provider_shapes.hpp) beside the raw body; 400
//                  for a body not in the route's shape.
//   GET /calls     every recorded send, oldest first (see Call)
//   GET /stats     {"calls","distinct_keys","repeated_calls","in_flight","peak_in_flight"}
//   GET /keys      {"KEY":N,…}: calls per Idempotency-Key
//   DELETE /calls  forgets the calls and restarts the fault plan
//
// Runs on the io_context it is given; all state is touched from that one thread. Latency is an
// asynchronous timer: a slow answer never holds up other connections.
class MockServer {
public:
    MockServer(boost::asio::io_context& io,
               const boost::asio::ip::tcp::endpoint& endpoint,
               FaultOptions faults);

    boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

    // Accepts connections until the io_context stops.
    void start();

private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
    // The answer to one request; nullopt means "drop the connection without answering".
    boost::asio::awaitable<std::optional<Response>> handle(Request request,
                                                           std::uint64_t connection);
    boost::asio::awaitable<std::optional<Response>> handle_send(Request request,
                                                                std::uint64_t connection,
                                                                RouteMatch route);

    boost::asio::io_context& io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    FaultPlan plan_;
    CallLog log_;
    std::uint64_t connections_ = 0;
};

}  // namespace herald::mockmail
