#include "store/sqlite/sqlite_store.hpp"

#include "core/thread_name.hpp"
#include "core/time.hpp"
#include "observe/log.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/dead_letters.hpp"
#include "store/sqlite/operations.hpp"
#include "store/sqlite/schema.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <exception>
#include <thread>
#include <utility>

namespace herald::store::sqlite {

// One queued operation: run() on a store thread, fail() to override its outcome, complete() to
// hand the outcome to the caller's callback exactly once.
class Job {
public:
    virtual ~Job() = default;

    // Runs the operation on the thread's connection. True when it succeeded (for a write: its
    // changes should be kept). Never throws: an exception becomes unavailable.
    virtual bool run(Connection& db) = 0;

    // Replaces a success (or the lack of any outcome yet) with `error`; a failure already
    // recorded stays, since it describes what happened more precisely.
    virtual void fail(StoreError error) = 0;

    // Calls the callback with the outcome. An exception escaping it is logged and dropped.
    virtual void complete() = 0;

    // Whether the write counts against max_queue while it waits (intake does). Set on the
    // submitting thread before the job is queued; read under the store's mutex.
    bool bounded() const { return bounded_; }
    void set_bounded(bool bounded) { bounded_ = bounded; }

    // Why the job should no longer run, decided when the writer takes it: its requester withdrew
    // it, or it could not commit before its deadline (`now` plus `commit_time`, the recent batch
    // time). Otherwise the job is claimed, and no withdrawal can stop it any more. nullopt: run it.
    std::optional<StoreError> stale(std::chrono::steady_clock::time_point now,
                                    std::chrono::steady_clock::duration commit_time) {
        if (ticket_ && ticket_->withdrawn()) {
            return StoreError::abandoned;
        }
        if (now + commit_time >= deadline_) {
            return !ticket_ || ticket_->withdraw() ? StoreError::deadline_expired
                                                   : StoreError::abandoned;
        }
        if (ticket_ && !ticket_->claim()) {
            return StoreError::abandoned;
        }
        return std::nullopt;
    }

    std::chrono::steady_clock::time_point enqueued_at() const { return enqueued_at_; }
    void set_enqueued_at(std::chrono::steady_clock::time_point at) { enqueued_at_ = at; }

    void set_expiry(std::chrono::steady_clock::time_point deadline,
                    std::shared_ptr<WriteTicket> ticket) {
        deadline_ = deadline;
        ticket_ = std::move(ticket);
    }

private:
    bool bounded_ = false;
    std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
    std::shared_ptr<WriteTicket> ticket_;
    std::chrono::steady_clock::time_point enqueued_at_{};
};

namespace {

template <typename T>
class TypedJob final : public Job {
public:
    using Body = std::function<boost::system::result<T>(Connection&)>;

    TypedJob(Body body, Store::Callback<T> done) : body_(std::move(body)), done_(std::move(done)) {}

    bool run(Connection& db) override {
        try {
            outcome_.emplace(body_(db));
        } catch (const std::exception& e) {
            observe::error("store operation threw", {{"what", e.what()}});
            outcome_.emplace(boost::system::in_place_error, StoreError::unavailable);
        } catch (...) {
            observe::error("store operation threw", {});
            outcome_.emplace(boost::system::in_place_error, StoreError::unavailable);
        }
        return outcome_->has_value();
    }

    void fail(StoreError error) override {
        if (!outcome_ || outcome_->has_value()) {
            outcome_.emplace(boost::system::in_place_error, error);
        }
    }

