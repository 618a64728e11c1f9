// SPDX-License-Identifier: Apache-2.0
//
// bench_engine_rtl: throughput of the espo kernel RTL (hw/rtl/espo_kernel.sv, 1024 SA slots per
// direction) through Engine over SimDevice, in inner-packet bytes per cycle, and the full-design
// Verilator simulation speed in cycles per second (wall clock and CPU).
//
// SAs: tunnel IPv4, AES-128-GCM, ICV 16, no lifetimes. Slot i holds the outbound SA with SPI
// 0x10000 + i; the inbound slot i holds its mirror (same SPI, key, addresses), so the ESP
// packets an outbound run produces are the input of the next inbound run. Packet j of a run
// uses SA j mod S, S = 1 (one SA) or 1024 (interleaved over all slots).
//
// Rows: inner packet size (fixed 64/576/1500/9000 or IMIX 7:4:1 of 64/576/1500, shuffled) x
// direction (out: plaintext in; in: ESP in; mix: out and in alternating, packet by packet) x S.
// Cycles are SimDevice::cycles() around one Engine::Process call (its 256-packet device batches
// include the driver's register writes and DONE polling); bytes are inner IP packet bytes
// (outbound input, inbound output). Every inbound result is compared with the inner packet that
// went in (a mismatch exits 1; this is not a test).
//
//   bench_engine_rtl            table
//   bench_engine_rtl --csv      CSV (one header line, one line per row)
//   bench_engine_rtl --quick    a quarter of the packets (S = 1024 rows still use >= 1024)

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "espo/driver/bytes.hpp"
#include "espo/driver/device.hpp"
#include "espo/driver/engine.hpp"
#include "espo/driver/ip_packet.hpp"
#include "espo/driver/key_material.hpp"
#include "espo/driver/sa_config.hpp"
#include "espo/sim/sim_device.hpp"

namespace {

using espo::Bytes;
using espo::driver::Direction;
using espo::driver::Engine;
using espo::driver::PacketIn;
using espo::driver::PacketOut;
using espo::driver::PacketStatus;

constexpr std::uint32_t kSlots = 1024;

struct Row {
  std::string size;  // "64", ..., "imix"
  std::string dir;   // "out", "in", "mix"
  std::uint32_t sas = 0;
  std::size_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t cycles = 0;
  double seconds = 0;
  double cpu_seconds = 0;
};

Bytes MakeInner(std::mt19937_64& rng, std::size_t size) {
  Bytes p(size);
  p[0] = 0x45;
  p[1] = 0;
  espo::StoreBe16(espo::MutableByteSpan(p).subspan(2), static_cast<std::uint16_t>(size));
  espo::StoreBe16(espo::MutableByteSpan(p).subspan(4), static_cast<std::uint16_t>(rng()));
  p[6] = 0x40;
  p[8] = 64;
  p[9] = 17;
  for (std::size_t i = 12; i < size; ++i) p[i] = static_cast<std::uint8_t>(rng());
  espo::driver::SetIpv4HeaderChecksum(espo::MutableByteSpan(p).first(20));
  return p;
}

std::vector<std::size_t> Sizes(std::mt19937_64& rng, const std::string& size, std::size_t n) {
  std::vector<std::size_t> out;
  if (size == "imix") {
    while (out.size() < n) {
      for (int i = 0; i < 7; ++i) out.push_back(64);
      for (int i = 0; i < 4; ++i) out.push_back(576);
      out.push_back(1500);
    }
    out.resize(n);
    std::shuffle(out.begin(), out.end(), rng);
  } else {
    out.assign(n, std::stoul(size));
  }
  return out;
}

class Bench {
 public:
  bool Open() {
    espo::driver::DeviceSpec spec;
    spec.kind = espo::driver::DeviceKind::kSim;
    spec.sa_slots = kSlots;
    auto dev = espo::driver::OpenDevice(spec);
    if (!dev) return Fail("open: " + dev.error().message);
    auto eng = Engine::Open(std::move(*dev));
    if (!eng) return Fail("engine: " + eng.error().message);
    engine_ = std::move(*eng);
    sim_ = dynamic_cast<espo::sim::SimDevice*>(&engine_->device());
    if (sim_ == nullptr) return Fail("not a SimDevice");
    std::mt19937_64 rng(std::random_device{}());
    for (std::uint32_t i = 0; i < kSlots; ++i) {
      espo::driver::SaConfig sa;
      sa.spi = 0x10000U + i;
      sa.mode = espo::driver::Mode::kTunnel;
      sa.src = *espo::driver::IpAddress::Parse("192.0.2.1");
      sa.dst = *espo::driver::IpAddress::Parse("198.51.100.7");
      Bytes key(20);
      for (auto& b : key) b = static_cast<std::uint8_t>(rng());
      sa.key = std::move(*espo::driver::KeyMaterial::FromBytes(key));
      sa.icv_bytes = 16;
      sa.replay_window = 64;
      espo::driver::SaConfig in = sa.Clone();
      in.dir = Direction::kIn;
      if (auto s = engine_->Install(i, sa); !s) return Fail("install out: " + s.error().message);
      if (auto s = engine_->Install(engine_->InboundSlotFor(in.spi), in); !s) {
        return Fail("install in: " + s.error().message);
      }
    }
    return true;
  }

