// Telemetry seen from outside: metric values after a scripted run, read with the Prometheus
// client's own parser; trace context carried from a request to the provider, and spans exported
// to a collector that decodes them with the OTLP schema; a dead or silent collector costing
// intake nothing; the dashboard and alert rules naming only metrics herald exports.
#include "fixture.hpp"

#include "support/net.hpp"
#include "support/wait.hpp"

#include <boost/json/array.hpp>

#include <fstream>
#include <set>
#include <thread>

namespace herald::test {
namespace {

using namespace std::chrono_literals;

std::filesystem::path script(const std::string& name) {
    return repo_root() / "tests" / "support" / "scripts" / name;
}

// Runs `argv` to completion with `input` on stdin; its stdout, or a thrown error with stderr.
std::string run_tool(const std::filesystem::path& dir,
                     std::vector<std::string> argv,
                     const std::string& input = {}) {
    const auto in = dir / "tool.in";
    std::ofstream{in, std::ios::binary} << input;
    ProcessOptions options;
    options.argv = std::move(argv);
    options.stdin_path = in;
    options.stdout_path = dir / "tool.out";
    options.stderr_path = dir / "tool.err";
    std::filesystem::remove(options.stdout_path);
    std::filesystem::remove(options.stderr_path);
    Process tool = Process::start(options);
    const auto status = tool.wait_for(60s);
    if (!status || !status->exited || status->code != 0) {
        throw std::runtime_error(options.argv[0] + " failed: " + tail(tool.stderr_text()));
    }
    return tool.stdout_text();
}

// A /metrics exposition as the official Python client parses it.
struct Scrape {
    std::map<std::string, double> samples;  // `name{k="v",…}` (labels sorted) -> value
    std::set<std::string> names;            // family and sample names

