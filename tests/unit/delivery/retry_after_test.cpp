#include "delivery/retry_after.hpp"

#include <gtest/gtest.h>

namespace herald::delivery {
namespace {

using std::chrono::milliseconds;

// Sun, 06 Nov 1994 08:49:37 GMT
constexpr core::UnixMs kDate = 784111777LL * 1000;

TEST(ParseRetryAfter, ReadsDeltaSeconds) {
    EXPECT_EQ(parse_retry_after("120", 0), milliseconds{120000});
    EXPECT_EQ(parse_retry_after("2", 0), milliseconds{2000});
    EXPECT_EQ(parse_retry_after(" 7 \t", 0), milliseconds{7000});
}

TEST(ParseRetryAfter, ReadsZeroAsNoWait) {
    EXPECT_EQ(parse_retry_after("0", 0), milliseconds{0});
}

TEST(ParseRetryAfter, RefusesNegativeAndSignedValues) {
    EXPECT_EQ(parse_retry_after("-5", 0), std::nullopt);
    EXPECT_EQ(parse_retry_after("+5", 0), std::nullopt);
}

TEST(ParseRetryAfter, RefusesGarbage) {
    for (const char* value : {"abc",
                              "",
                              "   ",
                              "1.5",
                              "5s",
                              "12 34",
                              "0x10",
                              "Sun, 06 Nov",
                              "Sun, 06 Nov 1994 08:49:37 UTC",
                              "Sun, 31 Feb 1994 08:49:37 GMT",
                              "Sun, 06 Nov 1994 25:49:37 GMT",
                              "Sun, 06 Nov 1994 08:49:37 GMT x"}) {
        EXPECT_EQ(parse_retry_after(value, kDate), std::nullopt) << value;
    }
}

TEST(ParseRetryAfter, DisbelievesDeltaSecondsBeyondADayWithoutOverflow) {
    EXPECT_EQ(parse_retry_after("99999999999", 0), std::nullopt);
    EXPECT_EQ(parse_retry_after("99999999999999999999999999999999999999", 0), std::nullopt);
    EXPECT_EQ(parse_retry_after("86401", 0), std::nullopt);
    EXPECT_EQ(parse_retry_after("86400", 0), kRetryAfterLimit);
    EXPECT_EQ(parse_retry_after("86399", 0), milliseconds{86399000});
}

TEST(ParseRetryAfter, ReadsImfFixdateRelativeToNow) {
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kDate - 30000),
              milliseconds{30000});
}

TEST(ParseRetryAfter, ReadsTheObsoleteDateForms) {
    EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", kDate - 5000),
              milliseconds{5000});
    EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", kDate - 5000), milliseconds{5000});
}

TEST(ParseRetryAfter, TreatsAPastDateAsNoWait) {
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kDate + 3600000), milliseconds{0});
}

TEST(ParseRetryAfter, CapsAFarFutureDate) {
    EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", kDate), kRetryAfterLimit);
}

}  // namespace
}  // namespace herald::delivery
