#include "observe/trace.hpp"

#include "core/thread_name.hpp"
#include "observe/log.hpp"
#include "observe/metrics.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

namespace herald::observe {
namespace {

constexpr char kHex[] = "0123456789abcdef";

template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& bytes) {
    std::string out;
    out.reserve(N * 2);
    for (std::uint8_t byte : bytes) {
        out.push_back(kHex[byte >> 4]);
        out.push_back(kHex[byte & 0x0f]);
    }
    return out;
}

int lower_hex_digit(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;  // upper-case hex is invalid in traceparent
}

template <std::size_t N>
bool from_hex(std::string_view text, std::array<std::uint8_t, N>& out) {
    if (text.size() != N * 2) {
        return false;
    }
    for (std::size_t i = 0; i < N; ++i) {
        const int high = lower_hex_digit(text[2 * i]);
        const int low = lower_hex_digit(text[2 * i + 1]);
        if (high < 0 || low < 0) {
            return false;
        }
        out[i] = static_cast<std::uint8_t>(high << 4 | low);
    }
    return true;
}

template <std::size_t N>
bool all_zero(const std::array<std::uint8_t, N>& bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

template <std::size_t N>
void fill_random(std::array<std::uint8_t, N>& out) {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    do {
        for (std::size_t i = 0; i < N; i += 8) {
            const std::uint64_t word = engine();
            for (std::size_t j = 0; j < 8 && i + j < N; ++j) {
                out[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
            }
        }
    } while (all_zero(out));
}

bool is_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
           c == '/' || c == '@';
}

// key = simple-key / tenant@system (section 3.3.1.3.1), checked loosely: starts with a lower-case
// letter or digit, 256 characters at most, key characters only, at most one '@'.
bool valid_key(std::string_view key) {
    if (key.empty() || key.size() > 256 ||
        !(std::islower(static_cast<unsigned char>(key[0])) ||
          std::isdigit(static_cast<unsigned char>(key[0])))) {
        return false;
    }
    return std::all_of(key.begin(), key.end(), is_key_char) &&
           std::count(key.begin(), key.end(), '@') <= 1;
}

bool valid_value(std::string_view value) {
    if (value.empty() || value.size() > 256 || value.back() == ' ') {
        return false;
    }
    return std::all_of(value.begin(), value.end(), [](char c) {
        return c >= 0x20 && c <= 0x7e && c != ',' && c != '=';
    });
}

// The exporter behind init_tracing: one queue, one thread.
class Exporter {
public:
    Exporter(TracingOptions options, Metrics& metrics)
        : options_(std::move(options)), metrics_(metrics) {
        thread_ = std::thread([this] { run(); });
    }
    ~Exporter() { stop(); }

    void submit(SpanRecord span) {
        {
            std::lock_guard lock(mutex_);
            if (!stopping_ && queue_.size() < options_.max_queue_spans) {
                queue_.push_back(std::move(span));
                if (queue_.size() >= options_.max_batch_spans) {
                    wake_.notify_one();
                }
                return;
            }
        }
        metrics_.count_spans_dropped("queue_full", 1);
    }

    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) {
            thread_.join();
        }
    }

private:
    void run() {
        core::name_this_thread("herald-otlp");
        CURL* easy = curl_easy_init();
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait_for(lock, options_.batch_interval, [this] {
                return stopping_ || queue_.size() >= options_.max_batch_spans;
            });
            if (queue_.empty()) {
                if (stopping_) {
                    break;
                }
                continue;
            }
            const std::size_t take = std::min(queue_.size(), options_.max_batch_spans);
            std::vector<SpanRecord> batch(std::make_move_iterator(queue_.begin()),
                                          std::make_move_iterator(queue_.begin() + take));
            queue_.erase(queue_.begin(), queue_.begin() + take);
            const bool last = stopping_;
            lock.unlock();
            post(easy, batch);
            lock.lock();
            if (last) {
                // Stopping: one POST of what was queued, no more; the rest is dropped.
                metrics_.count_spans_dropped("queue_full", queue_.size());
                queue_.clear();
                break;
            }
        }
        if (easy != nullptr) {
            curl_easy_cleanup(easy);
        }
    }

    void post(CURL* easy, const std::vector<SpanRecord>& batch) {
        const std::string body = encode_otlp_json(batch, options_.service_name);
        long status = 0;
        CURLcode code = CURLE_FAILED_INIT;
        if (easy != nullptr) {
            curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
            headers = curl_slist_append(headers, "Expect:");
            curl_easy_reset(easy);
            curl_easy_setopt(easy, CURLOPT_URL, options_.traces_url.c_str());
            curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
            curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(easy, CURLOPT_POST, 1L);
            curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
            curl_easy_setopt(
                easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
            curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
            curl_easy_setopt(easy, CURLOPT_USERAGENT, "herald/0.1");
            curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &discard);
            const long timeout = static_cast<long>(options_.export_timeout.count());
            curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout);
            curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout);
            code = curl_easy_perform(easy);
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
            curl_slist_free_all(headers);
        }
        const bool taken = code == CURLE_OK && status >= 200 && status < 300;
        if (taken) {
            metrics_.count_spans_exported(batch.size());
            if (failing_) {
                info("trace export recovered", {{"url", options_.traces_url}});
            }
            failing_ = false;
            return;
        }
        metrics_.count_spans_dropped("export_failed", batch.size());
        if (!failing_) {
            warn("trace export failed",
                 {{"url", options_.traces_url},
                  {"error",
                   code == CURLE_OK ? "HTTP " + std::to_string(status)
                                    : std::string{curl_easy_strerror(code)}},
                  {"dropped", batch.size()}});
        }
        failing_ = true;
    }

    static std::size_t discard(char*, std::size_t size, std::size_t count, void*) {
        return size * count;
    }

    const TracingOptions options_;
    Metrics& metrics_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<SpanRecord> queue_;  // guarded by mutex_
    bool stopping_ = false;         // guarded by mutex_
    bool failing_ = false;          // exporter thread only
    std::thread thread_;
};

