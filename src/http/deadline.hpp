#pragma once

#include "http/types.hpp"

#include <boost/system/result.hpp>

#include <chrono>

namespace herald::http {

struct DeadlineOptions {
    // Without any timeout header: below the common 10 s client timeout, so that herald answers
    // before a client that sent no budget gives up.
    std::chrono::milliseconds default_budget{9000};
    std::chrono::milliseconds max_budget{30000};  // the most any header can ask for
};

// How long the client will wait for this request: the smallest of max_budget and every timeout
// header present, or default_budget (capped by max_budget) when there is none. Understood:
//   X-Request-Timeout-Ms: 2500          herald's own, relative milliseconds
//   grpc-timeout: 2S                    1 to 8 digits and a unit: H M S m u n
//   x-envoy-expected-rq-timeout-ms: 2500
// A malformed value (empty, not digits, a gRPC value without a unit or with more than 8 digits)
// or a header sent twice is an error naming the header. Values larger than any budget saturate.
// A budget of 0 means the client has already given up.
boost::system::result<std::chrono::milliseconds, FieldProblem> request_budget(
    const Request& request, const DeadlineOptions& options);

}  // namespace herald::http
