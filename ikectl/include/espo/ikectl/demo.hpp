// SPDX-License-Identifier: Apache-2.0
//
// `ikectl demo`: the main-job scenario on the simulated card. Two gateways A and B, each an
// Engine over its own device (SimDevice = the RTL under Verilator, or ModelDevice) with its own
// SaManager, LifetimePolicy (Count Based SA Extension: A is the designated rekeyer, B uses the
// later X_r point) and RekeyScheduler, joined by LoopbackIke. Hundreds of Child SAs are installed
// through the SDK; real packets (mixed sizes) run through SaManager::Transmit / Receive in both
// directions while count-based soft limits fire and rekeys switch make-before-break. Every packet
// is tracked end to end (sent, delivered, lost, reordered, corrupted, reused sequence numbers).
//
// Phases (docs in README.md "Five-minute tour"):
//   install   N Child SAs at both gateways (IKE_AUTH-like CreateChildSa)
//   burst     every SA gets the same traffic from a fresh start, so the soft points coincide: a
//             burst of simultaneous rekeys, paced (max_concurrent + token bucket), no exhaustion
//   steady    random selectors, staggered rekeys
//   pressure  filler tunnels take the table down to the headroom (the last ones go to software:
//             the headroom is reserved for rekeys); traffic continues, rekeys use the headroom
//             and fall back to software when it runs out
//   release   the fillers are deleted; software SAs move back to hardware; traffic continues
//   settle    drains and quarantines end; every packet in flight is delivered
//
// Simulated time is a FakeClock advanced 10 ms per round; wall time is measured. Not
// thread-safe. Errors are values (device open failures, SDK errors).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "espo/driver/device.hpp"
#include "espo/driver/result.hpp"

namespace espo::ikectl {

struct DemoParams {
  std::uint32_t sas = 400;    // traffic Child SAs (selectors) per gateway
  std::uint64_t packets = 0;  // total packets, both directions (0: the device's default)
  std::uint64_t seed = 1;     // every random choice (SPIs, nonces, fuzz, traffic)
  driver::DeviceKind device = driver::DeviceKind::kSim;
  std::uint32_t slots = 1024;  // SA slots per direction (sim: 64 or 1024)
  bool tie = false;  // both ends rekey at X_i (equal rekey values): crossing rekeys, RFC 7296 2.8.1
  std::uint32_t headroom = 32;  // slots per direction reserved for rekeys (SPEC 9.4)
  std::string pcap;             // write gateway A's ESP output (A -> B), raw IP link type
  std::string wireshark;        // write the matching Wireshark esp_sa UAT file
};

// The default packet budget for `sas` SAs (1.9 lifetimes of 28 packets per SA and direction):
// about a minute on the simulated card for 400 SAs on a loaded 2-core machine.
std::uint64_t DefaultDemoPackets(std::uint32_t sas);

struct SlotOccupancy {
  std::uint32_t size = 0;
  std::uint32_t peak = 0;
  double mean = 0.0;
  std::uint32_t final = 0;
};

struct GatewayReport {
  std::string name;
  std::uint64_t cycles_total = 0;               // SimDevice only: rising edges since open
  std::uint64_t cycles_datapath = 0;            // around Transmit / Receive (packet batches)
  std::uint64_t hw_packets = 0;                 // packets the device processed (encrypt + decrypt)
  std::uint64_t hw_bytes = 0;                   // inner IP bytes the device processed
  std::uint64_t sw_packets = 0;                 // packets SoftwareEsp processed (encrypt + decrypt)
  std::map<std::string, std::uint64_t> drops;   // Engine::ReadCounters + events_lost
  std::map<std::string, std::uint64_t> rekey;   // RekeyStats
  std::map<std::string, std::uint64_t> events;  // SaEvent kinds the scheduler saw
  std::map<std::string, std::uint64_t> manager;  // SaManagerStats
  SlotOccupancy in;
  SlotOccupancy out;
};

struct PhaseReport {
  std::string name;
  std::uint64_t rounds = 0;
  std::uint64_t packets = 0;
  std::uint64_t soft_events = 0;  // A + B
  std::uint64_t rekeys = 0;       // completed as initiator, A + B
  std::uint64_t collisions = 0;
  std::uint64_t fallbacks = 0;  // directions placed on software, A + B
  std::uint64_t migrations = 0;
  std::uint64_t sw_packets = 0;
  std::uint32_t peak_in_slots = 0;  // max over A and B
  double wall_seconds = 0.0;
};

struct TrafficReport {
  std::uint64_t sent = 0;  // offered to Transmit, both directions
  std::uint64_t sent_ab = 0;
  std::uint64_t sent_ba = 0;
  std::uint64_t delivered = 0;
  std::uint64_t lost = 0;        // sent, never delivered (tx drops, rx drops, gaps)
  std::uint64_t reordered = 0;   // arrived behind a later packet of the same stream, or twice
  std::uint64_t corrupted = 0;   // released bytes differ from the bytes sent
  std::uint64_t reused_seq = 0;  // (SA, sequence number) seen twice on one gateway's output
  std::uint64_t tx_drops = 0;
  std::uint64_t rx_drops = 0;
  std::uint64_t inner_bytes = 0;  // inner IP bytes sent
  std::uint64_t software_tx = 0;
  std::uint64_t software_rx = 0;
};

struct DemoReport {
  DemoParams params;
  std::string device_kind;
  std::uint64_t lifetime_packets = 0;  // L of the count-based policy (hard packets per SA)
  std::uint32_t batch = 0;             // packets per direction per round
  std::uint32_t max_concurrent = 0;    // RekeyOptions pacing
  double rekey_rate = 0.0;
  double rekey_burst = 0.0;
  std::uint32_t fillers = 0;
  std::uint32_t fillers_software = 0;   // fillers that found only the headroom (software)
  std::uint32_t selectors_rekeyed = 0;  // selectors whose final SA is not the installed one
  std::uint64_t simulated_ms = 0;
  double wall_seconds = 0.0;
  double install_seconds = 0.0;
  TrafficReport traffic;
  std::vector<GatewayReport> gateways;  // A, B
  std::vector<PhaseReport> phases;
  std::uint64_t live_sas_a = 0;
  std::uint64_t live_sas_b = 0;
  // --pcap / --wireshark
  std::uint64_t pcap_packets = 0;
  std::uint64_t wireshark_sas = 0;
  std::uint64_t wireshark_verified = 0;  // SAs whose first captured packet decrypts with the key
  bool passed = false;
  std::string failure;  // why not passed (one line)
};

struct DemoProgress {
  double fraction = 0.0;  // of the planned packets
  std::string phase;
  std::uint64_t packets = 0;
  std::uint64_t rekeys = 0;
};

// Runs the scenario. Errors: kInvalidArgument (parameters), kDevice / kUnsupported (device),
// anything the SDK reports. A run that completes returns a report, passed or not.
Result<DemoReport> RunDemo(const DemoParams& params,
                           const std::function<void(const DemoProgress&)>& progress = {});

std::string FormatDemoTable(const DemoReport& report);
nlohmann::json DemoToJson(const DemoReport& report);

}  // namespace espo::ikectl
