#include "config/load.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <cstdlib>
#include <netinet/in.h>
#include <sstream>
#include <unistd.h>

namespace herald::config {
namespace {

using Error = std::string;

// One setting: its key in the TOML file (and, upper-cased with '.' → '_' and a HERALD_ prefix,
// its environment variable), how to set it from text, and how to print it.
struct Field {
    std::string key;
    bool secret = false;
    std::function<std::optional<Error>(Settings&, const std::string&)> set;
    std::function<std::string(const Settings&)> get;
    // When the TOML value is not a plain scalar (a table), this reads it instead of `set`.
    std::function<std::optional<Error>(Settings&, const toml::node&)> set_from_node;
    bool quoted = true;  // printed as a TOML string
};

std::optional<long long> parse_integer(const std::string& text) {
    long long value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || text.empty()) {
        return std::nullopt;
    }
    return value;
}

template <typename Member>
Field text_field(std::string key, Member member, bool secret = false) {
    return Field{std::move(key),
                 secret,
                 [member](Settings& s, const std::string& v) -> std::optional<Error> {
                     member(s) = v;
                     return std::nullopt;
                 },
                 [member](const Settings& s) { return member(const_cast<Settings&>(s)); },
                 nullptr};
}

template <typename Member>
Field integer_field(std::string key, Member member, long long min, long long max) {
    return Field{
        std::move(key),
        false,
        [member, min, max](Settings& s, const std::string& v) -> std::optional<Error> {
            const auto parsed = parse_integer(v);
            if (!parsed || *parsed < min || *parsed > max) {
                return fmt::format("must be an integer from {} to {}", min, max);
            }
            using T = std::remove_reference_t<decltype(member(s))>;
            member(s) = static_cast<T>(*parsed);
            return std::nullopt;
        },
        [member](const Settings& s) { return std::to_string(member(const_cast<Settings&>(s))); },
        nullptr,
        false};
}

// A decimal number ("2.5", "10"); no exponents, no signs, nothing after the digits.
std::optional<double> parse_number(const std::string& text) {
    if (text.empty() || text.find_first_not_of("0123456789.") != std::string::npos ||
        text.front() == '.' || text.back() == '.') {
        return std::nullopt;
    }
    double value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end) {
        return std::nullopt;
    }
    return value;
}

template <typename Member>
Field number_field(std::string key, Member member, double min, double max) {
    return Field{
        std::move(key),
        false,
        [member, min, max](Settings& s, const std::string& v) -> std::optional<Error> {
            const auto parsed = parse_number(v);
            if (!parsed || *parsed < min || *parsed > max) {
                return fmt::format("must be a number from {} to {}", min, max);
            }
            member(s) = *parsed;
            return std::nullopt;
        },
        [member](const Settings& s) { return fmt::format("{}", member(const_cast<Settings&>(s))); },
        nullptr,
        false};
}

template <typename Member>
Field millis_field(std::string key, Member member, long long min, long long max) {
    return Field{std::move(key),
                 false,
                 [member, min, max](Settings& s, const std::string& v) -> std::optional<Error> {
                     const auto parsed = parse_integer(v);
                     if (!parsed || *parsed < min || *parsed > max) {
                         return fmt::format("must be milliseconds from {} to {}", min, max);
                     }
                     member(s) = std::chrono::milliseconds{*parsed};
                     return std::nullopt;
                 },
                 [member](const Settings& s) {
                     return std::to_string(member(const_cast<Settings&>(s)).count());
                 },
                 nullptr,
                 false};
}

template <typename Member>
Field bool_field(std::string key, Member member) {
    return Field{std::move(key),
                 false,
                 [member](Settings& s, const std::string& v) -> std::optional<Error> {
                     if (v == "true" || v == "1") {
                         member(s) = true;
                     } else if (v == "false" || v == "0") {
                         member(s) = false;
                     } else {
                         return Error{"must be true or false"};
                     }
                     return std::nullopt;
                 },
                 [member](const Settings& s) {
                     return std::string{member(const_cast<Settings&>(s)) ? "true" : "false"};
                 },
                 nullptr,
                 false};
}

