#include "cli/commands.hpp"
#include "core/ids.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <curl/curl.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace herald::cli {
namespace {

struct Reply {
    long status = 0;
    std::string body;
    std::string error;
};

std::size_t collect(char* data, std::size_t size, std::size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

// One blocking HTTP exchange; fine here: the client is a short-lived command, not the server.
Reply exchange(const std::string& method, const std::string& url, const std::string& body) {
    Reply reply;
    CURL* curl = curl_easy_init();
    if (curl == nullptr) {
        reply.error = "cannot initialise libcurl";
        return reply;
    }
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json");
    std::string authorization;
    if (const char* key = std::getenv("HERALD_API_KEY"); key != nullptr && *key != '\0') {
        authorization = std::string{"Authorization: Bearer "} + key;
        headers = curl_slist_append(headers, authorization.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
    if (method == "POST") {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    const CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK) {
        reply.error = curl_easy_strerror(code);
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return reply;
}

int print_reply(const Reply& reply, long expected_low, long expected_high) {
    if (!reply.error.empty()) {
        std::cerr << "herald: " << reply.error << "\n";
        return 1;
    }
    std::cout << reply.body << "\n";
    return reply.status >= expected_low && reply.status <= expected_high ? 0 : 1;
}

std::string trim_slash(std::string url) {
    while (!url.empty() && url.back() == '/') {
        url.pop_back();
    }
    return url;
}

}  // namespace

int send(const SendArguments& arguments) {
    boost::json::object body;
    body["from"] = arguments.from;
    boost::json::array to(arguments.to.begin(), arguments.to.end());
    body["to"] = std::move(to);
    if (!arguments.cc.empty()) {
        body["cc"] = boost::json::array(arguments.cc.begin(), arguments.cc.end());
    }
    body["subject"] = arguments.subject;
    if (!arguments.text.empty()) {
        body["text"] = arguments.text;
    }
    if (!arguments.html.empty()) {
        body["html"] = arguments.html;
    }
    const Reply reply = exchange(
        "POST", trim_slash(arguments.url) + "/v1/notifications", boost::json::serialize(body));
    return print_reply(reply, 200, 299);
}

int status(const std::string& url, const std::string& id) {
    if (!core::looks_like_uuid(id)) {
        std::cerr << "herald: '" << id << "' is not a notification id\n";
        return 2;
    }
    const Reply reply = exchange("GET", trim_slash(url) + "/v1/notifications/" + id, "");
    return print_reply(reply, 200, 299);
}

int config_check(const std::string& config_file, const config::Overrides& overrides) {
    if (auto misspelt = config::check_environment_names(config::process_environment_names())) {
        std::cerr << "herald: configuration error: " << *misspelt << "\n";
        return 2;
    }
    auto settings = config::load_settings(config_file, config::process_environment(), overrides);
    if (!settings) {
        std::cerr << "herald: configuration error: " << settings.error() << "\n";
        return 2;
    }
    std::cout << config::describe(*settings);
    return 0;
}

}  // namespace herald::cli
