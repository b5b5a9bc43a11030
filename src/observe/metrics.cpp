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

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      attempts_(counter_family(*registry_,
                               "herald_delivery_attempts_total",
                               "Delivery attempts by transport and outcome")),
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
                     "Requests waiting for their delivery (Prefer: wait)")) {
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
    concurrency_limit_.Add(labels);
    breaker_state_.Add(labels);
    retry_budget_.Add(labels);
    paused_.Add(labels);
    breaker_opened_.Add(labels);
    pauses_.Add(labels);
}

void Metrics::set_pacing(std::string_view transport, const Pacing& pacing) {
    const prometheus::Labels labels{{"transport", std::string{transport}}};
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