    void complete() override {
        assert(outcome_);
        try {
            done_(std::move(*outcome_));
        } catch (const std::exception& e) {
            observe::error("store callback threw", {{"what", e.what()}});
        } catch (...) {
            observe::error("store callback threw", {});
        }
    }

private:
    Body body_;
    Store::Callback<T> done_;
    std::optional<boost::system::result<T>> outcome_;
};

template <typename T>
std::unique_ptr<Job> make_job(typename TypedJob<T>::Body body, Store::Callback<T> done) {
    return std::make_unique<TypedJob<T>>(std::move(body), std::move(done));
}

void fail_range(std::deque<std::unique_ptr<Job>>& batch,
                std::size_t first,
                std::size_t last,
                StoreError error) {
    for (std::size_t i = first; i < last; ++i) {
        batch[i]->fail(error);
    }
}

// The readiness probe while writes fail: a read succeeds on a full disk, so only a commit that
// must write tells whether writes work again. The row is changed and changed back, because
// SQLite does not write a page whose bytes stay the same (`SET version = version` writes nothing).
boost::system::result<void> probe_write(Connection& db) {
    for (const char* sql : {"UPDATE schema_version SET version = version + 1",
                            "UPDATE schema_version SET version = version - 1"}) {
        if (const int rc = db.query(sql).run(); rc != SQLITE_DONE) {
            return report_failure(db, rc, "ping");
        }
    }
    return {};
}

}  // namespace

boost::system::result<std::unique_ptr<SqliteStore>, std::string> SqliteStore::open(
    std::string path, const StoreOptions& options) {
    std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(path), options));

    std::promise<std::string> writer_ready;
    auto writer_opened = writer_ready.get_future();
    store->writer_ = std::thread([self = store.get(), ready = std::move(writer_ready)]() mutable {
        core::name_this_thread("herald-store-w");
        self->writer_main(ready);
    });
    if (std::string error = writer_opened.get(); !error.empty()) {
        store->shutdown();
        return error;
    }

    // The reader starts after the writer migrated, so the tables it prepares against exist.
    std::promise<std::string> reader_ready;
    auto reader_opened = reader_ready.get_future();
    store->reader_ = std::thread([self = store.get(), ready = std::move(reader_ready)]() mutable {
        core::name_this_thread("herald-store-r");
        self->reader_main(ready);
    });
    if (std::string error = reader_opened.get(); !error.empty()) {
        store->shutdown();
        return error;
    }
    return store;
}

SqliteStore::SqliteStore(std::string path, const StoreOptions& options)
    : path_(std::move(path)),
      max_batch_(static_cast<std::size_t>(std::max(1, options.max_batch))),
      max_queue_(static_cast<std::size_t>(std::max(1, options.max_queue))),
      busy_timeout_(options.busy_timeout),
      queue_target_(options.queue_target),
      queue_interval_(options.queue_interval),
      debug_write_delay_(options.debug_write_delay),
      events_(options.events) {}

SqliteStore::~SqliteStore() {
    shutdown();
}

void SqliteStore::insert(NewNotification notification, Callback<InsertOutcome> done) {
    const auto deadline = notification.deadline;
    auto ticket = notification.ticket;
    auto job = make_job<InsertOutcome>(
        [notification = std::move(notification)](Connection& db) {
            return insert_notification(db, notification);
        },
        std::move(done));
    job->set_expiry(deadline, std::move(ticket));
    submit_write(std::move(job), Admission::bounded);
}

void SqliteStore::find(std::string id, std::string client, Callback<NotificationView> done) {
    submit_read(make_job<NotificationView>(
        [id = std::move(id), client = std::move(client)](Connection& db) {
            return find_notification(db, id, client);
        },
        std::move(done)));
}

void SqliteStore::claim_due(ClaimRequest request, Callback<std::vector<ClaimedEntry>> done) {
    auto job = make_job<std::vector<ClaimedEntry>>(
        [request = std::move(request)](Connection& db) { return claim_due_entries(db, request); },
        std::move(done));
    submit_write(std::move(job), Admission::always);
}

void SqliteStore::record_attempt(AttemptRecord record, Callback<void> done) {
    auto job = make_job<void>(
        [record = std::move(record)](Connection& db) { return record_attempt_outcome(db, record); },
        std::move(done));
    submit_write(std::move(job), Admission::always);
}

void SqliteStore::release_leases(std::string owner, Callback<int> done) {
    auto job = make_job<int>(
        [owner = std::move(owner)](Connection& db) {
            return release_owner_leases(db, owner, core::unix_now_ms());
        },
        std::move(done));
    submit_write(std::move(job), Admission::always);
}

void SqliteStore::sweep_idempotency(UnixMs now, int limit, Callback<int> done) {
    auto job = make_job<int>(
        [now, limit](Connection& db) { return sweep_idempotency_records(db, now, limit); },
        std::move(done));
    submit_write(std::move(job), Admission::always);
}

void SqliteStore::expire_due(UnixMs now, int limit, Callback<std::vector<std::string>> done) {
    auto job = make_job<std::vector<std::string>>(
        [now, limit](Connection& db) { return expire_due_entries(db, now, limit); },
        std::move(done));
    submit_write(std::move(job), Admission::always);
}

void SqliteStore::list(ListQuery query, Callback<ListPage> done) {
    submit_read(make_job<ListPage>(
        [query = std::move(query)](Connection& db) { return list_notifications(db, query); },
        std::move(done)));
}

void SqliteStore::retry(RetryRequest request, Callback<StatusChange> done) {
    auto job = make_job<StatusChange>(
        [request = std::move(request)](Connection& db) { return retry_notification(db, request); },
        std::move(done));
    submit_write(std::move(job), Admission::bounded);
}

