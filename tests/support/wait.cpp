#include "support/wait.hpp"

#include <thread>

namespace herald::test {

bool wait_until(const std::function<bool()>& predicate,
                std::chrono::milliseconds cap,
                std::chrono::milliseconds interval) {
    const auto deadline = std::chrono::steady_clock::now() + cap;
    for (;;) {
        if (predicate()) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(interval);
    }
}

}  // namespace herald::test
