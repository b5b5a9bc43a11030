#include "call_log.hpp"

#include <set>

namespace herald::mockmail {
namespace {

boost::json::value text_or_null(const std::string& text) {
    if (text.empty()) {
        return nullptr;
    }
    return boost::json::value(text);
}

}  // namespace

Call& CallLog::add(Call call) {
    calls_.push_back(std::move(call));
    return calls_.back();
}

void CallLog::reset() {
    calls_.clear();
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
            {"traceparent", text_or_null(call.traceparent)},
            {"message_id", call.message_id},
            {"subject", call.subject},
            {"from", call.from},
            {"to", call.to},
            {"id", call.id},
            {"body", call.body},
            {"answer", call.answer},
        });
    }
    return out;
}

boost::json::object CallLog::stats() const {
    std::set<std::string> keys;
    for (const Call& call : calls_) {
        if (!call.idempotency_key.empty()) {
            keys.insert(call.idempotency_key);
        }
    }
    return {{"calls", calls_.size()}, {"distinct_keys", keys.size()}};
}

}  // namespace herald::mockmail
