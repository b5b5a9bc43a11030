#include "support/mockmail_peer.hpp"

#include "support/http_client.hpp"
#include "support/json_util.hpp"
#include "support/net.hpp"
#include "support/wait.hpp"

#include <atomic>
#include <stdexcept>

namespace herald::test {

MockmailPeer::MockmailPeer(const std::filesystem::path& work_dir, MockmailOptions options) {
    if (options.binary.empty() || !std::filesystem::exists(options.binary)) {
        throw std::runtime_error("herald-mockmail binary not found: " + options.binary.string());
    }
    static std::atomic<int> instance{0};
    const int attempts = options.port == 0 ? 3 : 1;
    std::string last_failure;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        port_ = options.port != 0 ? options.port : free_port();
        const auto dir = work_dir / ("mockmail-" + std::to_string(instance++));
        std::filesystem::create_directories(dir);

        ProcessOptions spawn;
        spawn.argv = {options.binary.string(), "--listen", "127.0.0.1:" + std::to_string(port_)};
        const auto add = [&](const char* flag, const std::optional<int>& value) {
            if (value) {
                spawn.argv.push_back(flag);
                spawn.argv.push_back(std::to_string(*value));
            }
        };
        add("--latency-ms", options.latency_ms);
        add("--latency-count", options.latency_count);
        add("--fail-status", options.fail_status);
        add("--fail-count", options.fail_count);
        add("--drop-count", options.drop_count);
        add("--fail-for-ms", options.fail_for_ms);
        if (options.retry_after) {
            spawn.argv.push_back("--retry-after");
            spawn.argv.push_back(*options.retry_after);
        }
        if (options.rate_limit) {
            spawn.argv.push_back("--rate-limit");
            spawn.argv.push_back(std::to_string(*options.rate_limit));
        }
        add("--rate-burst", options.rate_burst);
        spawn.cwd = dir;
        spawn.stdout_path = dir / "stdout.log";
        spawn.stderr_path = dir / "stderr.log";
        process_ = Process::start(spawn);

        // Ready when it has announced {"listening":…} and the port answers a GET.
        const bool ready = wait_until(
            [&] {
                if (!process_.running()) {
                    return true;
                }
                if (process_.stdout_text().find("\"listening\"") == std::string::npos) {
                    return false;
                }
                HttpClient client{base_url()};
                return client.get("/stats").status == 200;
            },
            std::chrono::seconds{30},
            std::chrono::milliseconds{50});
        if (ready && process_.running()) {
            return;
        }
        last_failure =
            (ready ? process_.exit_status()->describe() : std::string{"not ready"}) + "\n" + log();
        process_.kill_and_wait();
    }
    throw std::runtime_error("herald-mockmail did not start: " + last_failure);
}

MockmailPeer::~MockmailPeer() {
    process_.kill_and_wait();
}

boost::json::array MockmailPeer::calls() {
    HttpClient client{base_url()};
    const auto response = client.get("/calls");
    auto json = response.json();
    if (response.status != 200 || !json || !json->is_array()) {
        throw std::runtime_error("mockmail GET /calls: " + response.describe());
    }
    return std::move(json->as_array());
}

boost::json::value MockmailPeer::stats() {
    HttpClient client{base_url()};
    const auto response = client.get("/stats");
    auto json = response.json();
    if (response.status != 200 || !json) {
        throw std::runtime_error("mockmail GET /stats: " + response.describe());
    }
    return std::move(*json);
}

std::map<std::string, std::int64_t> MockmailPeer::key_counts() {
    HttpClient client{base_url()};
    const auto response = client.get("/keys");
    auto json = response.json();
    if (response.status != 200 || !json || !json->is_object()) {
        throw std::runtime_error("mockmail GET /keys: " + response.describe());
    }
    std::map<std::string, std::int64_t> counts;
    for (const auto& [key, count] : json->as_object()) {
        counts[std::string{key}] = count.is_number() ? count.to_number<std::int64_t>() : 0;
    }
    return counts;
}

void MockmailPeer::clear() {
    HttpClient client{base_url()};
    const auto response = client.del("/calls");
    if (response.status / 100 != 2) {
        throw std::runtime_error("mockmail DELETE /calls: " + response.describe());
    }
}

std::string MockmailPeer::log() const {
    return "mockmail stdout: " + tail(process_.stdout_text()) +
           "\nmockmail stderr: " + tail(process_.stderr_text());
}

}  // namespace herald::test
