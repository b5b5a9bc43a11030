#include "mail/template.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace herald::mail {
namespace {

namespace fs = std::filesystem;

boost::json::object data_of(std::string_view json) {
    return boost::json::parse(json).as_object();
}

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
public:
    TempDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        path_ = fs::temp_directory_path() /
                ("herald_mail_" + std::string{info->name()} + "_" + std::to_string(::getpid()));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

    void write(const fs::path& relative, std::string_view content) const {
        fs::create_directories((path_ / relative).parent_path());
        std::ofstream out{path_ / relative, std::ios::binary};
        out << content;
    }

private:
    fs::path path_;
};

// A value nested `depth` containers deep (arrays and objects alternating), built without
// recursion; `leaf` sits at the bottom.
boost::json::value nested(std::size_t depth) {
    boost::json::value value = "leaf";
    for (std::size_t i = 0; i < depth; ++i) {
        if (i % 2 == 0) {
            boost::json::array array;
            array.push_back(std::move(value));
            value = std::move(array);
        } else {
            boost::json::object object;
            object["k"] = std::move(value);
            value = std::move(object);
        }
    }
    return value;
}

TEST(Render, EscapesHtmlOnlyInTheHtmlPart) {
    const TemplateSource source{"Order {{id}} for {{name}}",
                                "Dear {{name}},\n{{note}}",
                                "<p>Dear {{name}}</p><p>{{note}}</p>"};
    const auto rendered =
        render(source, data_of(R"({"id":42,"name":"Tom & \"Jerry\" <tj>","note":"it's"})"));
    ASSERT_TRUE(rendered) << rendered.error();
    EXPECT_EQ(rendered->subject, "Order 42 for Tom & \"Jerry\" <tj>");
    EXPECT_EQ(rendered->text, "Dear Tom & \"Jerry\" <tj>,\nit's");
    EXPECT_EQ(rendered->html, "<p>Dear Tom &amp; &quot;Jerry&quot; &lt;tj&gt;</p><p>it&apos;s</p>");
}

TEST(Render, RendersSectionsListsAndScalars) {
    const TemplateSource source{
        "",
        "{{#items}}- {{name}} x{{qty}}\n{{/items}}{{^empty}}none{{/empty}}{{#flag}}on{{/flag}}"
        "{{#nothing}}never{{/nothing}} {{price}} {{big}}",
        ""};
    const auto rendered = render(source, data_of(R"({"items":[{"name":"a","qty":1},
        {"name":"b","qty":2}],"empty":[],"flag":true,"nothing":null,"price":1.5,
        "big":18446744073709551615})"));
    ASSERT_TRUE(rendered) << rendered.error();
    EXPECT_EQ(rendered->text, "- a x1\n- b x2\nnoneon 1.5 18446744073709551615");
    EXPECT_EQ(rendered->subject, "");
    EXPECT_EQ(rendered->html, "");
}

TEST(Render, NeverRendersADataValueAsATemplate) {
    // kainjow would treat a string value named by {{> p}} as a partial; herald switches that
    // off, so neither injected template code nor self-recursion can run.
    const TemplateSource source{"", "a{{> p}}b {{{raw}}} {{raw}}", ""};
    const auto rendered = render(source, data_of(R"({"p":"{{> p}}{{secret}}","secret":"S",
        "raw":"{{secret}}"})"));
    ASSERT_TRUE(rendered) << rendered.error();
    EXPECT_EQ(rendered->text, "ab {{secret}} {{secret}}");
}

TEST(Render, ReportsATemplateThatDoesNotParse) {
    const auto rendered = render({"", "{{#open}} never closed", ""}, {});
    ASSERT_FALSE(rendered);
    EXPECT_NE(rendered.error().find("text template"), std::string::npos) << rendered.error();
    EXPECT_EQ(rendered.error().find('\n'), std::string::npos);
}

TEST(Render, RefusesASubjectThatRendersALineBreak) {
    const auto rendered =
        render({"Hi {{name}}", "", ""}, data_of(R"({"name":"x\r\nBcc: spy@example.net"})"));
    ASSERT_FALSE(rendered);
    EXPECT_EQ(rendered.error().find("spy"), std::string::npos);
}

