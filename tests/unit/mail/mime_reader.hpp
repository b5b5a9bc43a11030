#pragma once

// A small, independent reader of the MIME that compose() writes, used to check it from the
// outside: unfolding, RFC 2047 decoding (B and Q), quoted-printable, base64 and
// multipart/alternative. Written from the RFCs, not from herald's encoders; it fails loudly
// (ADD_FAILURE) on anything malformed instead of guessing.

#include "mail/mime.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::mail::testing {

struct Field {
    std::string name;
    std::string raw;       // the value as written, folds included (CRLF kept)
    std::string unfolded;  // CRLF removed (RFC 5322 2.2.3), leading whitespace trimmed
};

struct Entity {
    std::vector<Field> headers;
    std::string body;  // raw, as written

    const Field* find(std::string_view name) const {
        for (const Field& field : headers) {
            if (field.name.size() == name.size() &&
                std::equal(name.begin(), name.end(), field.name.begin(), [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) ==
                           std::tolower(static_cast<unsigned char>(b));
                })) {
                return &field;
            }
        }
        return nullptr;
    }
    std::string value(std::string_view name) const {
        const Field* field = find(name);
        return field == nullptr ? std::string{} : field->unfolded;
    }
    int count(std::string_view name) const {
        int n = 0;
        for (const Field& field : headers) {
            n += field.name == name ? 1 : 0;
        }
        return n;
    }
};

inline std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t pos = 0;
    while (true) {
        const std::size_t end = text.find("\r\n", pos);
        if (end == std::string_view::npos) {
            lines.push_back(text.substr(pos));
            return lines;
        }
        lines.push_back(text.substr(pos, end - pos));
        pos = end + 2;
    }
}

inline Entity parse_entity(std::string_view text) {
    Entity entity;
    const std::size_t split = text.starts_with("\r\n") ? 0 : text.find("\r\n\r\n");
    if (split == std::string_view::npos) {
        ADD_FAILURE() << "no empty line between header and body";
        return entity;
    }
    const std::string_view head = text.substr(0, split);
    entity.body = std::string{text.substr(split == 0 ? 2 : split + 4)};
    if (head.empty()) {
        return entity;
    }
    for (std::string_view line : split_lines(head)) {
        if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
            if (entity.headers.empty()) {
                ADD_FAILURE() << "continuation line before any field";
                continue;
            }
            entity.headers.back().raw += "\r\n";
            entity.headers.back().raw += line;
            continue;
        }
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            ADD_FAILURE() << "header line without a colon: " << line;
            continue;
        }
        entity.headers.push_back(
            {std::string{line.substr(0, colon)}, std::string{line.substr(colon + 1)}, {}});
    }
    for (Field& field : entity.headers) {
        std::string unfolded;
        for (std::size_t i = 0; i < field.raw.size(); ++i) {
            if (field.raw.compare(i, 2, "\r\n") == 0) {
                ++i;
                continue;
            }
            unfolded += field.raw[i];
        }
        const std::size_t first = unfolded.find_first_not_of(" \t");
        field.unfolded = first == std::string::npos ? std::string{} : unfolded.substr(first);
    }
    return entity;
}

inline int hex_value(char c) {
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

inline std::optional<std::string> decode_base64(std::string_view text) {
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    std::size_t padding = 0;
    for (const char c : text) {
        if (c == '\r' || c == '\n') {
            continue;
        }
        if (c == '=') {
            ++padding;
            continue;
        }
        if (padding != 0) {
            return std::nullopt;  // data after padding
        }
        int v = -1;
        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';
        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;
        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;
        } else if (c == '+') {
            v = 62;
        } else if (c == '/') {
            v = 63;
        }
        if (v < 0) {
            return std::nullopt;
        }
        buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xff);
        }
    }
    return out;
}

// RFC 2045 6.7: "=" CRLF is a soft break, "=XX" an octet, anything else literal.
inline std::optional<std::string> decode_quoted_printable(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c != '=') {
            out += c;
            continue;
        }
        if (text.compare(i + 1, 2, "\r\n") == 0) {
            i += 2;
            continue;
        }
        if (i + 2 >= text.size()) {
            return std::nullopt;
        }
        const int hi = hex_value(text[i + 1]);
        const int lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

