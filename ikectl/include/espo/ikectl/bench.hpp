// SPDX-License-Identifier: Apache-2.0
//
// `ikectl bench` (docs/IKECTL.md): operation rates of one device through driver::Engine, and of
// the SDK's software path (SoftwareEsp, OpenSSL) on the same packets for comparison.
//   - "sa-install": install + remove of one SA, per second
//   - "out" / "in": ESP packets per second and inner Mbit/s for each size (fixed sizes or
//     "imix" = 7:4:1 of 64/576/1500), round-robin over `sas` SAs, one Engine::Process call per
//     measurement (the driver splits it into batches)
//   - the same sizes on SoftwareEsp ("software" rows), so device/software is a ratio measured in
//     the same run
// Every packet must come back kOk (and inbound packets must equal the inner packets sent):
// a bench that silently measured drops would be worse than none.
// Wall-clock figures; on "sim" they measure the Verilator model, not a card.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "espo/driver/device.hpp"
#include "espo/driver/result.hpp"

namespace espo::ikectl {

struct BenchParams {
  // One entry per packet-size row: 20..9000 (inner IPv4 packet bytes) or 0 for IMIX.
  std::vector<std::size_t> sizes = {64, 576, 1500, 0};
  std::uint32_t packets = 2000;   // per size and direction
  std::uint32_t sas = 1;          // SAs per direction, packets spread round-robin
  std::uint32_t installs = 2000;  // install+remove pairs (0: skip that row)
  bool outbound = true;
  bool inbound = true;
  bool software = true;  // also run the sizes through SoftwareEsp
};

struct BenchRow {
  std::string backend;    // the device name, or "software"
  std::string operation;  // "sa-install", "out", "in"
  std::string size;       // "64", "imix", "-"
  std::uint64_t count = 0;
  double seconds = 0;
  double per_second = 0;
  double mbit_per_second = 0;  // inner bytes; 0 for sa-install
};

struct BenchReport {
  std::string device;
  BenchParams params;
  std::vector<BenchRow> rows;
};

// "64,1500,imix" -> {64, 1500, 0}. Errors name the bad item.
Result<std::vector<std::size_t>> ParseBenchSizes(const std::string& text);

// Runs the bench on `device` (named `device_name` in the rows). `progress` gets (done, total)
// row counts. Errors: kInvalidArgument (params), device errors, and kInternal when a packet did
// not come back kOk or an inbound packet differs from what was sent.
Result<BenchReport> RunBench(std::unique_ptr<driver::Device> device, const std::string& device_name,
                             const BenchParams& params,
                             const std::function<void(std::size_t, std::size_t)>& progress = {});

nlohmann::json BenchToJson(const BenchReport& report);
std::string BenchToCsv(const BenchReport& report);
std::string BenchToTable(const BenchReport& report);

}  // namespace espo::ikectl