template <typename Member>
Field choice_field(std::string key, Member member, std::vector<std::string> choices) {
    return Field{std::move(key),
                 false,
                 [member, choices](Settings& s, const std::string& v) -> std::optional<Error> {
                     for (const auto& c : choices) {
                         if (c == v) {
                             member(s) = v;
                             return std::nullopt;
                         }
                     }
                     return fmt::format("must be one of: {}", fmt::join(choices, ", "));
                 },
                 [member](const Settings& s) { return member(const_cast<Settings&>(s)); },
                 nullptr};
}

// `field`, with `check` run on the text before it is set: an error names the setting and the
// place the value came from, like a range error.
Field checked(Field field, std::function<std::optional<Error>(const std::string&)> check) {
    field.set = [set = std::move(field.set), check = std::move(check)](
                    Settings& s, const std::string& v) -> std::optional<Error> {
        if (auto problem = check(v)) {
            return problem;
        }
        return set(s, v);
    };
    return field;
}

// http://HOST[:PORT][/PATH] or https://…: a host, a port from 1 to 65535 when given, and no
// blanks or control characters anywhere.
bool is_http_url(const std::string& text) {
    const std::size_t scheme = text.starts_with("http://")    ? 7
                               : text.starts_with("https://") ? 8
                                                              : 0;
    if (scheme == 0 || std::any_of(text.begin(), text.end(), [](unsigned char c) {
            return c <= ' ' || c == 0x7f;
        })) {
        return false;
    }
    const std::string authority = text.substr(scheme, text.find('/', scheme) - scheme);
    const std::size_t colon = authority.rfind(':');
    const bool bracketed = authority.starts_with('[');
    const bool has_port = colon != std::string::npos && (!bracketed || colon > authority.find(']'));
    const std::string host = has_port ? authority.substr(0, colon) : authority;
    if (host.empty() || host == "[]") {
        return false;
    }
    if (!has_port) {
        return true;
    }
    const auto port = parse_integer(authority.substr(colon + 1));
    return port && *port >= 1 && *port <= 65535;
}

// "key1=client1,key2=client2" (environment) or a TOML table { key1 = "client1" }.
Field api_keys_field() {
    auto parse_pairs = [](Settings& s, const std::string& v) -> std::optional<Error> {
        s.auth.api_keys.clear();
        std::stringstream stream(v);
        std::string pair;
        while (std::getline(stream, pair, ',')) {
            const auto eq = pair.find('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
                return Error{"must be KEY=CLIENT pairs separated by commas"};
            }
            s.auth.api_keys[pair.substr(0, eq)] = pair.substr(eq + 1);
        }
        return std::nullopt;
    };
    auto from_node = [](Settings& s, const toml::node& node) -> std::optional<Error> {
        const auto* table = node.as_table();
        if (table == nullptr) {
            return Error{"must be a table of key = \"client\""};
        }
        s.auth.api_keys.clear();
        for (const auto& [key, value] : *table) {
            const auto client = value.value<std::string>();
            if (!client || client->empty() || key.str().empty()) {
                return Error{"each entry must be key = \"client name\""};
            }
            s.auth.api_keys[std::string{key.str()}] = *client;
        }
        return std::nullopt;
    };
    auto print = [](const Settings& s) {
        std::string out = "{";
        bool first = true;
        for (const auto& [key, client] : s.auth.api_keys) {
            out += fmt::format("{}\"***{}\" = \"{}\"", first ? " " : ", ", key.size(), client);
            first = false;
        }
        return out + (first ? "}" : " }");
    };
    return Field{"auth.api_keys", true, parse_pairs, print, from_node, false};
}

