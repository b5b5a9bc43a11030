#include "support/smtp_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace herald::test {
namespace {

struct Upload {
    std::string_view data;
    std::size_t offset = 0;
};

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
    auto* upload = static_cast<Upload*>(user);
    const std::size_t n = std::min(size * count, upload->data.size() - upload->offset);
    std::memcpy(buffer, upload->data.data() + upload->offset, n);
    upload->offset += n;
    return n;
}

}  // namespace

SmtpSendResult send_smtp(std::uint16_t port,
                         std::string_view mail_from,
                         const std::vector<std::string>& recipients,
                         std::string_view message) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });

    SmtpSendResult result;
    CURL* curl = curl_easy_init();
    if (curl == nullptr) {
        result.error = "curl_easy_init failed";
        return result;
    }
    const std::string url = "smtp://127.0.0.1:" + std::to_string(port);
    const std::string from = "<" + std::string{mail_from} + ">";
    curl_slist* rcpt = nullptr;
    for (const auto& recipient : recipients) {
        rcpt = curl_slist_append(rcpt, ("<" + recipient + ">").c_str());
    }
    Upload upload{message, 0};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &on_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    const CURLcode code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.reply_code);
    result.ok = code == CURLE_OK;
    if (!result.ok) {
        result.error = curl_easy_strerror(code);
    }
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(curl);
    return result;
}

}  // namespace herald::test
