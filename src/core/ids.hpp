#pragma once

#include <string>

namespace herald::core {

// A UUIDv7 (RFC 9562) in lowercase text form: time-ordered, so ids created later sort later.
// Thread-safe; each thread draws randomness from its own generator.
std::string new_uuid_v7();

// True when `text` has the shape new_uuid_v7() produces (36 characters, hex and dashes).
bool looks_like_uuid(std::string_view text);

}  // namespace herald::core
