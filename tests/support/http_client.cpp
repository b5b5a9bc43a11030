#include "support/http_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <curl/curl.h>

#include <mutex>
#include <stdexcept>

namespace herald::test {
namespace {

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* headers = static_cast<Headers*>(user);
    std::string_view line{data, size * count};
    if (line.starts_with("HTTP/")) {
        headers->clear();  // a new response (after 100 Continue or a redirect)
        return size * count;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
        return size * count;
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ' ||
                              value.back() == '\t')) {
        value.remove_suffix(1);
    }
    headers->add(std::string{line.substr(0, colon)}, std::string{value});
    return size * count;
}

}  // namespace

std::optional<boost::json::value> HttpResponse::json() const {
    boost::system::error_code ec;
    auto value = boost::json::parse(body, ec);
    if (ec) {
        return std::nullopt;
    }
    return value;
}

std::string HttpResponse::describe() const {
    std::string out = "HTTP " + std::to_string(status);
    if (!error.empty()) {
        out += " (error: " + error + ")";
    }
    for (const auto& [name, value] : headers.fields()) {
        out += "\n  " + name + ": " + value;
    }
    out += "\n  body: " + (body.size() > 2000 ? body.substr(0, 2000) + "…" : body);
    return out;
}

HttpClient::HttpClient(std::string base_url) : base_url_(std::move(base_url)) {
    global_init();
    curl_ = curl_easy_init();
    if (curl_ == nullptr) {
        throw std::runtime_error("curl_easy_init failed");
    }
}

HttpClient::HttpClient(HttpClient&& other) noexcept
    : base_url_(std::move(other.base_url_)),
      curl_(other.curl_),
      connections_opened_(other.connections_opened_) {
    other.curl_ = nullptr;
}

HttpClient::~HttpClient() {
    if (curl_ != nullptr) {
        curl_easy_cleanup(static_cast<CURL*>(curl_));
    }
}

HttpResponse HttpClient::send(const HttpRequest& request) {
    auto* curl = static_cast<CURL*>(curl_);
    curl_easy_reset(curl);
    HttpResponse response;
    const std::string url = base_url_ + request.target;

    curl_slist* header_list = nullptr;
    header_list = curl_slist_append(header_list, "Expect:");
    bool has_content_type = false;
    for (const auto& [name, value] : request.headers) {
        has_content_type = has_content_type || Headers::equal(name, "Content-Type");
        const std::string line = value.empty() ? name + ":" : name + ": " + value;
        header_list = curl_slist_append(header_list, line.c_str());
    }
    if (!has_content_type) {
        header_list = curl_slist_append(header_list, "Content-Type:");
    }

    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
    if (request.method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
        request.method == "PATCH") {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(
            curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
        // POSTFIELDS switches the method to POST; CUSTOMREQUEST above keeps the one asked for.
    }

    const CURLcode code = curl_easy_perform(curl);
    curl_slist_free_all(header_list);
    long connects = 0;
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
    connections_opened_ = connects;
    if (code != CURLE_OK) {
        response.error = curl_easy_strerror(code);
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<int>(status);
    return response;
}

HttpResponse HttpClient::get(std::string target,
                             std::vector<std::pair<std::string, std::string>> headers) {
    HttpRequest request;
    request.method = "GET";
    request.target = std::move(target);
    request.headers = std::move(headers);
    return send(request);
}

HttpResponse HttpClient::post_json(std::string target,
                                   std::string body,
                                   std::vector<std::pair<std::string, std::string>> headers) {
    HttpRequest request;
    request.method = "POST";
    request.target = std::move(target);
    request.headers = std::move(headers);
    bool has_content_type = false;
    for (const auto& [name, value] : request.headers) {
        has_content_type = has_content_type || Headers::equal(name, "Content-Type");
    }
    if (!has_content_type) {
        request.headers.emplace_back("Content-Type", "application/json");
    }
    request.body = std::move(body);
    return send(request);
}

HttpResponse HttpClient::del(std::string target) {
    HttpRequest request;
    request.method = "DELETE";
    request.target = std::move(target);
    return send(request);
}

}  // namespace herald::test
