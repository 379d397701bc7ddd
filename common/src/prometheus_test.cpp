#include <wisp/common/prometheus.hpp>

#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using wisp::common::AtomicHistogram;
using wisp::common::EscapePrometheusLabel;
using wisp::common::PrometheusWriter;

TEST_CASE("prometheus: label values escape backslash, quote and newline", "[prometheus]") {
    CHECK(EscapePrometheusLabel("plain") == "plain");
    CHECK(EscapePrometheusLabel("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
    PrometheusWriter w;
    w.Sample("x_total", {{"action", "say \"hi\"\n"}, {"ns", "guest"}}, 2);
    CHECK(w.text() == "x_total{action=\"say \\\"hi\\\"\\n\",ns=\"guest\"} 2\n");
}

TEST_CASE("prometheus: families, counters and gauges", "[prometheus]") {
    PrometheusWriter w;
    w.Family("wisp_things_total", "counter", "Things counted.");
    w.Sample("wisp_things_total", {}, int64_t{7});
    w.Sample("wisp_ratio", {{"k", "v"}}, 0.25);
    w.Sample("wisp_inf", {}, 1.0 / 0.0);
    CHECK(w.Take() ==
          "# HELP wisp_things_total Things counted.\n"
          "# TYPE wisp_things_total counter\n"
          "wisp_things_total 7\n"
          "wisp_ratio{k=\"v\"} 0.25\n"
          "wisp_inf +Inf\n");
}

TEST_CASE("prometheus: a histogram renders cumulative buckets, +Inf, sum and count",
          "[prometheus]") {
    static constexpr double kBounds[] = {0.1, 1, 10};
    AtomicHistogram h(kBounds);
    h.Observe(0.05);
    h.Observe(0.1);  // le is inclusive
    h.Observe(0.5);
    h.Observe(100);
    auto snap = h.Read();
    CHECK(snap.count == 4);
    CHECK(snap.sum == Approx(100.65));
    REQUIRE(snap.cumulative.size() == 3);
    CHECK(snap.cumulative[0] == 2);
    CHECK(snap.cumulative[1] == 3);
    CHECK(snap.cumulative[2] == 3);

    PrometheusWriter w;
    w.Histogram("d_seconds", {{"kind", "nodejs:20"}}, snap);
    CHECK(w.text() ==
          "d_seconds_bucket{kind=\"nodejs:20\",le=\"0.1\"} 2\n"
          "d_seconds_bucket{kind=\"nodejs:20\",le=\"1\"} 3\n"
          "d_seconds_bucket{kind=\"nodejs:20\",le=\"10\"} 3\n"
          "d_seconds_bucket{kind=\"nodejs:20\",le=\"+Inf\"} 4\n"
          "d_seconds_sum{kind=\"nodejs:20\"} 100.65\n"
          "d_seconds_count{kind=\"nodejs:20\"} 4\n");

    PrometheusWriter bare;
    AtomicHistogram empty(kBounds);
    bare.Histogram("e", {}, empty.Read());
    CHECK(bare.text().find("e_bucket{le=\"+Inf\"} 0\ne_sum 0\ne_count 0\n") != std::string::npos);
}

TEST_CASE("prometheus: concurrent observations are all counted", "[prometheus]") {
    AtomicHistogram h(wisp::common::kDefaultSecondsBuckets);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&h] {
            for (int i = 0; i < 10000; ++i) h.Observe(0.001);
        });
    }
    for (auto& t : threads) t.join();
    auto snap = h.Read();
    CHECK(snap.count == 40000);
    CHECK(snap.cumulative[0] == 40000);
    CHECK(snap.sum == Approx(40.0));
}
