#include "delivery/transport.hpp"

namespace herald::delivery {

std::string_view to_string(AttemptOutcome outcome) {
    switch (outcome) {
        case AttemptOutcome::sent:
            return "sent";
        case AttemptOutcome::transient:
            return "transient";
        case AttemptOutcome::permanent:
            return "permanent";
        case AttemptOutcome::ambiguous:
            return "ambiguous";
        case AttemptOutcome::throttled:
            return "throttled";
    }
    return "unknown";
}

}  // namespace herald::delivery
