// SPDX-License-Identifier: Apache-2.0
//
// bench_engine: Engine operation rates through each Device backend.
//   - SA install + remove pairs per second (ModelDevice, SimDevice)
//   - packets/s and bytes/s of outbound and inbound ESP at 64 and 1500 bytes (ModelDevice,
//     SimDevice), wall clock, one batch of N packets per measurement
// Usage: bench_engine [--csv] [--quick]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "espo/driver/engine.hpp"
#include "espo/driver/esp.hpp"

namespace espo::driver {
namespace {

using Clock = std::chrono::steady_clock;

SaConfig MakeSa(Direction dir, std::uint32_t spi) {
  SaConfig sa;
  sa.spi = spi;
  sa.dir = dir;
  sa.src = *IpAddress::Parse("192.0.2.1");
  sa.dst = *IpAddress::Parse("198.51.100.7");
  Bytes key(20);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  sa.key = std::move(*KeyMaterial::FromBytes(key));
  return sa;
}

Bytes Inner(std::size_t total) {
  Bytes p(total, 0xAB);
  p[0] = 0x45;
  p[1] = 0;
  p[2] = static_cast<std::uint8_t>(total >> 8U);
  p[3] = static_cast<std::uint8_t>(total);
  p[6] = 0x40;
  p[8] = 64;
  p[9] = 17;
  const std::array<std::uint8_t, 8> addrs = {10, 0, 0, 1, 10, 0, 0, 2};
  std::copy(addrs.begin(), addrs.end(), p.begin() + 12);
  std::uint32_t sum = 0;
  p[10] = p[11] = 0;
  for (std::size_t i = 0; i < 20; i += 2)
    sum += (static_cast<std::uint32_t>(p[i]) << 8U) | p[i + 1];
  while ((sum >> 16U) != 0) sum = (sum & 0xFFFFU) + (sum >> 16U);
  const auto csum = static_cast<std::uint16_t>(~sum);
  p[10] = static_cast<std::uint8_t>(csum >> 8U);
  p[11] = static_cast<std::uint8_t>(csum);
  return p;
}

struct Row {
  std::string device;
  std::string op;
  std::size_t size = 0;
  double per_second = 0;
  double bytes_per_second = 0;
};

std::unique_ptr<Engine> Open(DeviceKind kind) {
  DeviceSpec spec;
  spec.kind = kind;
  spec.sa_slots = 1024;
  auto dev = OpenDevice(spec);
  if (!dev) {
    std::fprintf(stderr, "bench_engine: %s\n", dev.error().message.c_str());
    return nullptr;
  }
  auto engine = Engine::Open(std::move(*dev));
  if (!engine) {
    std::fprintf(stderr, "bench_engine: %s\n", engine.error().message.c_str());
    return nullptr;
  }
  return std::move(*engine);
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

bool BenchInstall(DeviceKind kind, int pairs, std::vector<Row>& rows) {
  auto engine = Open(kind);
  if (!engine) return false;
  const SaConfig sa = MakeSa(Direction::kOut, 0x1000);
  const auto t0 = Clock::now();
  for (int i = 0; i < pairs; ++i) {
    const auto slot = static_cast<std::uint32_t>(i % 1024);
    if (!engine->Install(slot, sa) || !engine->Remove(Direction::kOut, slot)) {
      std::fprintf(stderr, "bench_engine: install/remove failed\n");
      return false;
    }
  }
  const double s = Seconds(t0, Clock::now());
  rows.push_back({std::string(ToString(kind)), "sa install+remove", 0, pairs / s, 0});
  return true;
}

bool BenchPackets(DeviceKind kind, Direction dir, std::size_t size, int count,
                  std::vector<Row>& rows) {
  auto engine = Open(kind);
  if (!engine) return false;
  SaConfig out = MakeSa(Direction::kOut, 0x1005);
  SaConfig in = MakeSa(Direction::kIn, 0x1005);
  in.replay_window = 1024;
  if (!engine->Install(0, out) || !engine->Install(engine->InboundSlotFor(in.spi), in)) {
    std::fprintf(stderr, "bench_engine: install failed\n");
    return false;
  }
  const Bytes inner = Inner(size);
  std::vector<PacketIn> batch;
  for (int i = 0; i < count; ++i) {
    if (dir == Direction::kOut) {
      batch.push_back(PacketIn{dir, 0, static_cast<std::uint32_t>(i), inner});
    } else {
      auto esp = EspEncapsulate(out, static_cast<std::uint64_t>(i) + 1, inner);
      if (!esp) return false;
      batch.push_back(PacketIn{dir, kNoSlot, static_cast<std::uint32_t>(i), std::move(*esp)});
    }
  }
  const auto t0 = Clock::now();
  auto results = engine->Process(batch);
  const double s = Seconds(t0, Clock::now());
  if (!results) {
    std::fprintf(stderr, "bench_engine: %s\n", results.error().message.c_str());
    return false;
  }
  for (const auto& r : *results) {
    if (r.status != PacketStatus::kOk) {
      std::fprintf(stderr, "bench_engine: packet dropped (%s)\n", ToString(r.status).data());
      return false;
    }
  }
  rows.push_back({std::string(ToString(kind)),
                  dir == Direction::kOut ? "packets out" : "packets in", size, count / s,
                  static_cast<double>(count) * static_cast<double>(size) / s});
  return true;
}

}  // namespace
}  // namespace espo::driver

int main(int argc, char** argv) {
  using espo::driver::DeviceKind;
  using espo::driver::Direction;
  bool csv = false;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--csv") == 0) csv = true;
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
  }
  std::vector<espo::driver::Row> rows;
  bool ok = espo::driver::BenchInstall(DeviceKind::kModel, quick ? 20000 : 200000, rows) &&
            espo::driver::BenchInstall(DeviceKind::kSim, quick ? 200 : 2000, rows);
  for (const DeviceKind kind : {DeviceKind::kModel, DeviceKind::kSim}) {
    for (const Direction dir : {Direction::kOut, Direction::kIn}) {
      for (const std::size_t size : {64U, 1500U}) {
        const int n = kind == DeviceKind::kModel ? (quick ? 2000 : 50000) : (quick ? 200 : 4000);
        ok = ok && espo::driver::BenchPackets(kind, dir, size, n, rows);
      }
    }
  }
  if (!ok) return 1;
  if (csv) {
    std::printf("device,operation,size_bytes,per_second,bytes_per_second\n");
    for (const auto& r : rows) {
      std::printf("%s,%s,%zu,%.0f,%.0f\n", r.device.c_str(), r.op.c_str(), r.size, r.per_second,
                  r.bytes_per_second);
    }
    return 0;
  }
  std::printf("%-7s %-18s %6s %14s %14s\n", "device", "operation", "size", "per second", "MB/s");
  for (const auto& r : rows) {
    std::printf("%-7s %-18s %6s %14.0f %14s\n", r.device.c_str(), r.op.c_str(),
                r.size == 0 ? "-" : std::to_string(r.size).c_str(), r.per_second,
                r.size == 0 ? "-" : std::to_string(r.bytes_per_second / 1e6).substr(0, 7).c_str());
  }
  return 0;
}
