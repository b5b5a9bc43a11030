#include "delivery/curl_driver.hpp"

#include "mockmail_process.hpp"

#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>

namespace herald::delivery {
namespace {

struct Completion {
    CURLcode code = CURLE_OK;
    long status = 0;
    std::thread::id thread;
};

// An easy handle that GETs `url`, and a future for its completion.
struct Get {
    CURL* easy = curl_easy_init();
    std::promise<Completion> promise;

    explicit Get(const std::string& url) {
        curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
        curl_easy_setopt(
            easy, CURLOPT_WRITEFUNCTION, +[](char*, std::size_t size, std::size_t count, void*) {
                return size * count;
            });
    }
    ~Get() { curl_easy_cleanup(easy); }

    CurlDriver::Done done() {
        return [this](CURLcode code, long status) {
            promise.set_value({code, status, std::this_thread::get_id()});
        };
    }
    Completion wait() {
        auto future = promise.get_future();
        if (future.wait_for(std::chrono::seconds{30}) != std::future_status::ready) {
            return {CURLE_OPERATION_TIMEDOUT, -1, {}};
        }
        return future.get();
    }
};

TEST(CurlDriver, CompletesTransfersOnItsOwnThread) {
    testing::MockMailProcess mock;
    CurlDriver driver;
    Get get(mock.url("/stats"));

    driver.perform(get.easy, get.done());
    const Completion completion = get.wait();

    EXPECT_EQ(completion.code, CURLE_OK);
    EXPECT_EQ(completion.status, 200);
    EXPECT_NE(completion.thread, std::this_thread::get_id());
}

std::set<std::int64_t> connections_of(const testing::MockMailProcess& mock) {
    std::set<std::int64_t> out;
    const boost::json::value calls = mock.get("/calls");
    for (const auto& call : calls.as_array()) {
        out.insert(call.as_object().at("connection").as_int64());
    }
    return out;
}

TEST(CurlDriver, RunsManyTransfersAtOnce) {
    // The mock holds each send for a while, so only transfers running together overlap: eight
    // at once need eight connections.
    testing::MockMailProcess mock({"--latency-ms", "500"});
    CurlDriver driver;
    std::vector<std::unique_ptr<Get>> gets;
    for (int i = 0; i < 8; ++i) {
        gets.push_back(std::make_unique<Get>(mock.url("/v1/send")));
        curl_easy_setopt(gets.back()->easy, CURLOPT_POSTFIELDS, "{}");
        driver.perform(gets.back()->easy, gets.back()->done());
    }
    for (auto& get : gets) {
        EXPECT_EQ(get->wait().status, 200);
    }
    EXPECT_EQ(connections_of(mock).size(), 8u);
}

TEST(CurlDriver, ReusesConnectionsBetweenTransfers) {
    testing::MockMailProcess mock;
    CurlDriver driver;
    for (int i = 0; i < 4; ++i) {
        Get get(mock.url("/v1/send"));
        curl_easy_setopt(get.easy, CURLOPT_POSTFIELDS, "{}");
        driver.perform(get.easy, get.done());
        ASSERT_EQ(get.wait().status, 200);
    }
    EXPECT_EQ(connections_of(mock).size(), 1u);
}

TEST(CurlDriver, StopAbortsTransfersInFlight) {
    testing::MockMailProcess mock({"--latency-ms", "60000"});
    CurlDriver driver;
    Get get(mock.url("/v1/send"));
    curl_easy_setopt(get.easy, CURLOPT_POSTFIELDS, "{}");
    driver.perform(get.easy, get.done());
    // Wait until the mock has the request, so the transfer is really running.
    for (int i = 0; i < 3000 && mock.get("/stats").as_object().at("calls").as_int64() == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }

    driver.stop();

    EXPECT_EQ(get.wait().code, CURLE_ABORTED_BY_CALLBACK);
}

TEST(CurlDriver, FailsTransfersQueuedAfterStopAtOnce) {
    CurlDriver driver;
    driver.stop();
    driver.stop();  // idempotent
    Get get("http://127.0.0.1:9/");

    driver.perform(get.easy, get.done());

    const Completion completion = get.wait();
    EXPECT_EQ(completion.code, CURLE_ABORTED_BY_CALLBACK);
    EXPECT_EQ(completion.thread, std::this_thread::get_id());
}

}  // namespace
}  // namespace herald::delivery
