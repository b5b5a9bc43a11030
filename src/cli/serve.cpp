#include "api/debug.hpp"
#include "api/notifications.hpp"
#include "cli/commands.hpp"
#include "core/time.hpp"
#include "delivery/dispatcher.hpp"
#include "delivery/transports.hpp"
#include "http/server.hpp"
#include "observe/log.hpp"
#include "observe/loop_activity.hpp"
#include "observe/loop_watchdog.hpp"
#include "observe/metrics.hpp"
#include "observe/process_stats.hpp"
#include "observe/sampler.hpp"
#include "observe/trace.hpp"
#include "store/open.hpp"
#include "store/sweeper.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <future>
#include <iostream>
#include <malloc.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

namespace herald::cli {
namespace {

// Set to 1, it adds POST /debug/block (see api/debug.hpp). Deliberately not a setting: nothing in
// a configuration file can turn it on.
constexpr const char* kDebugBlockingRouteVariable = "HERALD_DEBUG_BLOCKING_ROUTE";

bool debug_blocking_route_enabled() {
    const char* value = std::getenv(kDebugBlockingRouteVariable);
    return value != nullptr && std::string_view{value} == "1";
}

std::string host_name() {
    char buffer[256] = {};
    if (gethostname(buffer, sizeof(buffer) - 1) != 0 || buffer[0] == '\0') {
        return "localhost";
    }
    return buffer;
}

// The name this instance's leases carry. Stable across restarts, so that a restarted herald
// recognises the leases its previous run left behind (see take_back_leases).
std::string lease_owner() {
    return "herald@" + host_name();
}

// A SQLite store serves one herald instance, so at start every lease under this instance's name
// belongs to a run that died (kill -9, power loss) mid-send. Giving them back makes those
// notifications due now instead of when their leases expire; their resend carries the same
// Message-ID and idempotency key. Blocks: call before serving.
void take_back_leases(store::Store& store, const std::string& owner, observe::Metrics& metrics) {
    std::promise<boost::system::result<int>> promise;
    auto released = promise.get_future();
    store.release_leases(
        owner, [&promise](boost::system::result<int> r) { promise.set_value(std::move(r)); });
    const auto result = released.get();
    if (!result) {
        observe::warn("lease take-back failed", {{"error", result.error().message()}});
        return;
    }
    observe::info("leases taken over at start", {{"owner", owner}, {"count", *result}});
    metrics.count_leases_taken_over(*result);
}

// An exclusive advisory lock on STORE.lock, held for the life of the process: a SQLite store
// serves one herald instance (it takes back that instance's leases at start), so a second
// `herald serve` on the same store must stop before touching it.
class InstanceLock {
public:
    static boost::system::result<InstanceLock, std::string> acquire(const std::string& store_url) {
        constexpr std::string_view kScheme = "sqlite:";
        const std::filesystem::path database{store_url.substr(kScheme.size())};
        std::error_code ignored;
        if (database.has_parent_path()) {
            std::filesystem::create_directories(database.parent_path(), ignored);
        }
        const std::string path = database.string() + ".lock";
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            return "cannot open " + path + ": " + std::strerror(errno);
        }
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd);
            return "the store " + database.string() + " is in use by another herald process";
        }
        return InstanceLock{fd};
    }
    InstanceLock(InstanceLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    InstanceLock& operator=(InstanceLock&&) = delete;
    ~InstanceLock() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }

private:
    explicit InstanceLock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

// Raises the soft limit on open files to the hard limit: every connection, store file, maildir
// write and outbound connection takes a descriptor, and the common default soft limit (1024)
// sits right at the default connection cap.
void raise_descriptor_limit(std::size_t max_connections) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        return;
    }
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    constexpr std::size_t kReserve = 128;  // store, logs, delivery, listening socket
    if (limit.rlim_cur != RLIM_INFINITY && max_connections + kReserve > limit.rlim_cur) {
        observe::warn("descriptor limit below connection cap",
                      {{"open_files_limit", static_cast<std::uint64_t>(limit.rlim_cur)},
                       {"max_connections", max_connections},
                       {"reserve", kReserve}});
    }
}

