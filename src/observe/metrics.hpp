#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace herald::observe {

// What became of one POST /v1/notifications.
enum class IntakeOutcome {
    accepted,           // a new notification was stored (202, or 200 after Prefer: wait)
    replayed,           // an Idempotency-Key repeat got the first response again
    deduplicated,       // a keyless repeat inside the content window got the first response
    rejected_invalid,   // refused for its content: 400, 401, 415, 422
    store_unavailable,  // the store could not take it: 503
    client_gone,        // the client closed or reset its connection before it was answered
    deadline_expired,   // its deadline passed before it could be stored: 504, or 503 from the queue
    shed_overload,      // refused because the store's queue was full or standing: 503
};

// herald's metrics in the Prometheus text format (`herald_` prefix, units in names). The
// families exist from construction, so every series an operator graphs is there (at 0) before
// the first event. Thread-safe: counting is lock-free for the fixed series and takes one short
// lock for a labelled series seen for the first time.
//
//   herald_intake_requests_total{outcome}             counter, IntakeOutcome names
//   herald_delivery_attempts_total{transport,outcome}  counter: sent, transient, permanent,
//                                                      ambiguous
//   herald_outbox_leases_taken_over_total              counter: entries whose previous owner
//                                                      died or lost its lease, resumed here
//   herald_event_loop_lag_seconds{thread}              histogram: how late the loop watchdog's
//                                                      probes ran on each I/O thread ("io-0"),
//                                                      1 ms to 1 s buckets; a probe that never
//                                                      runs (a loop blocked for good) is not here
//   herald_event_loop_stalls_total{thread}             counter: stall episodes, each counted
//                                                      once, when a probe is later than
//                                                      server.stall_threshold_ms
//   herald_notifications_expired_total                 counter: notifications that reached
//                                                      their expiry unsent and became `expired`
//   herald_http_requests_in_flight                    gauge: requests being handled, the scrape
//                                                      itself left out
//   herald_http_connections_open                      gauge
//   herald_intake_waiters                             gauge: requests waiting for their delivery
//                                                      (Prefer: wait)
//   herald_delivery_rate_limit_per_second{transport}  gauge: the send rate in force (configured or
//                                                      learned from throttling); 0: none
//   herald_delivery_concurrency_limit{transport}      gauge: the adaptive limit of sends in flight
//   herald_delivery_breaker_state{transport}          gauge: 0 closed, 1 half-open, 2 open
//   herald_delivery_retry_budget{transport}           gauge: retries the budget allows now
//   herald_delivery_paused{transport}                 gauge: 1 while a throttle pause holds sends
//   herald_delivery_breaker_opened_total{transport}   counter: times the breaker opened
//   herald_delivery_pauses_total{transport}           counter: throttle pauses begun
//
// Telemetry (a block of its own, see "Telemetry series" below):
//   herald_http_requests_total{route,status}          counter: every answered request, by route
//                                                      pattern ("unmatched" when none) and status
//                                                      (499: the client left first)
//   herald_http_request_duration_seconds{route}       histogram: first byte to answer written
//   herald_intake_queue_wait_seconds                   histogram: how long intake writes waited
//                                                      in the store's queue before the writer took
//                                                      them
//   herald_store_commit_duration_seconds               histogram: one write batch, begin to commit
//   herald_store_batch_writes                          histogram: writes per committed batch
//   herald_store_errors_total                          counter: write transactions lost to a
//                                                      database failure
//   herald_outbox_entries{status}                      gauge: queued, retrying, sending (sampled)
//   herald_outbox_oldest_due_age_seconds               gauge: how long the oldest due, unleased
//                                                      entry has been due; 0 when none (sampled)
//   herald_delivery_provider_duration_seconds{transport} histogram: each attempt's send, from
//                                                      the hand-over to the transport to its answer
//   herald_notifications_failed_total                  counter: notifications that became failed
//   herald_process_resident_memory_bytes               gauge (sampled)
//   herald_process_open_fds, herald_process_max_fds    gauges (sampled)
//   herald_trace_spans_exported_total                  counter: spans the collector took
//   herald_trace_spans_dropped_total{reason}           counter: queue_full, export_failed
// "Sampled" gauges are set by a sampler thread every few seconds (set_outbox, set_process), never
// computed during a scrape.
// The event loop series of a thread exist (at 0) once event_loop() has been called for it, which
// the watchdog does for every I/O thread before serving starts. The gauges are read from their
// owners at each render() (see set_level_source).
class Metrics {
public:
    Metrics();
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    void count_intake(IntakeOutcome outcome);
    // Creates the attempt series of `transport` at 0 for every outcome, so that they exist
    // before its first attempt. Call once the transport is known.
    void declare_transport(std::string_view transport);
    void count_attempt(std::string_view transport, std::string_view outcome);
    void count_leases_taken_over(std::int64_t entries);

