#pragma once

#include <filesystem>

namespace herald::test {

// The source tree's root (fixed at configure time) and the npm peers under tools/node, which
// scripts/setup-deps.sh installs.
std::filesystem::path repo_root();
std::filesystem::path node_tools_dir();
std::filesystem::path maildev_binary();
std::filesystem::path parse_mail_script();

// True when tools/node/node_modules holds maildev and mailparser.
bool node_peers_installed();

}  // namespace herald::test