  // One row: an outbound run (which also produces the ESP packets), measured if dir is "out";
  // then, for "in", the inbound run of those; for "mix", a second outbound set interleaved with
  // the ESP packets of the first.
  bool Run(std::mt19937_64& rng, Row& row) {
    const auto sizes = Sizes(rng, row.size, row.packets);
    std::vector<PacketIn> out_batch;
    std::vector<Bytes> inner;
    for (std::size_t j = 0; j < sizes.size(); ++j) {
      inner.push_back(MakeInner(rng, sizes[j]));
      out_batch.push_back(PacketIn{Direction::kOut, static_cast<std::uint16_t>(j % row.sas),
                                   static_cast<std::uint32_t>(j), inner.back()});
    }
    std::vector<PacketOut> esp;
    if (row.dir == "out") return Measure(out_batch, row, nullptr, &inner);
    if (!Process(out_batch, esp)) return false;
    std::vector<PacketIn> batch;
    std::vector<Bytes> want;  // expected inbound results, in batch order (empty: outbound)
    if (row.dir == "in") {
      for (std::size_t j = 0; j < esp.size(); ++j) {
        batch.push_back(
            PacketIn{Direction::kIn, 0xFFFF, static_cast<std::uint32_t>(j), esp[j].data});
        want.push_back(inner[j]);
      }
    } else {
      for (std::size_t j = 0; j < esp.size(); ++j) {
        Bytes p = MakeInner(rng, sizes[j]);
        batch.push_back(PacketIn{Direction::kOut, static_cast<std::uint16_t>(j % row.sas),
                                 static_cast<std::uint32_t>(2 * j), p});
        want.push_back({});
        batch.push_back(
            PacketIn{Direction::kIn, 0xFFFF, static_cast<std::uint32_t>(2 * j + 1), esp[j].data});
        want.push_back(inner[j]);
      }
    }
    std::vector<Bytes> bytes_in;
    for (const auto& p : batch) bytes_in.push_back(p.dir == Direction::kOut ? p.data : Bytes{});
    return Measure(batch, row, &want, &bytes_in);
  }

 private:
  static bool Fail(const std::string& what) {
    std::fprintf(stderr, "bench_engine_rtl: %s\n", what.c_str());
    return false;
  }

  bool Process(const std::vector<PacketIn>& batch, std::vector<PacketOut>& out) {
    auto got = engine_->Process(batch);
    if (!got) return Fail("process: " + got.error().message);
    out = std::move(*got);
    for (std::size_t j = 0; j < out.size(); ++j) {
      if (out[j].status != PacketStatus::kOk) {
        return Fail("packet " + std::to_string(j) + " status " +
                    std::string(espo::driver::ToString(out[j].status)));
      }
    }
    return true;
  }

  // `want[j]` non-empty: the inbound result j must equal it (and counts as bytes);
  // `out_bytes[j]` non-empty: outbound input bytes counted.
  bool Measure(const std::vector<PacketIn>& batch, Row& row, const std::vector<Bytes>* want,
               const std::vector<Bytes>* out_bytes) {
    std::vector<PacketOut> out;
    const std::uint64_t c0 = sim_->cycles();
    const std::clock_t cpu0 = std::clock();
    const auto t0 = std::chrono::steady_clock::now();
    if (!Process(batch, out)) return false;
    const auto t1 = std::chrono::steady_clock::now();
    const std::clock_t cpu1 = std::clock();
    row.cycles = sim_->cycles() - c0;
    row.seconds = std::chrono::duration<double>(t1 - t0).count();
    row.cpu_seconds = static_cast<double>(cpu1 - cpu0) / CLOCKS_PER_SEC;
    row.bytes = 0;
    for (std::size_t j = 0; j < batch.size(); ++j) {
      if (want != nullptr && !(*want)[j].empty()) {
        if (out[j].data != (*want)[j]) {
          return Fail("inbound packet " + std::to_string(j) + " differs from its inner packet");
        }
        row.bytes += (*want)[j].size();
      } else if (out_bytes != nullptr) {
        row.bytes += (*out_bytes)[j].size();
      }
    }
    return true;
  }

