#include "mail/address.hpp"

#include "mail/mime.hpp"

#include <gtest/gtest.h>

#include <string>

namespace herald::mail {
namespace {

// The reason for a refusal; fails the test when the input was accepted.
std::string refusal(std::string_view text) {
    const auto result = parse_mailbox(text);
    if (result) {
        ADD_FAILURE() << "accepted: " << text << " as " << result->address;
        return {};
    }
    const std::string& reason = result.error();
    EXPECT_FALSE(reason.empty());
    EXPECT_FALSE(contains_cr_or_lf(reason));
    EXPECT_EQ(reason.find("spy"), std::string::npos) << "reason echoes the input: " << reason;
    EXPECT_LT(reason.size(), 80u);
    return reason;
}

Mailbox accepted(std::string_view text) {
    const auto result = parse_mailbox(text);
    if (!result) {
        ADD_FAILURE() << "refused: " << text << ": " << result.error();
        return {};
    }
    return *result;
}

TEST(ParseMailbox, AcceptsABareAddress) {
    const Mailbox mailbox = accepted("alice@example.com");
    EXPECT_EQ(mailbox.name, "");
    EXPECT_EQ(mailbox.address, "alice@example.com");
}

TEST(ParseMailbox, AcceptsANameWithAngleAddress) {
    const Mailbox mailbox = accepted("Notifier <noreply@example.com>");
    EXPECT_EQ(mailbox.name, "Notifier");
    EXPECT_EQ(mailbox.address, "noreply@example.com");
    EXPECT_EQ(accepted("  Alice Example   <alice@example.com>  ").name, "Alice Example");
    EXPECT_EQ(accepted("<alice@example.com>").name, "");
}

TEST(ParseMailbox, UnquotesAQuotedDisplayName) {
    const Mailbox mailbox = accepted(R"("Example, Alice \"Al\"" <alice@example.com>)");
    EXPECT_EQ(mailbox.name, R"(Example, Alice "Al")");
    EXPECT_EQ(accepted(R"(Team "Ops" West <ops@example.com>)").name, "Team Ops West");
}

TEST(ParseMailbox, LowerCasesTheDomainButNotTheLocalPart) {
    EXPECT_EQ(accepted("Alice.Smith@Example.COM").address, "Alice.Smith@example.com");
}

TEST(ParseMailbox, ConvertsAnIdnDomainToALabels) {
    EXPECT_EQ(accepted("user@b\xc3\xbc"
                       "cher.example.com")
                  .address,
              "user@xn--bcher-kva.example.com");
    EXPECT_EQ(accepted("user@B\xc3\x9c"
                       "CHER.example.com")
                  .address,
              "user@xn--bcher-kva.example.com");
    EXPECT_EQ(accepted("user@xn--bcher-kva.example.com").address, "user@xn--bcher-kva.example.com");
    refusal("user@xn--zz.example.com");
}

TEST(ParseMailbox, AcceptsAUtf8LocalPartThatNeedsSmtputf8) {
    const Mailbox mailbox = accepted("j\xc3\xbcrgen@example.com");
    EXPECT_EQ(mailbox.address, "j\xc3\xbcrgen@example.com");
    EXPECT_TRUE(mailbox.needs_smtputf8());
    EXPECT_FALSE(accepted("user@b\xc3\xbc"
                          "cher.example.com")
                     .needs_smtputf8());
}

TEST(ParseMailbox, AcceptsASingleLabelDomainAndAtextSymbols) {
    EXPECT_EQ(accepted("root@localhost").address, "root@localhost");
    EXPECT_EQ(accepted("a!#$%&'*+-/=?^_`{|}~z@x-1.example").address,
              "a!#$%&'*+-/=?^_`{|}~z@x-1.example");
}

// M1: every header-injection attempt through an address field.
TEST(ParseMailbox, RefusesCrOrLfAnywhere) {
    refusal("alice@example.com\r\nBcc: spy@example.net");
    refusal("bob@example.com\nX-Injected: 1");
    refusal("Support\r\nReply-To: spy@example.net <noreply@example.com>");
    refusal("Alice\rBcc: spy@example.net <alice@example.com>");
    refusal("alice@example.com\r");
    refusal("\nalice@example.com");
}

TEST(MakeMailbox, RefusesCrOrLfInTheNameOrAddress) {
    const auto name = make_mailbox("Alice\r\nBcc: spy@example.net", "alice@example.com");
    ASSERT_FALSE(name);
    EXPECT_FALSE(contains_cr_or_lf(name.error()));
    EXPECT_FALSE(make_mailbox("Alice", "alice@example.com\r\nBcc: spy@example.net"));
    EXPECT_FALSE(make_mailbox("Alice\n", "alice@example.com"));
}

TEST(MakeMailbox, AcceptsTheRegressionGuard) {
    const auto mailbox = make_mailbox("Alice Example", "alice@example.com");
    ASSERT_TRUE(mailbox);
    EXPECT_EQ(mailbox->name, "Alice Example");
    EXPECT_EQ(mailbox->address, "alice@example.com");
}

TEST(MakeMailbox, RefusesControlCharactersAndInvalidUtf8InTheName) {
    EXPECT_FALSE(make_mailbox(std::string("A\0B", 3), "a@example.com"));
    EXPECT_FALSE(make_mailbox("A\x7f", "a@example.com"));
    EXPECT_FALSE(make_mailbox("A\xc3", "a@example.com"));
    EXPECT_TRUE(make_mailbox("Zo\xc3\xab \xc3\x9cnl\xc3\xbc", "a@example.com"));
}

TEST(ParseMailbox, RefusesInvalidUtf8) {
    refusal("a\xff@example.com");
    refusal(
        "a@ex\xc3"
        "ample.com");
    refusal("\xc0\xaf <a@example.com>");
}

TEST(ParseMailbox, RefusesAmbiguousInput) {
    refusal("alice@example.com, spy@example.net");
    refusal("Alice <alice@example.com>, spy@example.net");
    refusal("Alice <alice@example.com> <spy@example.net>");
    refusal("Alice <alice@example.com> spy@example.net");
    refusal("Alice <alice@example.com");
    refusal("Alice alice@example.com>");
    refusal("Alice >alice@example.com<");
    refusal("\"Alice <alice@example.com>");
    refusal("Alice\" <alice@example.com>");
    refusal("friends: alice@example.com, spy@example.net;");
    refusal("undisclosed-recipients:;");
    refusal("alice@example.com (spy@example.net)");
    refusal("Alice (x) <alice@example.com>");
    refusal("Alice alice@example.com");
    refusal("Alice\\ <alice@example.com>");
}

TEST(ParseMailbox, RefusesAMalformedLocalPart) {
    refusal("@example.com");
    refusal("<@example.com>");
    refusal(".alice@example.com");
    refusal("alice.@example.com");
    refusal("al..ice@example.com");
    refusal("al ice@example.com");
    refusal("\"al ice\"@example.com");
    refusal("<\"alice\"@example.com>");
    refusal("al\\ice@example.com");
    refusal(std::string(65, 'a') + "@example.com");
    EXPECT_EQ(accepted(std::string(64, 'a') + "@example.com").address.size(), 76u);
}

TEST(ParseMailbox, RefusesAMalformedDomain) {
    refusal("alice");
    refusal("alice@");
    refusal("alice@@example.com");
    refusal("alice@spy@example.net");
    refusal("alice@example..com");
    refusal("alice@.example.com");
    refusal("alice@example.com.");
    refusal("alice@-example.com");
    refusal("alice@example-.com");
    refusal("alice@exa_mple.com");
    refusal("alice@exa mple.com");
    refusal("alice@[192.0.2.1]");
    refusal("alice@192.0.2.1");
    refusal("alice@" + std::string(64, 'd') + ".com");
    EXPECT_TRUE(parse_mailbox("alice@" + std::string(63, 'd') + ".com"));
}

TEST(ParseMailbox, RefusesAnAddressLongerThan254Octets) {
    const std::string label(60, 'd');
    const std::string local(64, 'l');
    const std::string address_ok =
        local + "@" + label + "." + label + "." + label + "." + std::string(6, 'e');
    ASSERT_EQ(address_ok.size(), 254u);
    EXPECT_TRUE(parse_mailbox(address_ok));
    refusal(address_ok + "e");
}

TEST(ParseMailbox, RefusesEmptyInput) {
    refusal("");
    refusal("   ");
    refusal("<>");
    refusal("Alice <>");
}

TEST(ParseMailbox, RefusesHugeInputQuickly) {
    refusal(std::string(1 << 20, 'a') + "@example.com");
}

}  // namespace
}  // namespace herald::mail
