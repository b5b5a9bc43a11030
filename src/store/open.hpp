#pragma once

#include "store/store.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace herald::store {

// What the store tells the metrics, called on the store's writer thread: each must be cheap,
// thread-safe and must not throw. Empty: not told.
struct StoreEvents {
    // A write batch committed: its time from BEGIN to COMMIT, and how many writes it carried.
    std::function<void(std::chrono::nanoseconds commit, std::size_t writes)> batch_committed;
    // An intake write was taken by the writer after waiting this long in the queue.
    std::function<void(std::chrono::nanoseconds wait)> intake_waited;
    // A write transaction was lost to a database failure (disk full, I/O error, file moved).
    std::function<void()> write_failed;
};

// Tuning shared by every store implementation.
struct StoreOptions {
    int max_batch = 256;    // writes sharing one transaction and one commit
    int max_queue = 10000;  // inserts (and, apart, reads) waiting; beyond it: overloaded
    std::chrono::milliseconds busy_timeout{5000};  // wait for a lock held by another connection
    // Queue discipline for intake writes (see SqliteStore): a queue that has not drained for
    // `queue_interval` is standing; then writes that waited longer than `queue_target` are
    // refused as overloaded and the newest are written first.
    std::chrono::milliseconds queue_target{5};
    std::chrono::milliseconds queue_interval{100};
    // For tests only (a slow disk on demand): the writer sleeps this long after taking each
    // batch, before it looks at the batch's deadlines. Zero in production.
    std::chrono::milliseconds debug_write_delay{0};
    StoreEvents events;
};

// Opens the store named by `url` and starts its threads. Supported: "sqlite:PATH" (the file is
// created, with its parent directories, when missing; the schema is migrated to the newest
// version). Returns a readable reason on an unknown scheme, an empty path, or a database that
// cannot be opened or migrated. Blocks the calling thread until the store is ready: call it at
// start-up, not from an I/O thread.
boost::system::result<std::unique_ptr<Store>, std::string> open_store(std::string_view url,
                                                                      const StoreOptions& options);

}  // namespace herald::store
