// SPDX-License-Identifier: Apache-2.0
//
// `ikectl process --sa FILE --dir out|in --in IN.pcap --out OUT.pcap [--device sim|model|xrt]
//                 [--spi SPI] [--json]`
// Runs a capture through the engine with the SAs of an SA file (docs/SA_SYNTAX.md).
// Exit 0 when the run completes (drops included); 2 with one line on stderr for usage, SA-file,
// pcap or device errors, in which case nothing is processed.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "espo/driver/engine.hpp"
#include "espo/driver/sa_file.hpp"
#include "espo/ikectl/commands.hpp"
#include "espo/ikectl/pcap_file.hpp"

namespace espo::ikectl {
namespace {

using driver::Direction;
using driver::PacketStatus;

struct ProcessOptions {
  std::string sa_file;
  std::string dir;
  std::string in_pcap;
  std::string out_pcap;
  std::string device = "sim";
  std::string spi;
  bool json = false;
};

struct InstalledSa {
  std::uint32_t spi = 0;
  Direction dir = Direction::kOut;
  std::uint32_t slot = 0;
  std::vector<std::string> events;
};

std::string SpiText(std::uint32_t spi) {
  std::array<char, 16> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%08x", spi);
  return buf.data();
}

int Fail(const std::string& message) {
  std::cerr << "ikectl process: " << message << "\n";
  return 2;
}

// Chooses the SAs to install: the single dir-out SA (or the one --spi names), or every dir-in SA.
Result<std::vector<const driver::SaConfig*>> SelectSas(const std::vector<driver::SaConfig>& sas,
                                                       Direction dir, const std::string& spi_text,
                                                       const std::string& file) {
  std::optional<std::uint32_t> want;
  if (!spi_text.empty()) {
    char* end = nullptr;
    const unsigned long long v =
        std::strtoull(spi_text.c_str(), &end, 0);  // NOLINT(google-runtime-int)
    if (end == spi_text.c_str() || *end != '\0' || v == 0 || v > 0xFFFFFFFFULL) {
      return MakeError(Errc::kInvalidArgument,
                       "--spi: '" + spi_text + "' is not an SPI (1..0xffffffff)");
    }
    want = static_cast<std::uint32_t>(v);
  }
  std::vector<const driver::SaConfig*> chosen;
  for (const auto& sa : sas) {
    if (sa.dir == dir && (!want || sa.spi == *want)) chosen.push_back(&sa);
  }
  const std::string d(driver::ToString(dir));
  if (chosen.empty()) {
    return MakeError(Errc::kNotFound, file + ": no dir " + d + " SA" +
                                          (want ? " with SPI " + SpiText(*want) : std::string()));
  }
  if (dir == Direction::kOut && chosen.size() > 1) {
    return MakeError(Errc::kInvalidArgument, file + ": " + std::to_string(chosen.size()) +
                                                 " dir out SAs; name one with --spi");
  }
  return chosen;
}

int RunProcess(const ProcessOptions& opt) {
  auto dir_kind = opt.dir == "out"  ? std::optional<Direction>(Direction::kOut)
                  : opt.dir == "in" ? std::optional<Direction>(Direction::kIn)
                                    : std::nullopt;
  if (!dir_kind) return Fail("--dir: expected out or in, got '" + opt.dir + "'");
  const Direction dir = *dir_kind;
  auto device_kind = driver::ParseDeviceKind(opt.device);
  if (!device_kind) return Fail(device_kind.error().message);

  // Everything that can be wrong with the inputs is found before anything is processed.
  auto sas = driver::LoadSaFile(opt.sa_file);
  if (!sas) return Fail(sas.error().message);
  auto chosen = SelectSas(*sas, dir, opt.spi, opt.sa_file);
  if (!chosen) return Fail(chosen.error().message);
  auto reader = PcapReader::Open(opt.in_pcap);
  if (!reader) return Fail(reader.error().message);
  std::vector<PcapRecord> records;
  for (;;) {
    auto rec = reader->Next();
    if (!rec) return Fail(rec.error().message);
    if (!rec->has_value()) break;
    records.push_back(std::move(**rec));
  }

  driver::DeviceSpec spec;
  spec.kind = *device_kind;
  if (const char* xclbin = std::getenv("ESPO_XCLBIN")) spec.xclbin = xclbin;  // NOLINT
  auto device = driver::OpenDevice(spec);
  if (!device) return Fail(device.error().message);
  auto engine = driver::Engine::Open(std::move(*device));
  if (!engine) return Fail(engine.error().message);

  std::vector<InstalledSa> installed;
  std::map<std::uint32_t, std::uint32_t> inbound_slot_owner;  // slot -> SPI
  for (const driver::SaConfig* sa : *chosen) {
    const std::uint32_t slot = dir == Direction::kOut ? 0 : (*engine)->InboundSlotFor(sa->spi);
    if (dir == Direction::kIn) {
      auto [it, fresh] = inbound_slot_owner.emplace(slot, sa->spi);
      if (!fresh) {
        return Fail(opt.sa_file + ": SPIs " + SpiText(it->second) + " and " + SpiText(sa->spi) +
                    " need the same inbound slot " + std::to_string(slot) + " (slot = SPI mod " +
                    std::to_string((*engine)->caps().in_slots) + ")");
      }
    }
    auto st = (*engine)->Install(slot, *sa);
    if (!st) return Fail(opt.sa_file + ": " + st.error().message);
    installed.push_back(InstalledSa{sa->spi, dir, slot, {}});
  }

  auto writer = PcapWriter::Open(opt.out_pcap, reader->link_type(), reader->precision());
  if (!writer) return Fail(writer.error().message);

  std::uint64_t processed = 0;
  std::uint64_t emitted = 0;
  std::uint64_t not_esp = 0;
  std::uint64_t dummies = 0;
  std::uint64_t too_big = 0;
  std::map<PacketStatus, std::uint64_t> drops;
  constexpr std::size_t kChunk = 1024;
  for (std::size_t base = 0; base < records.size(); base += kChunk) {
    const std::size_t n = std::min(kChunk, records.size() - base);
    std::vector<driver::PacketIn> batch;
    std::vector<std::size_t> index;
    for (std::size_t i = base; i < base + n; ++i) {
      ++processed;
      const PcapRecord& r = records[i];
      if (r.ip.empty() || r.ip.size() > (*engine)->caps().max_packet) {
        ++drops[PacketStatus::kMalformed];  // nothing the engine could take
        continue;
      }
      batch.push_back(driver::PacketIn{dir,
                                       dir == Direction::kOut ? std::uint16_t{0} : driver::kNoSlot,
                                       static_cast<std::uint32_t>(i), r.ip});
      index.push_back(i);
    }
    auto results = (*engine)->Process(batch);
    if (!results) {
      std::cerr << "ikectl process: " << results.error().message << "\n";
      return 1;
    }
    for (const driver::PacketOut& out : *results) {
      switch (out.status) {
        case PacketStatus::kOk:
          if (out.data.empty()) {
            ++dummies;
            break;
          }
          if (auto st = writer->WriteReplacing(records[out.cookie], out.data); !st) {
            std::cerr << "ikectl process: " << st.error().message << "\n";
            return 1;
          }
          ++emitted;
          break;
        case PacketStatus::kNotEsp:
          ++not_esp;
          break;
        case PacketStatus::kTooBig:
          ++too_big;
          break;
        default:
          ++drops[out.status];
          break;
      }
    }
  }
  if (auto st = writer->Flush(); !st) {
    std::cerr << "ikectl process: " << st.error().message << "\n";
    return 1;
  }
  auto events = (*engine)->DrainEvents();
  if (!events) return Fail(events.error().message);
  for (const driver::Event& e : *events) {
    for (InstalledSa& sa : installed) {
      if (sa.dir == e.dir && sa.slot == e.slot) sa.events.emplace_back(driver::ToString(e.kind));
    }
  }

  nlohmann::json out;
  out["processed"] = processed;
  out["emitted"] = emitted;
  nlohmann::json dropped;
  for (const PacketStatus s : {PacketStatus::kAuth, PacketStatus::kReplay, PacketStatus::kNoSa,
                               PacketStatus::kMalformed, PacketStatus::kLifetime}) {
    dropped[std::string(driver::ToString(s))] = drops[s];
  }
  out["dropped"] = dropped;
  out["not_esp"] = not_esp;
  out["too_big"] = too_big;
  out["dummy"] = dummies;
  out["device"] = opt.device;
  out["sa"] = nlohmann::json::array();
  for (const InstalledSa& sa : installed) {
    auto slot = (*engine)->ReadSlot(sa.dir, sa.slot);
    if (!slot) return Fail(slot.error().message);
    out["sa"].push_back({{"spi", SpiText(sa.spi)},
                         {"dir", driver::ToString(sa.dir)},
                         {"packets", slot->packets},
                         {"bytes", slot->bytes},
                         {"state", driver::ToString(slot->state)},
                         {"events", sa.events}});
  }
  if (opt.json) {
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::printf("processed %llu packets on the %s device: %llu emitted to %s\n",
              static_cast<unsigned long long>(processed), opt.device.c_str(),   // NOLINT
              static_cast<unsigned long long>(emitted), opt.out_pcap.c_str());  // NOLINT
  std::printf("%-10s %8s %8s %8s %10s %8s\n", "dropped:", "auth", "replay", "no_sa", "malformed",
              "lifetime");
  std::printf("%-10s %8llu %8llu %8llu %10llu %8llu\n", "",
              static_cast<unsigned long long>(drops[PacketStatus::kAuth]),       // NOLINT
              static_cast<unsigned long long>(drops[PacketStatus::kReplay]),     // NOLINT
              static_cast<unsigned long long>(drops[PacketStatus::kNoSa]),       // NOLINT
              static_cast<unsigned long long>(drops[PacketStatus::kMalformed]),  // NOLINT
              static_cast<unsigned long long>(drops[PacketStatus::kLifetime]));  // NOLINT
  if (not_esp + too_big + dummies > 0) {
    std::printf("not ESP (to software): %llu, too big: %llu, TFC dummies: %llu\n",
                static_cast<unsigned long long>(not_esp),   // NOLINT
                static_cast<unsigned long long>(too_big),   // NOLINT
                static_cast<unsigned long long>(dummies));  // NOLINT
  }
  std::printf("\n%-12s %-4s %10s %12s %-13s %s\n", "SPI", "dir", "packets", "bytes", "state",
              "events");
  for (const auto& sa : out["sa"]) {
    std::string ev;
    for (const auto& e : sa["events"]) ev += (ev.empty() ? "" : ",") + e.get<std::string>();
    std::printf("%-12s %-4s %10llu %12llu %-13s %s\n", sa["spi"].get<std::string>().c_str(),
                sa["dir"].get<std::string>().c_str(),
                static_cast<unsigned long long>(sa["packets"].get<std::uint64_t>()),  // NOLINT
                static_cast<unsigned long long>(sa["bytes"].get<std::uint64_t>()),    // NOLINT
                sa["state"].get<std::string>().c_str(), ev.empty() ? "-" : ev.c_str());
  }
  return 0;
}

}  // namespace

void RegisterProcess(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<ProcessOptions>();
  CLI::App* cmd = app.add_subcommand(
      "process", "Encapsulate (--dir out) or decapsulate (--dir in) a pcap with an SA file");
  cmd->add_option("--sa", opt->sa_file, "SA file (docs/SA_SYNTAX.md)")->required();
  cmd->add_option("--dir", opt->dir, "out: plaintext in, ESP out; in: ESP in, inner packets out")
      ->required();
  cmd->add_option("--in", opt->in_pcap, "input pcap (Ethernet, raw IP, IPv4 or IPv6 link type)")
      ->required();
  cmd->add_option("--out", opt->out_pcap, "output pcap (same link type as --in)")->required();
  cmd->add_option("--device", opt->device, "sim (Verilator RTL), model (C++ reference) or xrt")
      ->capture_default_str();
  cmd->add_option("--spi", opt->spi, "with --dir out: which dir-out SA of the file to use");
  cmd->add_flag("--json", opt->json, "print one JSON object");
  cmd->callback([opt, &exit_code] { exit_code = RunProcess(*opt); });
}

}  // namespace espo::ikectl
