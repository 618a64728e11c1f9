// SPDX-License-Identifier: Apache-2.0
//
// `ikectl bench`: see espo/ikectl/bench.hpp.
#include "espo/ikectl/bench.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "espo/driver/engine.hpp"
#include "espo/driver/esp.hpp"
#include "espo/driver/key_material.hpp"
#include "espo/driver/replay_window.hpp"
#include "espo/ikectl/test_packet.hpp"
#include "espo/sdk/software_esp.hpp"

namespace espo::ikectl {
namespace {

using driver::Direction;
using SteadyClock = std::chrono::steady_clock;

constexpr std::uint32_t kFirstSpi = 0x00010000;
constexpr std::size_t kMinPacket = 28;  // IPv4 + UDP headers
constexpr std::size_t kMaxPacket = 9000;

double Since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

// IMIX 7:4:1 of 64 / 576 / 1500 bytes, in a fixed repeating order.
std::size_t SizeOf(std::size_t size, std::uint32_t i) {
  if (size != 0) return size;
  const std::uint32_t k = i % 12;
  if (k < 7) return 64;
  if (k < 11) return 576;
  return 1500;
}

std::string SizeName(std::size_t size) { return size == 0 ? "imix" : std::to_string(size); }

// SA i of the bench: the same key and SPI serve as outbound and (looped back) inbound SA.
driver::SaConfig MakeSa(Direction dir, std::uint32_t i) {
  driver::SaConfig sa;
  sa.spi = kFirstSpi + i;
  sa.dir = dir;
  sa.src = *driver::IpAddress::Parse("192.0.2.1");
  sa.dst = *driver::IpAddress::Parse("198.51.100.7");
  Bytes key(20);
  for (std::size_t b = 0; b < key.size(); ++b) {
    key[b] = static_cast<std::uint8_t>(b * 7 + i * 13 + 1);
  }
  sa.key = std::move(*driver::KeyMaterial::FromBytes(key));
  sa.replay_window = 1024;
  return sa;
}

Error Fail(std::string message) { return Error{Errc::kInternal, "bench: " + std::move(message)}; }

class Bench {
 public:
  Bench(std::unique_ptr<driver::Engine> engine, std::string name, const BenchParams& params,
        std::function<void(std::size_t, std::size_t)> progress)
      : engine_(std::move(engine)),
        name_(std::move(name)),
        params_(params),
        progress_(std::move(progress)) {}

  Result<BenchReport> Run();

 private:
  Status Installs();
  Status SetUp();
  Status DeviceRows(std::size_t size);
  Status SoftwareRows(std::size_t size);
  void Add(std::string backend, std::string op, std::size_t size, std::uint64_t count,
           double seconds, std::uint64_t bytes);
  std::vector<Bytes> Inner(std::size_t size) const;
  Result<std::vector<Bytes>> Encrypt(const std::vector<Bytes>& inner);
  void Step();

