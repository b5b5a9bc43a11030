#include "config/load.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <unistd.h>

namespace herald::config {
namespace {

EnvLookup env_of(std::map<std::string, std::string> values) {
    return [values](const std::string& name) -> std::optional<std::string> {
        auto it = values.find(name);
        if (it == values.end()) {
            return std::nullopt;
        }
        return it->second;
    };
}

std::string write_file(const std::string& text) {
    char path[] = "/tmp/herald-config-XXXXXX";
    const int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    close(fd);
    std::ofstream(path) << text;
    return path;
}

TEST(LoadSettings, UsesEmbeddedDefaultsWithoutFileEnvOrFlags) {
    auto settings = load_settings("", env_of({}), {});
    ASSERT_TRUE(settings) << settings.error();
    EXPECT_EQ(settings->server.listen, "127.0.0.1:8080");
    EXPECT_EQ(settings->store.url, "sqlite:./var/herald.db");
    EXPECT_EQ(settings->delivery.transport, "maildir:./var/mail");
}

TEST(LoadSettings, FlagsBeatEnvironmentWhichBeatsTheFile) {
    const auto path = write_file(
        "[server]\nlisten = \"127.0.0.1:1000\"\nmax_connections = 7\n"
        "[delivery]\nmax_attempts = 3\n");
    Overrides flags;
    flags.listen = "127.0.0.1:3000";
    auto settings = load_settings(
        path,
        env_of({{"HERALD_SERVER_LISTEN", "127.0.0.1:2000"}, {"HERALD_DELIVERY_MAX_ATTEMPTS", "5"}}),
        flags);
    ASSERT_TRUE(settings) << settings.error();
    EXPECT_EQ(settings->server.listen, "127.0.0.1:3000");
    EXPECT_EQ(settings->server.max_connections, 7);
    EXPECT_EQ(settings->delivery.max_attempts, 5);
    std::remove(path.c_str());
}

TEST(LoadSettings, SetAssignmentsChangeAnyNonSecretSetting) {
    Overrides flags;
    flags.assignments = {"server.max_body_bytes=2048", "delivery.poll_interval_ms=50"};
    auto settings = load_settings("", env_of({}), flags);
    ASSERT_TRUE(settings) << settings.error();
    EXPECT_EQ(settings->server.max_body_bytes, 2048u);
    EXPECT_EQ(settings->delivery.poll_interval.count(), 50);
}

TEST(LoadSettings, DefaultMaxAgeIsADayAndZeroTurnsItOff) {
    auto defaults = load_settings("", env_of({}), {});
    ASSERT_TRUE(defaults) << defaults.error();
    EXPECT_EQ(defaults->delivery.max_age_s, 86400);

    auto off = load_settings("", env_of({{"HERALD_DELIVERY_MAX_AGE_S", "0"}}), {});
    ASSERT_TRUE(off) << off.error();
    EXPECT_EQ(off->delivery.max_age_s, 0);

    for (const char* bad : {"-1", "2592001", "1.5", "day"}) {
        auto refused = load_settings("", env_of({{"HERALD_DELIVERY_MAX_AGE_S", bad}}), {});
        ASSERT_FALSE(refused) << bad;
        EXPECT_NE(refused.error().find("HERALD_DELIVERY_MAX_AGE_S"), std::string::npos)
            << refused.error();
    }
}

TEST(LoadSettings, RefusesSecretsOnTheCommandLine) {
    Overrides flags;
    flags.assignments = {"smtp.password=hunter2"};
    auto settings = load_settings("", env_of({}), flags);
    ASSERT_FALSE(settings);
    EXPECT_NE(settings.error().find("secrets"), std::string::npos);
    EXPECT_EQ(settings.error().find("hunter2"), std::string::npos);
}

TEST(LoadSettings, NamesTheBadSettingAndItsSource) {
    auto settings = load_settings("", env_of({{"HERALD_SERVER_MAX_CONNECTIONS", "lots"}}), {});
    ASSERT_FALSE(settings);
    EXPECT_NE(settings.error().find("HERALD_SERVER_MAX_CONNECTIONS"), std::string::npos);
}

TEST(LoadSettings, RefusesUnknownKeysInTheFile) {
    const auto path = write_file("[server]\nlisen = \"x\"\n");
    auto settings = load_settings(path, env_of({}), {});
    ASSERT_FALSE(settings);
    EXPECT_NE(settings.error().find("server.lisen"), std::string::npos);
    std::remove(path.c_str());
}

TEST(LoadSettings, ReportsTheLineOfAMalformedFile) {
    const auto path = write_file("[server]\nlisten = \n");
    auto settings = load_settings(path, env_of({}), {});
    ASSERT_FALSE(settings);
    EXPECT_NE(settings.error().find("line 2"), std::string::npos);
    std::remove(path.c_str());
}

TEST(LoadSettings, RefusesAnUnknownTransportScheme) {
    Overrides flags;
    flags.transport = "carrier-pigeon://coop";
    EXPECT_FALSE(load_settings("", env_of({}), flags));
}

TEST(LoadSettings, ReadsApiKeysFromATableOrTheEnvironment) {
    const auto path = write_file("[auth.api_keys]\nk1 = \"billing\"\nk2 = \"signup\"\n");
    auto from_file = load_settings(path, env_of({}), {});
    ASSERT_TRUE(from_file) << from_file.error();
    EXPECT_EQ(from_file->auth.api_keys.at("k2"), "signup");
    auto from_env = load_settings("", env_of({{"HERALD_AUTH_API_KEYS", "a=one,b=two"}}), {});
    ASSERT_TRUE(from_env) << from_env.error();
    EXPECT_EQ(from_env->auth.api_keys.at("b"), "two");
    std::remove(path.c_str());
}

TEST(Describe, MasksSecretsAndPrintsValidToml) {
    auto settings = load_settings("",
                                  env_of({{"HERALD_SMTP_PASSWORD", "hunter2"},
                                          {"HERALD_HTTP_TOKEN", "tok-123"},
                                          {"HERALD_AUTH_API_KEYS", "sekrit=ops"}}),
                                  {});
    ASSERT_TRUE(settings) << settings.error();
    const std::string text = describe(*settings);
    EXPECT_EQ(text.find("hunter2"), std::string::npos);
    EXPECT_EQ(text.find("tok-123"), std::string::npos);
    EXPECT_EQ(text.find("sekrit"), std::string::npos);
    EXPECT_NE(text.find("password = \"***\""), std::string::npos);

    const auto path = write_file(text);
    auto reread = load_settings(path, env_of({}), {});
    EXPECT_TRUE(reread) << (reread ? "" : reread.error());
    std::remove(path.c_str());
}

TEST(LoadSettings, RefusesValuesOfTheWrongTomlType) {
    const auto quoted_number = write_file("[server]\nio_threads = \"4\"\n");
    EXPECT_FALSE(load_settings(quoted_number, env_of({}), {}));
    const auto quoted_bool = write_file("[delivery]\npaused = \"true\"\n");
    EXPECT_FALSE(load_settings(quoted_bool, env_of({}), {}));
    const auto bare_number = write_file("[server]\nlisten = 8080\n");
    EXPECT_FALSE(load_settings(bare_number, env_of({}), {}));
    for (const auto& path : {quoted_number, quoted_bool, bare_number}) {
        std::remove(path.c_str());
    }
}

TEST(LoadSettings, RefusesAListenHostThatIsNotAnAddress) {
    Overrides flags;
    flags.listen = "foo.example:80";
    EXPECT_FALSE(load_settings("", env_of({}), flags));
    flags.listen = "localhost:80";
    EXPECT_TRUE(load_settings("", env_of({}), flags));
}

TEST(LoadSettings, RefusesMalformedSmtpTransports) {
    Overrides flags;
    for (const char* bad : {"smtp://", "smtp://127.0.0.1:25/path", "smtp://host:0", "smtp://:25"}) {
        flags.transport = bad;
        EXPECT_FALSE(load_settings("", env_of({}), flags)) << bad;
    }
    flags.transport = "smtp://127.0.0.1:2525";
    EXPECT_TRUE(load_settings("", env_of({}), flags));
}

TEST(LoadSettings, ReadsTheHttpProfileFromEachSource) {
    EXPECT_EQ(load_settings("", env_of({}), {})->delivery.http.profile, "herald");
    const auto path = write_file("[http]\nprofile = \"sendgrid\"\n");
    EXPECT_EQ(load_settings(path, env_of({}), {})->delivery.http.profile, "sendgrid");
    std::remove(path.c_str());
    Overrides flags;
    flags.transport = "https://api.mailgun.net/v3/mg.example.com/messages";
    auto from_env = load_settings("", env_of({{"HERALD_HTTP_PROFILE", "mailgun"}}), flags);
    ASSERT_TRUE(from_env) << from_env.error();
    EXPECT_EQ(from_env->delivery.http.profile, "mailgun");
    flags.assignments = {"http.profile=herald"};
    EXPECT_EQ(load_settings("", env_of({{"HERALD_HTTP_PROFILE", "mailgun"}}), flags)
                  ->delivery.http.profile,
              "herald");
}

TEST(LoadSettings, RefusesAnUnknownHttpProfileNamingTheSetting) {
    const auto path = write_file("[http]\nprofile = \"postmark\"\n");
    auto from_file = load_settings(path, env_of({}), {});
    ASSERT_FALSE(from_file);
    EXPECT_NE(from_file.error().find("http.profile must be one of: herald, sendgrid, mailgun"),
              std::string::npos)
        << from_file.error();
    std::remove(path.c_str());
    auto from_env = load_settings("", env_of({{"HERALD_HTTP_PROFILE", "SendGrid"}}), {});
    ASSERT_FALSE(from_env);
    EXPECT_NE(from_env.error().find("HERALD_HTTP_PROFILE"), std::string::npos) << from_env.error();
}

TEST(LoadSettings, RefusesAMailgunProfileWhoseUrlNamesNoDomain) {
    Overrides flags;
    flags.assignments = {"http.profile=mailgun"};
    for (const char* bad : {"https://api.mailgun.net",
                            "https://api.mailgun.net/v3/messages",
                            "https://api.mailgun.net/v3//messages",
                            "https://api.mailgun.net/v3/mg.example.com/events"}) {
        flags.transport = bad;
        auto settings = load_settings("", env_of({}), flags);
        ASSERT_FALSE(settings) << bad;
        EXPECT_NE(settings.error().find("http.profile = \"mailgun\" needs delivery.transport"),
                  std::string::npos)
            << settings.error();
    }
    flags.transport = "https://api.eu.mailgun.net/v3/mg.example.com/messages";
    EXPECT_TRUE(load_settings("", env_of({}), flags));
    flags.transport = "maildir:./var/mail";  // the profile is unused without an http transport
    EXPECT_TRUE(load_settings("", env_of({}), flags));
}

TEST(Describe, EscapesQuotesSoTheOutputStaysValidToml) {
    Overrides flags;
    flags.assignments = {"smtp.helo=a\"b\\c"};
    auto settings = load_settings("", env_of({}), flags);
    ASSERT_TRUE(settings) << settings.error();
    const auto path = write_file(describe(*settings));
    auto reread = load_settings(path, env_of({}), {});
    ASSERT_TRUE(reread) << reread.error();
    EXPECT_EQ(reread->delivery.smtp.helo, "a\"b\\c");
    std::remove(path.c_str());
}

TEST(SplitHostPort, AcceptsIpv4AndBracketedIpv6) {
    auto v4 = split_host_port("127.0.0.1:8080");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->first, "127.0.0.1");
    EXPECT_EQ(v4->second, 8080);
    auto v6 = split_host_port("[::1]:0");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->first, "::1");
    EXPECT_FALSE(split_host_port("127.0.0.1:99999"));
    EXPECT_FALSE(split_host_port("nohost"));
}

