#pragma once

#include <curl/curl.h>

#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace herald::delivery {

// Runs libcurl transfers on one thread of its own, through one multi handle, so that many
// transfers progress at once and connections are reused from the multi handle's cache. Nothing
// here blocks the caller: perform() queues and returns; DNS, connects, TLS and I/O all happen on
// the driver thread (curl_multi_poll, woken by curl_multi_wakeup).
//
// Ownership: the caller owns each easy handle and everything its options point to, and keeps
// them alive until `done` runs; the handle has been removed from the multi handle by then, so
// `done` may clean it up (or perform it again). `done` runs exactly once, on the driver thread,
// with the transfer's CURLcode and CURLINFO_RESPONSE_CODE (HTTP status or last SMTP reply; 0 when
// none came). It must not block and must not throw; it may call perform().
//
// stop() fails every queued or running transfer with CURLE_ABORTED_BY_CALLBACK (their `done`
// still runs, on the driver thread) and joins it. After stop(), perform() calls `done` at once on
// the caller's thread with CURLE_ABORTED_BY_CALLBACK. Thread-safe.
class CurlDriver {
public:
    using Done = std::function<void(CURLcode result, long response_code)>;

    CurlDriver();
    ~CurlDriver();
    CurlDriver(const CurlDriver&) = delete;
    CurlDriver& operator=(const CurlDriver&) = delete;

    // Sets CURLOPT_NOSIGNAL on `easy` and queues it.
    void perform(CURL* easy, Done done);

    // Idempotent. Called from the driver thread itself (inside a `done`), it only asks the
    // thread to stop; the destructor joins it.
    void stop();

private:
    void run();
    void start_queued(std::vector<std::pair<CURL*, Done>> queued);
    void finish_completed();
    void abort_active();

    CURLM* multi_ = nullptr;

    std::mutex mutex_;
    std::vector<std::pair<CURL*, Done>> queued_;  // guarded by mutex_
    bool stopping_ = false;                       // guarded by mutex_

    std::unordered_map<CURL*, Done> active_;  // driver thread only

    std::mutex join_mutex_;
    std::thread thread_;
};

}  // namespace herald::delivery