    double at(const std::string& series) const {
        const auto found = samples.find(series);
        return found == samples.end() ? -1 : found->second;
    }
};

Scrape parse_scrape(const std::filesystem::path& dir, const std::string& exposition) {
    const auto json = parse_json(run_tool(dir, {script("prom-parse.py").string()}, exposition));
    if (!json) {
        throw std::runtime_error("prom-parse.py printed no JSON");
    }
    Scrape scrape;
    for (const auto& family : json->at("families").as_object()) {
        scrape.names.insert(std::string{family.key()});
    }
    for (const auto& sample : json->at("samples").as_array()) {
        std::string series{sample.at("name").as_string()};
        std::map<std::string, std::string> labels;
        for (const auto& label : sample.at("labels").as_object()) {
            labels[std::string{label.key()}] = std::string{label.value().as_string()};
        }
        scrape.names.insert(series);
        if (!labels.empty()) {
            std::string joined;
            for (const auto& [key, value] : labels) {
                joined += (joined.empty() ? "" : ",") + key + "=\"" + value + "\"";
            }
            series += "{" + joined + "}";
        }
        const auto& value = sample.at("value");
        scrape.samples[series] = value.is_double() ? value.as_double() : value.to_number<double>();
    }
    return scrape;
}

Scrape scrape(HeraldPeer& herald, const std::filesystem::path& dir) {
    const auto response = herald.client().get("/metrics");
    if (response.status != 200) {
        throw std::runtime_error("GET /metrics: " + response.describe());
    }
    return parse_scrape(dir, response.body);
}

// The Node collector of tests/support/scripts/otlp-collector.js on a port of its own.
class Collector {
public:
    explicit Collector(const std::filesystem::path& dir) {
        ProcessOptions options;
        options.argv = {"node", script("otlp-collector.js").string(), "0"};
        options.env["NODE_PATH"] = (node_tools_dir() / "node_modules").string();
        options.stdout_path = dir / "collector.out";
        options.stderr_path = dir / "collector.err";
        process_ = Process::start(options);
        const bool ready = wait_until([&] {
            const std::string out = process_.stdout_text();
            if (out.rfind("listening ", 0) != 0 || out.find('\n') == std::string::npos) {
                return false;
            }
            port_ = static_cast<std::uint16_t>(std::stoi(out.substr(10)));
            return true;
        });
        if (!ready) {
            throw std::runtime_error("collector did not start: " + process_.stderr_text());
        }
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

    boost::json::value received() {
        HttpClient client{url()};
        const auto response = client.get("/spans");
        auto json = response.json();
        if (response.status != 200 || !json) {
            throw std::runtime_error("collector GET /spans: " + response.describe());
        }
        return *json;
    }

    // The spans of trace `trace_id` received so far.
    std::vector<boost::json::value> spans_of(const std::string& trace_id) {
        std::vector<boost::json::value> out;
        const boost::json::value all = received();
        for (const auto& span : all.at("spans").as_array()) {
            if (string_at(span, "traceId") == trace_id) {
                out.push_back(span);
            }
        }
        return out;
    }

private:
    Process process_;
    std::uint16_t port_ = 0;
};

const boost::json::value* span_named(const std::vector<boost::json::value>& spans,
                                     const std::string& name) {
    for (const auto& span : spans) {
        if (string_at(span, "name") == name) {
            return &span;
        }
    }
    return nullptr;
}

std::string attribute(const boost::json::value& span, const std::string& key) {
    const auto* attributes = find_at(span, "attributes");
    const auto* value = attributes != nullptr && attributes->is_object()
                            ? attributes->as_object().if_contains(key)
                            : nullptr;
    if (value == nullptr) {
        return {};
    }
    return value->is_string() ? std::string{value->as_string()} : json_text(*value);
}

// How many of herald's log lines contain `text`.
std::size_t log_lines_with(HeraldPeer& herald, const std::string& text) {
    std::ifstream file(herald.dir() / "herald.err");
    std::size_t count = 0;
    for (std::string line; std::getline(file, line);) {
        count += line.find(text) != std::string::npos ? 1 : 0;
    }
    return count;
}

class TelemetryTest : public IntegrationTest {};

// 5 accepted, 2 replayed, 1 rejected, 1 client gone: every counter says exactly that.
TEST_F(TelemetryTest, MetricsAfterAScriptedRunHoldTheExactCountsItImplies) {
    MockmailOptions mock;
    mock.latency_ms = 5000;  // the first send only: the client of the waiting request leaves
    mock.latency_count = 1;
    auto& provider = start_mockmail(mock);
    HeraldOptions options = with_transport(provider.send_url());
    options.env["HERALD_TELEMETRY_SAMPLE_INTERVAL_MS"] = "100";
    auto& herald = start_herald(options);
    const std::string payload = json_body(baseline_notification());

    // One client waits for the delivery (Prefer: wait) and leaves while the provider holds it.
    const std::string request =
        "POST /v1/notifications HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\n"
        "Prefer: wait=10\r\nIdempotency-Key: gone-1\r\nContent-Length: " +
        std::to_string(payload.size()) + "\r\n\r\n" + payload;
    auto connection = RawConnection::connect(herald.port());
    ASSERT_TRUE(connection.send_all(request));
    ASSERT_TRUE(wait_until([&] { return provider.calls().size() == 1; }));
    connection.close();
    ASSERT_TRUE(wait_until([&] { return intake_count(herald, "client_gone") == 1; }))
        << herald.logs();

    for (int i = 1; i <= 5; ++i) {
        const auto accepted =
            herald.post_notification(payload, {{"Idempotency-Key", "k" + std::to_string(i)}});
        ASSERT_EQ(accepted.status, 202) << accepted.describe();
    }
    for (int i = 1; i <= 2; ++i) {
        const auto replay =
            herald.post_notification(payload, {{"Idempotency-Key", "k" + std::to_string(i)}});
        ASSERT_EQ(replay.status, 202) << replay.describe();
        ASSERT_EQ(replay.headers.get("Idempotent-Replayed"), "true");
    }
    ASSERT_EQ(herald.post_notification(R"({"from":"x"})").status, 400);
    ASSERT_TRUE(wait_until([&] { return provider.calls().size() == 6; }));
    // The gauges come from the sampler: wait until it has seen the empty outbox and the process.
    ASSERT_TRUE(wait_until([&] {
        const Scrape now = scrape(herald, dir());
        return now.at("herald_delivery_attempts_total{outcome=\"sent\",transport=\"http\"}") == 6 &&
               now.at("herald_process_resident_memory_bytes") > 0 &&
               now.at("herald_outbox_entries{status=\"sending\"}") == 0;
    })) << herald.logs();

    const Scrape metrics = scrape(herald, dir());
    auto intake = [&](const std::string& outcome) {
        return metrics.at("herald_intake_requests_total{outcome=\"" + outcome + "\"}");
    };
    EXPECT_EQ(intake("accepted"), 5);
    EXPECT_EQ(intake("replayed"), 2);
    EXPECT_EQ(intake("rejected_invalid"), 1);
    EXPECT_EQ(intake("client_gone"), 1);
    for (const char* outcome :
         {"deduplicated", "store_unavailable", "deadline_expired", "shed_overload"}) {
        EXPECT_EQ(intake(outcome), 0) << outcome;
    }
    auto answered = [&](const std::string& status) {
        return metrics.at("herald_http_requests_total{route=\"/v1/notifications\",status=\"" +
                          status + "\"}");
    };
    EXPECT_EQ(answered("202"), 7);
    EXPECT_EQ(answered("400"), 1);
    EXPECT_EQ(answered("499"), 1);
    EXPECT_EQ(metrics.at("herald_http_request_duration_seconds_count{route=\"/v1/notifications\"}"),
              9);
    // Six new notifications and two replays reached the store's queue; the bad one never did.
    EXPECT_EQ(metrics.at("herald_intake_queue_wait_seconds_count"), 8);
    EXPECT_EQ(metrics.at("herald_delivery_provider_duration_seconds_count{transport=\"http\"}"), 6);
    EXPECT_EQ(
        metrics.at("herald_delivery_attempts_total{outcome=\"transient\",transport=\"http\"}"), 0);
    EXPECT_EQ(metrics.at("herald_notifications_failed_total"), 0);
    EXPECT_EQ(metrics.at("herald_store_errors_total"), 0);
    EXPECT_GT(metrics.at("herald_store_commit_duration_seconds_count"), 0);
    EXPECT_EQ(metrics.at("herald_outbox_entries{status=\"queued\"}"), 0);
    EXPECT_EQ(metrics.at("herald_outbox_entries{status=\"retrying\"}"), 0);
    EXPECT_EQ(metrics.at("herald_outbox_oldest_due_age_seconds"), 0);
    EXPECT_GT(metrics.at("herald_process_open_fds"), 0);
    EXPECT_GT(metrics.at("herald_process_max_fds"), 0);
    // No collector configured: no span is exported or dropped.
    EXPECT_EQ(metrics.at("herald_trace_spans_exported_total"), 0);
    EXPECT_EQ(metrics.at("herald_trace_spans_dropped_total{reason=\"queue_full\"}"), 0);
}

// The outbox gauges show a backlog while delivery is paused, with its oldest entry's age.
TEST_F(TelemetryTest, OutboxGaugesShowTheBacklogWhileDeliveryIsPaused) {
    HeraldOptions options;
    options.env["HERALD_DELIVERY_PAUSED"] = "true";
    options.env["HERALD_TELEMETRY_SAMPLE_INTERVAL_MS"] = "100";
    auto& herald = start_herald(options);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(herald.post_notification(json_body(baseline_notification())).status, 202);
    }
    ASSERT_TRUE(wait_until([&] {
        const Scrape now = scrape(herald, dir());
        return now.at("herald_outbox_entries{status=\"queued\"}") == 3 &&
               now.at("herald_outbox_oldest_due_age_seconds") > 0;
    })) << herald.logs();
}

// A known traceparent reaches the provider under the same trace id, and the collector gets the
// request, store commit, outbox wait and delivery attempt spans, linked parent to child.
TEST_F(TelemetryTest, TraceparentReachesTheProviderAndSpansDecodeWithTheOtlpSchema) {
    Collector collector(dir());
    auto& provider = start_mockmail();
    HeraldOptions options = with_transport(provider.send_url());
    options.extra_args = {"--otlp-endpoint", collector.url()};
    options.env["OTEL_SERVICE_NAME"] = "herald-it";
    auto& herald = start_herald(options);

    const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    const std::string client_span = "00f067aa0ba902b7";
    const auto accepted =
        herald.post_notification(json_body(baseline_notification()),
                                 {{"traceparent", "00-" + trace_id + "-" + client_span + "-01"},
                                  {"tracestate", "vendor=abc"}});
    const std::string id = accepted_id(accepted);
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(wait_until([&] { return provider.calls().size() == 1; }));
    const std::string sent = string_at(provider.calls()[0], "traceparent");
    ASSERT_EQ(sent.size(), 55u) << sent;
    EXPECT_EQ(sent.substr(0, 36), "00-" + trace_id + "-");
    EXPECT_EQ(sent.substr(52), "-01");

    ASSERT_TRUE(wait_until([&] { return collector.spans_of(trace_id).size() == 4; }))
        << json_text(collector.received()) << herald.logs();
    const auto received = collector.received();
    EXPECT_TRUE(received.at("errors").as_array().empty()) << json_text(received);
    const auto spans = collector.spans_of(trace_id);
    const auto* request = span_named(spans, "POST /v1/notifications");
    const auto* commit = span_named(spans, "store commit");
    const auto* wait = span_named(spans, "outbox wait");
    const auto* attempt = span_named(spans, "delivery attempt");
    ASSERT_TRUE(request && commit && wait && attempt) << json_text(received);

    EXPECT_EQ(string_at(*request, "parentSpanId"), client_span);
    EXPECT_EQ(int_at(*request, "kind", 0), 2);  // SERVER
    EXPECT_EQ(string_at(*request, "traceState"), "vendor=abc");
    EXPECT_EQ(string_at(*request, "service"), "herald-it");
    EXPECT_EQ(attribute(*request, "http.response.status_code"), "202");
    const std::string request_span = string_at(*request, "spanId");
    EXPECT_EQ(string_at(*commit, "parentSpanId"), request_span);
    EXPECT_EQ(attribute(*commit, "herald.notification_id"), id);
    EXPECT_EQ(string_at(*wait, "parentSpanId"), request_span);
    EXPECT_EQ(string_at(*attempt, "parentSpanId"), request_span);
    EXPECT_EQ(int_at(*attempt, "kind", 0), 3);  // CLIENT
    EXPECT_EQ(attribute(*attempt, "herald.outcome"), "sent");
    EXPECT_EQ(attribute(*attempt, "herald.notification_id"), id);
    // The provider's parent is the attempt's own span.
    EXPECT_EQ(sent.substr(36, 16), string_at(*attempt, "spanId"));
    // The log lines carry the trace.
    EXPECT_NE(herald.logs().find("\"trace_id\":\"" + trace_id + "\""), std::string::npos);

    // An invalid traceparent (upper-case hex) is ignored: a new trace starts.
    const std::string upper = "4BF92F3577B34DA6A3CE929D0E0E4736";
    ASSERT_EQ(herald
                  .post_notification(json_body(baseline_notification()),
                                     {{"traceparent", "00-" + upper + "-" + client_span + "-01"}})
                  .status,
              202);
    ASSERT_TRUE(wait_until([&] { return provider.calls().size() == 2; }));
    const std::string fresh = string_at(provider.calls()[1], "traceparent");
    ASSERT_EQ(fresh.size(), 55u) << fresh;
    const std::string new_trace = fresh.substr(3, 32);
    EXPECT_NE(new_trace, trace_id);
    ASSERT_TRUE(wait_until([&] { return collector.spans_of(new_trace).size() == 4; }));
    const auto restarted = collector.spans_of(new_trace);
    const auto* root = span_named(restarted, "POST /v1/notifications");
    ASSERT_NE(root, nullptr);
    EXPECT_EQ(string_at(*root, "parentSpanId"), "");
}

// Spans made while no collector listens are dropped and counted; every request is answered.
TEST_F(TelemetryTest, DeadCollectorCostsIntakeNothingAndItsDropsAreCounted) {
    const std::uint16_t closed = free_port();  // nothing listens there
    HeraldOptions options;
    options.env["HERALD_DELIVERY_PAUSED"] = "true";  // two spans per request: request, commit
    options.env["HERALD_TELEMETRY_OTLP_ENDPOINT"] = "http://127.0.0.1:" + std::to_string(closed);
    auto& herald = start_herald(options);
    constexpr int kRequests = 20;
    for (int i = 0; i < kRequests; ++i) {
        ASSERT_EQ(herald.post_notification(json_body(baseline_notification())).status, 202);
    }
    ASSERT_TRUE(wait_until([&] {
        const Scrape now = scrape(herald, dir());
        return now.at("herald_trace_spans_dropped_total{reason=\"export_failed\"}") +
                   now.at("herald_trace_spans_dropped_total{reason=\"queue_full\"}") ==
               2 * kRequests;
    })) << herald.logs();
    const Scrape metrics = scrape(herald, dir());
    EXPECT_EQ(metrics.at("herald_trace_spans_exported_total"), 0);
    EXPECT_EQ(metrics.at("herald_intake_requests_total{outcome=\"accepted\"}"), kRequests);
    // One warning for the whole outage, not one per batch.
    EXPECT_EQ(log_lines_with(herald, "\"msg\":\"trace export failed\""), 1u);
}

// A collector that accepts the connection and never answers holds the exporter's one POST; the
// queue fills and the rest is dropped at once, and intake goes on answering.
TEST_F(TelemetryTest, SilentCollectorFillsTheQueueAndIntakeStillAnswers) {
    SilentListener silent;
    HeraldOptions options;
    options.env["HERALD_DELIVERY_PAUSED"] = "true";
    options.env["HERALD_TELEMETRY_OTLP_ENDPOINT"] =
        "http://127.0.0.1:" + std::to_string(silent.port());
    options.env["HERALD_TELEMETRY_MAX_QUEUE_SPANS"] = "4";
    options.env["HERALD_TELEMETRY_EXPORT_TIMEOUT_MS"] = "600000";
    auto& herald = start_herald(options);
    constexpr int kRequests = 20;
    for (int i = 0; i < kRequests; ++i) {
        ASSERT_EQ(herald.post_notification(json_body(baseline_notification())).status, 202);
    }
    // At most 4 spans wait in the queue and at most 4 are in the stuck POST: the rest dropped.
    ASSERT_TRUE(wait_until([&] {
        return scrape(herald, dir())
                   .at("herald_trace_spans_dropped_total{reason=\"queue_full\"}") >=
               2 * kRequests - 8;
    })) << herald.logs();
    const Scrape metrics = scrape(herald, dir());
    EXPECT_EQ(metrics.at("herald_trace_spans_exported_total"), 0);
    EXPECT_EQ(metrics.at("herald_intake_requests_total{outcome=\"accepted\"}"), kRequests);
}

TEST_F(TelemetryTest, DashboardAndAlertRulesNameOnlyMetricsHeraldExports) {
    const auto observability = repo_root() / "deploy" / "observability";
    const auto dashboard = observability / "herald-dashboard.json";
    const auto rules = observability / "herald-alerts.yml";
    const auto used = parse_json(
        run_tool(dir(), {script("metric-names.py").string(), dashboard.string(), rules.string()}));
    ASSERT_TRUE(used.has_value());

    auto& provider = start_mockmail();
    auto& herald = start_herald(with_transport(provider.send_url()));
    ASSERT_EQ(herald.post_notification(json_body(baseline_notification())).status, 202);
    ASSERT_TRUE(wait_until([&] { return provider.calls().size() == 1; }));
    scrape(herald, dir());  // so that the next scrape has the /metrics route's own series
    const Scrape exported = scrape(herald, dir());

    for (const char* part : {"dashboard", "rules"}) {
        const auto& names = used->at(part).as_array();
        EXPECT_FALSE(names.empty()) << part;
        for (const auto& name : names) {
            const std::string metric{name.as_string()};
            if (exported.names.count(metric) == 0) {
                ADD_FAILURE() << part << " uses " << metric << ", which herald does not export";
            }
        }
    }
    if (std::filesystem::exists("/usr/bin/promtool")) {
        EXPECT_NO_THROW(run_tool(dir(), {"/usr/bin/promtool", "check", "rules", rules.string()}));
    }
}

}  // namespace
}  // namespace herald::test