// A misspelt HERALD_ variable would otherwise be ignored without a word.
void warn_about_unknown_environment() {
    const auto known = config::environment_names();
    for (const std::string& name : config::process_environment_names()) {
        const bool other_use = name == "HERALD_CONFIG" || name == "HERALD_API_KEY" ||
                               name.starts_with("HERALD_DEBUG_");
        if (name.starts_with("HERALD_") && !other_use &&
            std::find(known.begin(), known.end(), name) == known.end()) {
            observe::warn("unknown environment variable ignored", {{"name", name}});
        }
    }
}

// HERALD_DEBUG_STORE_WRITE_DELAY_MS makes the store writer sleep before each batch, so tests
// can queue requests behind a slow disk. Not a setting: it exists only to test deadlines and
// overload, and herald warns when it is on.
std::chrono::milliseconds debug_write_delay() {
    const char* value = std::getenv("HERALD_DEBUG_STORE_WRITE_DELAY_MS");
    if (value == nullptr || *value == '\0') {
        return std::chrono::milliseconds{0};
    }
    const long delay = std::clamp(std::strtol(value, nullptr, 10), 0L, 10000L);
    observe::warn("debug store write delay on", {{"delay_ms", delay}});
    return std::chrono::milliseconds{delay};
}

delivery::TransportOptions transport_options(const config::DeliverySettings& d) {
    delivery::TransportOptions options;
    options.url = d.transport;
    options.smtp.user = d.smtp.user;
    options.smtp.password = d.smtp.password;
    options.smtp.starttls = d.smtp.starttls;
    options.smtp.verify_tls = d.smtp.verify_tls;
    options.smtp.helo = d.smtp.helo;
    // Checked when the settings were loaded.
    options.smtp.transient_replies =
        config::parse_reply_codes(d.smtp.transient_replies).value_or(std::vector<int>{});
    options.http.token = d.http.token;
    options.http.verify_tls = d.http.verify_tls;
    options.http.profile = d.http.profile;
    return options;
}

delivery::DispatcherOptions dispatcher_options(const config::DeliverySettings& d,
                                               delivery::OutcomeBoard& outcomes,
                                               observe::Metrics& metrics) {
    delivery::DispatcherOptions options;
    options.outcomes = &outcomes;
    options.metrics = &metrics;
    options.owner = lease_owner();
    options.concurrency = d.concurrency;
    options.max_attempts = d.max_attempts;
    options.backoff_base = d.backoff_base;
    options.backoff_max = d.backoff_max;
    options.attempt_timeout = d.attempt_timeout;
    options.lease = d.lease;
    options.poll_interval = d.poll_interval;
    options.retry_after_max = d.retry_after_max;
    delivery::PacingOptions& pacing = options.pacing;
    pacing.rate_per_s = d.rate_per_s;
    pacing.burst = d.burst;
    pacing.learn_rate = d.learn_rate;
    pacing.adaptive = d.adaptive_concurrency;
    pacing.min_concurrency = d.min_concurrency;
    pacing.breaker_failures = d.breaker_failures;
    pacing.breaker_failure_percent = d.breaker_failure_percent;
    pacing.breaker_window = d.breaker_window;
    pacing.breaker_open = d.breaker_open;
    pacing.retry_percent = d.retry_budget_percent;
    pacing.retry_floor_per_s = d.retry_budget_floor_per_s;
    pacing.retry_burst = d.retry_budget_burst;
    pacing.throttle_pause = d.throttle_pause;
    pacing.throttle_pause_max = d.throttle_pause_max;
    return options;
}