// Set by init_tracing before I/O threads start, reset by shutdown_tracing after they stopped; the
// atomic lets a late span (a transport thread still finishing) see that tracing is off.
std::atomic<Exporter*> g_exporter{nullptr};
std::unique_ptr<Exporter> g_owned;
std::mutex g_lifecycle;

}  // namespace

std::string TraceContext::trace_id_hex() const {
    return to_hex(trace_id);
}

std::string TraceContext::span_id_hex() const {
    return to_hex(span_id);
}

std::optional<TraceContext> parse_traceparent(std::string_view header) {
    constexpr std::size_t kV0Size = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2
    if (header.size() < kV0Size || header[2] != '-' || header[35] != '-' || header[52] != '-') {
        return std::nullopt;
    }
    std::array<std::uint8_t, 1> version{};
    std::array<std::uint8_t, 1> flags{};
    TraceContext context;
    if (!from_hex(header.substr(0, 2), version) || version[0] == 0xff ||
        !from_hex(header.substr(3, 32), context.trace_id) ||
        !from_hex(header.substr(36, 16), context.span_id) ||
        !from_hex(header.substr(53, 2), flags)) {
        return std::nullopt;
    }
    if (all_zero(context.trace_id) || all_zero(context.span_id)) {
        return std::nullopt;
    }
    if (version[0] == 0 && header.size() != kV0Size) {
        return std::nullopt;
    }
    if (header.size() > kV0Size && header[kV0Size] != '-') {
        return std::nullopt;  // a later version may only append fields after a dash
    }
    // Only the sampled bit is defined for version 00; other bits are not passed on.
    context.flags = flags[0] & 0x01;
    return context;
}