    // The pacing state of one transport's sends (see delivery::Pacer).
    struct Pacing {
        double rate_per_s = 0;
        double concurrency_limit = 0;
        int breaker_state = 0;  // 0 closed, 1 half-open, 2 open
        double retry_budget = 0;
        bool paused = false;
    };
    void set_pacing(std::string_view transport, const Pacing& pacing);
    void count_breaker_opened(std::string_view transport);
    void count_pause(std::string_view transport);

    // Notifications that became `expired` (their expiry passed before a send).
    void count_expired(std::int64_t notifications);

    // The series of one event loop. A cheap handle, valid for the life of the Metrics it came
    // from; thread-safe.
    class EventLoop {
    public:
        void observe_lag(std::chrono::nanoseconds lag);
        void count_stall();

    private:
        friend class Metrics;
        EventLoop(prometheus::Histogram& lag, prometheus::Counter& stalls)
            : lag_(&lag), stalls_(&stalls) {}
        prometheus::Histogram* lag_;
        prometheus::Counter* stalls_;
    };
    // Creates (at 0), or finds, the series labelled thread=`thread`.
    EventLoop event_loop(std::string_view thread);

    // Levels that components own and the gauges show; read at each render().
    struct Levels {
        double requests_in_flight = 0;
        double connections_open = 0;
        double intake_waiters = 0;
    };
    // Sets where render() reads the levels. Call before serving starts; `source` must stay
    // callable, from any thread, for as long as render() may run.
    void set_level_source(std::function<Levels()> source);

    // The text exposition format (version 0.0.4) of every series.
    std::string render() const;

    // --- Telemetry series ---
    void observe_http_request(std::string_view route,
                              int status,
                              std::chrono::microseconds duration);
    void observe_intake_queue_wait(std::chrono::nanoseconds wait);
    void observe_store_batch(std::chrono::nanoseconds commit, std::size_t writes);
    void count_store_error();
    struct OutboxLevels {
        double queued = 0;
        double retrying = 0;
        double sending = 0;
        double oldest_due_age_seconds = 0;
    };
    void set_outbox(const OutboxLevels& levels);
    struct ProcessLevels {
        double resident_memory_bytes = 0;
        double open_fds = 0;
        double max_fds = 0;
    };
    void set_process(const ProcessLevels& levels);
    void observe_provider_latency(std::string_view transport, std::chrono::nanoseconds took);
    void count_failed();
    void count_spans_exported(std::size_t spans);
    void count_spans_dropped(std::string_view reason, std::size_t spans);

    // A private instance for components built without one (unit tests): counts go nowhere
    // anyone reads.
    static Metrics& unobserved();

private:
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>& attempts_;
    prometheus::Family<prometheus::Gauge>& rate_limit_;
    prometheus::Family<prometheus::Gauge>& concurrency_limit_;
    prometheus::Family<prometheus::Gauge>& breaker_state_;
    prometheus::Family<prometheus::Gauge>& retry_budget_;
    prometheus::Family<prometheus::Gauge>& paused_;
    prometheus::Family<prometheus::Counter>& breaker_opened_;
    prometheus::Family<prometheus::Counter>& pauses_;
    prometheus::Counter* intake_[8];
    prometheus::Counter& leases_taken_over_;
    prometheus::Family<prometheus::Histogram>& loop_lag_;
    prometheus::Family<prometheus::Counter>& loop_stalls_;
    prometheus::Gauge& in_flight_;
    prometheus::Gauge& connections_;
    prometheus::Gauge& waiters_;
    std::function<Levels()> level_source_;
    prometheus::Counter* expired_ = nullptr;  // set by the constructor
    struct TelemetrySeries;
    std::unique_ptr<TelemetrySeries> telemetry_;
};

// The Content-Type of render()'s output.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace herald::observe
