#include "core/time.hpp"

#include <fmt/format.h>

#include <array>
#include <ctime>

namespace herald::core {

UnixMs unix_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

namespace {

std::tm utc_tm(UnixMs when) {
    const std::time_t seconds = static_cast<std::time_t>(when / 1000);
    std::tm out{};
    gmtime_r(&seconds, &out);
    return out;
}

}  // namespace

std::string format_rfc3339(UnixMs when) {
    const std::tm t = utc_tm(when);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                       t.tm_year + 1900,
                       t.tm_mon + 1,
                       t.tm_mday,
                       t.tm_hour,
                       t.tm_min,
                       t.tm_sec,
                       when % 1000);
}

std::string format_rfc5322(UnixMs when) {
    static constexpr std::array<const char*, 7> kDays{
        "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr std::array<const char*, 12> kMonths{
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::tm t = utc_tm(when);
    return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
                       kDays[t.tm_wday],
                       t.tm_mday,
                       kMonths[t.tm_mon],
                       t.tm_year + 1900,
                       t.tm_hour,
                       t.tm_min,
                       t.tm_sec);
}

}  // namespace herald::core