std::string checked_tracestate(std::string_view header) {
    if (header.size() > 512) {
        return {};
    }
    std::size_t members = 0;
    std::string_view rest = header;
    while (true) {
        const auto comma = rest.find(',');
        std::string_view member = rest.substr(0, comma);
        while (!member.empty() && (member.front() == ' ' || member.front() == '\t')) {
            member.remove_prefix(1);
        }
        while (!member.empty() && (member.back() == ' ' || member.back() == '\t')) {
            member.remove_suffix(1);
        }
        if (!member.empty()) {
            const auto equals = member.find('=');
            if (equals == std::string_view::npos || !valid_key(member.substr(0, equals)) ||
                !valid_value(member.substr(equals + 1)) || ++members > 32) {
                return {};
            }
        }
        if (comma == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(comma + 1);
    }
    return members == 0 ? std::string{} : std::string{header};
}

std::string format_traceparent(const TraceContext& context) {
    std::string out = "00-";
    out += to_hex(context.trace_id);
    out += '-';
    out += to_hex(context.span_id);
    out += '-';
    out.push_back(kHex[context.flags >> 4]);
    out.push_back(kHex[context.flags & 0x0f]);
    return out;
}

TraceContext new_trace_context() {
    TraceContext context;
    fill_random(context.trace_id);
    fill_random(context.span_id);
    context.flags = 0x01;
    return context;
}

std::int64_t unix_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Span::Span(Span&& other) noexcept
    : record_(std::move(other.record_)),
      recording_(other.recording_),
      ended_(std::exchange(other.ended_, true)) {}

Span& Span::operator=(Span&& other) noexcept {
    if (this != &other) {
        end();
        record_ = std::move(other.record_);
        recording_ = other.recording_;
        ended_ = std::exchange(other.ended_, true);
    }
    return *this;
}

Span::~Span() {
    end();
}

void Span::set(std::string key, AttributeValue value) {
    if (recording_ && !ended_) {
        record_.attributes.emplace_back(std::move(key), std::move(value));
    }
}

void Span::set_error(std::string message) {
    if (recording_ && !ended_) {
        record_.error = true;
        record_.status_message = std::move(message);
    }
}

void Span::end(std::optional<std::int64_t> end_unix_ns) {
    if (ended_) {
        return;
    }
    ended_ = true;
    if (!recording_) {
        return;
    }
    record_.end_unix_ns = end_unix_ns.value_or(unix_now_ns());
    if (Exporter* exporter = g_exporter.load(std::memory_order_acquire)) {
        exporter->submit(std::move(record_));
    }
}

Span start_span(std::string name,
                SpanKind kind,
                const TraceContext* parent,
                std::optional<std::int64_t> start_unix_ns) {
    Span span;
    SpanRecord& record = span.record_;
    if (parent != nullptr) {
        record.context.trace_id = parent->trace_id;
        record.context.flags = parent->flags;
        record.context.trace_state = parent->trace_state;
        record.parent_span_id = parent->span_id;
    } else {
        fill_random(record.context.trace_id);
        record.context.flags = 0x01;
    }
    fill_random(record.context.span_id);
    span.ended_ = false;
    span.recording_ = record.context.sampled() && tracing_enabled();
    if (span.recording_) {
        record.name = std::move(name);
        record.kind = kind;
        record.start_unix_ns = start_unix_ns.value_or(unix_now_ns());
    }
    return span;
}

void init_tracing(TracingOptions options, Metrics& metrics) {
    std::lock_guard lock(g_lifecycle);
    if (g_owned || options.traces_url.empty()) {
        return;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);  // before any thread uses curl (start-up only)
    options.max_queue_spans = std::max<std::size_t>(options.max_queue_spans, 1);
    options.max_batch_spans = std::clamp<std::size_t>(options.max_batch_spans, 1, 4096);
    g_owned = std::make_unique<Exporter>(std::move(options), metrics);
    g_exporter.store(g_owned.get(), std::memory_order_release);
}

void shutdown_tracing() {
    std::lock_guard lock(g_lifecycle);
    g_exporter.store(nullptr, std::memory_order_release);
    if (g_owned) {
        g_owned->stop();
        g_owned.reset();
    }
}

bool tracing_enabled() {
    return g_exporter.load(std::memory_order_acquire) != nullptr;
}

std::string encode_otlp_json(const std::vector<SpanRecord>& spans, std::string_view service_name) {
    namespace json = boost::json;
    auto attribute = [](std::string_view key, const AttributeValue& value) {
        json::object typed;
        if (const auto* text = std::get_if<std::string>(&value)) {
            typed["stringValue"] = *text;
        } else if (const auto* number = std::get_if<std::int64_t>(&value)) {
            typed["intValue"] = std::to_string(*number);  // int64 is a string in proto3 JSON
        } else {
            typed["boolValue"] = std::get<bool>(value);
        }
        return json::object{{"key", key}, {"value", std::move(typed)}};
    };
    json::array encoded;
    encoded.reserve(spans.size());
    for (const SpanRecord& span : spans) {
        json::object out;
        out["traceId"] = to_hex(span.context.trace_id);
        out["spanId"] = to_hex(span.context.span_id);
        if (!span.context.trace_state.empty()) {
            out["traceState"] = span.context.trace_state;
        }
        if (span.parent_span_id) {
            out["parentSpanId"] = to_hex(*span.parent_span_id);
        }
        out["name"] = span.name;
        out["kind"] = static_cast<int>(span.kind);
        out["startTimeUnixNano"] = std::to_string(span.start_unix_ns);
        out["endTimeUnixNano"] = std::to_string(std::max(span.end_unix_ns, span.start_unix_ns));
        json::array attributes;
        for (const auto& [key, value] : span.attributes) {
            attributes.push_back(attribute(key, value));
        }
        out["attributes"] = std::move(attributes);
        if (span.error) {
            out["status"] = json::object{{"code", 2}, {"message", span.status_message}};
        }
        encoded.push_back(std::move(out));
    }
    json::object resource{
        {"attributes", json::array{attribute("service.name", std::string{service_name})}}};
    json::object scope{{"scope", json::object{{"name", "herald"}, {"version", "0.1"}}},
                       {"spans", std::move(encoded)}};
    json::object resource_spans{{"resource", std::move(resource)},
                                {"scopeSpans", json::array{std::move(scope)}}};
    return json::serialize(json::object{{"resourceSpans", json::array{std::move(resource_spans)}}});
}

}  // namespace herald::observe