TEST(LoadSettings, ReadsTheRateAsADecimalOrWholeNumberFromEachSource) {
    const auto decimal = write_file("[delivery]\nrate_per_s = 2.5\n");
    auto from_file = load_settings(decimal, env_of({}), {});
    ASSERT_TRUE(from_file) << from_file.error();
    EXPECT_DOUBLE_EQ(from_file->delivery.rate_per_s, 2.5);
    const auto whole = write_file("[delivery]\nrate_per_s = 40\n");
    auto from_whole = load_settings(whole, env_of({}), {});
    ASSERT_TRUE(from_whole) << from_whole.error();
    EXPECT_DOUBLE_EQ(from_whole->delivery.rate_per_s, 40);
    auto from_env = load_settings("", env_of({{"HERALD_DELIVERY_RATE_PER_S", "0.5"}}), {});
    ASSERT_TRUE(from_env) << from_env.error();
    EXPECT_DOUBLE_EQ(from_env->delivery.rate_per_s, 0.5);
    for (const auto& path : {decimal, whole}) {
        std::remove(path.c_str());
    }
}

TEST(LoadSettings, RefusesARateThatIsNotAPlainNonNegativeNumber) {
    for (const std::string value :
         {"abc", "-1", "1e3", ".5", "5.", "", "nan", "2000000", "0.0000000001", "0.0009"}) {
        auto settings = load_settings("", env_of({{"HERALD_DELIVERY_RATE_PER_S", value}}), {});
        ASSERT_FALSE(settings) << value;
        EXPECT_NE(settings.error().find("HERALD_DELIVERY_RATE_PER_S"), std::string::npos);
        EXPECT_NE(settings.error().find("to 1000000"), std::string::npos) << settings.error();
    }
}

