#include "call_log.hpp"

#include <algorithm>
#include <map>

namespace herald::mockmail {
namespace {

boost::json::value text_or_null(const std::string& text) {
    if (text.empty()) {
        return nullptr;
    }
    return boost::json::value(text);
}

std::map<std::string, std::uint64_t> count_keys(const std::vector<Call>& calls) {
    std::map<std::string, std::uint64_t> counts;
    for (const Call& call : calls) {
        if (!call.idempotency_key.empty()) {
            ++counts[call.idempotency_key];
        }
    }
    return counts;
}

}  // namespace

Call& CallLog::add(Call call) {
    calls_.push_back(std::move(call));
    return calls_.back();
}

void CallLog::reset() {
    calls_.clear();
    peak_in_flight_ = in_flight_;
}

boost::json::array CallLog::to_json() const {
    boost::json::array out;
    for (const Call& call : calls_) {
        out.push_back(boost::json::object{
            {"seq", call.seq},
            {"connection", call.connection},
            {"received_at_ms", call.received_at_ms},
            {"idempotency_key", text_or_null(call.idempotency_key)},
            {"authorization", call.authorization},
            {"authorization_scheme", text_or_null(call.authorization_scheme)},
            {"authorization_user", text_or_null(call.authorization_user)},
            {"traceparent", text_or_null(call.traceparent)},
            {"message_id", call.message_id},
            {"subject", call.subject},
            {"from", call.from},
            {"to", call.to},
            {"id", call.id},
            {"route", call.route},
            {"content_type", call.content_type},
            {"fields", call.fields},
            {"body", call.body},
            {"answer", call.answer},
        });
    }
    return out;
}

boost::json::object CallLog::stats() const {
    const auto counts = count_keys(calls_);
    std::uint64_t repeated = 0;
    for (const auto& [key, count] : counts) {
        repeated += count - 1;
    }
    boost::json::object answers;
    for (const Call& call : calls_) {
        const std::string status = std::to_string(call.answer);
        answers[status] = answers.contains(status) ? answers[status].to_number<std::uint64_t>() + 1
                                                   : std::uint64_t{1};
    }
    return {{"calls", calls_.size()},
            {"answers", std::move(answers)},
            {"distinct_keys", counts.size()},
            {"repeated_calls", repeated},
            {"in_flight", in_flight_},
            {"peak_in_flight", peak_in_flight_}};
}

void CallLog::begin_send() {
    ++in_flight_;
    peak_in_flight_ = std::max(peak_in_flight_, in_flight_);
}

void CallLog::end_send() {
    --in_flight_;
}

boost::json::object CallLog::key_counts() const {
    boost::json::object out;
    for (const auto& [key, count] : count_keys(calls_)) {
        out[key] = count;
    }
    return out;
}

}  // namespace herald::mockmail
