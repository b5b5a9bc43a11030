#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herald::test {

struct SmtpSendResult {
    bool ok = false;
    long reply_code = 0;  // the server's last SMTP reply code
    std::string error;    // libcurl's message when !ok
};

// Sends one raw RFC 5322 message (CRLF line ends; curl dot-stuffs it) over plain SMTP to
// 127.0.0.1:port with libcurl. Used to prove the peers without herald. Blocks up to 30 s.
SmtpSendResult send_smtp(std::uint16_t port,
                         std::string_view mail_from,
                         const std::vector<std::string>& recipients,
                         std::string_view message);

}  // namespace herald::test
