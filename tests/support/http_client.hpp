#pragma once

#include "support/headers.hpp"

#include <boost/json/value.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::test {

struct HttpResponse {
    int status = 0;  // 0: no response (see `error`)
    Headers headers;
    std::string body;
    std::string error;  // libcurl's message when the exchange failed

    // The body parsed as JSON; nullopt when it is not JSON.
    std::optional<boost::json::value> json() const;
    // "STATUS headers body" for failure messages.
    std::string describe() const;
};

struct HttpRequest {
    std::string method = "GET";
    std::string target;  // "/path?query", appended to the client's base URL
    std::vector<std::pair<std::string, std::string>> headers;  // a value of "" removes a default
    std::string body;
    std::chrono::milliseconds timeout{30000};
};

// A blocking HTTP/1.1 client on libcurl for one server. One easy handle, so consecutive requests
// reuse the connection when the server keeps it alive; connections_opened() tells whether the
// last request opened a new one. curl's default headers that would disturb exact tests
// ("Expect: 100-continue", form content type) are not sent. Not thread-safe; move-only.
class HttpClient {
public:
    explicit HttpClient(std::string base_url);  // "http://127.0.0.1:PORT"
    HttpClient(HttpClient&& other) noexcept;
    HttpClient& operator=(HttpClient&&) = delete;
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;
    ~HttpClient();

    HttpResponse send(const HttpRequest& request);

    HttpResponse get(std::string target,
                     std::vector<std::pair<std::string, std::string>> headers = {});
    HttpResponse post_json(std::string target,
                           std::string body,
                           std::vector<std::pair<std::string, std::string>> headers = {});
    HttpResponse del(std::string target);

    // Connections the last request opened (0 when it reused one).
    long connections_opened() const { return connections_opened_; }
    const std::string& base_url() const { return base_url_; }

private:
    std::string base_url_;
    void* curl_ = nullptr;
    long connections_opened_ = 0;
};

}  // namespace herald::test
