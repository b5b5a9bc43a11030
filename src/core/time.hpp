#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace herald::core {

// Wall-clock time as milliseconds since the Unix epoch: the unit stored and exchanged everywhere.
using UnixMs = std::int64_t;

UnixMs unix_now_ms();

// "2026-12-03T18:46:05.123Z" (RFC 3339, UTC, millisecond precision).
std::string format_rfc3339(UnixMs when);

// "Thu, 03 Dec 2026 18:46:05 +0000" (RFC 5322 date-time, UTC).
std::string format_rfc5322(UnixMs when);

}  // namespace herald::core