// Decodes one encoded-word "=?charset?B|Q?text?=" (charset must be UTF-8), or nullopt.
inline std::optional<std::string> decode_encoded_word(std::string_view word) {
    if (!word.starts_with("=?") || !word.ends_with("?=") || word.size() < 8) {
        return std::nullopt;
    }
    const std::string_view inner = word.substr(2, word.size() - 4);
    const std::size_t q1 = inner.find('?');
    if (q1 == std::string_view::npos || q1 + 2 >= inner.size() || inner[q1 + 2] != '?') {
        return std::nullopt;
    }
    std::string charset{inner.substr(0, q1)};
    for (char& c : charset) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (charset != "UTF-8") {
        return std::nullopt;
    }
    const char encoding =
        static_cast<char>(std::toupper(static_cast<unsigned char>(inner[q1 + 1])));
    const std::string_view payload = inner.substr(q1 + 3);
    if (payload.find('?') != std::string_view::npos ||
        payload.find(' ') != std::string_view::npos) {
        return std::nullopt;
    }
    if (encoding == 'B') {
        return decode_base64(payload);
    }
    if (encoding == 'Q') {
        std::string underscored{payload};
        for (char& c : underscored) {
            if (c == '_') {
                c = ' ';
            }
        }
        return decode_quoted_printable(underscored);
    }
    return std::nullopt;
}

// Every whitespace-delimited token of an unfolded header value that looks like an encoded-word.
inline std::vector<std::string> encoded_words_in(std::string_view value) {
    std::vector<std::string> words;
    std::size_t pos = 0;
    while (pos < value.size()) {
        const std::size_t start = value.find_first_not_of(" \t", pos);
        if (start == std::string_view::npos) {
            break;
        }
        std::size_t end = value.find_first_of(" \t", start);
        end = end == std::string_view::npos ? value.size() : end;
        std::string_view token = value.substr(start, end - start);
        while (!token.empty() && (token.back() == ',')) {
            token.remove_suffix(1);
        }
        if (token.starts_with("=?")) {
            words.emplace_back(token);
        }
        pos = end;
    }
    return words;
}

// RFC 2047 decoding of an unstructured value: encoded-words are whitespace-delimited tokens;
// whitespace between two adjacent encoded-words is dropped, all other text is kept as is.
inline std::string decode_unstructured(std::string_view value) {
    std::string out;
    std::string pending_space;
    bool previous_encoded = false;
    std::size_t pos = 0;
    while (pos < value.size()) {
        const std::size_t start = value.find_first_not_of(" \t", pos);
        const std::string_view space =
            value.substr(pos, (start == std::string_view::npos ? value.size() : start) - pos);
        if (start == std::string_view::npos) {
            out += space;
            break;
        }
        std::size_t end = value.find_first_of(" \t", start);
        end = end == std::string_view::npos ? value.size() : end;
        const std::string_view token = value.substr(start, end - start);
        const auto decoded = decode_encoded_word(token);
        if (decoded) {
            if (!previous_encoded) {
                out += space;
            }
            out += *decoded;
        } else {
            out += space;
            out += token;
        }
        previous_encoded = decoded.has_value();
        pos = end;
    }
    return out;
}

struct DisplayMailbox {
    std::string name;     // decoded display name ("" when absent)
    std::string address;  // the addr-spec between angle brackets, or the bare address
};

// Splits an address-list header (as written by compose: no groups, no comments) into
// mailboxes, honouring quoted-strings, and decodes each display name.
inline std::vector<DisplayMailbox> parse_address_list(std::string_view value) {
    std::vector<std::string> items;
    std::string current;
    bool in_quote = false;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        if (in_quote && c == '\\' && i + 1 < value.size()) {
            current += c;
            current += value[++i];
            continue;
        }
        if (c == '"') {
            in_quote = !in_quote;
        }
        if (c == ',' && !in_quote) {
            items.push_back(current);
            current.clear();
            continue;
        }
        current += c;
    }
    items.push_back(current);

    std::vector<DisplayMailbox> out;
    for (std::string item : items) {
        const std::size_t first = item.find_first_not_of(" \t");
        const std::size_t last = item.find_last_not_of(" \t");
        item = first == std::string::npos ? "" : item.substr(first, last - first + 1);
        DisplayMailbox mailbox;
        const std::size_t open = item.rfind('<');
        if (open == std::string::npos || item.back() != '>') {
            mailbox.address = item;
            out.push_back(mailbox);
            continue;
        }
        mailbox.address = item.substr(open + 1, item.size() - open - 2);
        std::string phrase = item.substr(0, open);
        while (!phrase.empty() && phrase.back() == ' ') {
            phrase.pop_back();
        }
        if (phrase.size() >= 2 && phrase.front() == '"' && phrase.back() == '"') {
            for (std::size_t i = 1; i + 1 < phrase.size(); ++i) {
                if (phrase[i] == '\\') {
                    ++i;
                }
                mailbox.name += phrase[i];
            }
        } else {
            mailbox.name = decode_unstructured(phrase);
        }
        out.push_back(mailbox);
    }
    return out;
}

inline std::string find_boundary(std::string_view content_type) {
    const std::size_t at = content_type.find("boundary=\"");
    if (at == std::string_view::npos) {
        return {};
    }
    const std::size_t start = at + 10;
    return std::string{content_type.substr(start, content_type.find('"', start) - start)};
}

