#include "observe/trace.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace herald::observe {
namespace {

constexpr const char* kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(Traceparent, AValidVersion00HeaderIsReadAndWrittenBackTheSame) {
    const auto context = parse_traceparent(kValid);
    ASSERT_TRUE(context.has_value());
    EXPECT_EQ(context->trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(context->span_id_hex(), "00f067aa0ba902b7");
    EXPECT_TRUE(context->sampled());
    EXPECT_EQ(format_traceparent(*context), kValid);
}

TEST(Traceparent, InvalidHeadersAreRefusedByTheW3cRules) {
    for (const char* bad : {
             "",
             "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper-case hex
             "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
             "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent id
             "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 with more
             "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",    // dash misplaced
             "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
         }) {
        EXPECT_FALSE(parse_traceparent(bad).has_value()) << bad;
    }
}

TEST(Traceparent, ALaterVersionMayAppendFieldsAfterADash) {
    EXPECT_TRUE(parse_traceparent(std::string{kValid}.replace(0, 2, "01") + "-extra").has_value());
    EXPECT_FALSE(parse_traceparent(std::string{kValid}.replace(0, 2, "01") + "extra").has_value());
}

TEST(Tracestate, WellFormedListsAreKeptAndMalformedOnesDropped) {
    EXPECT_EQ(checked_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
              "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    EXPECT_EQ(checked_tracestate("tenant@vendor=x, ,b=y"), "tenant@vendor=x, ,b=y");
    EXPECT_EQ(checked_tracestate("Upper=x"), "");
    EXPECT_EQ(checked_tracestate("novalue"), "");
    EXPECT_EQ(checked_tracestate("a=b=c"), "");
    EXPECT_EQ(checked_tracestate(std::string(600, 'a') + "=b"), "");
}

TEST(Span, AChildKeepsTheTraceAndNamesItsParent) {
    const auto parent = parse_traceparent(kValid);
    ASSERT_TRUE(parent.has_value());
    Span child = start_span("x", SpanKind::internal, &*parent);
    EXPECT_EQ(child.context().trace_id, parent->trace_id);
    EXPECT_NE(child.context().span_id, parent->span_id);
    EXPECT_FALSE(child.recording());  // tracing is not started in this test
    Span root = start_span("y", SpanKind::server, nullptr);
    EXPECT_NE(root.context().trace_id, parent->trace_id);
    EXPECT_TRUE(root.context().sampled());
}

TEST(OtlpJson, SpansAreEncodedWithHexIdsStringTimesAndTypedAttributes) {
    SpanRecord span;
    span.context = *parse_traceparent(kValid);
    span.parent_span_id = span.context.span_id;
    span.name = "store commit";
    span.kind = SpanKind::client;
    span.start_unix_ns = 1;
    span.end_unix_ns = 2;
    span.attributes = {{"s", std::string{"v"}}, {"n", std::int64_t{7}}, {"b", true}};
    span.error = true;
    span.status_message = "bad";
    const auto json = boost::json::parse(encode_otlp_json({span}, "svc"));
    const auto& encoded =
        json.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").at(0).as_object();
    EXPECT_EQ(encoded.at("traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(encoded.at("parentSpanId"), "00f067aa0ba902b7");
    EXPECT_EQ(encoded.at("kind"), 3);
    EXPECT_EQ(encoded.at("startTimeUnixNano"), "1");
    EXPECT_EQ(encoded.at("attributes").at(1).at("value").at("intValue"), "7");
    EXPECT_EQ(encoded.at("status").at("code"), 2);
    EXPECT_EQ(json.at("resourceSpans")
                  .at(0)
                  .at("resource")
                  .at("attributes")
                  .at(0)
                  .at("value")
                  .at("stringValue"),
              "svc");
}

}  // namespace
}  // namespace herald::observe
