#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace herald::test {

// How to start a child process.
struct ProcessOptions {
    std::vector<std::string> argv;           // argv[0]: a path, or a name looked up in PATH
    std::map<std::string, std::string> env;  // added to (or replacing) the test's environment
    std::vector<std::string> unset_env;      // removed from the inherited environment
    std::filesystem::path cwd;               // empty: the test's working directory
    std::filesystem::path stdin_path;        // empty: /dev/null
    std::filesystem::path stdout_path;       // empty: /dev/null; appended to, never truncated
    std::filesystem::path stderr_path;       // empty: /dev/null; appended to, never truncated
};

// How a child ended.
struct ExitStatus {
    bool exited = false;  // returned from main / called exit
    int code = -1;        // exit code when `exited`
    int signal = 0;       // the terminating signal otherwise
    std::string describe() const;
};

// One child process started with fork/exec. The child gets default signal dispositions (the
// test's ignored SIGPIPE is not inherited), an empty signal mask, and SIGKILL when the test
// process dies (PR_SET_PDEATHSIG), so no peer outlives a crashed test. The destructor SIGKILLs
// and reaps the child if it still runs: a Process only ever signals the pid it started.
// Not thread-safe; move-only. start() throws std::runtime_error when the program cannot run.
class Process {
public:
    static Process start(const ProcessOptions& options);

    Process() = default;
    Process(Process&& other) noexcept;
    Process& operator=(Process&& other) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    ~Process();

    pid_t pid() const { return pid_; }
    bool started() const { return pid_ > 0; }
    // False once the child has exited (it is then reaped and its status kept).
    bool running();
    std::optional<ExitStatus> exit_status() const { return status_; }

    // Sends `sig` to the child if it still runs. Returns false when it has already ended.
    bool signal(int sig);
    // Waits up to `cap` for the child to end. nullopt when it still runs.
    std::optional<ExitStatus> wait_for(std::chrono::milliseconds cap);
    // SIGKILL, then wait (a killed process always ends). No-op when it has already ended.
    ExitStatus kill_and_wait();

    const ProcessOptions& options() const { return options_; }
    // What the child wrote so far (empty when the stream went to /dev/null).
    std::string stdout_text() const;
    std::string stderr_text() const;

private:
    void reap(int wait_status);

    ProcessOptions options_;
    pid_t pid_ = -1;
    std::optional<ExitStatus> status_;
};

// Makes SIGPIPE harmless in the test process (writes to a closed peer then fail with EPIPE).
// Idempotent.
void ignore_sigpipe();

// The whole content of a file, or "" when it cannot be read.
std::string read_file(const std::filesystem::path& path);
// The last `max_bytes` of a text (for failure messages).
std::string tail(const std::string& text, std::size_t max_bytes = 4000);

}  // namespace herald::test