TEST(LoadSettings, RefusesAThrottlePauseCeilingBelowTheFirstPause) {
    Overrides flags;
    flags.assignments = {"delivery.throttle_pause_ms=5000", "delivery.throttle_pause_max_ms=1000"};
    auto settings = load_settings("", env_of({}), flags);
    ASSERT_FALSE(settings);
    EXPECT_NE(settings.error().find("delivery.throttle_pause_max_ms"), std::string::npos);
}

TEST(LoadSettings, RefusesAMinimumConcurrencyAboveTheMaximum) {
    Overrides flags;
    flags.assignments = {"delivery.concurrency=4", "delivery.min_concurrency=8"};
    auto settings = load_settings("", env_of({}), flags);
    ASSERT_FALSE(settings);
    EXPECT_NE(settings.error().find("delivery.min_concurrency"), std::string::npos);
}

TEST(LoadSettings, RefusesARetryAfterCapUnderASecond) {
    auto settings = load_settings("", env_of({{"HERALD_DELIVERY_RETRY_AFTER_MAX_MS", "0"}}), {});
    ASSERT_FALSE(settings);
    EXPECT_NE(settings.error().find("HERALD_DELIVERY_RETRY_AFTER_MAX_MS"), std::string::npos);
}

TEST(LoadSettings, ReadsSmtpTransientRepliesAndRefusesAnythingButFiveHundreds) {
    auto good = load_settings("", env_of({{"HERALD_SMTP_TRANSIENT_REPLIES", " 550, 554 "}}), {});
    ASSERT_TRUE(good) << good.error();
    EXPECT_EQ(parse_reply_codes(good->delivery.smtp.transient_replies),
              (std::vector<int>{550, 554}));
    EXPECT_EQ(parse_reply_codes(""), std::vector<int>{});
    for (const std::string value : {"450", "550,,554", "abc", "550;554", "600", "550,"}) {
        auto bad = load_settings("", env_of({{"HERALD_SMTP_TRANSIENT_REPLIES", value}}), {});
        ASSERT_FALSE(bad) << value;
        EXPECT_NE(bad.error().find("HERALD_SMTP_TRANSIENT_REPLIES"), std::string::npos)
            << bad.error();
        EXPECT_NE(bad.error().find("5xx reply codes"), std::string::npos) << bad.error();
    }
}

