#include "core/time.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
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

namespace {

// Reads exactly `digits` decimal digits at `at`, advancing it; nullopt when they are not there.
std::optional<int> read_digits(std::string_view text, std::size_t& at, std::size_t digits) {
    if (at + digits > text.size()) {
        return std::nullopt;
    }
    int value = 0;
    for (std::size_t i = 0; i < digits; ++i) {
        const char c = text[at + i];
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        value = value * 10 + (c - '0');
    }
    at += digits;
    return value;
}

bool expect(std::string_view text, std::size_t& at, char wanted) {
    if (at >= text.size() || std::tolower(static_cast<unsigned char>(text[at])) != wanted) {
        return false;
    }
    ++at;
    return true;
}

}  // namespace

std::optional<UnixMs> parse_rfc3339(std::string_view text) {
    std::size_t at = 0;
    const auto year = read_digits(text, at, 4);
    if (!year || !expect(text, at, '-')) {
        return std::nullopt;
    }
    const auto month = read_digits(text, at, 2);
    if (!month || !expect(text, at, '-')) {
        return std::nullopt;
    }
    const auto day = read_digits(text, at, 2);
    if (!day || !expect(text, at, 't')) {
        return std::nullopt;
    }
    const auto hour = read_digits(text, at, 2);
    if (!hour || !expect(text, at, ':')) {
        return std::nullopt;
    }
    const auto minute = read_digits(text, at, 2);
    if (!minute || !expect(text, at, ':')) {
        return std::nullopt;
    }
    const auto second = read_digits(text, at, 2);
    if (!second) {
        return std::nullopt;
    }
    int millis = 0;
    if (at < text.size() && text[at] == '.') {
        ++at;
        std::size_t digits = 0;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
            if (digits < 3) {
                millis = millis * 10 + (text[at] - '0');
            }
            ++digits;
            ++at;
        }
        if (digits == 0) {
            return std::nullopt;
        }
        for (std::size_t i = digits; i < 3; ++i) {
            millis *= 10;
        }
    }
    int offset_minutes = 0;
    if (expect(text, at, 'z')) {
        offset_minutes = 0;
    } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
        const int sign = text[at] == '-' ? -1 : 1;
        ++at;
        const auto offset_hours = read_digits(text, at, 2);
        if (!offset_hours || !expect(text, at, ':')) {
            return std::nullopt;
        }
        const auto offset_mins = read_digits(text, at, 2);
        if (!offset_mins || *offset_hours > 23 || *offset_mins > 59) {
            return std::nullopt;
        }
        offset_minutes = sign * (*offset_hours * 60 + *offset_mins);
    } else {
        return std::nullopt;
    }
    if (at != text.size() || *hour > 23 || *minute > 59 || *second > 60) {
        return std::nullopt;
    }

    using namespace std::chrono;
    const year_month_day date{std::chrono::year{*year},
                              std::chrono::month{static_cast<unsigned>(*month)},
                              std::chrono::day{static_cast<unsigned>(*day)}};
    if (!date.ok() || *year < 1970) {
        return std::nullopt;
    }
    const auto midnight = sys_days{date}.time_since_epoch();
    const auto when = duration_cast<milliseconds>(midnight) + hours{*hour} + minutes{*minute} +
                      seconds{*second} + milliseconds{millis} - minutes{offset_minutes};
    return when.count();
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
