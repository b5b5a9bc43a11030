#include "core/ids.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <random>

namespace herald::core {

std::string new_uuid_v7() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::array<std::uint8_t, 16> bytes{};
    const auto ms = static_cast<std::uint64_t>(now_ms);
    for (int i = 0; i < 6; ++i) {
        bytes[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
    }
    const std::uint64_t r1 = rng();
    const std::uint64_t r2 = rng();
    for (int i = 6; i < 16; ++i) {
        const std::uint64_t source = i < 14 ? r1 : r2;
        bytes[i] = static_cast<std::uint8_t>(source >> (8 * (i % 8)));
    }
    bytes[6] = static_cast<std::uint8_t>(0x70 | (bytes[6] & 0x0f));
    bytes[8] = static_cast<std::uint8_t>(0x80 | (bytes[8] & 0x3f));

    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out.push_back('-');
        }
        out.push_back(kHex[bytes[i] >> 4]);
        out.push_back(kHex[bytes[i] & 0x0f]);
    }
    return out;
}

bool looks_like_uuid(std::string_view text) {
    if (text.size() != 36) {
        return false;
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash_position != (c == '-')) {
            return false;
        }
        if (!dash_position && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

}  // namespace herald::core
