#include "http/deadline.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <utility>

namespace herald::http {
namespace {

using std::chrono::milliseconds;
using Headers = std::initializer_list<std::pair<const char*, const char*>>;

boost::system::result<milliseconds, FieldProblem> budget_of(Headers headers,
                                                            DeadlineOptions options = {}) {
    Request request{Verb::post, "/v1/notifications", 11};
    for (const auto& [name, value] : headers) {
        request.insert(name, value);
    }
    return request_budget(request, options);
}

milliseconds ok(Headers headers, DeadlineOptions options = {}) {
    const auto budget = budget_of(headers, options);
    EXPECT_TRUE(budget.has_value()) << (budget ? "" : budget.error().header);
    return budget ? *budget : milliseconds{-1};
}

std::string refused_header(Headers headers) {
    const auto budget = budget_of(headers);
    EXPECT_FALSE(budget.has_value());
    return budget ? std::string{} : budget.error().header;
}

TEST(RequestBudget, WithoutHeadersIsTheDefaultCappedByTheMaximum) {
    EXPECT_EQ(ok({}), milliseconds{9000});
    DeadlineOptions small;
    small.default_budget = milliseconds{9000};
    small.max_budget = milliseconds{2000};
    EXPECT_EQ(ok({}, small), milliseconds{2000});
}

TEST(RequestBudget, ReadsHeraldsOwnHeaderInMilliseconds) {
    EXPECT_EQ(ok({{"X-Request-Timeout-Ms", "2500"}}), milliseconds{2500});
    EXPECT_EQ(ok({{"x-request-timeout-ms", " 40 "}}), milliseconds{40});
    EXPECT_EQ(ok({{"X-Request-Timeout-Ms", "0"}}), milliseconds{0});
}

TEST(RequestBudget, ReadsEveryGrpcUnit) {
    EXPECT_EQ(ok({{"grpc-timeout", "1H"}}), milliseconds{30000});  // capped by the maximum
    EXPECT_EQ(ok({{"grpc-timeout", "20S"}}), milliseconds{20000});
    EXPECT_EQ(ok({{"grpc-timeout", "2S"}}), milliseconds{2000});
    EXPECT_EQ(ok({{"grpc-timeout", "1500m"}}), milliseconds{1500});
    EXPECT_EQ(ok({{"grpc-timeout", "2500000u"}}), milliseconds{2500});
    EXPECT_EQ(ok({{"grpc-timeout", "1n"}}), milliseconds{1});  // rounded up, never 0
    EXPECT_EQ(ok({{"grpc-timeout", "12345678n"}}), milliseconds{13});
    DeadlineOptions generous;
    generous.max_budget = milliseconds{10 * 3600 * 1000};
    EXPECT_EQ(ok({{"grpc-timeout", "2H"}}, generous), milliseconds{2 * 3600 * 1000});
    EXPECT_EQ(ok({{"grpc-timeout", "3M"}}, generous), milliseconds{180000});
}

TEST(RequestBudget, ReadsEnvoysHeader) {
    EXPECT_EQ(ok({{"x-envoy-expected-rq-timeout-ms", "1200"}}), milliseconds{1200});
}

TEST(RequestBudget, TheSmallestOfAllHeadersAndTheMaximumWins) {
    EXPECT_EQ(ok({{"X-Request-Timeout-Ms", "5000"},
                  {"grpc-timeout", "3S"},
                  {"x-envoy-expected-rq-timeout-ms", "4000"}}),
              milliseconds{3000});
    EXPECT_EQ(ok({{"X-Request-Timeout-Ms", "99999999999999999999999"}}), milliseconds{30000});
    EXPECT_EQ(ok({{"X-Request-Timeout-Ms", std::string(200, '9').c_str()}}), milliseconds{30000});
}

TEST(RequestBudget, MalformedValuesAreRefusedNamingTheHeader) {
    for (const char* bad : {"", "abc", "-5", "1.5", "10s", "+10", "0x10"}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(refused_header({{"X-Request-Timeout-Ms", bad}}), "X-Request-Timeout-Ms");
        EXPECT_EQ(refused_header({{"x-envoy-expected-rq-timeout-ms", bad}}),
                  "x-envoy-expected-rq-timeout-ms");
    }
    for (const char* bad : {"", "S", "10", "10s", "10x", "123456789S", "-1S", "1.5S", " S"}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(refused_header({{"grpc-timeout", bad}}), "grpc-timeout");
    }
}

TEST(RequestBudget, AHeaderSentTwiceIsRefused) {
    EXPECT_EQ(refused_header({{"X-Request-Timeout-Ms", "100"}, {"X-Request-Timeout-Ms", "200"}}),
              "X-Request-Timeout-Ms");
}

}  // namespace
}  // namespace herald::http
