#include "core/thread_name.hpp"

#include <pthread.h>
#include <string>

namespace herald::core {

void name_this_thread(std::string_view name) {
    const std::string truncated{name.substr(0, 15)};
    pthread_setname_np(pthread_self(), truncated.c_str());
}

}  // namespace herald::core
