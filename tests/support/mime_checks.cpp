#include "support/mime_checks.hpp"

#include "support/headers.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace herald::test {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

std::optional<std::string> decode_base64(std::string_view text) {
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    std::size_t padding = 0;
    for (char c : text) {
        if (c == '=') {
            ++padding;
            continue;
        }
        if (padding > 0) {
            return std::nullopt;
        }
        const int value = base64_value(c);
        if (value < 0) {
            return std::nullopt;
        }
        buffer = (buffer << 6) | static_cast<unsigned>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
        }
    }
    if (text.size() % 4 != 0) {
        return std::nullopt;
    }
    return out;
}

std::optional<std::string> decode_q(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '_') {
            out.push_back(' ');
        } else if (c == '=') {
            if (i + 2 >= text.size()) {
                return std::nullopt;
            }
            const int high = hex_value(text[i + 1]);
            const int low = hex_value(text[i + 2]);
            if (high < 0 || low < 0) {
                return std::nullopt;
            }
            out.push_back(static_cast<char>(high * 16 + low));
            i += 2;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace

std::string_view header_section(std::string_view raw) {
    const auto end = raw.find("\r\n\r\n");
    return end == std::string_view::npos ? raw : raw.substr(0, end);
}

std::string_view body_section(std::string_view raw) {
    const auto end = raw.find("\r\n\r\n");
    return end == std::string_view::npos ? std::string_view{} : raw.substr(end + 4);
}

std::vector<std::string_view> crlf_lines(std::string_view raw) {
    std::vector<std::string_view> lines;
    std::size_t at = 0;
    while (at < raw.size()) {
        const auto end = raw.find("\r\n", at);
        if (end == std::string_view::npos) {
            lines.push_back(raw.substr(at));
            break;
        }
        lines.push_back(raw.substr(at, end - at));
        at = end + 2;
    }
    return lines;
}

bool only_crlf_line_ends(std::string_view raw) {
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\r' && (i + 1 >= raw.size() || raw[i + 1] != '\n')) {
            return false;
        }
        if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) {
            return false;
        }
    }
    return true;
}

std::size_t longest_line(std::string_view raw) {
    std::size_t longest = 0;
    for (const auto line : crlf_lines(raw)) {
        longest = std::max(longest, line.size());
    }
    return longest;
}

bool has_lone_dot_line(std::string_view raw) {
    for (const auto line : crlf_lines(raw)) {
        if (line == ".") {
            return true;
        }
    }
    return false;
}

bool all_ascii(std::string_view bytes) {
    for (char c : bytes) {
        if (static_cast<unsigned char>(c) >= 0x80) {
            return false;
        }
    }
    return true;
}

bool is_valid_utf8(std::string_view bytes) {
    std::size_t i = 0;
    while (i < bytes.size()) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        std::size_t extra = 0;
        std::uint32_t code = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1;
            code = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            code = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            code = c & 0x07;
        } else {
            return false;
        }
        if (i + extra >= bytes.size()) {
            return false;
        }
        for (std::size_t k = 1; k <= extra; ++k) {
            const auto next = static_cast<unsigned char>(bytes[i + k]);
            if ((next & 0xC0) != 0x80) {
                return false;
            }
            code = (code << 6) | (next & 0x3F);
        }
        const bool overlong = (extra == 1 && code < 0x80) || (extra == 2 && code < 0x800) ||
                              (extra == 3 && code < 0x10000);
        if (overlong || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
            return false;
        }
        i += extra + 1;
    }
    return true;
}

std::vector<std::string> header_values(std::string_view raw, std::string_view name) {
    std::vector<std::string> values;
    const auto lines = crlf_lines(header_section(raw));
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto line = lines[i];
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || !Headers::equal(line.substr(0, colon), name)) {
            continue;
        }
        std::string value{line.substr(colon + 1)};
        while (i + 1 < lines.size() && !lines[i + 1].empty() &&
               (lines[i + 1].front() == ' ' || lines[i + 1].front() == '\t')) {
            value += lines[++i];
        }
        const auto start = value.find_first_not_of(" \t");
        values.push_back(start == std::string::npos ? std::string{} : value.substr(start));
    }
    return values;
}

std::optional<std::string> raw_header(std::string_view raw, std::string_view name) {
    const auto lines = crlf_lines(header_section(raw));
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto line = lines[i];
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || !Headers::equal(line.substr(0, colon), name)) {
            continue;
        }
        std::string out = std::string{line} + "\r\n";
        while (i + 1 < lines.size() && !lines[i + 1].empty() &&
               (lines[i + 1].front() == ' ' || lines[i + 1].front() == '\t')) {
            out += std::string{lines[++i]} + "\r\n";
        }
        return out;
    }
    return std::nullopt;
}

std::vector<std::string> encoded_words(std::string_view text) {
    std::vector<std::string> words;
    std::size_t at = 0;
    for (;;) {
        const auto start = text.find("=?", at);
        if (start == std::string_view::npos) {
            break;
        }
        // =?charset?E?payload?= : three '?' after the start, then '='.
        const auto q1 = text.find('?', start + 2);
        const auto q2 = q1 == std::string_view::npos ? q1 : text.find('?', q1 + 1);
        const auto end = q2 == std::string_view::npos ? q2 : text.find("?=", q2 + 1);
        if (end == std::string_view::npos || q2 != q1 + 2) {
            at = start + 2;
            continue;
        }
        words.emplace_back(text.substr(start, end + 2 - start));
        at = end + 2;
    }
    return words;
}

std::optional<std::string> decode_encoded_word(std::string_view word) {
    if (!word.starts_with("=?") || !word.ends_with("?=")) {
        return std::nullopt;
    }
    const auto q1 = word.find('?', 2);
    if (q1 == std::string_view::npos || q1 + 3 >= word.size()) {
        return std::nullopt;
    }
    const char encoding = static_cast<char>(std::toupper(static_cast<unsigned char>(word[q1 + 1])));
    if (word[q1 + 2] != '?') {
        return std::nullopt;
    }
    const std::string_view payload = word.substr(q1 + 3, word.size() - 2 - (q1 + 3));
    if (encoding == 'B') {
        return decode_base64(payload);
    }
    if (encoding == 'Q') {
        return decode_q(payload);
    }
    return std::nullopt;
}

}  // namespace herald::test
