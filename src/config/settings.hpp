#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace herald::config {

// Every setting herald reads, with its embedded default. Loaded once at start (see load.hpp) and
// then passed by const reference; nothing changes it afterwards.

struct ServerSettings {
    std::string listen = "127.0.0.1:8080";
    int io_threads = 0;  // 0: one per core
    int max_connections = 1024;
    int max_in_flight = 4096;  // requests handled at once; beyond: 503 with Retry-After
    std::chrono::milliseconds header_timeout{10000};  // to read a request's headers
    std::chrono::milliseconds body_timeout{30000};    // to read a request's body
    std::chrono::milliseconds idle_timeout{60000};    // keep-alive connection with no request
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_body_bytes = 1024 * 1024;
    std::chrono::milliseconds drain_timeout{10000};  // SIGTERM: finish in-flight requests
    // The longest `Prefer: wait` honoured, from a request's arrival: below common 10 s client
    // timeouts, so the answer comes before the client gives up.
    std::chrono::milliseconds max_wait{8000};
    int max_waiters = 1024;  // requests waiting for delivery at once; beyond: answered at once
    // A request's deadline without timeout headers: below common 10 s client timeouts.
    std::chrono::milliseconds default_request_timeout{9000};
    std::chrono::milliseconds max_request_timeout{30000};  // the most a timeout header can ask
    // An I/O thread whose event loop runs the watchdog's probe later than this has stalled: the
    // stall is counted and logged with the request that thread was handling.
    std::chrono::milliseconds stall_threshold{50};
};

struct LimitSettings {
    int max_json_depth = 64;   // nesting levels of arrays/objects in a request body
    int max_recipients = 100;  // to + cc + bcc
    std::size_t max_subject_bytes = 4096;
    std::size_t max_header_value_bytes = 4096;
    int max_headers = 50;
};

struct StoreSettings {
    std::string url = "sqlite:./var/herald.db";  // sqlite:PATH
    int max_batch = 256;                         // writes sharing one commit
    int max_queue = 10000;  // new notifications (and, apart, reads) waiting; beyond: 503
    std::chrono::milliseconds busy_timeout{5000};
    // Queue discipline under overload (see docs/architecture.md).
    std::chrono::milliseconds queue_target{5};
    std::chrono::milliseconds queue_interval{100};
};

struct SmtpSettings {
    std::string user;      // secret-adjacent: from config or HERALD_SMTP_USER only
    std::string password;  // secret: from config or HERALD_SMTP_PASSWORD only
    std::string starttls = "opportunistic";  // off | opportunistic | required
    bool verify_tls = true;
    std::string helo;  // empty: curl's default
    // 5xx reply codes to treat as transient, comma-separated ("550,554"); empty: none.
    std::string transient_replies;
};

struct HttpTransportSettings {
    std::string token;  // secret: the email API's key (Bearer, or Basic api:KEY for mailgun)
    bool verify_tls = true;
    std::string profile = "herald";  // request shape: herald | sendgrid | mailgun
};

struct DeliverySettings {
    std::string transport =
        "maildir:./var/mail";  // maildir:PATH | smtp[s]://host:port | http[s]://…
    int concurrency = 16;      // sends in flight at once
    int max_attempts = 8;
    std::chrono::milliseconds backoff_base{1000};
    std::chrono::milliseconds backoff_max{300000};
    std::chrono::milliseconds attempt_timeout{30000};
    std::chrono::milliseconds lease{60000};
    std::chrono::milliseconds poll_interval{500};
    // Pacing (see delivery::PacingOptions): 0 rate = unlimited.
    double rate_per_s = 0;
    int burst = 5;
    bool learn_rate = true;  // with no rate set, learn one from the provider's throttling
    bool adaptive_concurrency = true;
    int min_concurrency = 1;
    int breaker_failures = 5;  // 0: no breaker
    int breaker_failure_percent = 50;
    int breaker_window = 20;
    std::chrono::milliseconds breaker_open{30000};
    int retry_budget_percent = 10;
    double retry_budget_floor_per_s = 1;
    int retry_budget_burst = 10;
    std::chrono::milliseconds throttle_pause{1000};
    std::chrono::milliseconds throttle_pause_max{30000};
    std::chrono::milliseconds retry_after_max{3600000};
    // A notification that asks for no expiry of its own expires this long after its creation
    // unless sent by then; 0: never. A day: a notification still unsent after that has usually
    // stopped mattering (a code, an alert, a reminder), it is far beyond what the retries of one
    // outage take (8 attempts at most 5 min apart), and it matches how long an Idempotency-Key
    // is remembered, beyond which a client's retry could not be told from a new request anyway.
    std::int64_t max_age_s = 86400;
    std::string message_id_domain;  // empty: the host name
    bool paused = false;  // accept and store, but send nothing (e.g. provider maintenance)
    SmtpSettings smtp;
    HttpTransportSettings http;
};

struct IdempotencySettings {
    std::chrono::milliseconds retention{86400000};    // how long an Idempotency-Key is remembered
    std::chrono::milliseconds content_window{0};      // dedup by content without a key; 0: off
    std::chrono::milliseconds sweep_interval{60000};  // how often expired keys are deleted
};

struct AuthSettings {
    std::map<std::string, std::string> api_keys;  // secret key -> client name; empty: auth off
};

struct LogSettings {
    std::string level = "info";  // debug | info | warn | error
};

struct TelemetrySettings {
    // OTLP/HTTP collector base URL: spans go to {otlp_endpoint}/v1/traces as JSON. Empty: no
    // spans are exported (trace context is still read and passed on).
    std::string otlp_endpoint;
    std::string service_name = "herald";
    int max_queue_spans = 2048;  // finished spans held for export; more are dropped and counted
    std::chrono::milliseconds export_timeout{10000};  // each POST to the collector
    std::chrono::milliseconds sample_interval{5000};  // outbox and process gauges
};

struct Settings {
    ServerSettings server;
    LimitSettings limits;
    StoreSettings store;
    DeliverySettings delivery;
    IdempotencySettings idempotency;
    AuthSettings auth;
    LogSettings log;
    TelemetrySettings telemetry;
    std::string templates_dir;  // named templates: DIR/NAME/{subject,text,html}.mustache
};

}  // namespace herald::config
