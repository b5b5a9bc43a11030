#pragma once

#include "store/open.hpp"
#include "store/store.hpp"

#include <boost/system/result.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace herald::store::sqlite {

class Connection;
class Job;  // one queued operation; defined in sqlite_store.cpp

// Counters for tests and metrics; read at any time from any thread.
struct StoreStats {
    std::uint64_t commits = 0;         // write transactions committed
    std::uint64_t writes = 0;          // write operations run (inserts, claims, attempts, releases)
    std::uint64_t queued_writes = 0;   // write operations waiting for the writer right now
    std::uint64_t dropped_writes = 0;  // writes answered unrun: deadline passed or requester gone
    std::uint64_t shed_writes = 0;     // intake writes refused by the queue discipline
};

// The Store on one SQLite file, with two threads of its own:
//
// - the writer owns the only write connection. Writes wait in one queue (FIFO until it stands:
//   see take_batch in the .cpp for the discipline under overload); the writer takes
//   up to options.max_batch at a time, runs them in one
//   BEGIN IMMEDIATE transaction, each inside its own savepoint (a failing write is rolled back
//   alone), commits once (synchronous=FULL: durable when COMMIT returns), then runs all their
//   callbacks. Many writes thus share one fsync. A write that stopped mattering while it waited
//   (it could not commit before NewNotification::deadline, or its requester withdrew its
//   ticket) is answered deadline_expired or abandoned when the writer takes it, without running.
// - the reader owns a second connection for find() and ping(), so reads never wait behind a
//   commit (WAL lets them see the last committed state).
//
// Bounds: options.max_queue limits intake only. An insert() finding max_queue inserts already
// waiting is refused with overloaded; so is a find() or ping() finding max_queue reads waiting.
// claim_due(), record_attempt() and release_leases() are the dispatcher's own work, already
// bounded by its concurrency: they are always queued (refused only with shutting_down), take
// none of the intake's room, and are never refused because intake filled the queue, so a
// delivery outcome is never lost to a burst of requests. expire_due() is queued the same way; the
// API's retry() and cancel() count against max_queue like inserts, and list() like find().
//
// Every SQLite call, opening and closing included, happens on these two threads. Callbacks run
// on them too, except that work refused at once (overloaded when a queue is full, shutting_down
// after shutdown() began) has its callback run synchronously on the caller's thread before the
// method returns. Callbacks must be quick, must not throw, and must not call shutdown().
//
// A write that fails because SQLite rolled back the whole transaction (I/O error, disk full)
// fails with unavailable together with its batch-mates that had already run; the writes after it
// run in a fresh transaction.
//
// Failing writes (disk full, I/O errors, the file moved): SQLite rolls the failed transaction
// back and the connection stays usable (the next transaction starts from the last commit), so
// every batch simply tries again and the first one after space returns commits. Two things are
// added on top. A batch is refused with unavailable, unrun, while the database file is no
// longer at its path (deleted or renamed): SQLite would go on committing into the orphaned file,
// and what it acknowledged would be gone at the next start. And while writes fail, ping() turns
// from a read (which still succeeds on a full disk) into a probe write through the writer, so
// readiness reports the outage and notices its end without waiting for intake. "store writes
// failing" is logged once when an outage starts and "store writes recovered" when it ends.
// Shortcoming: where a full disk shows only at fsync (SQLITE_IOERR_FSYNC), the failed commit's
// frames are already in the WAL, and a crash before the next commit overwrites them brings that
// (refused) write back at recovery.
class SqliteStore final : public Store {
public:
    // Opens (creating it when missing) the database file at `path`, whose directory must exist,
    // migrates its schema, and starts both threads. Blocks until they are ready or have failed.
    static boost::system::result<std::unique_ptr<SqliteStore>, std::string> open(
        std::string path, const StoreOptions& options);

    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;
    ~SqliteStore() override;  // calls shutdown()

