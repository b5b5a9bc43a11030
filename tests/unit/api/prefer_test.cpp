#include "api/notifications.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>

namespace herald::api {
namespace {

std::optional<std::chrono::seconds> wait_of(std::initializer_list<const char*> headers) {
    http::Request request{http::Verb::post, "/v1/notifications", 11};
    for (const char* value : headers) {
        request.insert(boost::beast::http::field::prefer, value);
    }
    return preferred_wait(request);
}

TEST(PreferredWait, ReadsTheWaitPreferenceAmongOthers) {
    EXPECT_EQ(wait_of({"wait=10"}), std::chrono::seconds{10});
    EXPECT_EQ(wait_of({"respond-async, wait=3"}), std::chrono::seconds{3});
    EXPECT_EQ(wait_of({"return=minimal; foo=bar, WAIT = 7"}), std::chrono::seconds{7});
    EXPECT_EQ(wait_of({"wait=\"4\""}), std::chrono::seconds{4});
    EXPECT_EQ(wait_of({"wait=0"}), std::chrono::seconds{0});
}

TEST(PreferredWait, TheFirstWaitCountsAcrossHeaders) {
    EXPECT_EQ(wait_of({"respond-async", "wait=5", "wait=9"}), std::chrono::seconds{5});
}

TEST(PreferredWait, AbsentOrUnusableValuesGiveNone) {
    EXPECT_EQ(wait_of({}), std::nullopt);
    EXPECT_EQ(wait_of({"respond-async"}), std::nullopt);
    EXPECT_EQ(wait_of({"wait"}), std::nullopt);
    EXPECT_EQ(wait_of({"wait="}), std::nullopt);
    EXPECT_EQ(wait_of({"wait=-1"}), std::nullopt);
    EXPECT_EQ(wait_of({"wait=1.5"}), std::nullopt);
    EXPECT_EQ(wait_of({"wait=abc"}), std::nullopt);
    EXPECT_EQ(wait_of({"waiting=3"}), std::nullopt);
}

TEST(PreferredWait, HugeValuesSaturateInsteadOfOverflowing) {
    const auto wait = wait_of({"wait=99999999999999999999999999"});
    ASSERT_TRUE(wait.has_value());
    EXPECT_GT(wait->count(), 0);
}

}  // namespace
}  // namespace herald::api
