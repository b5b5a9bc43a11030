#pragma once

#include "core/ids.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <system_error>

namespace herald::store::testing {

// A fresh directory under the system temp dir, removed with everything in it at destruction.
class ScratchDir {
public:
    ScratchDir()
        : path_(std::filesystem::temp_directory_path() / ("herald-store-" + core::new_uuid_v7())) {
        std::filesystem::create_directories(path_);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }

    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// The outcome of one store call, delivered through a promise. A generous bound keeps a lost
// callback from hanging the suite; it is a liveness guard, not a timing assertion.
template <typename T>
class Pending {
public:
    Pending() : promise_(std::make_shared<std::promise<boost::system::result<T>>>()) {
        future_ = promise_->get_future();
    }

    Store::Callback<T> callback() {
        return [promise = promise_](boost::system::result<T> outcome) {
            promise->set_value(std::move(outcome));
        };
    }

    bool ready() const {
        return future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    }

    boost::system::result<T> get() {
        if (future_.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
            ADD_FAILURE() << "the store never called back";
            return boost::system::result<T>(boost::system::in_place_error, StoreError::unavailable);
        }
        return future_.get();
    }

private:
    std::shared_ptr<std::promise<boost::system::result<T>>> promise_;
    std::future<boost::system::result<T>> future_;
};

}  // namespace herald::store::testing
