#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

// The low-level encoders compose() is built from: line-break normalisation, base64,
// quoted-printable, RFC 2047 encoded-words and header folding. They are pure functions of their
// input (no state, thread-safe) and exposed so that tests can check each one on its own.
namespace herald::mail::encoding {

// Longest physical line compose() aims for in headers (RFC 2047 limits lines that carry
// encoded-words to 76) and the hard limit of RFC 5322 (998 octets before CRLF).
inline constexpr std::size_t kFoldColumn = 76;
inline constexpr std::size_t kMaxLineOctets = 998;
// Longest encoded-word RFC 2047 allows.
inline constexpr std::size_t kMaxEncodedWord = 75;
// Longest word written as-is in a header; a longer run of non-space characters is sent as
// encoded-words, so no header line can approach 998 octets.
inline constexpr std::size_t kMaxPlainWord = 900;

// Number of octets in the UTF-8 sequence that starts with `lead` (1 for an invalid lead octet,
// so that callers walking invalid text still advance).
std::size_t utf8_sequence_length(unsigned char lead);

// Every CRLF, lone CR and lone LF becomes CRLF ("\r\r\n" is two line breaks).
std::string normalize_line_breaks(std::string_view text);

// Standard base64 (RFC 4648, with padding), no line breaks.
std::string encode_base64(std::string_view bytes);

// Base64 in lines of 76 characters joined by CRLF; no CRLF after the last line.
std::string encode_base64_lines(std::string_view bytes);

// Quoted-printable (RFC 2045) of text whose line breaks are CRLF. Each CRLF stays a hard line
// break; no CRLF is added after the last line. Physical lines are at most 76 characters
// (soft breaks "=" CRLF); whitespace before a hard break is encoded; a physical line never
// starts with '.' (written "=2E") nor with "From " (its 'F' written "=46").
// With `soft_final_break`, text that does not end with CRLF gets a final soft break ("=" CRLF),
// so that a message can end with CRLF while the decoded text keeps no final line break.
std::string encode_quoted_printable(std::string_view crlf_text, bool soft_final_break = false);

// Splits UTF-8 text into RFC 2047 encoded-words "=?UTF-8?B?...?=". The first word is at most
// `first_max` characters, the others at most `rest_max` (both clamped to the range
// [20, kMaxEncodedWord] so that any one code point fits); no word splits a code point, so each
// decodes alone. Concatenating the decoded words gives `text` back. Empty text gives no words.
std::vector<std::string> encode_words(std::string_view text,
                                      std::size_t first_max,
                                      std::size_t rest_max);

// Writes one header field: "Name: atom atom ..." with one space between atoms, folded
// (CRLF SP inserted before an atom) when a line would pass kFoldColumn, and ended with CRLF.
// An atom is never split; the first atom always shares the line with the name. Atoms should not
// contain CR or LF; any that do are written with spaces in their place.
std::string fold_header(std::string_view name, const std::vector<std::string>& atoms);

// The atoms of an unstructured header value (Subject, extra headers): words of printable ASCII
// stay as they are; runs of words that hold non-ASCII octets, control characters, "=?" or more
// than kMaxPlainWord octets become encoded-words. A value with leading, trailing or repeated
// whitespace is encoded whole, so that decoding gives it back exactly. CR and LF, which must not
// reach this point, are replaced by spaces. `name_length` sizes the first encoded-word so that
// the first line stays within kFoldColumn when it can.
std::vector<std::string> unstructured_atoms(std::string_view value, std::size_t name_length);

// The atoms of a display name: plain words when every word is an RFC 5322 atom, one
// quoted-string (with backslash escapes) when the name is other printable ASCII, otherwise
// encoded-words of at most 64 characters. Empty name gives no atoms.
std::vector<std::string> display_name_atoms(std::string_view name);

}  // namespace herald::mail::encoding