void SqliteStore::cancel(CancelRequest request, Callback<StatusChange> done) {
    auto job = make_job<StatusChange>(
        [request = std::move(request)](Connection& db) { return cancel_notification(db, request); },
        std::move(done));
    submit_write(std::move(job), Admission::bounded);
}

void SqliteStore::ping(Callback<void> done) {
    if (writes_failing_) {
        submit_write(make_job<void>(&probe_write, std::move(done)), Admission::bounded);
        return;
    }
    submit_read(make_job<void>([](Connection& db) { return ping_database(db); }, std::move(done)));
}

void SqliteStore::outbox_stats(UnixMs now, Callback<OutboxStats> done) {
    submit_read(make_job<OutboxStats>([now](Connection& db) { return read_outbox_stats(db, now); },
                                      std::move(done)));
}

void SqliteStore::shutdown() {
    assert(std::this_thread::get_id() != writer_.get_id() || !writer_.joinable());
    assert(std::this_thread::get_id() != reader_.get_id() || !reader_.joinable());

    const std::lock_guard serial(shutdown_mutex_);
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    write_ready_.notify_all();
    read_ready_.notify_all();
    if (writer_.joinable()) {
        writer_.join();
    }
    if (reader_.joinable()) {
        reader_.join();
    }
}

StoreStats SqliteStore::stats() const {
    return StoreStats{commits_.load(),
                      writes_run_.load(),
                      writes_queued_.load(),
                      writes_dropped_.load(),
                      writes_shed_.load()};
}

void SqliteStore::submit_write(std::unique_ptr<Job> job, Admission admission) {
    const bool bounded = admission == Admission::bounded;
    job->set_bounded(bounded);
    job->set_enqueued_at(std::chrono::steady_clock::now());
    StoreError refusal{};
    {
        const std::lock_guard lock(mutex_);
        if (stopping_) {
            refusal = StoreError::shutting_down;
        } else if (bounded && bounded_writes_ >= max_queue_) {
            refusal = StoreError::overloaded;
        } else {
            bounded_writes_ += bounded ? 1 : 0;
            writes_.push_back(std::move(job));
            writes_queued_ = writes_.size();
        }
    }
    if (job) {
        job->fail(refusal);
        job->complete();
        return;
    }
    write_ready_.notify_one();
}

void SqliteStore::submit_read(std::unique_ptr<Job> job) {
    StoreError refusal{};
    {
        const std::lock_guard lock(mutex_);
        if (stopping_) {
            refusal = StoreError::shutting_down;
        } else if (reads_.size() >= max_queue_) {
            refusal = StoreError::overloaded;
        } else {
            reads_.push_back(std::move(job));
        }
    }
    if (job) {
        job->fail(refusal);
        job->complete();
        return;
    }
    read_ready_.notify_one();
}

void SqliteStore::writer_main(std::promise<std::string>& ready) {
    auto opened = Connection::open(path_, busy_timeout_);
    if (!opened) {
        ready.set_value(opened.error());
        return;
    }
    const std::unique_ptr<Connection> db = std::move(*opened);
    if (auto configured = configure(*db); !configured) {
        ready.set_value(configured.error());
        return;
    }
    if (auto migrated = migrate(*db); !migrated) {
        ready.set_value(migrated.error());
        return;
    }
    ready.set_value({});

    last_drained_ = std::chrono::steady_clock::now();
    for (;;) {
        Queue batch;
        Queue shed;
        {
            std::unique_lock lock(mutex_);
            if (writes_.empty() && !stopping_) {
                write_ready_.wait(lock, [this] { return stopping_ || !writes_.empty(); });
                last_drained_ = std::chrono::steady_clock::now();  // empty until just now
            }
            if (writes_.empty()) {
                return;  // stopping, and everything queued has been written
            }
            take_batch(batch, shed);
            writes_queued_ = writes_.size();
            for (const auto& job : batch) {
                bounded_writes_ -= job->bounded() ? 1 : 0;
            }
            for (const auto& job : shed) {
                bounded_writes_ -= job->bounded() ? 1 : 0;
            }
        }
        if (events_.intake_waited) {
            const auto taken_at = std::chrono::steady_clock::now();
            for (const auto& job : batch) {
                if (job->bounded()) {
                    events_.intake_waited(taken_at - job->enqueued_at());
                }
            }
        }
        writes_shed_ += shed.size();  // counted before anyone is told, so the count is never behind
        for (auto& job : shed) {
            job->fail(StoreError::overloaded);
            job->complete();
        }
        // A batch's time runs from its take to its callbacks: what the next take waits for.
        const auto started = std::chrono::steady_clock::now();
        if (debug_write_delay_.count() > 0) {
            std::this_thread::sleep_for(debug_write_delay_);
        }
        drop_stale(batch);
        if (batch.empty()) {
            continue;
        }
        const std::size_t size = batch.size();
        const auto commit_started = std::chrono::steady_clock::now();
        const std::uint64_t commits_before = commits_.load();
        run_batch(*db, batch);
        if (events_.batch_committed && commits_.load() != commits_before) {
            events_.batch_committed(std::chrono::steady_clock::now() - commit_started, size);
        }
        note_batch_time(std::chrono::steady_clock::now() - started, size);
    }
}

