#include "delivery/transports.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdlib.h>

namespace herald::delivery {
namespace {

namespace fs = std::filesystem;

TransportOptions with_url(std::string url) {
    TransportOptions options;
    options.url = std::move(url);
    return options;
}

TEST(MakeTransport, BuildsEachKindFromItsUrl) {
    std::string pattern = (fs::temp_directory_path() / "herald-transports-XXXXXX").string();
    const fs::path dir = mkdtemp(pattern.data());

    auto maildir = make_transport(with_url("maildir:" + (dir / "mail").string()));
    ASSERT_TRUE(maildir) << maildir.error();
    EXPECT_EQ((*maildir)->name(), "maildir");
    EXPECT_TRUE(fs::is_directory(dir / "mail" / "new"));

    for (const char* url : {"smtp://127.0.0.1:2525", "smtps://127.0.0.1:465"}) {
        auto smtp = make_transport(with_url(url));
        ASSERT_TRUE(smtp) << smtp.error();
        EXPECT_EQ((*smtp)->name(), "smtp");
    }
    for (const char* url : {"http://127.0.0.1:8025/v1/send", "https://api.example.com/v1/send"}) {
        auto http = make_transport(with_url(url));
        ASSERT_TRUE(http) << http.error();
        EXPECT_EQ((*http)->name(), "http");
    }
    fs::remove_all(dir);
}

TEST(MakeTransport, RefusesAnUnknownScheme) {
    auto transport = make_transport(with_url("ftp://example.com"));
    ASSERT_FALSE(transport);
    EXPECT_NE(transport.error().find("unknown transport"), std::string::npos);
}

TEST(MakeTransport, RefusesAnUnknownStarttlsMode) {
    TransportOptions options = with_url("smtp://127.0.0.1:25");
    options.smtp.starttls = "sometimes";
    auto transport = make_transport(options);
    ASSERT_FALSE(transport);
    EXPECT_NE(transport.error().find("starttls"), std::string::npos);
}

TEST(MakeTransport, RefusesAnUnknownHttpProfile) {
    TransportOptions options = with_url("https://api.example.com/v3/mail/send");
    options.http.profile = "sendgrid";
    EXPECT_TRUE(make_transport(options));
    options.http.profile = "postmark";
    auto transport = make_transport(options);
    ASSERT_FALSE(transport);
    EXPECT_NE(transport.error().find("http profile"), std::string::npos) << transport.error();
}

TEST(MakeTransport, RefusesMalformedNetworkUrls) {
    for (const char* url : {"smtp://", "http://", "smtp://host:25/path", "http://exa mple.com/"}) {
        EXPECT_FALSE(make_transport(with_url(url))) << url;
    }
}

TEST(MakeTransport, KeepsCredentialsOutOfErrors) {
    TransportOptions options = with_url("smtp://user:hunter2@127.0.0.1:25");
    options.smtp.starttls = "bogus";
    auto transport = make_transport(options);
    ASSERT_FALSE(transport);
    EXPECT_EQ(transport.error().find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace herald::delivery
