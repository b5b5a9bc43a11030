#include "mockmail_process.hpp"

#include <boost/json/parse.hpp>
#include <curl/curl.h>

#include <cstdio>
#include <signal.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace herald::delivery::testing {
namespace {

std::size_t append(char* data, std::size_t size, std::size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

}  // namespace

MockMailProcess::MockMailProcess(std::vector<std::string> flags) {
    std::vector<std::string> args{HERALD_MOCKMAIL_PATH, "--listen", "127.0.0.1:0"};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (std::string& arg : args) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);

    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) {
        throw std::runtime_error("pipe failed");
    }
    pid_ = fork();
    if (pid_ == 0) {
        // Only async-signal-safe calls until exec. The mock dies with the test process, so a
        // crashed test leaves no server behind.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(pipe_fds[1], STDOUT_FILENO);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        execv(argv[0], argv.data());
        _exit(127);
    }
    close(pipe_fds[1]);
    if (pid_ < 0) {
        close(pipe_fds[0]);
        throw std::runtime_error("cannot start herald-mockmail");
    }

    // {"listening":"127.0.0.1:PORT"}; EOF here means the mock died.
    FILE* out = fdopen(pipe_fds[0], "r");
    char line[256] = {};
    const bool got_line = fgets(line, sizeof(line), out) != nullptr;
    fclose(out);
    if (!got_line) {
        throw std::runtime_error("herald-mockmail printed nothing");
    }
    const auto listening = boost::json::parse(line).as_object().at("listening").as_string();
    const std::string address(listening.data(), listening.size());
    port_ = std::stoi(address.substr(address.rfind(':') + 1));
}

MockMailProcess::~MockMailProcess() {
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        int status = 0;
        waitpid(pid_, &status, 0);
    }
}

std::string MockMailProcess::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}

boost::json::value MockMailProcess::get(const std::string& path) const {
    CURL* easy = curl_easy_init();
    std::string body;
    const std::string target = url(path);
    curl_easy_setopt(easy, CURLOPT_URL, target.c_str());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &append);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    const CURLcode code = curl_easy_perform(easy);
    curl_easy_cleanup(easy);
    if (code != CURLE_OK) {
        throw std::runtime_error(std::string("GET failed: ") + curl_easy_strerror(code));
    }
    return boost::json::parse(body);
}

}  // namespace herald::delivery::testing
