#include "support/process.hpp"

#include <errno.h>
#include <fcntl.h>
#include <fstream>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace herald::test {
namespace {

std::string find_in_path(const std::string& name) {
    if (name.find('/') != std::string::npos) {
        return name;
    }
    const char* path = ::getenv("PATH");
    std::stringstream dirs{path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin"};
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const std::string candidate = (dir.empty() ? std::string{"."} : dir) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    return name;
}

std::vector<std::string> merged_environment(const ProcessOptions& options) {
    std::map<std::string, std::string> env;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        const std::string text{*entry};
        const auto eq = text.find('=');
        if (eq == std::string::npos) {
            continue;
        }
        env[text.substr(0, eq)] = text.substr(eq + 1);
    }
    for (const auto& name : options.unset_env) {
        env.erase(name);
    }
    for (const auto& [name, value] : options.env) {
        env[name] = value;
    }
    std::vector<std::string> out;
    out.reserve(env.size());
    for (const auto& [name, value] : env) {
        out.push_back(name + "=" + value);
    }
    return out;
}

int open_or_throw(const std::filesystem::path& path, int flags) {
    const std::string name = path.empty() ? std::string{"/dev/null"} : path.string();
    const int fd = ::open(name.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw std::runtime_error("cannot open " + name + ": " + ::strerror(errno));
    }
    return fd;
}

// Only async-signal-safe calls between fork and exec: the test process may have threads.
[[noreturn]] void exec_child(pid_t parent,
                             int in_fd,
                             int out_fd,
                             int err_fd,
                             int report_fd,
                             const char* cwd,
                             const char* program,
                             char* const* argv,
                             char* const* envp) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
        ::_exit(127);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) {
        ::signal(sig, SIG_DFL);
    }
    if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) {
        const int error = errno;
        (void)!::write(report_fd, &error, sizeof error);
        ::_exit(127);
    }
    if (cwd != nullptr && ::chdir(cwd) != 0) {
        const int error = errno;
        (void)!::write(report_fd, &error, sizeof error);
        ::_exit(127);
    }
    ::execve(program, argv, envp);
    const int error = errno;
    (void)!::write(report_fd, &error, sizeof error);
    ::_exit(127);
}

}  // namespace

std::string ExitStatus::describe() const {
    if (exited) {
        return "exited with code " + std::to_string(code);
    }
    if (signal != 0) {
        return std::string{"killed by signal "} + std::to_string(signal) + " (" +
               ::strsignal(signal) + ")";
    }
    return "still running";
}

Process Process::start(const ProcessOptions& options) {
    if (options.argv.empty()) {
        throw std::invalid_argument("Process::start: empty argv");
    }
    ignore_sigpipe();

    const std::string program = find_in_path(options.argv.front());
    std::vector<std::string> args = options.argv;
    std::vector<char*> argv;
    for (auto& arg : args) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    std::vector<std::string> env = merged_environment(options);
    std::vector<char*> envp;
    for (auto& entry : env) {
        envp.push_back(entry.data());
    }
    envp.push_back(nullptr);
    const std::string cwd = options.cwd.string();

    const int in_fd = open_or_throw(options.stdin_path, O_RDONLY);
    const int out_fd = open_or_throw(options.stdout_path, O_WRONLY | O_CREAT | O_APPEND);
    const int err_fd = open_or_throw(options.stderr_path, O_WRONLY | O_CREAT | O_APPEND);
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string{"pipe2: "} + ::strerror(errno));
    }

    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        exec_child(parent,
                   in_fd,
                   out_fd,
                   err_fd,
                   report[1],
                   cwd.empty() ? nullptr : cwd.c_str(),
                   program.c_str(),
                   argv.data(),
                   envp.data());
    }
    const int fork_error = errno;
    ::close(in_fd);
    ::close(out_fd);
    ::close(err_fd);
    ::close(report[1]);
    if (pid < 0) {
        ::close(report[0]);
        throw std::runtime_error(std::string{"fork: "} + ::strerror(fork_error));
    }

    int child_error = 0;
    ssize_t got = 0;
    do {
        got = ::read(report[0], &child_error, sizeof child_error);
    } while (got < 0 && errno == EINTR);
    ::close(report[0]);

    Process process;
    process.options_ = options;
    process.pid_ = pid;
    if (got == static_cast<ssize_t>(sizeof child_error)) {
        process.kill_and_wait();
        throw std::runtime_error("cannot run " + program + ": " + ::strerror(child_error));
    }
    return process;
}

Process::Process(Process&& other) noexcept
    : options_(std::move(other.options_)), pid_(other.pid_), status_(other.status_) {
    other.pid_ = -1;
    other.status_.reset();
}

Process& Process::operator=(Process&& other) noexcept {
    if (this != &other) {
        if (started()) {
            kill_and_wait();
        }
        options_ = std::move(other.options_);
        pid_ = other.pid_;
        status_ = other.status_;
        other.pid_ = -1;
        other.status_.reset();
    }
    return *this;
}

Process::~Process() {
    if (started()) {
        kill_and_wait();
    }
}

void Process::reap(int wait_status) {
    ExitStatus status;
    if (WIFEXITED(wait_status)) {
        status.exited = true;
        status.code = WEXITSTATUS(wait_status);
    } else if (WIFSIGNALED(wait_status)) {
        status.signal = WTERMSIG(wait_status);
    }
    status_ = status;
}

bool Process::running() {
    if (!started() || status_) {
        return false;
    }
    int wait_status = 0;
    const pid_t got = ::waitpid(pid_, &wait_status, WNOHANG);
    if (got == pid_) {
        reap(wait_status);
        return false;
    }
    return got == 0;
}

bool Process::signal(int sig) {
    if (!running()) {
        return false;
    }
    return ::kill(pid_, sig) == 0;
}

std::optional<ExitStatus> Process::wait_for(std::chrono::milliseconds cap) {
    const auto deadline = std::chrono::steady_clock::now() + cap;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    return status_;
}

ExitStatus Process::kill_and_wait() {
    if (running()) {
        ::kill(pid_, SIGKILL);
        int wait_status = 0;
        pid_t got = 0;
        do {
            got = ::waitpid(pid_, &wait_status, 0);
        } while (got < 0 && errno == EINTR);
        if (got == pid_) {
            reap(wait_status);
        }
    }
    return status_.value_or(ExitStatus{});
}

std::string Process::stdout_text() const {
    return options_.stdout_path.empty() ? std::string{} : read_file(options_.stdout_path);
}

std::string Process::stderr_text() const {
    return options_.stderr_path.empty() ? std::string{} : read_file(options_.stderr_path);
}

void ignore_sigpipe() {
    struct sigaction action {};
    action.sa_handler = SIG_IGN;
    ::sigemptyset(&action.sa_mask);
    ::sigaction(SIGPIPE, &action, nullptr);
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in{path, std::ios::binary};
    if (!in) {
        return {};
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string tail(const std::string& text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) {
        return text;
    }
    return "…" + text.substr(text.size() - max_bytes);
}

}  // namespace herald::test
