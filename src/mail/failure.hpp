#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <utility>

namespace herald::mail::detail {

// boost::system::result<T, std::string> takes a std::string as a value when T is std::string (or
// can be built from one) or refuses it as ambiguous, so each side is named: `return fail("why");`.
struct Failure {
    std::string reason;

    template <typename T>
    operator boost::system::result<T, std::string>() const {  // NOLINT(google-explicit-constructor)
        return boost::system::result<T, std::string>{boost::system::in_place_error, reason};
    }
};

inline Failure fail(std::string reason) {
    return Failure{std::move(reason)};
}

// The value side, for the same reason: `return ok(text);`.
inline boost::system::result<std::string, std::string> ok(std::string value) {
    return {boost::system::in_place_value, std::move(value)};
}

}  // namespace herald::mail::detail
