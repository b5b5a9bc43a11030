#include "observe/loop_activity.hpp"

#include <gtest/gtest.h>

#include <string>

namespace herald::observe {
namespace {

TEST(LoopActivity, NamesTheRequestOfEachThreadBetweenBeginAndEnd) {
    LoopActivity activity(2);
    const auto token = activity.begin(1, "/v1/notifications", "abc-1");

    EXPECT_EQ(activity.current(0).route, "");
    EXPECT_EQ(activity.current(1).route, "/v1/notifications");
    EXPECT_EQ(activity.current(1).request_id, "abc-1");
    activity.end(1, token);
    EXPECT_EQ(activity.current(1).route, "");
    EXPECT_EQ(activity.current(1).request_id, "");
}

TEST(LoopActivity, EndOfAnEarlierRequestLeavesTheLaterOneInPlace) {
    LoopActivity activity(1);
    const auto first = activity.begin(0, "/a", "abc-1");
    const auto second = activity.begin(0, "/b", "abc-2");

    activity.end(0, first);
    EXPECT_EQ(activity.current(0).route, "/b");
    EXPECT_EQ(activity.current(0).request_id, "abc-2");
    activity.end(0, second);
    EXPECT_EQ(activity.current(0).route, "");
}

TEST(LoopActivity, LongRoutesAndIdsAreTruncatedToTheirSlots) {
    LoopActivity activity(1);
    activity.begin(0, std::string(500, 'r'), std::string(500, 'i'));

    EXPECT_EQ(activity.current(0).route, std::string(LoopActivity::kMaxRouteBytes, 'r'));
    EXPECT_EQ(activity.current(0).request_id, std::string(LoopActivity::kMaxRequestIdBytes, 'i'));
}

TEST(LoopActivity, ThreadOutOfRangeReadsAsIdle) {
    LoopActivity activity(1);
    EXPECT_EQ(activity.current(5).route, "");
}

}  // namespace
}  // namespace herald::observe