// Takes the next batch from writes_ (mutex_ held). While some take within the last
// queue_interval could carry everything that waited, that is FIFO: group commit absorbs bursts,
// and a slow disk alone never counts as overload. Once every take for a whole interval found
// more waiting than one batch holds, the queue is standing: waiting longer only makes answers later
// for clients that are giving up. Then intake writes that waited longer than queue_target plus one
// batch's write time go to `shed`, and the newest intake writes are taken first (adaptive LIFO),
// so that fresh requests still succeed. The store's own writes (claims, attempt records,
// releases) keep their order, go first, and are never shed.
void SqliteStore::take_batch(Queue& batch, Queue& shed) {
    const auto now = std::chrono::steady_clock::now();
    if (writes_.size() <= max_batch_) {
        last_drained_ = now;  // this take carries everything that waits
    }
    const bool overloaded = now - last_drained_ > queue_interval_;
    if (!overloaded) {
        const std::size_t take = std::min(max_batch_, writes_.size());
        std::move(writes_.begin(), writes_.begin() + take, std::back_inserter(batch));
        writes_.erase(writes_.begin(), writes_.begin() + take);
    } else {
        const auto too_old =
            queue_target_ + std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::duration<double, std::micro>(batch_us_.load()));
        Queue intake;
        Queue kept;
        for (auto& job : writes_) {
            if (!job->bounded()) {
                (batch.size() < max_batch_ ? batch : kept).push_back(std::move(job));
            } else if (now - job->enqueued_at() > too_old) {
                shed.push_back(std::move(job));
            } else {
                intake.push_back(std::move(job));
            }
        }
        while (!intake.empty() && batch.size() < max_batch_) {
            batch.push_back(std::move(intake.back()));
            intake.pop_back();
        }
        writes_.clear();
        std::move(kept.begin(), kept.end(), std::back_inserter(writes_));
        std::move(intake.begin(), intake.end(), std::back_inserter(writes_));
        if (!shed.empty() && !overload_logged_) {
            observe::warn("store queue overloaded",
                          {{"shed", shed.size()}, {"waiting", writes_.size()}});
        }
    }
    overload_logged_ = overloaded;
}

void SqliteStore::note_batch_time(std::chrono::steady_clock::duration took, std::size_t writes) {
    const double micros = std::chrono::duration<double, std::micro>(took).count();
    auto blend = [](std::atomic<double>& average, double sample) {
        const double previous = average.load();
        average.store(previous == 0 ? sample : previous * 0.8 + sample * 0.2);
    };
    blend(batch_us_, micros);
    blend(service_us_, micros / static_cast<double>(writes));
}

std::chrono::milliseconds SqliteStore::drain_estimate() const {
    const double micros = service_us_.load() * static_cast<double>(writes_queued_.load());
    return std::chrono::milliseconds{static_cast<std::int64_t>(micros / 1000.0)};
}

// Answers the writes that stopped mattering while they waited (deadline passed, requester gone)
// without running them, so that a storm of abandoned requests costs no transaction.
void SqliteStore::drop_stale(Queue& batch) {
    const auto now = std::chrono::steady_clock::now();
    const auto commit_time = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double, std::micro>(batch_us_.load()));
    auto keep = batch.begin();
    for (auto& job : batch) {
        if (const auto reason = job->stale(now, commit_time)) {
            ++writes_dropped_;
            job->fail(*reason);
            job->complete();
        } else {
            *keep++ = std::move(job);
        }
    }
    batch.erase(keep, batch.end());
}

