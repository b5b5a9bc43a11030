#include "observe/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>

namespace herald::observe {
namespace {

constexpr std::array<std::string_view, 8> kIntakeOutcomes = {"accepted",
                                                             "replayed",
                                                             "deduplicated",
                                                             "rejected_invalid",
                                                             "store_unavailable",
                                                             "client_gone",
                                                             "deadline_expired",
                                                             "shed_overload"};

prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& registry,
                                                        const std::string& name,
                                                        const std::string& help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

// From 1 ms, below which a loop counts as healthy, to 1 s, beyond which every stall is as bad.
const prometheus::Histogram::BucketBoundaries& loop_lag_buckets() {
    static const prometheus::Histogram::BucketBoundaries kBuckets = {
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};
    return kBuckets;
}

prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& registry,
                                                    const std::string& name,
                                                    const std::string& help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

prometheus::Gauge& gauge(prometheus::Registry& registry,
                         const std::string& name,
                         const std::string& help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

// --- Telemetry series ---
namespace {

// Request and store latencies: from a tenth of a millisecond (a commit on a fast disk) to 30 s
// (past every deadline herald allows by default).
const prometheus::Histogram::BucketBoundaries& latency_buckets() {
    static const prometheus::Histogram::BucketBoundaries kBuckets = {0.0001,
                                                                     0.0005,
                                                                     0.001,
                                                                     0.0025,
                                                                     0.005,
                                                                     0.01,
                                                                     0.025,
                                                                     0.05,
                                                                     0.1,
                                                                     0.25,
                                                                     0.5,
                                                                     1.0,
                                                                     2.5,
                                                                     5.0,
                                                                     10.0,
                                                                     30.0};
    return kBuckets;
}

const prometheus::Histogram::BucketBoundaries& batch_buckets() {
    static const prometheus::Histogram::BucketBoundaries kBuckets = {
        1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    return kBuckets;
}

double seconds(std::chrono::nanoseconds duration) {
    return std::chrono::duration<double>(duration).count();
}

}  // namespace

struct Metrics::TelemetrySeries {
    explicit TelemetrySeries(prometheus::Registry& registry)
        : http_requests(counter_family(registry,
                                       "herald_http_requests_total",
                                       "Answered HTTP requests by route pattern and status")),
          http_duration(prometheus::BuildHistogram()
                            .Name("herald_http_request_duration_seconds")
                            .Help("From a request's first byte until its answer was written")
                            .Register(registry)),
          queue_wait(prometheus::BuildHistogram()
                         .Name("herald_intake_queue_wait_seconds")
                         .Help("How long intake writes waited in the store's queue")
                         .Register(registry)
                         .Add({}, latency_buckets())),
          commit(prometheus::BuildHistogram()
                     .Name("herald_store_commit_duration_seconds")
                     .Help("One write batch of the store, from begin to commit")
                     .Register(registry)
                     .Add({}, latency_buckets())),
          batch(prometheus::BuildHistogram()
                    .Name("herald_store_batch_writes")
                    .Help("Writes per committed store batch")
                    .Register(registry)
                    .Add({}, batch_buckets())),
          store_errors(counter_family(registry,
                                      "herald_store_errors_total",
                                      "Store write transactions lost to a database failure")
                           .Add({})),
          outbox(prometheus::BuildGauge()
                     .Name("herald_outbox_entries")
                     .Help("Outbox entries by status (sampled)")
                     .Register(registry)),
          outbox_queued(outbox.Add({{"status", "queued"}})),
          outbox_retrying(outbox.Add({{"status", "retrying"}})),
          outbox_sending(outbox.Add({{"status", "sending"}})),
          oldest_due(
              gauge(registry,
                    "herald_outbox_oldest_due_age_seconds",
                    "How long the oldest due, unclaimed outbox entry has been due (sampled)")),
          provider(prometheus::BuildHistogram()
                       .Name("herald_delivery_provider_duration_seconds")
                       .Help("Each delivery attempt's send, by transport")
                       .Register(registry)),
          failed(counter_family(registry,
                                "herald_notifications_failed_total",
                                "Notifications that became failed")
                     .Add({})),
          rss(gauge(registry,
                    "herald_process_resident_memory_bytes",
                    "Resident memory of the herald process (sampled)")),
          open_fds(gauge(registry,
                         "herald_process_open_fds",
                         "Open file descriptors of the herald process (sampled)")),
          max_fds(gauge(registry,
                        "herald_process_max_fds",
                        "The soft limit on open file descriptors (sampled)")),
          spans_exported(counter_family(registry,
                                        "herald_trace_spans_exported_total",
                                        "Spans the OTLP collector took")
                             .Add({})),
          spans_dropped(counter_family(registry,
                                       "herald_trace_spans_dropped_total",
                                       "Spans dropped: the export queue was full or a batch was "
                                       "not taken by the collector")) {
        spans_dropped.Add({{"reason", "queue_full"}});
        spans_dropped.Add({{"reason", "export_failed"}});
    }

    prometheus::Family<prometheus::Counter>& http_requests;
    prometheus::Family<prometheus::Histogram>& http_duration;
    prometheus::Histogram& queue_wait;
    prometheus::Histogram& commit;
    prometheus::Histogram& batch;
    prometheus::Counter& store_errors;
    prometheus::Family<prometheus::Gauge>& outbox;
    prometheus::Gauge& outbox_queued;
    prometheus::Gauge& outbox_retrying;
    prometheus::Gauge& outbox_sending;
    prometheus::Gauge& oldest_due;
    prometheus::Family<prometheus::Histogram>& provider;
    prometheus::Counter& failed;
    prometheus::Gauge& rss;
    prometheus::Gauge& open_fds;
    prometheus::Gauge& max_fds;
    prometheus::Counter& spans_exported;
    prometheus::Family<prometheus::Counter>& spans_dropped;
};

void Metrics::observe_http_request(std::string_view route,
                                   int status,
                                   std::chrono::microseconds duration) {
    const std::string pattern = route.empty() ? std::string{"unmatched"} : std::string{route};
    telemetry_->http_requests.Add({{"route", pattern}, {"status", std::to_string(status)}})
        .Increment();
    telemetry_->http_duration.Add({{"route", pattern}}, latency_buckets())
        .Observe(seconds(duration));
}

void Metrics::observe_intake_queue_wait(std::chrono::nanoseconds wait) {
    telemetry_->queue_wait.Observe(seconds(wait));
}

void Metrics::observe_store_batch(std::chrono::nanoseconds commit, std::size_t writes) {
    telemetry_->commit.Observe(seconds(commit));
    telemetry_->batch.Observe(static_cast<double>(writes));
}

void Metrics::count_store_error() {
    telemetry_->store_errors.Increment();
}

void Metrics::set_outbox(const OutboxLevels& levels) {
    telemetry_->outbox_queued.Set(levels.queued);
    telemetry_->outbox_retrying.Set(levels.retrying);
    telemetry_->outbox_sending.Set(levels.sending);
    telemetry_->oldest_due.Set(levels.oldest_due_age_seconds);
}

void Metrics::set_process(const ProcessLevels& levels) {
    telemetry_->rss.Set(levels.resident_memory_bytes);
    telemetry_->open_fds.Set(levels.open_fds);
    telemetry_->max_fds.Set(levels.max_fds);
}

void Metrics::observe_provider_latency(std::string_view transport, std::chrono::nanoseconds took) {
    telemetry_->provider.Add({{"transport", std::string{transport}}}, latency_buckets())
        .Observe(seconds(took));
}

void Metrics::count_failed() {
    telemetry_->failed.Increment();
}

void Metrics::count_spans_exported(std::size_t spans) {
    telemetry_->spans_exported.Increment(static_cast<double>(spans));
}

void Metrics::count_spans_dropped(std::string_view reason, std::size_t spans) {
    if (spans > 0) {
        telemetry_->spans_dropped.Add({{"reason", std::string{reason}}})
            .Increment(static_cast<double>(spans));
    }
}

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      attempts_(counter_family(*registry_,
                               "herald_delivery_attempts_total",
                               "Delivery attempts by transport and outcome")),
      rate_limit_(gauge_family(*registry_,
                               "herald_delivery_rate_limit_per_second",
                               "The send rate in force, configured or learned from the "
                               "provider's throttling; 0: none")),
      concurrency_limit_(gauge_family(*registry_,
                                      "herald_delivery_concurrency_limit",
                                      "The adaptive limit of sends in flight, by transport")),
      breaker_state_(gauge_family(*registry_,
                                  "herald_delivery_breaker_state",
                                  "Circuit breaker by transport: 0 closed, 1 half-open, 2 open")),
      retry_budget_(gauge_family(*registry_,
                                 "herald_delivery_retry_budget",
                                 "Retries the retry budget allows now, by transport")),
      paused_(gauge_family(*registry_,
                           "herald_delivery_paused",
                           "1 while the provider's throttling pauses a transport's sends")),
      breaker_opened_(counter_family(*registry_,
                                     "herald_delivery_breaker_opened_total",
                                     "Times a transport's circuit breaker opened")),
      pauses_(counter_family(*registry_,
                             "herald_delivery_pauses_total",
                             "Throttle pauses of a transport's sends begun")),
      leases_taken_over_(counter_family(*registry_,
                                        "herald_outbox_leases_taken_over_total",
                                        "Outbox entries resumed after their previous lease "
                                        "holder died or lost the lease")
                             .Add({})),
      loop_lag_(prometheus::BuildHistogram()
                    .Name("herald_event_loop_lag_seconds")
                    .Help("How late the loop watchdog's probes ran, by I/O thread")
                    .Register(*registry_)),
      loop_stalls_(counter_family(*registry_,
                                  "herald_event_loop_stalls_total",
                                  "Event loop stalls over server.stall_threshold_ms, by I/O "
                                  "thread")),
      in_flight_(gauge(*registry_,
                       "herald_http_requests_in_flight",
                       "Requests being handled, this scrape left out")),
      connections_(gauge(*registry_, "herald_http_connections_open", "Open HTTP connections")),
      waiters_(gauge(*registry_,
                     "herald_intake_waiters",
                     "Requests waiting for their delivery (Prefer: wait)")),
      telemetry_(std::make_unique<TelemetrySeries>(*registry_)) {
    auto& intake = counter_family(
        *registry_, "herald_intake_requests_total", "POST /v1/notifications by outcome");
    for (std::size_t i = 0; i < kIntakeOutcomes.size(); ++i) {
        intake_[i] = &intake.Add({{"outcome", std::string{kIntakeOutcomes[i]}}});
    }
    expired_ = &counter_family(*registry_,
                               "herald_notifications_expired_total",
                               "Notifications that reached their expiry unsent")
                    .Add({});
}

Metrics::~Metrics() = default;

void Metrics::count_intake(IntakeOutcome outcome) {
    intake_[static_cast<std::size_t>(outcome)]->Increment();
}

void Metrics::declare_transport(std::string_view transport) {
    const prometheus::Labels labels{{"transport", std::string{transport}}};
    for (const char* outcome : {"sent", "transient", "permanent", "ambiguous", "throttled"}) {
        attempts_.Add({{"transport", std::string{transport}}, {"outcome", outcome}});
    }
    telemetry_->provider.Add({{"transport", std::string{transport}}}, latency_buckets());
    rate_limit_.Add(labels);
    concurrency_limit_.Add(labels);
    breaker_state_.Add(labels);
    retry_budget_.Add(labels);
    paused_.Add(labels);
    breaker_opened_.Add(labels);
    pauses_.Add(labels);
}

void Metrics::set_pacing(std::string_view transport, const Pacing& pacing) {
    const prometheus::Labels labels{{"transport", std::string{transport}}};
    rate_limit_.Add(labels).Set(pacing.rate_per_s);
    concurrency_limit_.Add(labels).Set(pacing.concurrency_limit);
    breaker_state_.Add(labels).Set(pacing.breaker_state);
    retry_budget_.Add(labels).Set(pacing.retry_budget);
    paused_.Add(labels).Set(pacing.paused ? 1 : 0);
}

void Metrics::count_breaker_opened(std::string_view transport) {
    breaker_opened_.Add({{"transport", std::string{transport}}}).Increment();
}

void Metrics::count_pause(std::string_view transport) {
    pauses_.Add({{"transport", std::string{transport}}}).Increment();
}

void Metrics::count_attempt(std::string_view transport, std::string_view outcome) {
    attempts_.Add({{"transport", std::string{transport}}, {"outcome", std::string{outcome}}})
        .Increment();
}

void Metrics::count_leases_taken_over(std::int64_t entries) {
    if (entries > 0) {
        leases_taken_over_.Increment(static_cast<double>(entries));
    }
}

void Metrics::count_expired(std::int64_t notifications) {
    if (notifications > 0) {
        expired_->Increment(static_cast<double>(notifications));
    }
}

Metrics::EventLoop Metrics::event_loop(std::string_view thread) {
    const prometheus::Labels labels{{"thread", std::string{thread}}};
    return EventLoop{loop_lag_.Add(labels, loop_lag_buckets()), loop_stalls_.Add(labels)};
}

void Metrics::EventLoop::observe_lag(std::chrono::nanoseconds lag) {
    lag_->Observe(std::chrono::duration<double>(lag).count());
}

void Metrics::EventLoop::count_stall() {
    stalls_->Increment();
}

void Metrics::set_level_source(std::function<Levels()> source) {
    level_source_ = std::move(source);
}

std::string Metrics::render() const {
    if (level_source_) {
        const Levels levels = level_source_();
        in_flight_.Set(levels.requests_in_flight);
        connections_.Set(levels.connections_open);
        waiters_.Set(levels.intake_waiters);
    }
    return prometheus::TextSerializer{}.Serialize(registry_->Collect());
}

Metrics& Metrics::unobserved() {
    static Metrics sink;
    return sink;
}

}  // namespace herald::observe
