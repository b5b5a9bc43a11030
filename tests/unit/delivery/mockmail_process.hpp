#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <sys/types.h>
#include <vector>

namespace herald::delivery::testing {

// Runs the real herald-mockmail binary on 127.0.0.1 (port 0) for one test, with extra flags
// (e.g. {"--fail-status", "503", "--fail-count", "1"}). The constructor returns once the mock
// printed its listening line; the destructor stops it (SIGTERM) and reaps it.
class MockMailProcess {
public:
    explicit MockMailProcess(std::vector<std::string> flags = {});
    ~MockMailProcess();
    MockMailProcess(const MockMailProcess&) = delete;
    MockMailProcess& operator=(const MockMailProcess&) = delete;

    int port() const { return port_; }
    std::string url(const std::string& path) const;

    // GET path, parsed as JSON (a blocking call; fine on a test thread).
    boost::json::value get(const std::string& path) const;

private:
    pid_t pid_ = -1;
    int port_ = 0;
};

}  // namespace herald::delivery::testing
