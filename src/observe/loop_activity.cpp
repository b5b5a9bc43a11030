#include "observe/loop_activity.hpp"

#include <algorithm>
#include <array>
#include <cassert>

namespace herald::observe {

// A cache line (or two) per slot, so that one I/O thread's writes do not slow another's.
struct alignas(64) LoopActivity::Slot {
    mutable std::mutex mutex;
    std::uint64_t generation = 0;  // the token of the last begin()
    bool busy = false;
    std::uint8_t route_size = 0;
    std::uint8_t request_id_size = 0;
    std::array<char, kMaxRouteBytes> route{};
    std::array<char, kMaxRequestIdBytes> request_id{};
};

namespace {

template <std::size_t N>
std::uint8_t copy_truncated(std::string_view text, std::array<char, N>& out) {
    static_assert(N <= 255);
    const std::size_t size = std::min(text.size(), N);
    std::copy_n(text.data(), size, out.data());
    return static_cast<std::uint8_t>(size);
}

}  // namespace

LoopActivity::LoopActivity(std::size_t threads)
    : size_(threads), slots_(std::make_unique<Slot[]>(threads)) {}

LoopActivity::~LoopActivity() = default;

std::uint64_t LoopActivity::begin(std::size_t thread,
                                  std::string_view route,
                                  std::string_view request_id) {
    assert(thread < size_);
    Slot& slot = slots_[thread];
    std::lock_guard lock(slot.mutex);
    slot.busy = true;
    slot.route_size = copy_truncated(route, slot.route);
    slot.request_id_size = copy_truncated(request_id, slot.request_id);
    return ++slot.generation;
}

void LoopActivity::end(std::size_t thread, std::uint64_t token) {
    assert(thread < size_);
    Slot& slot = slots_[thread];
    std::lock_guard lock(slot.mutex);
    if (slot.generation == token) {
        slot.busy = false;
    }
}

LoopActivity::Current LoopActivity::current(std::size_t thread) const {
    if (thread >= size_) {
        return {};
    }
    const Slot& slot = slots_[thread];
    std::lock_guard lock(slot.mutex);
    if (!slot.busy) {
        return {};
    }
    return Current{std::string{slot.route.data(), slot.route_size},
                   std::string{slot.request_id.data(), slot.request_id_size}};
}

}  // namespace herald::observe
