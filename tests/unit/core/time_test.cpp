#include "core/time.hpp"

#include <gtest/gtest.h>

namespace herald::core {
namespace {

TEST(FormatTime, WritesRfc3339AndRfc5322InUtc) {
    const UnixMs when = 1796323565123;  // 2026-12-03T18:46:05.123Z, a Thursday
    EXPECT_EQ(format_rfc3339(when), "2026-12-03T18:46:05.123Z");
    EXPECT_EQ(format_rfc5322(when), "Thu, 03 Dec 2026 18:46:05 +0000");
}

}  // namespace
}  // namespace herald::core
