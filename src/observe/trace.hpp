#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace herald::observe {

class Metrics;

// A W3C Trace Context (https://www.w3.org/TR/trace-context/): the trace, the span that is the
// parent of whatever is done next, the trace flags, and the vendor tracestate carried along.
struct TraceContext {
    std::array<std::uint8_t, 16> trace_id{};
    std::array<std::uint8_t, 8> span_id{};
    std::uint8_t flags = 0;  // bit 0: sampled
    std::string trace_state;

    bool sampled() const { return (flags & 0x01) != 0; }
    std::string trace_id_hex() const;
    std::string span_id_hex() const;
};

// Parses a `traceparent` header value by the rules of Trace Context level 1, section 3.2:
// lower-case hex only; version "ff" is invalid; version 00 is exactly 55 characters; a later
// version may be longer, with a '-' after the flags; a trace id or parent id of all zeros is
// invalid. nullopt for anything invalid (the caller then starts a new trace). `trace_state` is
// left empty.
std::optional<TraceContext> parse_traceparent(std::string_view header);

// A `tracestate` value kept as received when it has the shape of section 3.3: at most 32
// comma-separated members of key=value (keys lower-case, digits and _-*/@, values printable
// ASCII without ',' or '='), 512 bytes at most. Empty list members (",,") are allowed. "" when
// it is invalid, in which case it is dropped and not passed on (section 3.3.1.1).
std::string checked_tracestate(std::string_view header);

// version 00: "00-<trace id>-<span id>-<flags>".
std::string format_traceparent(const TraceContext& context);

enum class SpanKind { internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };

using AttributeValue = std::variant<std::string, std::int64_t, bool>;

// One finished span, as the exporter sends it.
struct SpanRecord {
    TraceContext context;  // trace id, this span's id, flags and tracestate
    std::optional<std::array<std::uint8_t, 8>> parent_span_id;
    std::string name;
    SpanKind kind = SpanKind::internal;
    std::int64_t start_unix_ns = 0;
    std::int64_t end_unix_ns = 0;
    std::vector<std::pair<std::string, AttributeValue>> attributes;
    bool error = false;  // status code ERROR (else UNSET)
    std::string status_message;
};

// One operation being timed. Created by start_span(); ended by end() or the destructor, which
// hands the record to the process tracer (non-blocking). Move-only; not thread-safe, but it may
// move between threads (a coroutine resumed elsewhere, a callback). A span whose trace is not
// sampled, or started while tracing is off, records nothing yet still has a context to pass on.
class Span {
public:
    Span() = default;
    Span(Span&& other) noexcept;
    Span& operator=(Span&& other) noexcept;
    Span(const Span&) = delete;
    Span& operator=(const Span&) = delete;
    ~Span();

    // The context to pass on (traceparent) for work done under this span.
    const TraceContext& context() const { return record_.context; }
    bool recording() const { return recording_; }

    void set(std::string key, AttributeValue value);
    void set_error(std::string message);
    // Ends the span now (or at `end_unix_ns` when given). Later calls do nothing.
    void end(std::optional<std::int64_t> end_unix_ns = std::nullopt);

private:
    friend Span start_span(std::string name,
                           SpanKind kind,
                           const TraceContext* parent,
                           std::optional<std::int64_t> start_unix_ns);
    SpanRecord record_;
    bool recording_ = false;
    bool ended_ = true;
};

// A child of `parent` (same trace and flags, tracestate passed on), or the root of a new sampled
// trace when `parent` is null. Starts now unless `start_unix_ns` is given.
Span start_span(std::string name,
                SpanKind kind,
                const TraceContext* parent,
                std::optional<std::int64_t> start_unix_ns = std::nullopt);

// A fresh sampled root context (random trace and span ids) that belongs to no span.
TraceContext new_trace_context();

std::int64_t unix_now_ns();

struct TracingOptions {
    // Where spans go: POST {endpoint} with OTLP/HTTP JSON. Empty: spans are not recorded (their
    // contexts are still made and passed on).
    std::string traces_url;
    std::string service_name = "herald";
    std::size_t max_queue_spans = 2048;  // finished spans held for export; beyond: dropped
    std::size_t max_batch_spans = 512;   // spans per POST
    std::chrono::milliseconds batch_interval{1000};   // a partial batch leaves after this
    std::chrono::milliseconds export_timeout{10000};  // each POST, connect included
};

// Starts the process-wide exporter: a thread of its own ("herald-otlp") that takes finished
// spans from a bounded queue and POSTs them in batches (libcurl, blocking on that thread only).
// Ending a span never blocks and never waits for the network: when the queue is full the span is
// dropped and counted in herald_trace_spans_dropped_total{reason="queue_full"}; a batch the
// collector does not take (no connection, timeout, a non-2xx answer) is dropped and counted with
// reason="export_failed", and one warn line is logged per failing stretch. Exported spans count
// in herald_trace_spans_exported_total. `metrics` must outlive shutdown_tracing(). Call once at
// start, before any I/O thread runs; without it, tracing is off.
void init_tracing(TracingOptions options, Metrics& metrics);
// Sends what is queued (one last POST, bounded by export_timeout), stops and joins the thread.
// Spans ended afterwards are not recorded. Safe to call more than once.
void shutdown_tracing();
bool tracing_enabled();

// The OTLP JSON (ExportTraceServiceRequest) of `spans` under one resource: trace and span ids
// as lower-case hex, times as decimal strings, enums as numbers (OTLP/HTTP JSON encoding).
std::string encode_otlp_json(const std::vector<SpanRecord>& spans, std::string_view service_name);

}  // namespace herald::observe
