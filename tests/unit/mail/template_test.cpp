#include "mail/template.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>
#include <kainjow/mustache.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

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

// {"a":[1,1,...]} with `count` items.
boost::json::object list_of(std::size_t count) {
    boost::json::array items;
    items.resize(count, 1);
    boost::json::object data;
    data["a"] = std::move(items);
    return data;
}

// `depth` sections named a, nested, around "x".
std::string nested_sections(std::size_t depth) {
    std::string source;
    for (std::size_t i = 0; i < depth; ++i) {
        source += "{{#a}}";
    }
    source += "x";
    for (std::size_t i = 0; i < depth; ++i) {
        source += "{{/a}}";
    }
    return source;
}

bool mentions(const std::string& reason, std::string_view part) {
    return reason.find(part) != std::string::npos;
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

// The review case: a 1.7 KB request whose three nested passes over 500 items would render
// 125 million bytes. It is refused before any output is made.
TEST(Render, RefusesNestedRepeatsOverALongListWithAReason) {
    const auto rendered = render({"", "{{#a}}{{#a}}{{#a}}x{{/a}}{{/a}}{{/a}}", ""}, list_of(500));
    ASSERT_FALSE(rendered);
    EXPECT_TRUE(mentions(rendered.error(), "more than 100000 rendering steps")) << rendered.error();
    EXPECT_EQ(rendered.error().find('\n'), std::string::npos);
}

// The same loops with nothing in them emit no byte at all: the step count still stops them.
TEST(Render, RefusesNestedRepeatsThatEmitNothing) {
    const auto rendered = render({"", "{{#a}}{{#a}}{{#a}}{{/a}}{{/a}}{{/a}}", ""}, list_of(500));
    ASSERT_FALSE(rendered);
    EXPECT_TRUE(mentions(rendered.error(), "rendering steps")) << rendered.error();
}

TEST(Render, RendersAnOrdinaryHundredItemList) {
    boost::json::array items;
    std::string expected_text;
    std::string expected_html;
    for (int i = 0; i < 100; ++i) {
        items.push_back({{"name", "item <" + std::to_string(i) + ">"}, {"qty", i}});
        expected_text += "- item <" + std::to_string(i) + "> x" + std::to_string(i) + "\n";
        expected_html += "    <tr><td>item &lt;" + std::to_string(i) + "&gt;</td><td>" +
                         std::to_string(i) + "</td></tr>\n";
    }
    boost::json::object data;
    data["items"] = std::move(items);
    data["customer"] = "Ana";
    const TemplateSource source{
        "Your order, {{customer}}",
        "Hello {{customer}},\n{{#items}}\n- {{name}} x{{qty}}\n{{/items}}\nBye\n",
        "<table>\n{{#items}}\n    <tr><td>{{name}}</td><td>{{qty}}</td></tr>\n{{/items}}\n"
        "</table>\n"};
    const auto rendered = render(source, data);
    ASSERT_TRUE(rendered) << rendered.error();
    EXPECT_EQ(rendered->subject, "Your order, Ana");
    EXPECT_EQ(rendered->text, "Hello Ana,\n" + expected_text + "Bye\n");
    EXPECT_EQ(rendered->html, "<table>\n" + expected_html + "</table>\n");
}

TEST(Render, DocumentsItsLimits) {
    EXPECT_EQ(kMaxRenderedBytes, 1048576U);
    EXPECT_EQ(kMaxRenderSteps, 100000U);
    EXPECT_EQ(kMaxTemplateSectionDepth, 16U);
    EXPECT_EQ(RenderLimits{}.max_bytes, kMaxRenderedBytes);
    EXPECT_EQ(RenderLimits{}.max_steps, kMaxRenderSteps);
}

TEST(Render, RendersExactlyTheDefaultByteCapAndNoMore) {
    // A run of text without spaces is one piece, so only bytes matter here.
    const std::string full(kMaxRenderedBytes, 'x');
    const auto at_cap = render({"", full, ""}, {});
    ASSERT_TRUE(at_cap) << at_cap.error();
    EXPECT_EQ(at_cap->text.size(), kMaxRenderedBytes);

    const auto over = render({"", full + "x", ""}, {});
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error(), "template renders more than 1048576 bytes (all parts together)");
}

TEST(Render, CapsTheBytesOfAllPartsTogether) {
    const std::string half(kMaxRenderedBytes / 2, 'x');
    const auto at_cap = render({"", half, half}, {});
    ASSERT_TRUE(at_cap) << at_cap.error();

    const auto over = render({"s", half, half}, {});
    ASSERT_FALSE(over);
    EXPECT_TRUE(mentions(over.error(), "more than 1048576 bytes")) << over.error();

    const RenderLimits limits{10, kMaxRenderSteps};
    EXPECT_TRUE(render({"12345", "12345", ""}, {}, limits));
    EXPECT_FALSE(render({"12345", "", "123456"}, {}, limits));
}

