#pragma once

#include "config/load.hpp"

#include <string>
#include <vector>

namespace herald::cli {

// Each subcommand returns the process exit code: 0 success, 1 runtime failure, 2 bad usage or
// configuration.

// Runs the service until SIGTERM or SIGINT, then drains and exits.
int serve(const std::string& config_file, const config::Overrides& overrides);

// Prints the effective configuration as TOML, secrets masked.
int config_check(const std::string& config_file, const config::Overrides& overrides);

// A small operator client for a running herald. The API key comes from HERALD_API_KEY.
struct SendArguments {
    std::string url = "http://127.0.0.1:8080";
    std::string from;
    std::vector<std::string> to;
    std::vector<std::string> cc;
    std::string subject;
    std::string text;
    std::string html;
};
int send(const SendArguments& arguments);
int status(const std::string& url, const std::string& id);

}  // namespace herald::cli
