#include "support/paths.hpp"

#include <system_error>

namespace herald::test {

std::filesystem::path repo_root() {
    return std::filesystem::path{HERALD_REPO_ROOT};
}

std::filesystem::path node_tools_dir() {
    return repo_root() / "tools" / "node";
}

std::filesystem::path maildev_binary() {
    return node_tools_dir() / "node_modules" / ".bin" / "maildev";
}

std::filesystem::path parse_mail_script() {
    return node_tools_dir() / "parse-mail.js";
}

bool node_peers_installed() {
    std::error_code ec;
    return std::filesystem::exists(maildev_binary(), ec) &&
           std::filesystem::exists(node_tools_dir() / "node_modules" / "mailparser", ec);
}

}  // namespace herald::test
