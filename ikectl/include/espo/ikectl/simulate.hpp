// SPDX-License-Identifier: Apache-2.0
//
// `ikectl simulate`: the table-pressure study (docs/SIMULATE.md). A discrete-event simulation on a
// FakeClock that drives the real SDK (SaManager, RekeyScheduler, LifetimePolicy) over counting
// devices (driver::CountingDevice: the register map without packets or crypto) at two gateways,
// with M Child SAs between them, heavy-tailed traffic, IKE round-trip delay, drain intervals and
// scenario events, and compares lifetime policies side by side.
// Not thread-safe per run; RunSimulation runs independent (policy, scenario) pairs on threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "espo/driver/result.hpp"

namespace espo::ikectl {

enum class SimScenario : std::uint8_t { kSteady, kColdStart, kPeerReboot, kBurst };
enum class SimPolicy : std::uint8_t { kNone, kStrongswan, kLibreswan, kCountBased, kController };

std::string_view ToString(SimScenario s);  // "steady", "cold-start", "peer-reboot", "burst"
std::string_view ToString(SimPolicy p);    // "none", "strongswan", "libreswan", "count-based",
                                           // "controller"
Result<std::vector<SimScenario>> ParseScenarios(std::string_view text);  // a name or "all"
Result<std::vector<SimPolicy>> ParsePolicies(std::string_view text);     // a name or "all"

struct SimParams {
  std::uint32_t sas = 1000;    // M: Child SAs (selectors) between the two gateways
  std::uint32_t slots = 1100;  // S: slots per direction per gateway
  double hours = 24.0;         // simulated time
  std::uint64_t seed = 1;
  std::vector<SimScenario> scenarios{SimScenario::kSteady, SimScenario::kColdStart,
                                     SimScenario::kPeerReboot, SimScenario::kBurst};
  std::vector<SimPolicy> policies{SimPolicy::kNone, SimPolicy::kStrongswan, SimPolicy::kLibreswan,
                                  SimPolicy::kCountBased, SimPolicy::kController};
  // Study model (docs/SIMULATE.md "Model"); the defaults are the ones the documented runs use.
  double lifetime_hours = 8.0;    // hard time lifetime T of every policy
  double rtt_s = 0.1;             // IKE round trip (one way = rtt / 2)
  double drain_s = 2.0;           // old inbound SA kept after the switch
  double quantum_s = 0.01;        // event times are rounded up to this grid
  double rate_median_pps = 10.0;  // traffic A->B per SA: log-normal, median and sigma ...
  double rate_sigma = 1.5;
  double rate_cap = 200.0;  // ... capped at rate_cap * median
  std::uint32_t packet_bytes = 400;
  double burst_factor = 10.0;   // burst scenario: every rate times this ...
  double burst_minutes = 15.0;  // ... for this long
  double dpd_s = 30.0;          // peer reboot: A notices the dead peer after this long
  double retry_s = 15.0;    // a rekey refused for lack of slots is retried after this + U(0, 10 s)
  double recover_s = 30.0;  // a selector without SA is re-created after this
  std::uint32_t max_device_slots = 32768;  // per engine (CAP_SLOTS is 16 bits): shards beyond
  // Fault injection (tests): the first N selectors are created twice at their creation time (both
  // peers initiated the Child SA, nobody deletes the extra pair) -> N duplicate SAs.
  std::uint32_t duplicate_selectors = 0;
  std::uint32_t threads = 0;  // 0 = hardware concurrency
  std::uint32_t plot_points = 480;
};

struct SimSample {
  double t_s = 0.0;
  double occupancy = 0.0;  // max over the interval ending at t_s
};

struct SimResult {
  SimPolicy policy = SimPolicy::kNone;
  SimScenario scenario = SimScenario::kSteady;
  std::uint64_t exhaustion_events = 0;  // a rekey or install that found no slot
  std::uint64_t lost_sas = 0;           // a selector had no SA in service (not a planned outage)
  std::uint64_t duplicate_sas = 0;      // two live SAs for a selector past the drain interval
  std::uint64_t collisions = 0;         // simultaneous rekeys (redundant SAs deleted)
  double peak_occupancy = 0.0;          // fractions of S, max over gateways and directions
  double mean_occupancy = 0.0;
  double mean_utilization = 0.0;  // selectors served in hardware both ways / S
  std::uint64_t software_packets = 0;
  std::uint64_t max_packets_past_soft = 0;
  std::uint64_t rekeys = 0;  // completed rekeys, both gateways
  // Diagnostics.
  std::uint32_t shards = 1;      // engines per gateway
  std::uint32_t headroom = 0;    // reserved rekey slots per direction per gateway
  std::uint64_t steps = 0;       // event-loop steps
  std::uint64_t reg_writes = 0;  // register writes, all devices
  std::uint64_t sdk_errors = 0;  // unexpected SDK errors (0 in a healthy run)
  double measure_from_s = 0.0;   // start of the occupancy / utilization window
  double wall_seconds = 0.0;
  std::vector<SimSample> series;
};

struct SimReport {
  SimParams params;
  double wall_seconds = 0.0;
  std::vector<SimResult> results;
};

// One policy in one scenario. `progress` (optional) receives the simulated fraction done.
Result<SimResult> RunOne(const SimParams& params, SimPolicy policy, SimScenario scenario,
                         const std::function<void(double)>& progress = {});
// Every policy x scenario of `params` (results in policy-major order of the params lists).
// `progress` (optional, called from worker threads under a lock) receives the overall fraction.
Result<SimReport> RunSimulation(const SimParams& params,
                                const std::function<void(double)>& progress = {});

nlohmann::json ToJson(const SimReport& report);
std::string FormatTable(const SimReport& report);
std::string FormatCsv(const SimReport& report);
std::string FormatSvg(const SimReport& report);

}  // namespace espo::ikectl
