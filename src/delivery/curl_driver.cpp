#include "delivery/curl_driver.hpp"

#include "core/thread_name.hpp"

#include <mutex>
#include <stdexcept>

namespace herald::delivery {
namespace {

// The longest curl_multi_poll sleeps when nothing happens. Only a safety net: new work wakes it
// through curl_multi_wakeup, and curl shortens the wait to its own next timeout.
constexpr int kPollTimeoutMs = 1000;

void global_init_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw std::runtime_error("curl_global_init failed");
        }
    });
}

// The driver whose thread is the current one, so stop() can tell a call from inside a `done`.
thread_local const CurlDriver* tls_current_driver = nullptr;

void run_done(const CurlDriver::Done& done, CURLcode result, long response_code) {
    try {
        done(result, response_code);
    } catch (...) {
        // A throwing callback is a bug in the caller; the driver thread must survive it.
    }
}

}  // namespace

CurlDriver::CurlDriver() {
    global_init_once();
    multi_ = curl_multi_init();
    if (multi_ == nullptr) {
        throw std::runtime_error("curl_multi_init failed");
    }
    thread_ = std::thread([this] {
        core::name_this_thread("herald-curl");
        run();
    });
}

CurlDriver::~CurlDriver() {
    stop();
    {
        std::lock_guard lock(join_mutex_);
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    curl_multi_cleanup(multi_);
}

void CurlDriver::perform(CURL* easy, Done done) {
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    {
        std::lock_guard lock(mutex_);
        if (!stopping_) {
            queued_.emplace_back(easy, std::move(done));
            curl_multi_wakeup(multi_);
            return;
        }
    }
    run_done(done, CURLE_ABORTED_BY_CALLBACK, 0);
}

void CurlDriver::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    curl_multi_wakeup(multi_);
    if (tls_current_driver == this) {
        return;
    }
    std::lock_guard lock(join_mutex_);
    if (thread_.joinable()) {
        thread_.join();
    }
}

void CurlDriver::run() {
    tls_current_driver = this;
    for (;;) {
        std::vector<std::pair<CURL*, Done>> queued;
        bool stopping = false;
        {
            std::lock_guard lock(mutex_);
            queued.swap(queued_);
            stopping = stopping_;
        }
        if (stopping) {
            for (auto& [easy, done] : queued) {
                run_done(done, CURLE_ABORTED_BY_CALLBACK, 0);
            }
            break;
        }

        start_queued(std::move(queued));
        int running = 0;
        curl_multi_perform(multi_, &running);
        finish_completed();
        curl_multi_poll(multi_, nullptr, 0, kPollTimeoutMs, nullptr);
    }
    abort_active();

    // A perform() racing with stop() may have queued after the last swap.
    std::vector<std::pair<CURL*, Done>> late;
    {
        std::lock_guard lock(mutex_);
        late.swap(queued_);
    }
    for (auto& [easy, done] : late) {
        run_done(done, CURLE_ABORTED_BY_CALLBACK, 0);
    }
}

void CurlDriver::start_queued(std::vector<std::pair<CURL*, Done>> queued) {
    for (auto& [easy, done] : queued) {
        if (curl_multi_add_handle(multi_, easy) != CURLM_OK) {
            run_done(done, CURLE_FAILED_INIT, 0);
            continue;
        }
        active_.emplace(easy, std::move(done));
    }
}

void CurlDriver::finish_completed() {
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
        if (message->msg != CURLMSG_DONE) {
            continue;
        }
        CURL* easy = message->easy_handle;
        const CURLcode result = message->data.result;  // read before the handle is removed
        long response_code = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response_code);
        curl_multi_remove_handle(multi_, easy);

        auto found = active_.find(easy);
        if (found == active_.end()) {
            continue;
        }
        Done done = std::move(found->second);
        active_.erase(found);
        run_done(done, result, response_code);
    }
}

void CurlDriver::abort_active() {
    auto active = std::move(active_);
    active_.clear();
    for (auto& [easy, done] : active) {
        curl_multi_remove_handle(multi_, easy);
    }
    for (auto& [easy, done] : active) {
        long response_code = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response_code);
        run_done(done, CURLE_ABORTED_BY_CALLBACK, response_code);
    }
}

}  // namespace herald::delivery
