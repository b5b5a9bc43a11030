#pragma once

#include "record.hpp"

#include <boost/json/object.hpp>

#include <deque>
#include <ostream>

namespace herald::storm {

// What a storm came to, from its records: the figures the incident was judged by.
//   notifications, ok_pct (ended with a 2xx), attempts, attempts_per_notification,
//   attempt_timeout_pct (attempts that hit the per-attempt timeout, of all attempts),
//   results {"ok":N,"timeout":N,…}, statuses {"202":N,…},
//   attempt_latency_ms {p50,p95,p99,max} (every attempt, a timeout counted at its timeout),
//   notification_latency_ms {p50,p95,p99,max} (arrival to the answer, successful ones only),
//   first_arrival_ms, last_done_ms (wall clock).
boost::json::object summarize(const std::deque<NotificationRecord>& records);

// The summary as a few human-readable lines.
void print_summary(std::ostream& out, const boost::json::object& summary);

}  // namespace herald::storm