  std::unique_ptr<driver::Engine> engine_;
  std::string name_;
  BenchParams params_;
  std::function<void(std::size_t, std::size_t)> progress_;
  BenchReport report_;
  std::vector<driver::SaConfig> out_sas_;
  std::vector<std::uint16_t> out_slots_;
  std::vector<std::uint64_t> in_seq_;  // per SA: the last number sent to the device inbound
  std::size_t done_ = 0;
  std::size_t total_ = 0;
};

void Bench::Step() {
  ++done_;
  if (progress_) progress_(done_, total_);
}

void Bench::Add(std::string backend, std::string op, std::size_t size, std::uint64_t count,
                double seconds, std::uint64_t bytes) {
  BenchRow row;
  row.backend = std::move(backend);
  row.operation = std::move(op);
  row.size = row.operation == "sa-install" ? "-" : SizeName(size);
  row.count = count;
  row.seconds = seconds;
  row.per_second = seconds > 0 ? static_cast<double>(count) / seconds : 0;
  row.mbit_per_second = seconds > 0 ? static_cast<double>(bytes) * 8 / seconds / 1e6 : 0;
  report_.rows.push_back(std::move(row));
}

std::vector<Bytes> Bench::Inner(std::size_t size) const {
  std::vector<Bytes> packets;
  packets.reserve(params_.packets);
  const auto src = *driver::IpAddress::Parse("10.0.0.1");
  const auto dst = *driver::IpAddress::Parse("10.0.0.2");
  for (std::uint32_t i = 0; i < params_.packets; ++i) {
    packets.push_back(MakeUdpTestPacket(src, dst, SizeOf(size, i), i));
  }
  return packets;
}

// ESP packets for the inbound rows, made in software with numbers above any the device used.
Result<std::vector<Bytes>> Bench::Encrypt(const std::vector<Bytes>& inner) {
  std::vector<Bytes> esp;
  esp.reserve(inner.size());
  if (in_seq_.empty()) in_seq_.assign(out_sas_.size(), std::uint64_t{1} << 20U);
  for (std::size_t i = 0; i < inner.size(); ++i) {
    const std::size_t s = i % out_sas_.size();
    auto packet = driver::EspEncapsulate(out_sas_[s], ++in_seq_[s], inner[i]);
    if (!packet) return tl::unexpected(packet.error());
    esp.push_back(std::move(*packet));
  }
  return esp;
}

Status Bench::Installs() {
  if (params_.installs == 0) return {};
  const driver::SaConfig sa = MakeSa(Direction::kOut, 0);
  const std::uint32_t slots = engine_->caps().out_slots;
  const auto t0 = SteadyClock::now();
  for (std::uint32_t i = 0; i < params_.installs; ++i) {
    const std::uint32_t slot = i % slots;
    if (auto st = engine_->Install(slot, sa); !st) return st;
    if (auto st = engine_->Remove(Direction::kOut, slot); !st) return st;
  }
  Add(name_, "sa-install", 0, params_.installs, Since(t0), 0);
  Step();
  return {};
}

Status Bench::SetUp() {
  for (std::uint32_t i = 0; i < params_.sas; ++i) {
    driver::SaConfig out = MakeSa(Direction::kOut, i);
    driver::SaConfig in = MakeSa(Direction::kIn, i);
    if (auto st = engine_->Install(i, out); !st) return st;
    if (auto st = engine_->Install(engine_->InboundSlotFor(in.spi), in); !st) return st;
    out_sas_.push_back(std::move(out));
    out_slots_.push_back(static_cast<std::uint16_t>(i));
  }
  return {};
}

Status Bench::DeviceRows(std::size_t size) {
  const std::vector<Bytes> inner = Inner(size);
  std::uint64_t bytes = 0;
  for (const Bytes& p : inner) bytes += p.size();
  if (params_.outbound) {
    std::vector<driver::PacketIn> batch;
    batch.reserve(inner.size());
    for (std::uint32_t i = 0; i < inner.size(); ++i) {
      batch.push_back({Direction::kOut, out_slots_[i % out_slots_.size()], i, inner[i]});
    }
    const auto t0 = SteadyClock::now();
    auto results = engine_->Process(batch);
    const double seconds = Since(t0);
    if (!results) return tl::unexpected(results.error());
    for (const auto& r : *results) {
      if (r.status != driver::PacketStatus::kOk) {
        return tl::unexpected(Fail("outbound packet " + std::to_string(r.cookie) + " of size " +
                                   SizeName(size) + " came back " +
                                   std::string(driver::ToString(r.status))));
      }
    }
    Add(name_, "out", size, inner.size(), seconds, bytes);
    Step();
  }
  if (params_.inbound) {
    auto esp = Encrypt(inner);
    if (!esp) return tl::unexpected(esp.error());
    std::vector<driver::PacketIn> batch;
    batch.reserve(esp->size());
    for (std::uint32_t i = 0; i < esp->size(); ++i) {
      batch.push_back({Direction::kIn, driver::kNoSlot, i, std::move((*esp)[i])});
    }
    const auto t0 = SteadyClock::now();
    auto results = engine_->Process(batch);
    const double seconds = Since(t0);
    if (!results) return tl::unexpected(results.error());
    for (const auto& r : *results) {
      if (r.status != driver::PacketStatus::kOk || r.cookie >= inner.size() ||
          r.data != inner[r.cookie]) {
        return tl::unexpected(Fail("inbound packet " + std::to_string(r.cookie) + " of size " +
                                   SizeName(size) + " came back " +
                                   std::string(driver::ToString(r.status)) +
                                   (r.status == driver::PacketStatus::kOk ? " but differs" : "")));
      }
    }
    Add(name_, "in", size, inner.size(), seconds, bytes);
    Step();
  }
  return {};
}

Status Bench::SoftwareRows(std::size_t size) {
  const std::vector<Bytes> inner = Inner(size);
  std::uint64_t bytes = 0;
  for (const Bytes& p : inner) bytes += p.size();
  sdk::SoftwareEsp sw;
  const auto n = static_cast<std::uint32_t>(out_sas_.size());
  for (std::uint32_t i = 0; i < n; ++i) {
    if (auto st = sw.Add(i * 2, out_sas_[i].Clone()); !st) return st;
    driver::SaConfig in = out_sas_[i].Clone();
    in.dir = Direction::kIn;
    if (auto st = sw.Add(i * 2 + 1, std::move(in)); !st) return st;
  }
  std::vector<Bytes> esp(inner.size());
  auto t0 = SteadyClock::now();
  for (std::uint32_t i = 0; i < inner.size(); ++i) {
    auto r = sw.Encapsulate((i % n) * 2, inner[i]);
    if (!r) return tl::unexpected(r.error());
    if (r->status != driver::PacketStatus::kOk) {
      return tl::unexpected(Fail("software outbound packet " + std::to_string(i) + " came back " +
                                 std::string(driver::ToString(r->status))));
    }
    esp[i] = std::move(r->data);
  }
  const double out_seconds = Since(t0);
  if (params_.outbound) {
    Add("software", "out", size, inner.size(), out_seconds, bytes);
    Step();
  }
  if (!params_.inbound) return {};
  t0 = SteadyClock::now();
  for (std::uint32_t i = 0; i < esp.size(); ++i) {
    auto r = sw.Decapsulate((i % n) * 2 + 1, esp[i]);
    if (!r) return tl::unexpected(r.error());
    if (!r->accepted() || r->packet != inner[i]) {
      return tl::unexpected(Fail("software inbound packet " + std::to_string(i) + " of size " +
                                 SizeName(size) + " was not accepted unchanged: " + r->detail));
    }
  }
  Add("software", "in", size, inner.size(), Since(t0), bytes);
  Step();
  return {};
}

Result<BenchReport> Bench::Run() {
  report_.device = name_;
  report_.params = params_;
  const std::size_t dirs = (params_.outbound ? 1 : 0) + (params_.inbound ? 1 : 0);
  total_ =
      (params_.installs > 0 ? 1 : 0) + params_.sizes.size() * dirs * (params_.software ? 2 : 1);
  if (auto st = Installs(); !st) return tl::unexpected(st.error());
  if (auto st = SetUp(); !st) return tl::unexpected(st.error());
  for (const std::size_t size : params_.sizes) {
    if (auto st = DeviceRows(size); !st) return tl::unexpected(st.error());
    if (params_.software) {
      if (auto st = SoftwareRows(size); !st) return tl::unexpected(st.error());
    }
  }
  return std::move(report_);
}

std::string Fixed(double v, int digits) {
  std::array<char, 64> buf{};
  (void)std::snprintf(buf.data(), buf.size(), "%.*f", digits, v);  // NOLINT
  return buf.data();
}

}  // namespace

Result<std::vector<std::size_t>> ParseBenchSizes(const std::string& text) {
  std::vector<std::size_t> sizes;
  if (!text.empty() && text.back() == ',') {
    return MakeError(Errc::kInvalidArgument, "--sizes: '" + text + "' ends with a comma");
  }
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item == "imix") {
      sizes.push_back(0);
      continue;
    }
    std::size_t used = 0;
    unsigned long value = 0;  // NOLINT(google-runtime-int): stoul's type
    try {
      value = std::stoul(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || value < kMinPacket || value > kMaxPacket) {
      return MakeError(Errc::kInvalidArgument, "--sizes: '" + item + "' is not a packet size (" +
                                                   std::to_string(kMinPacket) + ".." +
                                                   std::to_string(kMaxPacket) + " bytes, or imix)");
    }
    sizes.push_back(value);
  }
  if (sizes.empty()) return MakeError(Errc::kInvalidArgument, "--sizes: no size given");
  return sizes;
}

