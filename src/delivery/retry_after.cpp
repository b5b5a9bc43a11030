#include "delivery/retry_after.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>

namespace herald::delivery {
namespace {

constexpr std::array<std::string_view, 12> kMonths{
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kShortDays{
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays{
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// A left-to-right reader over a fixed date layout; every step fails cleanly at the end of input.
class Cursor {
public:
    explicit Cursor(std::string_view text) : text_(text) {}

    bool literal(std::string_view expected) {
        if (text_.substr(0, expected.size()) != expected) {
            return false;
        }
        text_.remove_prefix(expected.size());
        return true;
    }

    // Exactly `width` digits; a leading space stands for a zero when `space_padded`.
    bool number(int width, int& out, bool space_padded = false) {
        if (text_.size() < static_cast<std::size_t>(width)) {
            return false;
        }
        out = 0;
        for (int i = 0; i < width; ++i) {
            const char c = text_[i];
            if (c == ' ' && space_padded && i == 0) {
                continue;
            }
            if (!is_digit(c)) {
                return false;
            }
            out = out * 10 + (c - '0');
        }
        text_.remove_prefix(width);
        return true;
    }

    template <std::size_t N>
    bool name(const std::array<std::string_view, N>& names, int& index) {
        for (std::size_t i = 0; i < N; ++i) {
            if (literal(names[i])) {
                index = static_cast<int>(i);
                return true;
            }
        }
        return false;
    }

    bool time_of_day(std::tm& out) {
        return number(2, out.tm_hour) && literal(":") && number(2, out.tm_min) && literal(":") &&
               number(2, out.tm_sec);
    }

    bool at_end() const { return text_.empty(); }

private:
    std::string_view text_;
};

// "Sun, 06 Nov 1994 08:49:37 GMT"
bool parse_imf_fixdate(std::string_view text, std::tm& out) {
    Cursor in(text);
    int ignored = 0;
    int year = 0;
    return in.name(kShortDays, ignored) && in.literal(", ") && in.number(2, out.tm_mday) &&
           in.literal(" ") && in.name(kMonths, out.tm_mon) && in.literal(" ") &&
           in.number(4, year) && in.literal(" ") && in.time_of_day(out) && in.literal(" GMT") &&
           in.at_end() && ((out.tm_year = year - 1900), true);
}

// "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years: 70-99 are 19xx, the rest 20xx)
bool parse_rfc850(std::string_view text, std::tm& out) {
    Cursor in(text);
    int ignored = 0;
    int year = 0;
    return in.name(kLongDays, ignored) && in.literal(", ") && in.number(2, out.tm_mday) &&
           in.literal("-") && in.name(kMonths, out.tm_mon) && in.literal("-") &&
           in.number(2, year) && in.literal(" ") && in.time_of_day(out) && in.literal(" GMT") &&
           in.at_end() && ((out.tm_year = year >= 70 ? year : year + 100), true);
}

// "Sun Nov  6 08:49:37 1994"
bool parse_asctime(std::string_view text, std::tm& out) {
    Cursor in(text);
    int ignored = 0;
    int year = 0;
    return in.name(kShortDays, ignored) && in.literal(" ") && in.name(kMonths, out.tm_mon) &&
           in.literal(" ") && in.number(2, out.tm_mday, true) && in.literal(" ") &&
           in.time_of_day(out) && in.literal(" ") && in.number(4, year) && in.at_end() &&
           ((out.tm_year = year - 1900), true);
}

// Seconds since the epoch, or nullopt for a date that does not exist (31 Feb, 25:00:00).
std::optional<std::int64_t> parse_http_date(std::string_view text) {
    std::tm parsed{};
    if (!parse_imf_fixdate(text, parsed) && !parse_rfc850(text, parsed) &&
        !parse_asctime(text, parsed)) {
        return std::nullopt;
    }
    // 60 allows a leap second; timegm folds it into the next minute.
    if (parsed.tm_mday < 1 || parsed.tm_hour > 23 || parsed.tm_min > 59 || parsed.tm_sec > 60) {
        return std::nullopt;
    }

    std::tm normalised = parsed;
    const std::time_t seconds = timegm(&normalised);
    if (normalised.tm_mday != parsed.tm_mday && parsed.tm_sec != 60) {
        return std::nullopt;  // timegm rolled an impossible day into the next month
    }
    return static_cast<std::int64_t>(seconds);
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           core::UnixMs now) {
    const std::string_view text = core::trim_blanks(value);
    if (text.empty()) {
        return std::nullopt;
    }

    const std::int64_t limit_ms = kRetryAfterLimit.count();
    if (is_digit(text.front())) {
        std::int64_t seconds = 0;
        for (const char c : text) {
            if (!is_digit(c)) {
                return std::nullopt;
            }
            // Saturate instead of overflowing; past the limit the value is not believed.
            seconds = std::min<std::int64_t>(seconds * 10 + (c - '0'), limit_ms / 1000 + 1);
        }
        if (seconds * 1000 > limit_ms) {
            return std::nullopt;
        }
        return std::chrono::milliseconds{seconds * 1000};
    }

    const auto date = parse_http_date(text);
    if (!date) {
        return std::nullopt;
    }
    // Dates are whole seconds; clamp before multiplying so a year-9999 date cannot overflow.
    const std::int64_t now_s = now / 1000;
    const std::int64_t wait_s = std::clamp<std::int64_t>(*date - now_s, 0, limit_ms / 1000);
    return std::chrono::milliseconds{wait_s * 1000};
}

}  // namespace herald::delivery