const std::vector<Field>& fields() {
    static const std::vector<Field> kFields = [] {
        std::vector<Field> f;
        // clang-format off
        f.push_back(text_field("server.listen", [](Settings& s) -> auto& { return s.server.listen; }));
        f.push_back(integer_field("server.io_threads", [](Settings& s) -> auto& { return s.server.io_threads; }, 0, 256));
        f.push_back(integer_field("server.max_connections", [](Settings& s) -> auto& { return s.server.max_connections; }, 1, 1000000));
        f.push_back(integer_field("server.max_in_flight", [](Settings& s) -> auto& { return s.server.max_in_flight; }, 1, 1000000));
        f.push_back(millis_field("server.header_timeout_ms", [](Settings& s) -> auto& { return s.server.header_timeout; }, 1, 3600000));
        f.push_back(millis_field("server.body_timeout_ms", [](Settings& s) -> auto& { return s.server.body_timeout; }, 1, 3600000));
        f.push_back(millis_field("server.idle_timeout_ms", [](Settings& s) -> auto& { return s.server.idle_timeout; }, 1, 3600000));
        f.push_back(integer_field("server.max_header_bytes", [](Settings& s) -> auto& { return s.server.max_header_bytes; }, 1024, 1 << 20));
        f.push_back(integer_field("server.max_body_bytes", [](Settings& s) -> auto& { return s.server.max_body_bytes; }, 1024, 64 << 20));
        f.push_back(millis_field("server.drain_timeout_ms", [](Settings& s) -> auto& { return s.server.drain_timeout; }, 0, 3600000));
        f.push_back(millis_field("server.max_wait_ms", [](Settings& s) -> auto& { return s.server.max_wait; }, 0, 600000));
        f.push_back(integer_field("server.max_waiters", [](Settings& s) -> auto& { return s.server.max_waiters; }, 0, 1000000));
        f.push_back(millis_field("server.default_request_timeout_ms", [](Settings& s) -> auto& { return s.server.default_request_timeout; }, 1, 3600000));
        f.push_back(millis_field("server.max_request_timeout_ms", [](Settings& s) -> auto& { return s.server.max_request_timeout; }, 1, 3600000));
        f.push_back(millis_field("server.stall_threshold_ms", [](Settings& s) -> auto& { return s.server.stall_threshold; }, 1, 60000));
        f.push_back(integer_field("limits.max_json_depth", [](Settings& s) -> auto& { return s.limits.max_json_depth; }, 4, 1000));
        f.push_back(integer_field("limits.max_recipients", [](Settings& s) -> auto& { return s.limits.max_recipients; }, 1, 10000));
        f.push_back(integer_field("limits.max_subject_bytes", [](Settings& s) -> auto& { return s.limits.max_subject_bytes; }, 16, 1 << 20));
        f.push_back(integer_field("limits.max_header_value_bytes", [](Settings& s) -> auto& { return s.limits.max_header_value_bytes; }, 16, 1 << 20));
        f.push_back(integer_field("limits.max_headers", [](Settings& s) -> auto& { return s.limits.max_headers; }, 0, 1000));
        f.push_back(text_field("store.url", [](Settings& s) -> auto& { return s.store.url; }));
        f.push_back(integer_field("store.max_batch", [](Settings& s) -> auto& { return s.store.max_batch; }, 1, 100000));
        f.push_back(integer_field("store.max_queue", [](Settings& s) -> auto& { return s.store.max_queue; }, 1, 10000000));
        f.push_back(millis_field("store.busy_timeout_ms", [](Settings& s) -> auto& { return s.store.busy_timeout; }, 0, 600000));
        f.push_back(millis_field("store.queue_target_ms", [](Settings& s) -> auto& { return s.store.queue_target; }, 1, 60000));
        f.push_back(millis_field("store.queue_interval_ms", [](Settings& s) -> auto& { return s.store.queue_interval; }, 1, 600000));
        f.push_back(text_field("delivery.transport", [](Settings& s) -> auto& { return s.delivery.transport; }));
        f.push_back(integer_field("delivery.concurrency", [](Settings& s) -> auto& { return s.delivery.concurrency; }, 1, 10000));
        f.push_back(integer_field("delivery.max_attempts", [](Settings& s) -> auto& { return s.delivery.max_attempts; }, 1, 1000));
        f.push_back(millis_field("delivery.backoff_base_ms", [](Settings& s) -> auto& { return s.delivery.backoff_base; }, 1, 86400000));
        f.push_back(millis_field("delivery.backoff_max_ms", [](Settings& s) -> auto& { return s.delivery.backoff_max; }, 1, 86400000));
        f.push_back(millis_field("delivery.attempt_timeout_ms", [](Settings& s) -> auto& { return s.delivery.attempt_timeout; }, 100, 3600000));
        f.push_back(millis_field("delivery.lease_ms", [](Settings& s) -> auto& { return s.delivery.lease; }, 1000, 86400000));
        f.push_back(millis_field("delivery.poll_interval_ms", [](Settings& s) -> auto& { return s.delivery.poll_interval; }, 10, 3600000));
        f.push_back(integer_field("delivery.max_age_s", [](Settings& s) -> auto& { return s.delivery.max_age_s; }, 0, 2592000));
        // A rate below one send in 1000 s is a mistake (a misplaced decimal point), not a pace.
        f.push_back(checked(number_field("delivery.rate_per_s", [](Settings& s) -> auto& { return s.delivery.rate_per_s; }, 0, 1000000),
                            [](const std::string& v) -> std::optional<Error> {
                                const auto rate = parse_number(v);
                                if (rate && *rate > 0 && *rate < 0.001) {
                                    return Error{"must be 0 (no limit) or a number from 0.001 to 1000000"};
                                }
                                return std::nullopt;
                            }));
        f.push_back(bool_field("delivery.learn_rate", [](Settings& s) -> auto& { return s.delivery.learn_rate; }));
        f.push_back(integer_field("delivery.burst", [](Settings& s) -> auto& { return s.delivery.burst; }, 1, 100000));
        f.push_back(bool_field("delivery.adaptive_concurrency", [](Settings& s) -> auto& { return s.delivery.adaptive_concurrency; }));
        f.push_back(integer_field("delivery.min_concurrency", [](Settings& s) -> auto& { return s.delivery.min_concurrency; }, 1, 10000));
        f.push_back(integer_field("delivery.breaker_failures", [](Settings& s) -> auto& { return s.delivery.breaker_failures; }, 0, 100000));
        f.push_back(integer_field("delivery.breaker_failure_percent", [](Settings& s) -> auto& { return s.delivery.breaker_failure_percent; }, 1, 100));
        f.push_back(integer_field("delivery.breaker_window", [](Settings& s) -> auto& { return s.delivery.breaker_window; }, 1, 10000));
        f.push_back(millis_field("delivery.breaker_open_ms", [](Settings& s) -> auto& { return s.delivery.breaker_open; }, 1, 86400000));
        f.push_back(integer_field("delivery.retry_budget_percent", [](Settings& s) -> auto& { return s.delivery.retry_budget_percent; }, 0, 100));
        f.push_back(number_field("delivery.retry_budget_floor_per_s", [](Settings& s) -> auto& { return s.delivery.retry_budget_floor_per_s; }, 0, 1000000));
        f.push_back(integer_field("delivery.retry_budget_burst", [](Settings& s) -> auto& { return s.delivery.retry_budget_burst; }, 1, 1000000));
        f.push_back(millis_field("delivery.throttle_pause_ms", [](Settings& s) -> auto& { return s.delivery.throttle_pause; }, 1, 86400000));
        f.push_back(millis_field("delivery.throttle_pause_max_ms", [](Settings& s) -> auto& { return s.delivery.throttle_pause_max; }, 1, 86400000));
        f.push_back(millis_field("delivery.retry_after_max_ms", [](Settings& s) -> auto& { return s.delivery.retry_after_max; }, 1000, 86400000));
        f.push_back(bool_field("delivery.paused", [](Settings& s) -> auto& { return s.delivery.paused; }));
        f.push_back(text_field("delivery.message_id_domain", [](Settings& s) -> auto& { return s.delivery.message_id_domain; }));
        f.push_back(text_field("smtp.user", [](Settings& s) -> auto& { return s.delivery.smtp.user; }, true));
        f.push_back(text_field("smtp.password", [](Settings& s) -> auto& { return s.delivery.smtp.password; }, true));
        f.push_back(choice_field("smtp.starttls", [](Settings& s) -> auto& { return s.delivery.smtp.starttls; }, {"off", "opportunistic", "required"}));
        f.push_back(bool_field("smtp.verify_tls", [](Settings& s) -> auto& { return s.delivery.smtp.verify_tls; }));
        f.push_back(text_field("smtp.helo", [](Settings& s) -> auto& { return s.delivery.smtp.helo; }));
        f.push_back(checked(text_field("smtp.transient_replies", [](Settings& s) -> auto& { return s.delivery.smtp.transient_replies; }),
                            [](const std::string& v) -> std::optional<Error> {
                                if (!parse_reply_codes(v)) {
                                    return Error{"must be a comma-separated list of 5xx reply codes"};
                                }
                                return std::nullopt;
                            }));
        f.push_back(text_field("http.token", [](Settings& s) -> auto& { return s.delivery.http.token; }, true));
        f.push_back(bool_field("http.verify_tls", [](Settings& s) -> auto& { return s.delivery.http.verify_tls; }));
        f.push_back(choice_field("http.profile", [](Settings& s) -> auto& { return s.delivery.http.profile; }, {"herald", "sendgrid", "mailgun"}));
        f.push_back(millis_field("idempotency.retention_ms", [](Settings& s) -> auto& { return s.idempotency.retention; }, 1000, 2592000000));
        f.push_back(millis_field("idempotency.content_window_ms", [](Settings& s) -> auto& { return s.idempotency.content_window; }, 0, 86400000));
        f.push_back(millis_field("idempotency.sweep_interval_ms", [](Settings& s) -> auto& { return s.idempotency.sweep_interval; }, 1000, 86400000));
        f.push_back(api_keys_field());
        f.push_back(choice_field("log.level", [](Settings& s) -> auto& { return s.log.level; }, {"debug", "info", "warn", "error"}));
        f.push_back(checked(text_field("telemetry.otlp_endpoint", [](Settings& s) -> auto& { return s.telemetry.otlp_endpoint; }),
                            [](const std::string& v) -> std::optional<Error> {
                                if (!v.empty() && !is_http_url(v)) {
                                    return Error{"must be an http:// or https:// URL (host, optional port 1-65535)"};
                                }
                                return std::nullopt;
                            }));
        f.push_back(text_field("telemetry.service_name", [](Settings& s) -> auto& { return s.telemetry.service_name; }));
        f.push_back(integer_field("telemetry.max_queue_spans", [](Settings& s) -> auto& { return s.telemetry.max_queue_spans; }, 1, 1000000));
        f.push_back(millis_field("telemetry.export_timeout_ms", [](Settings& s) -> auto& { return s.telemetry.export_timeout; }, 10, 600000));
        f.push_back(millis_field("telemetry.sample_interval_ms", [](Settings& s) -> auto& { return s.telemetry.sample_interval; }, 100, 3600000));
        f.push_back(text_field("templates.dir", [](Settings& s) -> auto& { return s.templates_dir; }));
        // clang-format on
        return f;
    }();
    return kFields;
}