Result<BenchReport> RunBench(std::unique_ptr<driver::Device> device, const std::string& device_name,
                             const BenchParams& params,
                             const std::function<void(std::size_t, std::size_t)>& progress) {
  if (params.packets == 0) return MakeError(Errc::kInvalidArgument, "--packets: must be >= 1");
  if (!params.outbound && !params.inbound) {
    return MakeError(Errc::kInvalidArgument, "--dir: nothing to measure");
  }
  auto engine = driver::Engine::Open(std::move(device));
  if (!engine) return tl::unexpected(engine.error());
  const auto& caps = (*engine)->caps();
  const std::uint32_t max_sas = std::min(caps.out_slots, caps.in_slots);
  if (params.sas == 0 || params.sas > max_sas) {
    return MakeError(Errc::kInvalidArgument, "--sas: must be 1.." + std::to_string(max_sas) +
                                                 " (the device's slots per direction), got " +
                                                 std::to_string(params.sas));
  }
  Bench bench(std::move(*engine), device_name, params, progress);
  return bench.Run();
}

nlohmann::json BenchToJson(const BenchReport& report) {
  nlohmann::json sizes = nlohmann::json::array();
  for (const std::size_t s : report.params.sizes) sizes.push_back(SizeName(s));
  nlohmann::json rows = nlohmann::json::array();
  for (const BenchRow& r : report.rows) {
    rows.push_back({{"backend", r.backend},
                    {"operation", r.operation},
                    {"size", r.size},
                    {"count", r.count},
                    {"seconds", r.seconds},
                    {"per_second", r.per_second},
                    {"mbit_per_second", r.mbit_per_second}});
  }
  return {{"device", report.device},
          {"params",
           {{"sizes", sizes},
            {"packets", report.params.packets},
            {"sas", report.params.sas},
            {"installs", report.params.installs}}},
          {"results", rows}};
}

