#include "support/herald_peer.hpp"

#include "support/json_util.hpp"
#include "support/net.hpp"

#include <algorithm>
#include <fstream>
#include <signal.h>
#include <stdexcept>

namespace herald::test {

HeraldPeer::HeraldPeer(std::filesystem::path dir, HeraldOptions options)
    : dir_(std::move(dir)), options_(std::move(options)), port_(options_.port) {}

HeraldPeer::~HeraldPeer() {
    process_.kill_and_wait();
}

void HeraldPeer::start() {
    if (process_.running()) {
        throw std::runtime_error("herald is already running");
    }
    if (options_.binary.empty() || !std::filesystem::exists(options_.binary)) {
        throw std::runtime_error("herald binary not found: " + options_.binary.string());
    }
    std::filesystem::create_directories(dir_);
    const std::string transport =
        options_.transport.empty() ? "maildir:" + maildir().string() : options_.transport;

    ProcessOptions spawn;
    spawn.cwd = dir_;
    spawn.stdout_path = dir_ / "herald.out";
    spawn.stderr_path = dir_ / "herald.err";
    spawn.env["HERALD_LOG_LEVEL"] = "debug";
    if (transport.starts_with("smtp://")) {
        spawn.env["HERALD_SMTP_STARTTLS"] = "off";
    }
    for (const auto& [name, value] : options_.env) {
        spawn.env[name] = value;
    }
    std::string config_path;
    if (!options_.config_toml.empty()) {
        config_path = (dir_ / "herald.toml").string();
        std::ofstream{config_path, std::ios::trunc} << options_.config_toml;
    }

    const int attempts = options_.port == 0 ? 3 : 1;
    std::string last_failure;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        if (port_ == 0 || attempt > 0) {
            port_ = free_port();
        }
        spawn.argv = {options_.binary.string(),
                      "serve",
                      "--listen",
                      "127.0.0.1:" + std::to_string(port_),
                      "--store",
                      "sqlite:" + store_path().string(),
                      "--transport",
                      transport};
        if (!config_path.empty()) {
            spawn.argv.push_back("--config");
            spawn.argv.push_back(config_path);
        }
        spawn.argv.insert(spawn.argv.end(), options_.extra_args.begin(), options_.extra_args.end());
        process_ = Process::start(spawn);

        const bool ready = wait_until(
            [&] {
                if (!process_.running()) {
                    return true;
                }
                HttpClient probe{base_url()};
                HttpRequest request;
                request.target = "/healthz";
                request.timeout = std::chrono::seconds{5};
                return probe.send(request).status == 200;
            },
            std::chrono::seconds{30},
            std::chrono::milliseconds{50});
        if (ready && process_.running()) {
            return;
        }
        last_failure =
            (ready ? process_.exit_status()->describe() : std::string{"not ready"}) + "\n" + logs();
        process_.kill_and_wait();
        // Only a lost race for the port is worth another try.
        if (last_failure.find("in use") == std::string::npos &&
            last_failure.find("bind") == std::string::npos) {
            break;
        }
    }
    throw std::runtime_error("herald did not become healthy: " + last_failure);
}

ExitStatus HeraldPeer::kill9() {
    return process_.kill_and_wait();
}

std::optional<ExitStatus> HeraldPeer::terminate(std::chrono::milliseconds cap) {
    process_.signal(SIGTERM);
    return process_.wait_for(cap);
}

HttpResponse HeraldPeer::post_notification(const std::string& body, const HeaderList& headers) {
    return client().post_json("/v1/notifications", body, headers);
}

HttpResponse HeraldPeer::get_notification(const std::string& id, const HeaderList& headers) {
    return client().get("/v1/notifications/" + id, headers);
}

std::optional<boost::json::value> HeraldPeer::wait_for_status(
    const std::string& id,
    const std::vector<std::string>& wanted,
    std::chrono::milliseconds cap,
    const HeaderList& headers) {
    std::optional<boost::json::value> last;
    HttpClient http = client();
    wait_until(
        [&] {
            const auto response = http.get("/v1/notifications/" + id, headers);
            auto json = response.json();
            if (!json) {
                return false;
            }
            last = std::move(json);
            const std::string status = string_at(*last, "status");
            return std::find(wanted.begin(), wanted.end(), status) != wanted.end();
        },
        cap,
        std::chrono::milliseconds{100});
    return last;
}

std::string HeraldPeer::logs() const {
    return "herald stdout: " + tail(read_file(dir_ / "herald.out")) +
           "\nherald stderr: " + tail(read_file(dir_ / "herald.err"), 8000);
}

}  // namespace herald::test
