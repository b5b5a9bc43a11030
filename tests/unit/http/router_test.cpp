#include "http/router.hpp"

#include <gtest/gtest.h>

namespace herald::http {
namespace {

boost::asio::awaitable<Response> ok(RequestContext) {
    co_return json_response(Status::ok, boost::json::object{});
}

TEST(Router, CapturesPathParametersAndIgnoresTheQuery) {
    Router router;
    router.add(Verb::get, "/v1/things/{id}", ok);
    auto match = router.match(Verb::get, "/v1/things/abc?x=1");
    ASSERT_NE(match.handler, nullptr);
    EXPECT_EQ(match.pattern, "/v1/things/{id}");
    ASSERT_EQ(match.params.size(), 1u);
    EXPECT_EQ(match.params[0], "abc");
}

TEST(Router, AnswersUnknownPathsWith404Problem) {
    Router router;
    router.add(Verb::get, "/v1/things/{id}", ok);
    auto match = router.match(Verb::get, "/v1/other");
    EXPECT_EQ(match.handler, nullptr);
    EXPECT_EQ(match.error.result(), Status::not_found);
    EXPECT_EQ(match.error[beast_http::field::content_type], "application/problem+json");
}

TEST(Router, AnswersWrongMethodWith405ListingAllowedMethods) {
    Router router;
    router.add(Verb::get, "/v1/things", ok);
    router.add(Verb::post, "/v1/things", ok);
    auto match = router.match(Verb::delete_, "/v1/things");
    EXPECT_EQ(match.handler, nullptr);
    EXPECT_EQ(match.error.result(), Status::method_not_allowed);
    EXPECT_EQ(match.error[beast_http::field::allow], "GET, POST");
}

TEST(Router, DoesNotMatchAnEmptyCapture) {
    Router router;
    router.add(Verb::get, "/v1/things/{id}", ok);
    EXPECT_EQ(router.match(Verb::get, "/v1/things/").handler, nullptr);
}

}  // namespace
}  // namespace herald::http