std::string BenchToCsv(const BenchReport& report) {
  std::string out = "backend,operation,size,count,seconds,per_second,mbit_per_second\n";
  for (const BenchRow& r : report.rows) {
    out += r.backend + "," + r.operation + "," + r.size + "," + std::to_string(r.count) + "," +
           Fixed(r.seconds, 6) + "," + Fixed(r.per_second, 1) + "," + Fixed(r.mbit_per_second, 3) +
           "\n";
  }
  return out;
}

std::string BenchToTable(const BenchReport& report) {
  std::string out;
  std::array<char, 160> line{};
  (void)std::snprintf(
      line.data(), line.size(), "%-9s %-10s %5s %8s %10s %14s %10s %9s\n",  // NOLINT
      "backend", "operation", "size", "count", "seconds", "per_second", "Mbit/s", "vs_sw");
  out += line.data();
  for (const BenchRow& r : report.rows) {
    // The software row of the same operation and size, for the ratio column.
    std::string ratio = "-";
    if (r.backend != "software") {
      for (const BenchRow& s : report.rows) {
        if (s.backend == "software" && s.operation == r.operation && s.size == r.size &&
            s.per_second > 0) {
          ratio = Fixed(r.per_second / s.per_second, 2);
        }
      }
    }
    (void)std::snprintf(line.data(), line.size(),  // NOLINT
                        "%-9s %-10s %5s %8llu %10.4f %14.0f %10s %9s\n", r.backend.c_str(),
                        r.operation.c_str(), r.size.c_str(),
                        static_cast<unsigned long long>(r.count),  // NOLINT(google-runtime-int)
                        r.seconds, r.per_second,
                        r.operation == "sa-install" ? "-" : Fixed(r.mbit_per_second, 1).c_str(),
                        ratio.c_str());
    out += line.data();
  }
  return out;
}

}  // namespace espo::ikectl
