#include "mail/encoding.hpp"

#include "mime_reader.hpp"

#include "mail/mime.hpp"

#include <gtest/gtest.h>

#include <string>

namespace herald::mail {
namespace {

using testing::decode_base64;
using testing::decode_encoded_word;
using testing::decode_quoted_printable;
using testing::decode_unstructured;
using testing::split_lines;

std::string repeat(std::string_view piece, std::size_t times) {
    std::string out;
    for (std::size_t i = 0; i < times; ++i) {
        out += piece;
    }
    return out;
}

void expect_qp_lines_safe(const std::string& encoded) {
    for (const std::string_view line : split_lines(encoded)) {
        EXPECT_LE(line.size(), 76u) << line;
        EXPECT_FALSE(line.starts_with(".")) << line;
        EXPECT_FALSE(line.ends_with(" ")) << line;
        EXPECT_FALSE(line.ends_with("\t")) << line;
    }
}

TEST(NormalizeLineBreaks, TurnsEveryCrLfAndCrlfIntoCrlf) {
    EXPECT_EQ(encoding::normalize_line_breaks("a\nb\rc\r\nd"), "a\r\nb\r\nc\r\nd");
    EXPECT_EQ(encoding::normalize_line_breaks("\r\r\n"), "\r\n\r\n");
    EXPECT_EQ(encoding::normalize_line_breaks("\n.\r"), "\r\n.\r\n");
    EXPECT_EQ(encoding::normalize_line_breaks("\n\r"), "\r\n\r\n");
    EXPECT_EQ(encoding::normalize_line_breaks(""), "");
    EXPECT_EQ(encoding::normalize_line_breaks("no breaks"), "no breaks");
}

TEST(Base64, MatchesTheRfc4648Vectors) {
    EXPECT_EQ(encoding::encode_base64(""), "");
    EXPECT_EQ(encoding::encode_base64("f"), "Zg==");
    EXPECT_EQ(encoding::encode_base64("fo"), "Zm8=");
    EXPECT_EQ(encoding::encode_base64("foo"), "Zm9v");
    EXPECT_EQ(encoding::encode_base64("foob"), "Zm9vYg==");
    EXPECT_EQ(encoding::encode_base64("fooba"), "Zm9vYmE=");
    EXPECT_EQ(encoding::encode_base64("foobar"), "Zm9vYmFy");
    EXPECT_EQ(encoding::encode_base64(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(Base64, WrapsAt76CharactersAndRoundTrips) {
    std::string bytes;
    for (int i = 0; i < 1000; ++i) {
        bytes += static_cast<char>(i * 7 % 256);
    }
    const std::string encoded = encoding::encode_base64_lines(bytes);
    for (const std::string_view line : split_lines(encoded)) {
        EXPECT_LE(line.size(), 76u);
    }
    EXPECT_FALSE(encoded.ends_with("\r\n"));
    EXPECT_EQ(decode_base64(encoded), bytes);
}

TEST(QuotedPrintable, EncodesADotThatStartsALine) {
    const std::string text = ".first\r\nhello\r\n.\r\nworld\r\n..two\r\n.";
    const std::string encoded = encoding::encode_quoted_printable(text);
    EXPECT_EQ(encoded, "=2Efirst\r\nhello\r\n=2E\r\nworld\r\n=2E.two\r\n=2E");
    EXPECT_EQ(decode_quoted_printable(encoded), text);
}

TEST(QuotedPrintable, EncodesADotThatFollowsASoftBreak) {
    // 192.168.10.20 repeated: with 13-character groups a soft break lands before a '.' in some
    // line; the dot must come out as =2E there and nothing may be lost.
    for (std::size_t offset = 0; offset < 14; ++offset) {
        const std::string text = std::string(offset, 'x') + repeat("192.168.10.20", 40);
        const std::string encoded = encoding::encode_quoted_printable(text);
        expect_qp_lines_safe(encoded);
        EXPECT_EQ(decode_quoted_printable(encoded), text) << offset;
    }
    const std::string dotted = std::string(75, 'a') + "." + std::string(10, 'b');
    const std::string encoded = encoding::encode_quoted_printable(dotted);
    EXPECT_EQ(encoded, std::string(75, 'a') + "=\r\n=2E" + std::string(10, 'b'));
}

TEST(QuotedPrintable, KeepsLinesWithin76AndRoundTripsLongLines) {
    const std::string text = repeat("word ", 700) + "\r\n" + std::string(5000, 'h');
    const std::string encoded = encoding::encode_quoted_printable(text);
    expect_qp_lines_safe(encoded);
    EXPECT_EQ(decode_quoted_printable(encoded), text);
}

TEST(QuotedPrintable, EncodesTrailingWhitespaceAndKeepsHardBreaks) {
    const std::string text = "tail space \r\ntail tab\t\r\n  \r\nend";
    const std::string encoded = encoding::encode_quoted_printable(text);
    EXPECT_EQ(encoded, "tail space=20\r\ntail tab=09\r\n =20\r\nend");
    EXPECT_EQ(decode_quoted_printable(encoded), text);
}

TEST(QuotedPrintable, EncodesEqualsNonAsciiAndFromAtLineStart) {
    const std::string text = "a=b caf\xc3\xa9\r\nFrom me\r\nFrome";
    const std::string encoded = encoding::encode_quoted_printable(text);
    EXPECT_EQ(encoded, "a=3Db caf=C3=A9\r\n=46rom me\r\nFrome");
    EXPECT_EQ(decode_quoted_printable(encoded), text);
}

TEST(QuotedPrintable, NeverSplitsAnEscapeAcrossASoftBreak) {
    for (std::size_t offset = 0; offset < 80; ++offset) {
        const std::string text = std::string(offset, 'a') + repeat("\xc3\xa9", 100);
        const std::string encoded = encoding::encode_quoted_printable(text);
        expect_qp_lines_safe(encoded);
        EXPECT_EQ(decode_quoted_printable(encoded), text);
    }
}

TEST(QuotedPrintable, SoftFinalBreakKeepsTheTextWithoutAFinalLineBreak) {
    for (std::size_t length = 70; length < 80; ++length) {
        const std::string text = std::string(length, 'q');
        const std::string encoded = encoding::encode_quoted_printable(text, true);
        EXPECT_TRUE(encoded.ends_with("=\r\n"));
        expect_qp_lines_safe(encoded);
        EXPECT_EQ(decode_quoted_printable(encoded), text);
    }
    EXPECT_EQ(encoding::encode_quoted_printable("done\r\n", true), "done\r\n");
    EXPECT_EQ(encoding::encode_quoted_printable("", true), "");
}

TEST(EncodeWords, NeverSplitsACodePointAndKeepsEachWordWithin75) {
    const std::string text = repeat("\xf0\x9f\x8e\x89", 30) + repeat("\xc3\xa9", 41) + "abc" +
                             repeat("\xe6\x9d\xb1", 25);
    for (std::size_t first = 0; first < 90; first += 7) {
        const auto words = encoding::encode_words(text, first, 75);
        std::string joined;
        for (const std::string& word : words) {
            EXPECT_LE(word.size(), 75u);
            EXPECT_GE(word.size(), 12u);
            const auto decoded = decode_encoded_word(word);
            ASSERT_TRUE(decoded.has_value()) << word;
            EXPECT_TRUE(is_valid_utf8(*decoded)) << word;
            joined += *decoded;
        }
        EXPECT_EQ(joined, text);
    }
    EXPECT_TRUE(encoding::encode_words("", 75, 75).empty());
}

TEST(FoldHeader, FoldsBeforeAnAtomThatWouldPassColumn76) {
    std::vector<std::string> atoms;
    for (int i = 0; i < 40; ++i) {
        atoms.push_back("word" + std::to_string(i));
    }
    const std::string field = encoding::fold_header("Subject", atoms);
    ASSERT_TRUE(field.ends_with("\r\n"));
    const std::string unterminated = field.substr(0, field.size() - 2);
    const auto lines = split_lines(unterminated);
    EXPECT_GT(lines.size(), 1u);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        EXPECT_LE(lines[i].size(), 76u);
        if (i > 0) {
            EXPECT_TRUE(lines[i].starts_with(" ")) << lines[i];
        }
    }
}

TEST(FoldHeader, WritesLineBreaksInsideAnAtomAsSpaces) {
    EXPECT_EQ(encoding::fold_header("X-A", {"a\r\nBcc: b"}), "X-A: a  Bcc: b\r\n");
    EXPECT_EQ(encoding::fold_header("Subject", {}), "Subject:\r\n");
}

TEST(UnstructuredAtoms, KeepsPlainAsciiWordsAndEncodesOnlyRunsThatNeedIt) {
    const auto atoms =
        encoding::unstructured_atoms("Order 42 for Z\xc3\xbcrich \xe2\x86\x92 Bern", 7);
    ASSERT_EQ(atoms.size(), 5u);
    EXPECT_EQ(atoms[0], "Order");
    EXPECT_EQ(atoms[2], "for");
    EXPECT_TRUE(atoms[3].starts_with("=?UTF-8?B?"));
    EXPECT_EQ(atoms[4], "Bern");
    EXPECT_EQ(decode_encoded_word(atoms[3]), "Z\xc3\xbcrich \xe2\x86\x92");
}

TEST(UnstructuredAtoms, EncodesWholeValueWithUnusualSpacingOrEncodedWordLookalikes) {
    for (const std::string value : {" lead", "trail ", "two  spaces", "tab\there", "=?x?q?y?="}) {
        const auto atoms = encoding::unstructured_atoms(value, 7);
        std::string joined;
        for (std::size_t i = 0; i < atoms.size(); ++i) {
            joined += (i == 0 ? "" : " ") + atoms[i];
        }
        EXPECT_EQ(decode_unstructured(joined), value) << value;
        EXPECT_TRUE(atoms.front().starts_with("=?UTF-8?B?")) << value;
    }
}

TEST(UnstructuredAtoms, EncodesAWordTooLongToFold) {
    const std::string run(1200, 'x');
    const auto atoms = encoding::unstructured_atoms("see " + run, 7);
    EXPECT_EQ(atoms.front(), "see");
    std::string decoded;
    for (std::size_t i = 1; i < atoms.size(); ++i) {
        EXPECT_LE(atoms[i].size(), 75u);
        decoded += *decode_encoded_word(atoms[i]);
    }
    EXPECT_EQ(decoded, run);
}

TEST(DisplayNameAtoms, ChoosesAtomsQuotedStringOrEncodedWords) {
    EXPECT_EQ(encoding::display_name_atoms("Alice Example"),
              (std::vector<std::string>{"Alice", "Example"}));
    EXPECT_EQ(encoding::display_name_atoms("Example, Alice"),
              (std::vector<std::string>{"\"Example, Alice\""}));
    EXPECT_EQ(encoding::display_name_atoms("J. \"Q\" Public\\"),
              (std::vector<std::string>{"\"J. \\\"Q\\\" Public\\\\\""}));
    EXPECT_EQ(encoding::display_name_atoms("a@b.c <x>"),
              (std::vector<std::string>{"\"a@b.c <x>\""}));
    const auto encoded = encoding::display_name_atoms("Zo\xc3\xab \xc3\x9cnl\xc3\xbc");
    ASSERT_EQ(encoded.size(), 1u);
    EXPECT_EQ(decode_encoded_word(encoded[0]), "Zo\xc3\xab \xc3\x9cnl\xc3\xbc");
    EXPECT_TRUE(encoding::display_name_atoms("").empty());
}

}  // namespace
}  // namespace herald::mail