// kainjow flushes its output a line at a time; a template that grows within one line is
// stopped all the same, before it is rendered.
TEST(Render, RefusesOutputThatGrowsWithinOneLine) {
    const std::string row(1000, 'x');
    const auto rendered = render({"", "{{#a}}" + row + "{{/a}}", ""}, list_of(1049));
    ASSERT_FALSE(rendered);
    EXPECT_TRUE(mentions(rendered.error(), "more than 1048576 bytes")) << rendered.error();

    const auto fits = render({"", "{{#a}}" + row + "{{/a}}", ""}, list_of(1048));
    ASSERT_TRUE(fits) << fits.error();
    EXPECT_EQ(fits->text.size(), 1048000U);
}

TEST(Render, ChargesValuesAsEscapedInHtmlAndVerbatimElsewhere) {
    const auto data = data_of(R"({"v":"<&'>"})");  // 4 bytes; 4 + 5 + 6 + 4 = 19 escaped
    const auto escaped = render({"", "", "{{v}}"}, data, RenderLimits{19, kMaxRenderSteps});
    ASSERT_TRUE(escaped) << escaped.error();
    EXPECT_EQ(escaped->html.size(), 19U);
    EXPECT_FALSE(render({"", "", "{{v}}"}, data, RenderLimits{18, kMaxRenderSteps}));
    EXPECT_TRUE(render({"", "", "{{{v}}}{{&v}}"}, data, RenderLimits{8, kMaxRenderSteps}));
    EXPECT_TRUE(render({"{{v}}", "{{v}}", ""}, data, RenderLimits{8, kMaxRenderSteps}));
    EXPECT_FALSE(render({"{{v}}", "{{v}}", ""}, data, RenderLimits{7, kMaxRenderSteps}));
}

// "{{#a}}{{/a}}" costs 2 steps to parse (two tags), 1 to visit the section tag and 1 per pass.
TEST(Render, CountsStepsExactlyAtTheDefaultCap) {
    const TemplateSource source{"", "{{#a}}{{/a}}", ""};
    const auto at_cap = render(source, list_of(kMaxRenderSteps - 3));
    EXPECT_TRUE(at_cap) << at_cap.error();

    const auto over = render(source, list_of(kMaxRenderSteps - 2));
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error(),
              "template needs more than 100000 rendering steps (too many list items, repeats or "
              "pieces)");
}

// The walk takes the sections the renderer takes: "{{#a}}{{^b}}{{.}}{{/b}}{{/a}}" parses in
// 5 pieces + 29 / 16 = 6 steps; #a costs 1, then each of its 3 passes 1, ^b 1, its pass 1 and
// {{.}} 1: 13 steps to render, 19 in all.
TEST(Render, CountsStepsOfNestedAndInvertedSections) {
    const TemplateSource source{"", "{{#a}}{{^b}}{{.}}{{/b}}{{/a}}", ""};
    const auto data = data_of(R"({"a":[1,2,3]})");
    const auto at_cap = render(source, data, RenderLimits{kMaxRenderedBytes, 19});
    ASSERT_TRUE(at_cap) << at_cap.error();
    EXPECT_EQ(at_cap->text, "123");
    EXPECT_FALSE(render(source, data, RenderLimits{kMaxRenderedBytes, 18}));
    // With b true, the inverted section is skipped: 6 + 1 + 3 * (1 + 1) = 13.
    const auto skipped = data_of(R"({"a":[1,2,3],"b":true})");
    EXPECT_TRUE(render(source, skipped, RenderLimits{kMaxRenderedBytes, 13}));
    EXPECT_FALSE(render(source, skipped, RenderLimits{kMaxRenderedBytes, 12}));
}

TEST(Render, ChargesLongAndDottedNamesByTheirCost) {
    // "{{n}}" parses in 1 step (5 bytes) and is visited in 1.
    EXPECT_TRUE(render({"", "{{n}}", ""}, {}, RenderLimits{kMaxRenderedBytes, 2}));
    EXPECT_FALSE(render({"", "{{n}}", ""}, {}, RenderLimits{kMaxRenderedBytes, 1}));
    // A 64-byte name: 1 piece + 68 / 16 = 5 to parse, 1 + 64 / 32 = 3 to visit.
    const TemplateSource long_name{"", "{{" + std::string(64, 'n') + "}}", ""};
    EXPECT_TRUE(render(long_name, {}, RenderLimits{kMaxRenderedBytes, 8}));
    EXPECT_FALSE(render(long_name, {}, RenderLimits{kMaxRenderedBytes, 7}));
    // "{{a.b}}": 1 to parse, 1 + 8 to visit; "{{.}}" is not dotted.
    const auto data = data_of(R"({"a":{"b":"v"}})");
    const auto dotted = render({"", "{{a.b}}", ""}, data, RenderLimits{kMaxRenderedBytes, 10});
    ASSERT_TRUE(dotted) << dotted.error();
    EXPECT_EQ(dotted->text, "v");
    EXPECT_FALSE(render({"", "{{a.b}}", ""}, data, RenderLimits{kMaxRenderedBytes, 9}));
    EXPECT_TRUE(render({"", "{{.}}", ""}, data, RenderLimits{kMaxRenderedBytes, 2}));
}