api::ApiOptions api_options(const config::Settings& s,
                            const std::string& hostname,
                            delivery::OutcomeBoard& outcomes,
                            observe::Metrics& metrics) {
    api::ApiOptions options;
    options.max_wait = s.server.max_wait;
    options.outcomes = &outcomes;
    options.metrics = &metrics;
    options.limits.max_recipients = s.limits.max_recipients;
    options.limits.max_subject_bytes = s.limits.max_subject_bytes;
    options.limits.max_header_value_bytes = s.limits.max_header_value_bytes;
    options.limits.max_headers = s.limits.max_headers;
    options.max_json_depth = s.limits.max_json_depth;
    options.api_keys = s.auth.api_keys;
    options.idempotency_retention = s.idempotency.retention;
    options.content_dedup_window = s.idempotency.content_window;
    options.default_max_age_s = s.delivery.max_age_s;
    options.message_id_domain =
        s.delivery.message_id_domain.empty() ? hostname : s.delivery.message_id_domain;
    return options;
}

http::ServerOptions server_options(const config::ServerSettings& s,
                                   observe::LoopActivity& activity) {
    http::ServerOptions options;
    options.activity = &activity;
    options.max_connections = static_cast<std::size_t>(s.max_connections);
    options.max_in_flight = static_cast<std::size_t>(s.max_in_flight);
    options.header_timeout = s.header_timeout;
    options.body_timeout = s.body_timeout;
    options.idle_timeout = s.idle_timeout;
    options.max_header_bytes = s.max_header_bytes;
    options.max_body_bytes = s.max_body_bytes;
    options.deadlines.default_budget = s.default_request_timeout;
    options.deadlines.max_budget = s.max_request_timeout;
    // Scrapes and probes come every few seconds and say nothing about notifications.
    options.untraced_routes = {"/metrics", "/healthz", "/readyz"};
    return options;
}

void log_request(const http::RequestSummary& summary) {
    if (!observe::log_enabled(observe::LogLevel::info)) {
        return;
    }
    observe::info("request",
                  {{"request_id", summary.request_id},
                   {"method", summary.method},
                   {"route", summary.route},
                   {"status", summary.status},
                   {"duration_us", summary.duration.count()},
                   {"write_failed", summary.write_failed},
                   {"client_gone", summary.client_gone},
                   {"trace_id", summary.trace_id},
                   {"span_id", summary.span_id}});
}

observe::TracingOptions tracing_options(const config::TelemetrySettings& t) {
    observe::TracingOptions options;
    if (!t.otlp_endpoint.empty()) {
        std::string base = t.otlp_endpoint;
        while (base.ends_with('/')) {
            base.pop_back();
        }
        options.traces_url = base + "/v1/traces";
    }
    options.service_name = t.service_name;
    options.max_queue_spans = static_cast<std::size_t>(t.max_queue_spans);
    options.export_timeout = t.export_timeout;
    return options;
}

store::StoreEvents store_events(observe::Metrics& metrics) {
    store::StoreEvents events;
    events.batch_committed = [&metrics](std::chrono::nanoseconds commit, std::size_t writes) {
        metrics.observe_store_batch(commit, writes);
    };
    events.intake_waited = [&metrics](std::chrono::nanoseconds wait) {
        metrics.observe_intake_queue_wait(wait);
    };
    events.write_failed = [&metrics] { metrics.count_store_error(); };
    return events;
}

// The sampled gauges: process figures read here, outbox figures asked of the store's reader
// (the callback sets them on the reader thread; nothing waits for it).
std::vector<std::function<void()>> sampling_tasks(store::Store& store, observe::Metrics& metrics) {
    auto process = [&metrics] {
        const observe::ProcessStats stats = observe::read_process_stats();
        metrics.set_process({stats.resident_memory_bytes, stats.open_fds, stats.max_fds});
    };
    auto outbox = [&store, &metrics] {
        const core::UnixMs now = core::unix_now_ms();
        store.outbox_stats(now, [&metrics, now](boost::system::result<store::OutboxStats> stats) {
            if (!stats) {
                return;  // the gauges keep their last values; the store logs its own failures
            }
            const double age = stats->oldest_due_at
                                   ? static_cast<double>(now - *stats->oldest_due_at) / 1000.0
                                   : 0.0;
            metrics.set_outbox({static_cast<double>(stats->queued),
                                static_cast<double>(stats->retrying),
                                static_cast<double>(stats->sending),
                                std::max(age, 0.0)});
        });
    };
    return {process, outbox};
}

