// SPDX-License-Identifier: Apache-2.0
//
// bench_gcm_core: throughput of the verilated gcm_core in bytes per cycle, and the Verilator
// simulation speed in cycles per second (wall clock, including the GcmCoreSim driver).
//
// Workload per row: back-to-back encrypt messages of one payload size, every message under a
// different random key (AES-128 and AES-256 alternating at random), with 8 bytes of AAD
// (ESP: SPI || sequence number) or none. H is computed by OpenSSL beforehand, as the ESP
// engine computes it once per SA at install; the cycles counted are the messages only.
// Every output is checked against OpenSSL (a wrong result exits 1; this is not a test).
//
//   bench_gcm_core            table
//   bench_gcm_core --csv      CSV (one header line, one line per row)
//   bench_gcm_core --quick    a tenth of the messages
//
// Columns: payload_B_per_cycle = payload bytes / cycles; frac_of_16 = that / 16;
// moved_B_per_cycle counts AAD bytes too (bytes that cross s_axis); ideal_cycles = issue slots
// (ceil(aad/16) + ceil(text/16), +1 without AAD) summed over messages.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "espo/driver/gcm_reference.hpp"
#include "espo/sim/gcm_core_sim.hpp"

namespace {

using espo::Bytes;

struct Row {
  std::size_t size = 0;
  std::size_t aad = 0;
  std::size_t messages = 0;
  std::uint64_t cycles = 0;
  std::uint64_t ideal = 0;
  double seconds = 0;      // wall clock
  double cpu_seconds = 0;  // process CPU time (robust when other jobs share the cores)
};

Bytes RandomBytes(std::mt19937_64& rng, std::size_t n) {
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

bool RunRow(espo::sim::GcmCoreSim& sim, std::mt19937_64& rng, Row& row) {
  std::vector<espo::sim::GcmJob> jobs(row.messages);
  for (auto& job : jobs) {
    job.key = RandomBytes(rng, (rng() & 1U) != 0 ? 32 : 16);
    job.iv = RandomBytes(rng, 12);
    const auto h = espo::driver::AesEncryptBlock(job.key, espo::driver::AesBlock{});
    if (!h) return false;
    job.hkey.assign(h->begin(), h->end());
    job.aad = RandomBytes(rng, row.aad);
    job.text = RandomBytes(rng, row.size);
    row.ideal += (row.aad + 15) / 16 + (row.size + 15) / 16 + (row.aad == 0 ? 1 : 0);
  }
  espo::sim::GcmRunStats stats;
  const std::clock_t cpu_start = std::clock();
  const auto start = std::chrono::steady_clock::now();
  const auto got = sim.Run(jobs, &stats);
  const auto stop = std::chrono::steady_clock::now();
  const std::clock_t cpu_stop = std::clock();
  if (!got) {
    std::fprintf(stderr, "bench_gcm_core: %s\n", got.error().message.c_str());
    return false;
  }
  row.cycles = stats.cycles;
  row.seconds = std::chrono::duration<double>(stop - start).count();
  row.cpu_seconds = static_cast<double>(cpu_stop - cpu_start) / CLOCKS_PER_SEC;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const auto want = espo::driver::GcmSeal(jobs[i].key, jobs[i].iv, jobs[i].aad, jobs[i].text);
    if (!want || want->ciphertext != got->at(i).text || want->tag != got->at(i).tag) {
      std::fprintf(stderr, "bench_gcm_core: message %zu of size %zu does not match OpenSSL\n", i,
                   row.size);
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  bool csv = false;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];  // NOLINT(cppcoreguidelines-pro-bounds-pointer-arithmetic)
    if (arg == "--csv") {
      csv = true;
    } else if (arg == "--quick") {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: bench_gcm_core [--csv] [--quick]\n");
      return 2;
    }
  }
  std::random_device rd;
  std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32U) ^ rd());
  espo::sim::GcmCoreSim sim;
  constexpr std::size_t kTargetBytes = 4U << 20U;  // payload per row
  std::vector<Row> rows;
  for (std::size_t aad : {std::size_t{8}, std::size_t{0}}) {
    for (std::size_t size :
         {std::size_t{64}, std::size_t{576}, std::size_t{1500}, std::size_t{9000}}) {
      Row row;
      row.size = size;
      row.aad = aad;
      row.messages = std::max<std::size_t>(16, kTargetBytes / size / (quick ? 10 : 1));
      if (!RunRow(sim, rng, row)) return 1;
      rows.push_back(row);
    }
  }
  if (csv) {
    std::printf(
        "payload_bytes,aad_bytes,messages,cycles,ideal_cycles,payload_B_per_cycle,frac_of_16,"
        "moved_B_per_cycle,sim_cycles_per_s,sim_cycles_per_cpu_s\n");
  } else {
    std::printf("gcm_core, back-to-back encrypt, every message a new random key (AES-128/256)\n");
    std::printf("%8s %4s %9s %10s %10s %10s %7s %10s %12s %12s\n", "payload", "aad", "messages",
                "cycles", "ideal", "payload", "frac", "moved", "sim (wall)", "sim (CPU)");
    std::printf("%8s %4s %9s %10s %10s %10s %7s %10s %12s %12s\n", "B", "B", "", "", "", "B/cycle",
                "of 16", "B/cycle", "cycles/s", "cycles/s");
  }
  for (const Row& r : rows) {
    const double payload = static_cast<double>(r.messages * r.size) / static_cast<double>(r.cycles);
    const double moved =
        static_cast<double>(r.messages * (r.size + r.aad)) / static_cast<double>(r.cycles);
    const double speed = static_cast<double>(r.cycles) / r.seconds;
    const double cpu_speed = static_cast<double>(r.cycles) / r.cpu_seconds;
    if (csv) {
      std::printf("%zu,%zu,%zu,%llu,%llu,%.4f,%.4f,%.4f,%.0f,%.0f\n", r.size, r.aad, r.messages,
                  static_cast<unsigned long long>(r.cycles),  // NOLINT(google-runtime-int)
                  static_cast<unsigned long long>(r.ideal),   // NOLINT(google-runtime-int)
                  payload, payload / 16.0, moved, speed, cpu_speed);
    } else {
      std::printf("%8zu %4zu %9zu %10llu %10llu %10.3f %7.3f %10.3f %12.3e %12.3e\n", r.size, r.aad,
                  r.messages,
                  static_cast<unsigned long long>(r.cycles),  // NOLINT(google-runtime-int)
                  static_cast<unsigned long long>(r.ideal),   // NOLINT(google-runtime-int)
                  payload, payload / 16.0, moved, speed, cpu_speed);
    }
  }
  return 0;
}
