#pragma once

#include <chrono>
#include <random>
#include <string>

namespace herald::mockmail {

// How long the mock takes over a send, drawn afresh for every send:
//   fixed      always `base`
//   uniform    uniform in [base, max]
//   lognormal  median `base`, shape `sigma` (0.5: p99 ≈ 3.2 × median), capped at `max`
//   pareto     minimum `base`, tail index `alpha` (smaller: heavier tail), capped at `max`
// The long-tailed kinds are what real email APIs look like: most sends fast, a few very slow.
struct LatencyOptions {
    enum class Kind { fixed, uniform, lognormal, pareto };
    Kind kind = Kind::fixed;
    std::chrono::milliseconds base{0};
    std::chrono::milliseconds max{60000};
    double sigma = 0.5;
    double alpha = 2.0;
};

// Parses "fixed", "uniform", "lognormal" or "pareto"; throws std::invalid_argument otherwise.
LatencyOptions::Kind parse_latency_kind(const std::string& name);

// Draws latencies. Not thread-safe (the mock runs on one thread); seeded, so a run repeats.
class LatencyModel {
public:
    explicit LatencyModel(LatencyOptions options, unsigned seed = 1);

    std::chrono::milliseconds sample();
    const LatencyOptions& options() const { return options_; }

private:
    LatencyOptions options_;
    std::mt19937_64 random_;
};

}  // namespace herald::mockmail