// M7: depth is refused at the limit without walking the value, however deep it goes.
TEST(Render, RefusesDataDeeperThanTheLimit) {
    const TemplateSource source{"s", "t", ""};
    for (const std::size_t depth :
         {std::size_t{100000}, std::size_t{5000}, kMaxTemplateDataDepth}) {
        boost::json::object data;
        data["deep"] = nested(depth);
        const auto rendered = render(source, data);
        ASSERT_FALSE(rendered) << depth;
        EXPECT_NE(rendered.error().find("nested deeper"), std::string::npos);
        // The destructor of a 100 000-deep boost::json value recurses; take it apart level
        // by level instead, so that the test itself stays within the stack.
        boost::json::value current = std::move(data["deep"]);
        while (current.is_array() || current.is_object()) {
            boost::json::value inner = current.is_array() ? std::move(current.as_array()[0])
                                                          : std::move(current.as_object()["k"]);
            current = std::move(inner);
        }
    }
}

TEST(Render, AcceptsDataAtTheLimitAndAt32Levels) {
    for (const std::size_t depth : {std::size_t{31}, kMaxTemplateDataDepth - 1}) {
        boost::json::object data;
        data["deep"] = nested(depth);  // the object itself is one more level
        const auto rendered = render({"s", "{{#deep}}x{{/deep}}", ""}, data);
        ASSERT_TRUE(rendered) << depth << ": " << rendered.error();
        EXPECT_EQ(rendered->text, "x");
    }
}

TEST(TemplateLibrary, LoadsEveryTemplateOnceWithMissingPartsEmpty) {
    TempDir dir;
    dir.write("welcome/subject.mustache", "Welcome {{name}}\n");
    dir.write("welcome/text.mustache", "Hello {{name}}\n");
    dir.write("welcome/html.mustache", "<p>Hello {{name}}</p>\n");
    dir.write("reset/text.mustache", "Code {{code}}");
    dir.write("empty/readme.txt", "not a template");
    const auto library = TemplateLibrary::load(dir.path().string());
    ASSERT_TRUE(library) << library.error();

    const TemplateSource* welcome = library->find("welcome");
    ASSERT_NE(welcome, nullptr);
    EXPECT_EQ(welcome->subject, "Welcome {{name}}");
    EXPECT_EQ(welcome->text, "Hello {{name}}\n");
    EXPECT_EQ(welcome->html, "<p>Hello {{name}}</p>\n");
    const TemplateSource* reset = library->find("reset");
    ASSERT_NE(reset, nullptr);
    EXPECT_EQ(reset->subject, "");
    EXPECT_EQ(reset->html, "");
    EXPECT_EQ(library->find("empty"), nullptr);
    EXPECT_EQ(library->find("missing"), nullptr);

    // Read once: later changes on disk do not show.
    dir.write("welcome/text.mustache", "changed");
    EXPECT_EQ(library->find("welcome")->text, "Hello {{name}}\n");

    const auto rendered = render(*welcome, data_of(R"({"name":"Ana"})"));
    ASSERT_TRUE(rendered);
    EXPECT_EQ(rendered->subject, "Welcome Ana");
}

TEST(TemplateLibrary, FailsOnAMissingDirectory) {
    TempDir dir;
    const auto library = TemplateLibrary::load((dir.path() / "absent").string());
    ASSERT_FALSE(library);
    EXPECT_NE(library.error().find("does not exist"), std::string::npos);
}

TEST(TemplateLibrary, FailsOnATemplateThatDoesNotParseOrIsNotUtf8) {
    {
        TempDir dir;
        dir.write("bad/text.mustache", "{{#a}}unclosed");
        const auto library = TemplateLibrary::load(dir.path().string());
        ASSERT_FALSE(library);
        EXPECT_NE(library.error().find("text.mustache"), std::string::npos) << library.error();
    }
    {
        TempDir dir;
        dir.write("bad/html.mustache", "caf\xe9");
        const auto library = TemplateLibrary::load(dir.path().string());
        ASSERT_FALSE(library);
        EXPECT_NE(library.error().find("UTF-8"), std::string::npos) << library.error();
    }
}

}  // namespace
}  // namespace herald::mail
