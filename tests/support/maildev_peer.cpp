#include "support/maildev_peer.hpp"

#include "support/http_client.hpp"
#include "support/json_util.hpp"
#include "support/net.hpp"
#include "support/paths.hpp"

#include <atomic>
#include <stdexcept>

namespace herald::test {
namespace {

std::string join(const std::vector<std::string>& items, char separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) {
            out.push_back(separator);
        }
        out += item;
    }
    return out;
}

}  // namespace

MaildevPeer::MaildevPeer(const std::filesystem::path& work_dir, MaildevOptions options)
    : work_dir_(work_dir) {
    if (!node_peers_installed()) {
        throw std::runtime_error("maildev is not installed under " + node_tools_dir().string() +
                                 ": run scripts/setup-deps.sh");
    }
    static std::atomic<int> instance{0};
    const int attempts = options.smtp_port == 0 || options.web_port == 0 ? 3 : 1;
    std::string last_failure;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        smtp_port_ = options.smtp_port != 0 ? options.smtp_port : free_port();
        web_port_ = options.web_port != 0 ? options.web_port : free_port();
        if (web_port_ == smtp_port_) {
            continue;
        }
        const auto dir = work_dir_ / ("maildev-" + std::to_string(instance++));
        std::filesystem::create_directories(dir / "mail");

        ProcessOptions spawn;
        spawn.argv = {maildev_binary().string(),
                      "--smtp",
                      std::to_string(smtp_port_),
                      "--web",
                      std::to_string(web_port_),
                      "--ip",
                      "127.0.0.1",
                      "--web-ip",
                      "127.0.0.1",
                      "--mail-directory",
                      (dir / "mail").string(),
                      "--silent"};
        if (!options.hide_extensions.empty()) {
            spawn.argv.push_back("--hide-extensions");
            spawn.argv.push_back(join(options.hide_extensions, ','));
        }
        spawn.cwd = dir;
        spawn.stdout_path = dir / "stdout.log";
        spawn.stderr_path = dir / "stderr.log";
        // maildev reads MAILDEV_* variables as defaults; none from the test's environment.
        for (const char* name : {"MAILDEV_SMTP_PORT",
                                 "MAILDEV_WEB_PORT",
                                 "MAILDEV_IP",
                                 "MAILDEV_WEB_IP",
                                 "MAILDEV_OUTGOING_HOST",
                                 "MAILDEV_AUTO_RELAY",
                                 "MAILDEV_INCOMING_USER",
                                 "MAILDEV_INCOMING_PASS",
                                 "MAILDEV_HIDE_EXTENSIONS"}) {
            spawn.unset_env.emplace_back(name);
        }
        process_ = Process::start(spawn);

        const bool ready = wait_until(
            [&] {
                if (!process_.running()) {
                    return true;
                }
                int status = 0;
                web_get("/healthz", status);
                return status == 200 && port_accepts(smtp_port_);
            },
            std::chrono::seconds{60},
            std::chrono::milliseconds{100});
        if (ready && process_.running()) {
            return;
        }
        last_failure =
            (ready ? process_.exit_status()->describe() : std::string{"not ready"}) + "\n" + log();
        process_.kill_and_wait();
    }
    throw std::runtime_error("maildev did not start: " + last_failure);
}

MaildevPeer::~MaildevPeer() {
    process_.kill_and_wait();
}

std::string MaildevPeer::web_get(const std::string& target, int& status) {
    HttpClient client{"http://127.0.0.1:" + std::to_string(web_port_)};
    HttpRequest request;
    request.target = target;
    request.timeout = std::chrono::seconds{30};
    auto response = client.send(request);
    status = response.status;
    return std::move(response.body);
}

std::vector<boost::json::value> MaildevPeer::messages() {
    int status = 0;
    const std::string body = web_get("/email", status);
    auto json = parse_json(body);
    if (status != 200 || !json || !json->is_array()) {
        throw std::runtime_error("maildev GET /email answered " + std::to_string(status) + ": " +
                                 tail(body, 500));
    }
    std::vector<boost::json::value> out;
    for (auto& message : json->as_array()) {
        out.push_back(std::move(message));
    }
    return out;
}

std::string MaildevPeer::raw_source(const std::string& id) {
    int status = 0;
    std::string body = web_get("/email/" + id + "/source", status);
    if (status != 200) {
        throw std::runtime_error("maildev GET /email/" + id + "/source answered " +
                                 std::to_string(status));
    }
    return body;
}

void MaildevPeer::delete_all() {
    HttpClient client{"http://127.0.0.1:" + std::to_string(web_port_)};
    const auto response = client.del("/email/all");
    if (response.status != 200) {
        throw std::runtime_error("maildev DELETE /email/all: " + response.describe());
    }
    wait_until([&] { return messages().empty(); });
}

std::vector<boost::json::value> MaildevPeer::wait_for_messages(std::size_t count,
                                                               std::chrono::milliseconds cap) {
    std::vector<boost::json::value> last;
    wait_until(
        [&] {
            last = messages();
            return last.size() >= count;
        },
        cap,
        std::chrono::milliseconds{100});
    return last;
}

std::string MaildevPeer::log() const {
    return "maildev stdout: " + tail(process_.stdout_text()) +
           "\nmaildev stderr: " + tail(process_.stderr_text());
}

}  // namespace herald::test