TEST(Render, ChargesTheSizeOfATemplateBeforeParsingIt) {
    // 32 bytes without a space: 1 piece + 2 to parse, 1 to visit.
    const TemplateSource source{"", std::string(32, 'x'), ""};
    EXPECT_TRUE(render(source, {}, RenderLimits{kMaxRenderedBytes, 4}));
    EXPECT_FALSE(render(source, {}, RenderLimits{kMaxRenderedBytes, 3}));
}

TEST(Render, ChargesEveryPieceOfATemplateBeforeParsingIt) {
    // Every space is a piece of its own: one more than the budget is refused unparsed.
    const auto over = render({"", std::string(kMaxRenderSteps + 1, ' '), ""}, {});
    ASSERT_FALSE(over);
    EXPECT_TRUE(mentions(over.error(), "rendering steps")) << over.error();

    // Parsing "a b" costs 3 and visiting it 3 more.
    EXPECT_TRUE(render({"", "a b", ""}, {}, RenderLimits{kMaxRenderedBytes, 6}));
    EXPECT_FALSE(render({"", "a b", ""}, {}, RenderLimits{kMaxRenderedBytes, 5}));
}

TEST(Render, SharesTheStepBudgetAcrossParts) {
    // Each of "a" costs 1 piece and 1 visit.
    EXPECT_TRUE(render({"a", "a", "a"}, {}, RenderLimits{kMaxRenderedBytes, 6}));
    EXPECT_FALSE(render({"a", "a", "a"}, {}, RenderLimits{kMaxRenderedBytes, 5}));
}

TEST(Render, RefusesSectionsNestedDeeperThanTheLimit) {
    const auto at_limit =
        render({"", nested_sections(kMaxTemplateSectionDepth), ""}, data_of(R"({"a":true})"));
    ASSERT_TRUE(at_limit) << at_limit.error();
    EXPECT_EQ(at_limit->text, "x");

    // 100 000 levels used to exhaust memory in the parser; now they are refused unparsed.
    for (const std::size_t depth : {kMaxTemplateSectionDepth + 1, std::size_t{100000}}) {
        const auto rendered = render({"", "", nested_sections(depth)}, data_of(R"({"a":true})"));
        ASSERT_FALSE(rendered) << depth;
        EXPECT_EQ(rendered.error(), "html template nests sections deeper than 16 levels");
    }
}

TEST(Render, CountsNestingUnderChangedDelimiters) {
    std::string source = "{{=<% %>=}}";
    for (std::size_t i = 0; i <= kMaxTemplateSectionDepth; ++i) {
        source += "<%^a%>";
    }
    const auto rendered = render({"", source, ""}, {});
    ASSERT_FALSE(rendered);
    EXPECT_TRUE(mentions(rendered.error(), "nests sections deeper")) << rendered.error();
}

// A template from the library renders through the same bounds as an inline one.
TEST(TemplateLibrary, LoadedTemplatesRenderWithinTheSameBounds) {
    TempDir dir;
    dir.write("cubic/text.mustache", "{{#a}}{{#a}}{{#a}}x{{/a}}{{/a}}{{/a}}\n");
    dir.write("row/html.mustache", "{{#a}}" + std::string(1000, 'x') + "{{/a}}");
    const auto library = TemplateLibrary::load(dir.path().string());
    ASSERT_TRUE(library) << library.error();

    const auto cubic = render(*library->find("cubic"), list_of(500));
    ASSERT_FALSE(cubic);
    EXPECT_TRUE(mentions(cubic.error(), "rendering steps")) << cubic.error();
    const auto row = render(*library->find("row"), list_of(2000));
    ASSERT_FALSE(row);
    EXPECT_TRUE(mentions(row.error(), "bytes")) << row.error();
    EXPECT_TRUE(render(*library->find("cubic"), list_of(10)));
}

TEST(TemplateLibrary, FailsOnATemplateThatCouldNeverRender) {
    {
        TempDir dir;
        dir.write("deep/text.mustache", nested_sections(kMaxTemplateSectionDepth + 1));
        const auto library = TemplateLibrary::load(dir.path().string());
        ASSERT_FALSE(library);
        EXPECT_TRUE(mentions(library.error(), "nests sections deeper than 16")) << library.error();
    }
    {
        TempDir dir;
        dir.write("big/html.mustache", std::string(kMaxRenderSteps + 1, '\n'));
        const auto library = TemplateLibrary::load(dir.path().string());
        ASSERT_FALSE(library);
        EXPECT_TRUE(mentions(library.error(), "could never render")) << library.error();
    }
}