const Field* find_field(std::string_view key) {
    for (const auto& field : fields()) {
        if (field.key == key) {
            return &field;
        }
    }
    return nullptr;
}

std::string env_name(const std::string& key) {
    std::string name = "HERALD_";
    for (char c : key) {
        name.push_back(c == '.' ? '_'
                                : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    return name;
}

std::optional<std::string> scalar_text(const toml::node& node) {
    if (const auto* s = node.as_string()) {
        return s->get();
    }
    if (const auto* i = node.as_integer()) {
        return std::to_string(i->get());
    }
    if (const auto* b = node.as_boolean()) {
        return std::string{b->get() ? "true" : "false"};
    }
    if (const auto* f = node.as_floating_point()) {
        return fmt::format("{}", f->get());
    }
    return std::nullopt;
}

std::optional<Error> apply_toml(Settings& settings, const std::string& path) {
    toml::table root;
    try {
        root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        return fmt::format(
            "config file {}: {} (line {})", path, e.description(), e.source().begin.line);
    }
    std::optional<Error> problem;
    // Walks leaves of the top two levels: "section.key" (and "auth.api_keys" as a whole table).
    for (const auto& [section_name, section] : root) {
        const auto* table = section.as_table();
        if (table == nullptr) {
            return fmt::format(
                "config file {}: '{}' must be a [section]", path, section_name.str());
        }
        for (const auto& [key, value] : *table) {
            const std::string full = fmt::format("{}.{}", section_name.str(), key.str());
            const Field* field = find_field(full);
            if (field == nullptr) {
                return fmt::format("config file {}: unknown setting '{}'", path, full);
            }
            if (field->set_from_node && value.is_table()) {
                problem = field->set_from_node(settings, value);
            } else if (field->quoted != value.is_string()) {
                problem = Error{field->quoted ? "must be a string" : "must not be a string"};
            } else if (auto text = scalar_text(value)) {
                problem = field->set(settings, *text);
            } else {
                problem = Error{"has the wrong type"};
            }
            if (problem) {
                return fmt::format("config file {}: {} {}", path, full, *problem);
            }
        }
    }
    return std::nullopt;
}

bool is_ip_literal(const std::string& host) {
    unsigned char buffer[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// "smtp://HOST[:PORT]": a host, an optional numeric port, nothing after it.
bool is_smtp_url(const std::string& url) {
    const auto rest = url.substr(url.find("://") + 3);
    if (rest.empty() || rest.find('/') != std::string::npos || rest.front() == ':') {
        return false;
    }
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos || rest.find(']', colon) != std::string::npos) {
        return true;
    }
    const auto port = parse_integer(rest.substr(colon + 1));
    return port && *port > 0 && *port <= 65535;
}

// "http[s]://HOST[:PORT]/…/DOMAIN/messages": Mailgun's send endpoint names the sending domain
// in its path (/v3/DOMAIN/messages); a query or fragment is not part of it.
bool is_mailgun_url(const std::string& url) {
    const auto host_end = url.find('/', url.find("://") + 3);
    if (host_end == std::string::npos) {
        return false;
    }
    const std::string path = url.substr(host_end, url.find_first_of("?#", host_end) - host_end);
    constexpr std::string_view kSuffix = "/messages";
    if (!path.ends_with(kSuffix)) {
        return false;
    }
    const std::string before = path.substr(0, path.size() - kSuffix.size());
    const auto slash = before.rfind('/');
    const std::string domain = before.substr(slash + 1);
    return !domain.empty() && domain.find('.') != std::string::npos;
}

std::optional<Error> check_consistency(const Settings& s) {
    auto hp = split_host_port(s.server.listen);
    if (!hp) {
        return fmt::format("server.listen {}", hp.error());
    }
    if (hp->first != "localhost" && !is_ip_literal(hp->first)) {
        return Error{"server.listen must name an IP address (or localhost), not a host name"};
    }
    if (!s.store.url.starts_with("sqlite:") || s.store.url.size() == 7) {
        return Error{"store.url must be sqlite:PATH"};
    }
    const auto& t = s.delivery.transport;
    const bool known = (t.starts_with("maildir:") && t.size() > 8) || t.starts_with("smtp://") ||
                       t.starts_with("smtps://") || t.starts_with("http://") ||
                       t.starts_with("https://");
    if (!known) {
        return Error{
            "delivery.transport must be maildir:PATH, smtp://HOST:PORT, smtps://HOST:PORT, "
            "http://URL or https://URL"};
    }
    if ((t.starts_with("smtp://") || t.starts_with("smtps://")) && !is_smtp_url(t)) {
        return Error{"delivery.transport must be smtp://HOST:PORT (no path; HELO is smtp.helo)"};
    }
    if ((t.starts_with("http://") && t.size() == 7) ||
        (t.starts_with("https://") && t.size() == 8)) {
        return Error{"delivery.transport needs a host after http:// or https://"};
    }
    if (s.delivery.http.profile == "mailgun" &&
        (t.starts_with("http://") || t.starts_with("https://")) && !is_mailgun_url(t)) {
        return Error{
            "http.profile = \"mailgun\" needs delivery.transport to name the sending domain: "
            "https://HOST/v3/DOMAIN/messages"};
    }
    if (s.delivery.throttle_pause_max < s.delivery.throttle_pause) {
        return Error{"delivery.throttle_pause_max_ms must not be below delivery.throttle_pause_ms"};
    }
    if (s.delivery.min_concurrency > s.delivery.concurrency) {
        return Error{"delivery.min_concurrency must not be above delivery.concurrency"};
    }
    if (s.delivery.backoff_max < s.delivery.backoff_base) {
        return Error{"delivery.backoff_max_ms must not be below delivery.backoff_base_ms"};
    }
    return std::nullopt;
}

// The body of a TOML basic string.
std::string toml_escape(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c < 0x20 || c == 0x7f) {
            out += fmt::format("\\u{:04X}", c);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    return out;
}

}  // namespace

std::vector<std::string> environment_names() {
    std::vector<std::string> names;
    for (const auto& field : fields()) {
        names.push_back(env_name(field.key));
    }
    return names;
}

std::vector<std::string> process_environment_names() {
    std::vector<std::string> names;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        const std::string_view variable{*entry};
        names.emplace_back(variable.substr(0, variable.find('=')));
    }
    return names;
}

std::optional<std::string> check_environment_names(const std::vector<std::string>& names) {
    std::vector<std::string> prefixes;
    for (const auto& field : fields()) {
        const std::string section = field.key.substr(0, field.key.find('.') + 1);  // "delivery."
        const std::string prefix = env_name(section);  // HERALD_DELIVERY_
        if (std::find(prefixes.begin(), prefixes.end(), prefix) == prefixes.end()) {
            prefixes.push_back(prefix);
        }
    }
    const auto known = environment_names();
    for (const std::string& name : names) {
        const bool in_a_section = std::any_of(
            prefixes.begin(), prefixes.end(), [&](const auto& p) { return name.starts_with(p); });
        if (in_a_section && std::find(known.begin(), known.end(), name) == known.end()) {
            return fmt::format("environment {}: no such setting (see herald config check)", name);
        }
    }
    return std::nullopt;
}

EnvLookup process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) {
            return std::nullopt;
        }
        return std::string{value};
    };
}