void SqliteStore::reader_main(std::promise<std::string>& ready) {
    auto opened = Connection::open(path_, busy_timeout_);
    if (!opened) {
        ready.set_value(opened.error());
        return;
    }
    const std::unique_ptr<Connection> db = std::move(*opened);
    if (auto configured = configure(*db); !configured) {
        ready.set_value(configured.error());
        return;
    }
    ready.set_value({});

    for (;;) {
        std::unique_ptr<Job> job;
        {
            std::unique_lock lock(mutex_);
            read_ready_.wait(lock, [this] { return stopping_ || !reads_.empty(); });
            if (reads_.empty()) {
                return;
            }
            job = std::move(reads_.front());
            reads_.pop_front();
        }
        job->run(*db);
        job->complete();
    }
}

void SqliteStore::run_batch(Connection& db, Queue& batch) {
    // SQLite goes on committing into a database file that was deleted or renamed while open;
    // those commits would be gone at the next start, so acknowledging them would lose
    // notifications. Refuse writes until the file is back at its path (or herald restarts).
    if (db.file_moved()) {
        note_write_failure("the database file was deleted or moved");
        fail_range(batch, 0, batch.size(), StoreError::unavailable);
    } else {
        std::size_t next = run_optimistic(db, batch) ? batch.size() : 0;
        while (next < batch.size()) {
            next = run_transaction(db, batch, next);
        }
    }
    writes_run_ += batch.size();
    for (const auto& job : batch) {
        job->complete();
    }
}

// The fast path: the whole batch in one transaction without savepoints (they cost three extra
// statements per write). Succeeds when every write succeeds and the commit does; otherwise it
// rolls everything back and returns false, and the batch is run again write by write isolated
// in savepoints, so one failing write still cannot undo the others.
bool SqliteStore::run_optimistic(Connection& db, Queue& batch) {
    const std::int64_t changes_before = db.total_changes();
    if (db.query("BEGIN IMMEDIATE").run() != SQLITE_DONE) {
        return false;
    }
    for (const auto& job : batch) {
        if (!job->run(db) || db.in_autocommit()) {
            if (!db.in_autocommit()) {
                db.query("ROLLBACK").run();
            }
            return false;
        }
    }
    if (db.query("COMMIT").run() != SQLITE_DONE) {
        if (!db.in_autocommit()) {
            db.query("ROLLBACK").run();
        }
        return false;
    }
    ++commits_;
    // Every write here succeeded, so changed rows mean pages reached the disk. (A commit that
    // changed nothing, like a claim with nothing due, succeeds on a full disk too.)
    if (db.total_changes() != changes_before) {
        note_write_success();
    }
    return true;
}

// Runs batch[first..] in one transaction, each write in its own savepoint, and returns the index
// after the last write it dealt with: the batch's end, or just past a write during which SQLite
// gave up the whole transaction (the rest then get a transaction of their own).
std::size_t SqliteStore::run_transaction(Connection& db, Queue& batch, std::size_t first) {
    const std::size_t end = batch.size();
    if (const int rc = db.query("BEGIN IMMEDIATE").run(); rc != SQLITE_DONE) {
        report_failure(db, rc, "begin");
        note_write_failure(db.error_message());
        fail_range(batch, first, end, StoreError::unavailable);
        return end;
    }
    // Gives up the transaction after batch[i]: what ran in it is lost.
    auto abandon = [&](std::size_t i) {
        note_write_failure(db.error_message());
        if (!db.in_autocommit()) {
            db.query("ROLLBACK").run();
        }
        fail_range(batch, first, i + 1, StoreError::unavailable);
        return i + 1;
    };

    for (std::size_t i = first; i < end; ++i) {
        if (const int rc = db.query("SAVEPOINT write").run(); rc != SQLITE_DONE) {
            report_failure(db, rc, "savepoint");
            return abandon(i);
        }
        const bool keep = batch[i]->run(db);
        if (db.in_autocommit()) {
            return abandon(i);  // SQLite rolled the transaction back on its own
        }
        if (!keep && db.query("ROLLBACK TO write").run() != SQLITE_DONE) {
            return abandon(i);
        }
        if (db.query("RELEASE write").run() != SQLITE_DONE) {
            return abandon(i);
        }
    }

    if (const int rc = db.query("COMMIT").run(); rc != SQLITE_DONE) {
        report_failure(db, rc, "commit");
        return abandon(end - 1);
    }
    ++commits_;
    return end;
}

void SqliteStore::note_write_failure(std::string_view reason) {
    if (events_.write_failed) {
        events_.write_failed();
    }
    if (!writes_failing_.exchange(true)) {
        observe::error("store writes failing", {{"reason", reason}});
    }
}

void SqliteStore::note_write_success() {
    if (writes_failing_.exchange(false)) {
        observe::info("store writes recovered", {});
    }
}

}  // namespace herald::store::sqlite
