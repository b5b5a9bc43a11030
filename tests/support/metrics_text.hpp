#pragma once

#include <optional>
#include <string_view>

namespace herald::test {

// The value of one series in a Prometheus text exposition, named as it is written there:
// `herald_intake_requests_total{outcome="accepted"}` (labels in the exporter's order) or a bare
// name for a series without labels. nullopt when the series is absent or its value unreadable.
std::optional<double> metric_value(std::string_view exposition, std::string_view series);

}  // namespace herald::test