// The parts of a multipart body: the text between "--b" delimiter lines (RFC 2046 5.1.1: the
// CRLF before a delimiter belongs to it).
inline std::vector<std::string> split_multipart(std::string_view body, std::string_view boundary) {
    std::vector<std::string> parts;
    const std::string delimiter = "--" + std::string{boundary};
    if (!body.starts_with(delimiter + "\r\n")) {
        ADD_FAILURE() << "multipart body does not start with its delimiter";
        return parts;
    }
    std::size_t pos = delimiter.size() + 2;
    while (true) {
        const std::size_t next = body.find("\r\n" + delimiter, pos);
        if (next == std::string_view::npos) {
            ADD_FAILURE() << "multipart body has no closing delimiter";
            return parts;
        }
        parts.emplace_back(body.substr(pos, next - pos));
        pos = next + 2 + delimiter.size();
        if (body.compare(pos, 2, "--") == 0) {
            if (body.substr(pos + 2) != "\r\n") {
                ADD_FAILURE() << "text after the closing delimiter";
            }
            return parts;
        }
        if (body.compare(pos, 2, "\r\n") != 0) {
            ADD_FAILURE() << "delimiter line has trailing text";
            return parts;
        }
        pos += 2;
    }
}

// The decoded content of a leaf entity, by its Content-Transfer-Encoding.
inline std::string decode_body(const Entity& entity) {
    std::string cte = entity.value("Content-Transfer-Encoding");
    if (cte.empty() || cte == "7bit" || cte == "8bit") {
        return entity.body;
    }
    if (cte == "quoted-printable") {
        auto decoded = decode_quoted_printable(entity.body);
        if (!decoded) {
            ADD_FAILURE() << "malformed quoted-printable";
            return {};
        }
        return *decoded;
    }
    if (cte == "base64") {
        auto decoded = decode_base64(entity.body);
        if (!decoded) {
            ADD_FAILURE() << "malformed base64";
            return {};
        }
        return *decoded;
    }
    ADD_FAILURE() << "unknown transfer encoding " << cte;
    return {};
}

// The properties every composed message must have, whatever its content:
// CRLF only; no line above 998 octets; header bytes ASCII (unless `utf8_addresses`); every
// encoded-word at most 75 characters and decodable alone to valid UTF-8; no header line above
// 78 characters unless one unbreakable word forces it; no line that is a lone "." and no body
// line starting with "."; a final CRLF.
inline void expect_wire_safe(std::string_view message, bool utf8_addresses = false) {
    for (std::size_t i = 0; i < message.size(); ++i) {
        if (message[i] == '\r') {
            ASSERT_TRUE(i + 1 < message.size() && message[i + 1] == '\n') << "bare CR at " << i;
        }
        if (message[i] == '\n') {
            ASSERT_TRUE(i > 0 && message[i - 1] == '\r') << "bare LF at " << i;
        }
    }
    ASSERT_TRUE(message.ends_with("\r\n"));
    const std::size_t split = message.find("\r\n\r\n");
    ASSERT_NE(split, std::string_view::npos);
    const std::string_view head = message.substr(0, split);
    const std::string_view body = message.substr(split + 4);

    for (const std::string_view line : split_lines(message)) {
        EXPECT_LE(line.size(), 998u);
        EXPECT_NE(line, ".") << "lone dot line";
    }
    for (const std::string_view line : split_lines(head)) {
        if (!utf8_addresses) {
            for (const char c : line) {
                ASSERT_LT(static_cast<unsigned char>(c), 0x80u) << "non-ASCII header: " << line;
            }
        }
        if (line.size() > 78) {
            // Only a single unbreakable token may push a line past 78.
            const std::string_view rest = line.substr(line.find_first_not_of(" \t"));
            const std::size_t colon_space = rest.find(": ");
            const std::string_view after = line[0] == ' ' || colon_space == std::string_view::npos
                                               ? rest
                                               : rest.substr(colon_space + 2);
            EXPECT_EQ(after.find(' '), std::string_view::npos) << "unfolded line: " << line;
        }
        for (const std::string& word : encoded_words_in(line)) {
            EXPECT_LE(word.size(), 75u) << word;
            const auto decoded = decode_encoded_word(word);
            ASSERT_TRUE(decoded.has_value()) << "undecodable encoded-word " << word;
            EXPECT_TRUE(is_valid_utf8(*decoded)) << "encoded-word splits a code point: " << word;
        }
    }
    for (const std::string_view line : split_lines(body)) {
        EXPECT_FALSE(line.starts_with(".")) << "body line starts with a dot: " << line;
    }
}

}  // namespace herald::mail::testing
