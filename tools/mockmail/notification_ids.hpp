#pragma once

#include <string>
#include <string_view>

namespace herald::mockmail {

// The load client's notification id in a send's body: the first "storm-RUN-N" (RUN: [0-9a-z]+,
// N: digits), which herald-storm puts in the subject and text of every notification and which
// herald and the reference peer pass on to the provider unchanged. "" when there is none.
// Counting calls per such id shows duplicates even when no Idempotency-Key travels.
std::string find_storm_id(std::string_view body);

}  // namespace herald::mockmail