    void insert(NewNotification notification, Callback<InsertOutcome> done) override;
    void find(std::string id, std::string client, Callback<NotificationView> done) override;
    void claim_due(ClaimRequest request, Callback<std::vector<ClaimedEntry>> done) override;
    void record_attempt(AttemptRecord record, Callback<void> done) override;
    // Leased entries become due no later than the wall-clock time of the release.
    void release_leases(std::string owner, Callback<int> done) override;
    void sweep_idempotency(UnixMs now, int limit, Callback<int> done) override;
    void expire_due(UnixMs now, int limit, Callback<std::vector<std::string>> done) override;
    // On the reader, bounded like find().
    void list(ListQuery query, Callback<ListPage> done) override;
    // On the writer, bounded like insert().
    void retry(RetryRequest request, Callback<StatusChange> done) override;
    void cancel(CancelRequest request, Callback<StatusChange> done) override;
    // A read on the reader connection while writes succeed; after a write failed, until one
    // commits again, a probe write on the writer (bounded like an insert).
    void ping(Callback<void> done) override;
    // On the reader: counts by notification status, and the oldest due unleased entry.
    void outbox_stats(UnixMs now, Callback<OutboxStats> done) override;
    void shutdown() override;

    StoreStats stats() const;
    std::chrono::milliseconds drain_estimate() const override;

private:
    using Queue = std::deque<std::unique_ptr<Job>>;

    SqliteStore(std::string path, const StoreOptions& options);

    // Whether a write is refused with overloaded once max_queue intake writes are waiting.
    enum class Admission { bounded, always };

    // Queues `job` for the writer (or reader); when the store is stopping, or the job is
    // bounded and its bound is reached, completes it at once on this thread with shutting_down
    // or overloaded instead. Reads are always bounded.
    void submit_write(std::unique_ptr<Job> job, Admission admission);
    void submit_read(std::unique_ptr<Job> job);

    void writer_main(std::promise<std::string>& ready);
    void reader_main(std::promise<std::string>& ready);
    void take_batch(Queue& batch, Queue& shed);
    void drop_stale(Queue& batch);
    void note_batch_time(std::chrono::steady_clock::duration took, std::size_t writes);
    void run_batch(Connection& db, Queue& batch);
    bool run_optimistic(Connection& db, Queue& batch);
    std::size_t run_transaction(Connection& db, Queue& batch, std::size_t first);
    void note_write_failure(std::string_view reason);
    void note_write_success();

    const std::string path_;
    const std::size_t max_batch_;
    const std::size_t max_queue_;
    const std::chrono::milliseconds busy_timeout_;
    const std::chrono::milliseconds queue_target_;
    const std::chrono::milliseconds queue_interval_;
    const std::chrono::milliseconds debug_write_delay_;
    const StoreEvents events_;

    std::mutex mutex_;  // guards everything below up to the threads
    std::condition_variable write_ready_;
    std::condition_variable read_ready_;
    Queue writes_;
    std::size_t bounded_writes_ = 0;  // the jobs in writes_ that count against max_queue_
    Queue reads_;
    bool stopping_ = false;

    std::mutex shutdown_mutex_;  // serializes shutdown() callers around the joins
    std::thread writer_;
    std::thread reader_;

    std::atomic<std::uint64_t> commits_{0};
    std::atomic<std::uint64_t> writes_run_{0};
    std::atomic<std::uint64_t> writes_queued_{0};
    std::atomic<std::uint64_t> writes_dropped_{0};
    std::atomic<std::uint64_t> writes_shed_{0};
    std::atomic<double> service_us_{0};  // recent write time per job (EWMA), for drain_estimate()
    std::atomic<double> batch_us_{0};    // recent write time per batch (EWMA)
    // Writer thread only:
    // The last take that could carry everything waiting (or the end of an idle wait).
    std::chrono::steady_clock::time_point last_drained_{};
    bool overload_logged_ = false;
    // Set by the writer when a write transaction is lost to a database failure; cleared when a
    // transaction that changed rows commits. Read by ping() on any thread.
    std::atomic<bool> writes_failing_{false};
};

}  // namespace herald::store::sqlite
