#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace herald::observe {

// What each I/O thread is handling: one slot per event loop, naming the route pattern and the
// request id of the request whose handler that thread started last and has not yet answered.
// The HTTP server writes a slot on the slot's own I/O thread (begin() when a handler starts,
// end() once its response is written); the loop watchdog reads it from its own thread, to name
// the request that held a stalled loop.
//
// Thread safety: every call is safe from any thread. Each slot has its own mutex, held only to
// copy a few bytes; begin() and end() never allocate (route and id are copied, truncated, into
// fixed arrays), so the I/O thread's cost is one uncontended lock.
//
// Shortcoming: a slot holds one request, not every request in flight on that thread. A request
// that started earlier and blocks after resuming (once a later request on the same thread has
// begun) is reported under the later request's route and id; once that later one ends, the slot
// is empty and the stall is reported with route and request_id "". A handler that blocks before
// its first suspension, the usual mistake, is always named right.
class LoopActivity {
public:
    static constexpr std::size_t kMaxRouteBytes = 95;
    static constexpr std::size_t kMaxRequestIdBytes = 47;

    // `threads` slots, indexed like the I/O pool's contexts.
    explicit LoopActivity(std::size_t threads);
    ~LoopActivity();
    LoopActivity(const LoopActivity&) = delete;
    LoopActivity& operator=(const LoopActivity&) = delete;

    std::size_t size() const { return size_; }

    // Thread `thread` is now handling this request. Returns a token for end(). `thread` is below
    // size().
    std::uint64_t begin(std::size_t thread, std::string_view route, std::string_view request_id);
    // The request of `token` is answered: clears the slot unless a later begin() took it over.
    void end(std::size_t thread, std::uint64_t token);

    struct Current {
        std::string route;       // "" when the thread handles no request
        std::string request_id;  // "" when the thread handles no request
    };
    // A copy of the slot of `thread`; empty strings for an index out of range.
    Current current(std::size_t thread) const;

private:
    struct Slot;
    std::size_t size_;
    std::unique_ptr<Slot[]> slots_;
};

}  // namespace herald::observe
