#pragma once

#include <string_view>

namespace herald::core {

// Names the calling thread (as shown by top -H, perf and gdb); at most 15 characters are kept.
void name_this_thread(std::string_view name);

}  // namespace herald::core