  std::unique_ptr<Engine> engine_;
  espo::sim::SimDevice* sim_ = nullptr;
};

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
      std::fprintf(stderr, "usage: bench_engine_rtl [--csv] [--quick]\n");
      return 2;
    }
  }
  Bench bench;
  if (!bench.Open()) return 1;
  std::mt19937_64 rng(std::random_device{}());
  std::vector<Row> rows;
  for (const char* size : {"imix", "64", "576", "1500", "9000"}) {
    for (const char* dir : {"out", "in", "mix"}) {
      for (const std::uint32_t sas : {1U, kSlots}) {
        Row row;
        row.size = size;
        row.dir = dir;
        row.sas = sas;
        const std::size_t base = row.size == "9000" ? 256 : 1024;
        row.packets = quick ? base / 4 : base;
        if (sas == kSlots && row.size != "9000") {
          row.packets = std::max<std::size_t>(row.packets, kSlots);
        }
        const bool mix = std::string(dir) == "mix";
        if (mix) row.packets /= 2;  // two packets per entry
        const std::size_t pk = row.packets * (mix ? 2 : 1);
        if (!bench.Run(rng, row)) return 1;
        rows.push_back(row);
        if (!csv) {
          const double bpc = static_cast<double>(row.bytes) / static_cast<double>(row.cycles);
          if (rows.size() == 1) {
            std::printf(
                "espo kernel RTL (SimDevice, %u SA slots), tunnel IPv4 AES-128-GCM ICV 16\n",
                kSlots);
            std::printf("%6s %4s %5s %8s %10s %10s %9s %7s %9s %12s %12s\n", "inner", "dir", "SAs",
                        "packets", "bytes", "cycles", "B/cycle", "of 16", "cyc/pkt", "sim (wall)",
                        "sim (CPU)");
          }
          std::printf("%6s %4s %5u %8zu %10llu %10llu %9.3f %7.3f %9.1f %12.3e %12.3e\n",
                      row.size.c_str(), row.dir.c_str(), row.sas, pk,
                      static_cast<unsigned long long>(row.bytes),   // NOLINT(google-runtime-int)
                      static_cast<unsigned long long>(row.cycles),  // NOLINT(google-runtime-int)
                      bpc, bpc / 16.0, static_cast<double>(row.cycles) / static_cast<double>(pk),
                      static_cast<double>(row.cycles) / row.seconds,
                      static_cast<double>(row.cycles) / row.cpu_seconds);
          std::fflush(stdout);
        }
      }
    }
  }
  if (csv) {
    std::printf(
        "inner,dir,sas,packets,bytes,cycles,B_per_cycle,frac_of_16,cycles_per_packet,"
        "sim_cycles_per_s,sim_cycles_per_cpu_s\n");
    for (const Row& r : rows) {
      const std::size_t pk = r.packets * (r.dir == "mix" ? 2 : 1);
      const double bpc = static_cast<double>(r.bytes) / static_cast<double>(r.cycles);
      std::printf("%s,%s,%u,%zu,%llu,%llu,%.4f,%.4f,%.2f,%.0f,%.0f\n", r.size.c_str(),
                  r.dir.c_str(), r.sas, pk,
                  static_cast<unsigned long long>(r.bytes),   // NOLINT(google-runtime-int)
                  static_cast<unsigned long long>(r.cycles),  // NOLINT(google-runtime-int)
                  bpc, bpc / 16.0, static_cast<double>(r.cycles) / static_cast<double>(pk),
                  static_cast<double>(r.cycles) / r.seconds,
                  static_cast<double>(r.cycles) / r.cpu_seconds);
    }
    return 0;
  }
  // Summary: the 1500 B goal (>= 0.95 x 16 B/cycle, 1 SA) per direction, and the full-design
  // simulation speed over all rows.
  double cycles = 0;
  double wall = 0;
  double cpu = 0;
  for (const Row& r : rows) {
    cycles += static_cast<double>(r.cycles);
    wall += r.seconds;
    cpu += r.cpu_seconds;
    if (r.size == "1500" && r.sas == 1 && r.dir != "mix") {
      const double frac = static_cast<double>(r.bytes) / static_cast<double>(r.cycles) / 16.0;
      std::printf("goal 1500 B %-3s: %.3f of 16 B/cycle (>= 0.95: %s)\n", r.dir.c_str(), frac,
                  frac >= 0.95 ? "met" : "not met");
    }
  }
  std::printf(
      "full-design simulation: %.3e cycles in %.2f s wall (%.3e cycles/s), %.2f s CPU "
      "(%.3e cycles/s)\n",
      cycles, wall, cycles / wall, cpu, cycles / cpu);
  return 0;
}