TEST(LoadSettings, AcceptsTheSmallestRateAndZero) {
    for (const std::string value : {"0", "0.001", "1000000"}) {
        auto settings = load_settings("", env_of({{"HERALD_DELIVERY_RATE_PER_S", value}}), {});
        EXPECT_TRUE(settings) << value << ": " << settings.error();
    }
}

TEST(LoadSettings, RefusesAnOtlpEndpointThatIsNotAnHttpUrlNamingTheVariable) {
    for (const std::string value : {"not a url",
                                    "http://a b",
                                    "https://127.0.0.1:99999",
                                    "http://",
                                    "ftp://collector",
                                    "http://:4318",
                                    "http://h:x"}) {
        auto settings = load_settings("", env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", value}}), {});
        ASSERT_FALSE(settings) << value;
        EXPECT_NE(settings.error().find("OTEL_EXPORTER_OTLP_ENDPOINT"), std::string::npos)
            << settings.error();
    }
    for (const std::string value :
         {"http://127.0.0.1:4318", "https://collector.example/otlp", "http://[::1]:4318"}) {
        auto settings = load_settings("", env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", value}}), {});
        EXPECT_TRUE(settings) << value << ": " << settings.error();
    }
}

TEST(CheckEnvironmentNames, RefusesAMisspeltSettingVariableAndLeavesOthersAlone) {
    const auto misspelt = check_environment_names({"PATH", "HERALD_DELIVERY_RATE_PER_SEC"});
    ASSERT_TRUE(misspelt.has_value());
    EXPECT_NE(misspelt->find("HERALD_DELIVERY_RATE_PER_SEC"), std::string::npos);
    EXPECT_FALSE(check_environment_names({"HERALD_DELIVERY_RATE_PER_S",
                                          "HERALD_LOG_LEVEL",
                                          "HERALD_DEBUG_BLOCKING_ROUTE",
                                          "HERALD_BUILD_DIR",
                                          "HERALD_TEST_JOBS",
                                          "HOME"})
                     .has_value());
    EXPECT_TRUE(check_environment_names({"HERALD_SERVER_LISTN"}).has_value());
}

}  // namespace
}  // namespace herald::config
