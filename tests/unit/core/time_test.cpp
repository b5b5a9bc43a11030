#include "core/time.hpp"

#include <gtest/gtest.h>

namespace herald::core {
namespace {

TEST(FormatTime, WritesRfc3339AndRfc5322InUtc) {
    const UnixMs when = 1796323565123;  // 2026-12-03T18:46:05.123Z, a Thursday
    EXPECT_EQ(format_rfc3339(when), "2026-12-03T18:46:05.123Z");
    EXPECT_EQ(format_rfc5322(when), "Thu, 03 Dec 2026 18:46:05 +0000");
}

TEST(ParseTime, ReadsRfc3339WithAnyOffsetAndFraction) {
    EXPECT_EQ(parse_rfc3339("2026-12-03T18:46:05.123Z"), 1796323565123);
    EXPECT_EQ(parse_rfc3339("2026-12-03t18:46:05.123z"), 1796323565123);
    EXPECT_EQ(parse_rfc3339("2026-12-03T19:46:05.123456+01:00"), 1796323565123);
    EXPECT_EQ(parse_rfc3339("2026-12-03T18:16:05.1-00:30"), 1796323565100);
    EXPECT_EQ(parse_rfc3339("2026-12-03T18:46:05Z"), 1796323565000);
    EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), 1709164800000);
    EXPECT_EQ(parse_rfc3339(format_rfc3339(1796323565123)), 1796323565123);
}

TEST(ParseTime, RefusesWhatIsNotAnRfc3339DateTime) {
    for (const char* text : {"",
                             "2026-12-03",
                             "2026-12-03T18:46:05",       // no offset
                             "2026-12-03 18:46:05Z",      // space instead of T
                             "2026-13-03T18:46:05Z",      // month 13
                             "2025-02-29T18:46:05Z",      // not a leap year
                             "2026-12-03T24:00:00Z",      // hour 24
                             "2026-12-03T18:46:05.Z",     // empty fraction
                             "2026-12-03T18:46:05+0100",  // offset without colon
                             "2026-12-03T18:46:05Zjunk",  // trailing text
                             "1969-12-31T23:59:59Z",      // before the epoch
                             "tomorrow"}) {
        EXPECT_FALSE(parse_rfc3339(text).has_value()) << text;
    }
}

}  // namespace
}  // namespace herald::core