// The pieces and nesting the parser really builds: every component, plus the section-end
// component it drops from each section once parsed.
detail::TemplateShape parsed_shape(const kainjow::mustache::component<std::string>& parent,
                                   std::size_t depth) {
    detail::TemplateShape shape{0, depth};
    for (const auto& child : parent.children) {
        shape.pieces += 1;
        if (child.tag.is_section_begin()) {
            const auto inner = parsed_shape(child, depth + 1);
            shape.pieces += inner.pieces + 1;
            shape.section_depth = std::max(shape.section_depth, inner.section_depth);
        }
    }
    return shape;
}

const std::vector<std::string> kSyntaxSoup{
    "{{",     "}}",        "{{{",       "}}}",        "{{#a}}",      "{{/a}}",    "{{^b}}",
    "{{/b}}", "{{ # a }}", "{{/ a}}",   "{{{#a}}}",   "{{&a}}",      "{{!c}}",    "{{=<% %>=}}",
    "<%",     "%>",        "<%#a%>",    "<%/a%>",     "<%={{ }}=%>", "<%=| |=%>", "|#a|",
    "|/a|",   "|",         "{{= x =}}", "{{=a  b=}}", " ",           "\t",        "\r\n",
    "\n",     "\r",        "x",         "yz",         "#",           "/",         "{",
    "}",      "=",         "{{#.}}",    "{{/.}}",     "{{a.b}}",     "{{}}",      "{{ }}"};

// A random template: balanced sections (padded or not, normal or inverted) under delimiters
// that change as it goes, variables, and fragments of the syntax that may break it.
std::string random_template(std::mt19937& random) {
    static const std::vector<std::pair<std::string, std::string>> delimiters{
        {"{{", "}}"}, {"<%", "%>"}, {"|", "|"}, {"[[", "]]"}};
    static const std::vector<std::string> names{"a", "b", ".", "a.b"};
    std::string begin = "{{";
    std::string end = "}}";
    std::vector<std::string> open;
    std::string source;
    const std::size_t length = 1 + random() % 40;
    for (std::size_t i = 0; i < length; ++i) {
        const std::string pad = random() % 4 == 0 ? " " : "";
        switch (random() % 10) {
            case 0:
            case 1: {
                const std::string& name = names[random() % names.size()];
                source += begin + pad + (random() % 2 == 0 ? "#" : "^") + pad + name + pad + end;
                open.push_back(name);
                break;
            }
            case 2:
            case 3:
                if (!open.empty()) {
                    source += begin + "/" + pad + open.back() + end;
                    open.pop_back();
                }
                break;
            case 4: {
                const auto& [new_begin, new_end] = delimiters[random() % delimiters.size()];
                source += begin + "=" + new_begin + " " + pad + new_end + "=" + end;
                begin = new_begin;
                end = new_end;
                break;
            }
            case 5:
                source += begin + pad + names[random() % names.size()] + end;
                break;
            default:
                source += kSyntaxSoup[random() % kSyntaxSoup.size()];
                break;
        }
    }
    while (!open.empty()) {
        source += begin + "/" + open.back() + end;
        open.pop_back();
    }
    return source;
}

// The scan must agree with kainjow's parser on every template the parser accepts: half of
// them structured as above, half plain soup of syntax fragments.
TEST(ScanTemplate, AgreesWithTheParserOnRandomTemplates) {
    std::mt19937 random{20240611};
    std::size_t compared = 0;
    std::size_t nested_five_deep = 0;
    for (int round = 0; round < 20000; ++round) {
        std::string source;
        if (round % 2 == 0) {
            source = random_template(random);
        } else {
            const std::size_t length = 1 + random() % 24;
            for (std::size_t i = 0; i < length; ++i) {
                source += kSyntaxSoup[random() % kSyntaxSoup.size()];
            }
        }
        kainjow::mustache::context<std::string> context;
        kainjow::mustache::context_internal<std::string> state{context};
        kainjow::mustache::component<std::string> root;
        std::string error;
        kainjow::mustache::parser<std::string> parser{source, state, root, error};
        if (!error.empty()) {
            continue;
        }
        ++compared;
        const auto expected = parsed_shape(root, 0);
        nested_five_deep += expected.section_depth >= 5 ? 1 : 0;
        const auto scanned = detail::scan_template(source);
        ASSERT_EQ(scanned.pieces, expected.pieces) << source;
        ASSERT_EQ(scanned.section_depth, expected.section_depth) << source;
    }
    EXPECT_GT(compared, 3000U);
    EXPECT_GT(nested_five_deep, 50U);
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