boost::system::result<std::pair<std::string, unsigned short>, std::string> split_host_port(
    const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        return std::string{"must be HOST:PORT"};
    }
    std::string host = text.substr(0, colon);
    if (host.front() == '[') {
        if (host.back() != ']') {
            return std::string{"must be HOST:PORT or [IPV6]:PORT"};
        }
        host = host.substr(1, host.size() - 2);
    }
    const auto port = parse_integer(text.substr(colon + 1));
    if (!port || *port < 0 || *port > 65535) {
        return std::string{"has an invalid port"};
    }
    return std::pair{host, static_cast<unsigned short>(*port)};
}

std::optional<std::vector<int>> parse_reply_codes(const std::string& text) {
    std::vector<int> codes;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        std::string item = text.substr(start, comma - start);
        const auto first = item.find_first_not_of(" \t");
        const auto last = item.find_last_not_of(" \t");
        item = first == std::string::npos ? std::string{} : item.substr(first, last - first + 1);
        if (item.empty()) {
            if (text.find_first_not_of(" \t") != std::string::npos) {
                return std::nullopt;  // an empty item between commas
            }
            return codes;
        }
        const auto code = parse_integer(item);
        if (!code || *code < 500 || *code > 599) {
            return std::nullopt;
        }
        codes.push_back(static_cast<int>(*code));
        start = comma + 1;
    }
    return codes;
}

