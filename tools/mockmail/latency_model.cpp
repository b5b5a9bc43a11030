#include "latency_model.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace herald::mockmail {

LatencyOptions::Kind parse_latency_kind(const std::string& name) {
    if (name == "fixed") {
        return LatencyOptions::Kind::fixed;
    }
    if (name == "uniform") {
        return LatencyOptions::Kind::uniform;
    }
    if (name == "lognormal") {
        return LatencyOptions::Kind::lognormal;
    }
    if (name == "pareto") {
        return LatencyOptions::Kind::pareto;
    }
    throw std::invalid_argument("unknown latency distribution: " + name);
}

LatencyModel::LatencyModel(LatencyOptions options, unsigned seed)
    : options_(options), random_(seed) {
    options_.max = std::max(options_.max, options_.base);
}

std::chrono::milliseconds LatencyModel::sample() {
    const double base = static_cast<double>(options_.base.count());
    const double cap = static_cast<double>(options_.max.count());
    double ms = base;
    switch (options_.kind) {
        case LatencyOptions::Kind::fixed:
            break;
        case LatencyOptions::Kind::uniform:
            ms = std::uniform_real_distribution<double>(base, cap)(random_);
            break;
        case LatencyOptions::Kind::lognormal:
            ms = std::lognormal_distribution<double>(std::log(std::max(base, 1.0)),
                                                     options_.sigma)(random_);
            break;
        case LatencyOptions::Kind::pareto: {
            // Inverse transform: base / U^(1/alpha) with U uniform in (0, 1].
            const double u = 1.0 - std::uniform_real_distribution<double>(0.0, 1.0)(random_);
            ms = std::max(base, 1.0) / std::pow(u, 1.0 / options_.alpha);
            break;
        }
    }
    return std::chrono::milliseconds{std::llround(std::clamp(ms, 0.0, cap))};
}

}  // namespace herald::mockmail
