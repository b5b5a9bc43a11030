#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::core {

// Wall-clock time as milliseconds since the Unix epoch: the unit stored and exchanged everywhere.
using UnixMs = std::int64_t;

UnixMs unix_now_ms();

// "2026-12-03T18:46:05.123Z" (RFC 3339, UTC, millisecond precision).
std::string format_rfc3339(UnixMs when);

// An RFC 3339 date-time ("2026-12-03T18:46:05Z", "2026-12-03T19:46:05.5+01:00"; `T` and `Z` in
// either case) as milliseconds since the epoch, fractions beyond milliseconds truncated. A leap
// second (":60") counts as the next second. nullopt for anything else: a date that does not
// exist, a missing offset, a year before 1970 or after 9999.
std::optional<UnixMs> parse_rfc3339(std::string_view text);

// "Thu, 03 Dec 2026 18:46:05 +0000" (RFC 5322 date-time, UTC).
std::string format_rfc5322(UnixMs when);

}  // namespace herald::core