boost::system::result<Settings, std::string> load_settings(const std::string& config_file,
                                                           const EnvLookup& env,
                                                           const Overrides& overrides) {
    Settings settings;
    if (!config_file.empty()) {
        if (auto problem = apply_toml(settings, config_file)) {
            return *problem;
        }
    }

    // The OpenTelemetry SDKs' standard variables, below herald's own (HERALD_TELEMETRY_…).
    for (const auto& [name, key] :
         {std::pair{"OTEL_EXPORTER_OTLP_ENDPOINT", "telemetry.otlp_endpoint"},
          std::pair{"OTEL_SERVICE_NAME", "telemetry.service_name"}}) {
        if (auto value = env(name); value && !value->empty()) {
            if (auto problem = find_field(key)->set(settings, *value)) {
                return fmt::format("environment {}: {}", name, *problem);
            }
        }
    }
    for (const auto& field : fields()) {
        const std::string name = env_name(field.key);
        if (auto value = env(name)) {
            if (auto problem = field.set(settings, *value)) {
                return fmt::format("environment {}: {}", name, *problem);
            }
        }
    }

    auto apply_flag = [&](const char* key, const std::string& value) -> std::optional<Error> {
        if (auto problem = find_field(key)->set(settings, value)) {
            return fmt::format("flag for {}: {}", key, *problem);
        }
        return std::nullopt;
    };
    for (const auto& assignment : overrides.assignments) {
        const auto eq = assignment.find('=');
        const Field* field =
            eq == std::string::npos ? nullptr : find_field(assignment.substr(0, eq));
        if (field == nullptr) {
            return fmt::format("--set {}: unknown setting (expected KEY=VALUE)", assignment);
        }
        if (field->secret) {
            return fmt::format(
                "--set {}: secrets are read from the config file or environment only", field->key);
        }
        if (auto problem = field->set(settings, assignment.substr(eq + 1))) {
            return fmt::format("--set {}: {}", field->key, *problem);
        }
    }
    std::optional<Error> problem;
    if (overrides.listen && (problem = apply_flag("server.listen", *overrides.listen))) {
        return *problem;
    }
    if (overrides.store && (problem = apply_flag("store.url", *overrides.store))) {
        return *problem;
    }
    if (overrides.transport && (problem = apply_flag("delivery.transport", *overrides.transport))) {
        return *problem;
    }
    if (overrides.io_threads &&
        (problem = apply_flag("server.io_threads", std::to_string(*overrides.io_threads)))) {
        return *problem;
    }
    if (overrides.log_level && (problem = apply_flag("log.level", *overrides.log_level))) {
        return *problem;
    }
    if (overrides.otlp_endpoint &&
        (problem = apply_flag("telemetry.otlp_endpoint", *overrides.otlp_endpoint))) {
        return *problem;
    }

    if (auto inconsistency = check_consistency(settings)) {
        return *inconsistency;
    }
    return settings;
}

std::string describe(const Settings& settings) {
    std::string out;
    std::string section;
    for (const auto& field : fields()) {
        const auto dot = field.key.find('.');
        const std::string this_section = field.key.substr(0, dot);
        if (this_section != section) {
            out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", this_section);
            section = this_section;
        }
        std::string value = field.get(settings);
        const bool is_table = field.set_from_node != nullptr;
        if (field.secret && !is_table) {
            value = value.empty() ? "" : "***";
        }
        if (is_table || !field.quoted) {
            out += fmt::format("{} = {}\n", field.key.substr(dot + 1), value);
        } else {
            out += fmt::format("{} = \"{}\"\n", field.key.substr(dot + 1), toml_escape(value));
        }
    }
    return out;
}

}  // namespace herald::config