// Blocks until SIGTERM or SIGINT arrives.
int wait_for_signal() {
    boost::asio::io_context signals_context(1);
    boost::asio::signal_set signals(signals_context, SIGTERM, SIGINT);
    int received = 0;
    signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
        if (!ec) {
            received = signal_number;
        }
    });
    signals_context.run();
    return received;
}

}  // namespace

int serve(const std::string& config_file, const config::Overrides& overrides) {
    if (auto misspelt = config::check_environment_names(config::process_environment_names())) {
        std::cerr << "herald: configuration error: " << *misspelt << "\n";
        return 2;
    }
    auto loaded = config::load_settings(config_file, config::process_environment(), overrides);
    if (!loaded) {
        std::cerr << "herald: configuration error: " << loaded.error() << "\n";
        return 2;
    }
    const config::Settings settings = std::move(*loaded);
    observe::LogLevel level = observe::LogLevel::info;
    observe::parse_log_level(settings.log.level, level);
    observe::init_logging(level);
    warn_about_unknown_environment();
    // A peer that closes its socket must never kill the process; writes report EPIPE instead.
    std::signal(SIGPIPE, SIG_IGN);
    // glibc hands freed memory back to the kernel eagerly (madvise whenever an arena's top
    // shrinks), which under load costs a TLB shootdown on every core per request. Keeping up to
    // 8 MiB per arena raised intake by about half in bench/intake.sh, with RSS still flat.
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);

    auto fail = [](std::string_view what, const std::string& reason) {
        observe::error("start-up failed", {{"step", what}, {"error", reason}});
        observe::shutdown_logging();
        return 1;
    };

    std::unique_ptr<mail::TemplateLibrary> templates;
    if (!settings.templates_dir.empty()) {
        auto library = mail::TemplateLibrary::load(settings.templates_dir);
        if (!library) {
            return fail("templates", library.error());
        }
        templates = std::make_unique<mail::TemplateLibrary>(std::move(*library));
    }

    auto lock = InstanceLock::acquire(settings.store.url);
    if (!lock) {
        return fail("store", lock.error());
    }
    raise_descriptor_limit(static_cast<std::size_t>(settings.server.max_connections));

    observe::Metrics metrics;
    store::StoreOptions store_options;
    store_options.events = store_events(metrics);
    store_options.max_batch = settings.store.max_batch;
    store_options.max_queue = settings.store.max_queue;
    store_options.busy_timeout = settings.store.busy_timeout;
    store_options.queue_target = settings.store.queue_target;
    store_options.queue_interval = settings.store.queue_interval;
    store_options.debug_write_delay = debug_write_delay();
    auto opened = store::open_store(settings.store.url, store_options);
    if (!opened) {
        return fail("store", opened.error());
    }
    std::unique_ptr<store::Store> store = std::move(*opened);

    auto made = delivery::make_transport(transport_options(settings.delivery));
    if (!made) {
        return fail("transport", made.error());
    }
    std::unique_ptr<delivery::Transport> transport = std::move(*made);
    metrics.declare_transport(transport->name());
    delivery::OutcomeBoard outcomes(static_cast<std::size_t>(settings.server.max_waiters));
    delivery::Dispatcher dispatcher(
        *store, *transport, dispatcher_options(settings.delivery, outcomes, metrics));

    const auto listen = config::split_host_port(settings.server.listen);
    const std::size_t io_threads = settings.server.io_threads > 0
                                       ? static_cast<std::size_t>(settings.server.io_threads)
                                       : std::max(1u, std::thread::hardware_concurrency());
    // Declared before the pool: connection coroutines destroyed with the pool's contexts still
    // clear their slots.
    observe::LoopActivity activity(io_threads);
    http::IoPool pool(io_threads);
    http::Router router;
    // While paused the dispatcher's loop is not running, so nothing may be posted to it.
    std::function<void()> wake_dispatcher;
    if (!settings.delivery.paused) {
        wake_dispatcher = [&dispatcher] { dispatcher.wake(); };
    }
    api::NotificationsApi notifications(api_options(settings, host_name(), outcomes, metrics),
                                        *store,
                                        templates.get(),
                                        wake_dispatcher);
    notifications.add_routes(router);
    http::Server server(pool,
                        server_options(settings.server, activity),
                        router,
                        [&metrics](const http::RequestSummary& summary) {
                            metrics.observe_http_request(
                                summary.route, summary.status, summary.duration);
                            log_request(summary);
                        });
    api::add_health_routes(router, *store, [&server] { return server.draining(); });
    api::add_metrics_route(router, metrics);
    metrics.set_level_source([&server, &outcomes] {
        // The scrape that asks is itself a request in flight; it is left out.
        const auto in_flight = server.requests_in_flight();
        return observe::Metrics::Levels{static_cast<double>(in_flight > 0 ? in_flight - 1 : 0),
                                        static_cast<double>(server.open_connections()),
                                        static_cast<double>(outcomes.waiters())};
    });
    if (debug_blocking_route_enabled()) {
        api::add_debug_blocking_route(router);
        observe::warn("debug blocking route enabled",
                      {{"route", "/debug/block"}, {"variable", kDebugBlockingRouteVariable}});
    }

    auto bound = server.listen(listen->first, listen->second);
    if (!bound) {
        dispatcher.stop(std::chrono::milliseconds(0));
        transport->stop();
        store->shutdown();
        return fail("listen", bound.error());
    }
    observe::init_tracing(tracing_options(settings.telemetry), metrics);
    take_back_leases(*store, lease_owner(), metrics);
    if (settings.delivery.paused) {
        observe::warn("delivery paused", {{"setting", "delivery.paused"}});
    } else {
        dispatcher.start();
    }
    store::IdempotencySweeper sweeper(*store, settings.idempotency.sweep_interval);
    sweeper.start();
    // Expiry runs while delivery is paused too: a notification that stopped mattering during
    // provider maintenance must not go out afterwards.
    store::ExpirySweeper expiry(
        *store, settings.delivery.poll_interval, [&outcomes, &metrics](const auto& ids) {
            for (const std::string& id : ids) {
                outcomes.publish(id, store::Status::expired);
            }
            metrics.count_expired(static_cast<std::int64_t>(ids.size()));
        });
    expiry.start();
    observe::Sampler sampler(settings.telemetry.sample_interval, sampling_tasks(*store, metrics));
    sampler.start();
    pool.start();
    observe::LoopWatchdog watchdog(
        pool.contexts(),
        observe::LoopWatchdogOptions{.stall_threshold = settings.server.stall_threshold},
        metrics,
        &activity);
    watchdog.start();
    observe::info("listening",
                  {{"address", bound->address().to_string()},
                   {"port", bound->port()},
                   {"io_threads", io_threads},
                   {"store", settings.store.url},
                   {"transport", transport->name()},
                   {"otlp_endpoint", settings.telemetry.otlp_endpoint}});

    const int signal_number = wait_for_signal();
    observe::info("draining", {{"signal", signal_number}});
    server.begin_drain();
    const bool idle = server.wait_idle(settings.server.drain_timeout);
    dispatcher.stop(settings.server.drain_timeout);
    transport->stop();
    watchdog.stop();
    pool.stop();
    pool.join();
    sweeper.stop();
    expiry.stop();
    sampler.stop();
    store->shutdown();
    observe::shutdown_tracing();
    observe::info("stopped", {{"requests_abandoned", !idle}});
    observe::shutdown_logging();
    return 0;
}

}  // namespace herald::cli
