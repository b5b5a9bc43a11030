#pragma once

#include "core/time.hpp"

#include <chrono>
#include <optional>
#include <string_view>

namespace herald::delivery {

// The longest wait parse_retry_after ever returns; larger values are cut to it. The dispatcher
// applies its own, usually smaller, configured cap on top.
inline constexpr std::chrono::milliseconds kRetryAfterLimit = std::chrono::hours{24};

// Reads an HTTP Retry-After value (RFC 9110 §10.2.3) received at `now`: delta-seconds ("120") or
// an HTTP-date in any of the three forms a recipient must accept (IMF-fixdate, RFC 850, asctime).
// Returns the wait, in [0, kRetryAfterLimit]: a date in the past gives 0, a date far ahead gives
// kRetryAfterLimit (the provider plainly means "much later"). A number of seconds above the limit
// ("99999999999") is not believed and gives nullopt, like anything else malformed — empty,
// signed ("-5", "+5"), fractions, trailing text, impossible dates — so the caller falls back to
// its own backoff. Pure; never throws; no overflow for any input.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           core::UnixMs now);

}  // namespace herald::delivery
