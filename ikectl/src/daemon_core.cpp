// SPDX-License-Identifier: Apache-2.0
//
// ControlCore: the daemon's state and its command dispatcher (docs/CONTROL_PROTOCOL.md).
// The SA table holds operator SAs (SA-file syntax, their own SPIs) keyed by (dir, SPI), each
// adopted by the SDK's SaManager (sdk::SaManager::AdoptSa): outbound SAs take any free slot,
// inbound SAs the slot their SPI encodes (Engine::InboundSlotFor); when that slot is taken or the
// table is full they run on SoftwareEsp (up to CoreOptions::software_sas) and move back to a
// slot when one frees up. Every change is all-or-nothing on the table; the checkpoint is
// rewritten after each change.
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include "espo/driver/bytes.hpp"
#include "espo/driver/ip_packet.hpp"
#include "espo/driver/sa_file.hpp"
#include "espo/ikectl/daemon.hpp"
#include "espo/ikectl/test_packet.hpp"
#include "espo/sdk/sa_manager.hpp"

namespace espo::ikectl {
namespace {

using driver::Direction;
using Json = nlohmann::json;

tl::unexpected<ControlError> Bad(std::string_view code_name, std::string message) {
  return tl::unexpected(ControlError{std::string(code_name), std::move(message)});
}

std::string Name(Direction dir, std::uint32_t spi) {
  return "SA spi " + FormatSpi(spi) + " dir " + std::string(driver::ToString(dir));
}

std::string NowText() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  tm utc{};
  ::gmtime_r(&t, &utc);
  std::array<char, 32> buf{};
  (void)std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf.data();
}

// The canonical SA line with the key replaced (keys never leave the daemon).
std::string RedactedLine(const driver::SaConfig& sa) {
  std::string line = driver::FormatSaLine(sa);
  std::istringstream in(line);
  std::string word;
  std::string out;
  std::string prev2;
  std::string prev1;
  while (in >> word) {
    if (!out.empty()) out += ' ';
    out += prev2 == "aead" ? "0x<" + std::to_string(sa.key.key_bytes() * 8) + "-bit key>" : word;
    prev2 = prev1;
    prev1 = word;
  }
  OPENSSL_cleanse(line.data(), line.size());
  OPENSSL_cleanse(word.data(), word.size());
  OPENSSL_cleanse(prev1.data(), prev1.size());
  OPENSSL_cleanse(prev2.data(), prev2.size());
  return out;
}

ControlResult<std::optional<Direction>> DirArg(const Json& args) {
  auto it = args.find("dir");
  if (it == args.end() || it->is_null()) return std::optional<Direction>();
  if (it->is_string() && *it == "out") return std::optional<Direction>(Direction::kOut);
  if (it->is_string() && *it == "in") return std::optional<Direction>(Direction::kIn);
  return Bad(code::kInvalidArgument, R"(args.dir: expected "in" or "out")");
}

ControlResult<std::optional<std::uint64_t>> U64Arg(const Json& args, const std::string& name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return std::optional<std::uint64_t>();
  if (!it->is_number_integer() || (!it->is_number_unsigned() && it->get<std::int64_t>() < 0)) {
    return Bad(code::kInvalidArgument, "args." + name + ": expected a non-negative integer");
  }
  return std::optional<std::uint64_t>(it->get<std::uint64_t>());
}

// Strips "FILE:1: " that ParseSaLine puts before a one-line input's messages.
std::string WithoutLineNumber(std::string message, const std::string& file) {
  const std::string prefix = file + ":1: ";
  if (message.rfind(prefix, 0) == 0) message = file + ": " + message.substr(prefix.size());
  return message;
}

Json LimitsJson(const driver::SaLimits& l) {
  return {{"soft_packets", l.soft_packets},
          {"hard_packets", l.hard_packets},
          {"soft_bytes", l.soft_bytes},
          {"hard_bytes", l.hard_bytes}};
}

}  // namespace

ControlCore::ControlCore(std::unique_ptr<driver::Engine> engine, CoreOptions options,
                         const Logger& logger)
    : engine_(std::move(engine)), options_(std::move(options)), logger_(logger) {}

namespace {

// The entry's placement (software, or its hardware slot) as the SDK reports it.
void SetPlacement(Direction dir, const sdk::SaInfo& info, SaEntry& e) {
  const bool out = dir == Direction::kOut;
  e.software = (out ? info.outbound : info.inbound) == sdk::Placement::kSoftware;
  e.slot = e.software ? sdk::kNoSlotIndex : (out ? info.outbound_slot : info.inbound_slot);
}

// "slot" of an SA in JSON: its slot, or null on the software path.
Json SlotJson(const SaEntry& e) { return e.software ? Json() : Json(e.slot); }

sdk::SaManagerOptions ManagerOptions(const CoreOptions& o) {
  sdk::SaManagerOptions m;
  // Operator and kernel SPIs are chosen outside: a removed SPI may be added again at once
  // (config reload replaces an SA by remove + add with the same SPI).
  m.spi_quarantine = sdk::Duration::zero();
  m.software_fallback = o.software_sas > 0;
  m.migrate_to_hardware = true;
  return m;
}

}  // namespace

ControlCore::~ControlCore() = default;

Result<std::unique_ptr<ControlCore>> ControlCore::Create(std::unique_ptr<driver::Device> device,
                                                         const CoreOptions& options,
                                                         const Logger& logger) {
  ESPO_ASSIGN_OR_RETURN(auto engine, driver::Engine::Open(std::move(device)));
  // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): private constructor
  std::unique_ptr<ControlCore> core(new ControlCore(std::move(engine), options, logger));
  ESPO_RETURN_IF_ERROR(sdk::CryptoRng::CheckAvailable());
  ESPO_ASSIGN_OR_RETURN(core->sdk_, sdk::SaManager::Create(*core->engine_, core->clock_, core->rng_,
                                                           ManagerOptions(options)));
  if (options.checkpoint_path) {
    core->store_ = std::make_unique<sdk::FileCheckpointStore>(*options.checkpoint_path);
    auto cp = core->store_->Load();
    if (!cp && cp.error().code != Errc::kNotFound) return tl::unexpected(cp.error());
    if (cp) {
      core->generation_ = cp->generation;
      for (auto& rec : cp->sas) {
        const Direction dir =
            rec.direction == sdk::SaDirection::kOutbound ? Direction::kOut : Direction::kIn;
        core->retained_[{dir, rec.spi}] = std::move(rec);
      }
      logger.Log(LogLevel::kInfo, "checkpoint", "checkpoint loaded",
                 {{"path", *options.checkpoint_path},
                  {"generation", std::to_string(cp->generation)},
                  {"records", std::to_string(core->retained_.size())}});
    } else {
      logger.Log(LogLevel::kInfo, "checkpoint", "no checkpoint yet: fresh start",
                 {{"path", *options.checkpoint_path}});
    }
  }
  if (options.config_path) {
    std::vector<std::string> sources;
    auto sas = core->ReadConfig(&sources);
    if (!sas) return tl::unexpected(ToError(sas.error()));
    auto installed = core->InstallAll(std::move(*sas), "config", sources);
    if (!installed) return tl::unexpected(ToError(installed.error()));
    logger.Log(LogLevel::kInfo, "config", "config loaded",
               {{"path", *options.config_path}, {"sas", std::to_string(installed->size())}});
  }
  if (core->store_) {
    auto saved = core->SaveCheckpoint();
    if (!saved) return tl::unexpected(ToError(saved.error()));
  }
  return core;
}

ControlResult<std::vector<driver::SaConfig>> ControlCore::ReadConfig(
    std::vector<std::string>* sources) const {
  if (!options_.config_path) return Bad(code::kUnsupported, "no --config file to reload");
  auto sas = driver::LoadSaFile(*options_.config_path);
  if (!sas) return tl::unexpected(ToControlError(sas.error()));
  for (const auto& sa : *sas) {
    sources->push_back(*options_.config_path + " (" + Name(sa.dir, sa.spi) + ")");
  }
  return std::move(*sas);
}

std::string ControlCore::HandleLine(std::string_view line, bool* subscribe) {
  auto req = ParseRequest(line);
  if (!req) {
    // Echo the id if the line was an object carrying one.
    Json id;
    if (line.size() <= kMaxLineBytes) {
      Json j = Json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("id") &&
          (j["id"].is_number_integer() || j["id"].is_string())) {
        id = j["id"];
      }
    }
    return FormatError(id, req.error());
  }
  auto result = Dispatch(*req, subscribe);
  if (!result) return FormatError(req->id, result.error());
  return FormatOk(req->id, *result);
}

ControlResult<Json> ControlCore::Dispatch(const Request& request, bool* subscribe) {
  const std::string& c = request.cmd;
  ControlResult<Json> out = Bad(code::kUnknownCommand, "cmd: unknown command \"" + c + "\"");
  if (c == "info") out = Info();
  if (c == "sa.add") out = SaAdd(request.args);
  if (c == "sa.update") out = SaUpdate(request.args);
  if (c == "sa.del") out = SaDel(request.args);
  if (c == "sa.list") out = SaList();
  if (c == "sa.show") out = SaShow(request.args);
  if (c == "sa.load") out = SaLoad(request.args);
  if (c == "sa.send") out = SaSend(request.args);
  if (c == "stats") out = Stats();
  if (c == "config.reload") {
    out = ReloadConfig();
    if (!out) {
      logger_.Log(LogLevel::kError, "config", "reload refused, nothing changed",
                  {{"error", out.error().message}});
    }
  }
  if (c == "checkpoint") out = SaveCheckpoint();
  if (c == "monitor") {
    if (options_.in_process) {
      out = Bad(code::kUnsupported, "monitor: needs a running daemon (no events in-process)");
    } else {
      if (subscribe != nullptr) *subscribe = true;
      out = Json{{"subscribed", true}};
    }
  }
  if (c != "monitor" && c != "info") PollEvents();
  return out;
}

ControlError ControlCore::DeviceError(const Error& error, std::string_view during) {
  if (error.code != Errc::kDevice) {
    ControlError e = ToControlError(error);
    e.message = std::string(during) + ": " + e.message;
    return e;
  }
  ++device_errors_;
  logger_.Log(LogLevel::kError, "device", "device error",
              {{"op", std::string(during)}, {"error", error.message}});
  Publish({{"type", "device-error"}, {"op", std::string(during)}, {"message", error.message}});
  return ControlError{std::string(code::kDevice), std::string(during) + ": " + error.message};
}

std::string ControlCore::TableFull(Direction dir, std::uint32_t spi) const {
  std::uint32_t used = 0;
  for (const auto& [k, e] : table_) used += k.first == dir && !e.software ? 1U : 0U;
  const std::uint32_t slots =
      dir == Direction::kOut ? engine_->caps().out_slots : engine_->caps().in_slots;
  if (const Key* holder = dir == Direction::kIn ? InboundSlotHolder(spi) : nullptr) {
    return "inbound slot " + std::to_string(engine_->InboundSlotFor(spi)) + " (SPI mod " +
           std::to_string(slots) + ") already holds " + Name(holder->first, holder->second);
  }
  return std::string(dir == Direction::kOut ? "outbound" : "inbound") + " SA table full (" +
         std::to_string(used) + " of " + std::to_string(slots) + " slots in use)";
}

const ControlCore::Key* ControlCore::InboundSlotHolder(std::uint32_t spi) const {
  const std::uint32_t slot = engine_->InboundSlotFor(spi);
  for (const auto& [k, e] : table_) {
    if (k.first == Direction::kIn && !e.software && e.slot == slot) return &k;
  }
  return nullptr;
}

void ControlCore::Publish(Json event) {
  event["time"] = NowText();
  if (sink_) sink_(event);
}

ControlResult<Json> ControlCore::Info() {
  const driver::Capabilities& c = engine_->caps();
  std::array<char, 16> hash{};
  std::snprintf(hash.data(), hash.size(), "0x%08x", c.regmap_hash);  // NOLINT
  Json features = Json::array();
  const std::array<std::pair<const char*, bool>, 12> features_on = {{{"aes128", c.aes128},
                                                                     {"aes256", c.aes256},
                                                                     {"gcm", c.gcm},
                                                                     {"gmac", c.gmac},
                                                                     {"esn", c.esn},
                                                                     {"natt", c.natt},
                                                                     {"ipv6", c.ipv6},
                                                                     {"tunnel", c.tunnel},
                                                                     {"transport", c.transport},
                                                                     {"icv8", c.icv8},
                                                                     {"icv12", c.icv12},
                                                                     {"icv16", c.icv16}}};
  for (const auto& [name, on] : features_on) {
    if (on) features.push_back(name);
  }
  Json r;
  r["device"] = {
      {"kind", std::string(engine_->device().kind())},
      {"version", std::to_string(c.version_major) + "." + std::to_string(c.version_minor) + "." +
                      std::to_string(c.version_patch)},
      {"regmap_hash", hash.data()},
      {"build_id", c.build_id},
      {"out_slots", c.out_slots},
      {"in_slots", c.in_slots},
      {"data_bytes", c.data_bytes},
      {"aes_lanes", c.aes_lanes},
      {"replay_bits", c.replay_bits},
      {"max_packet", c.max_packet},
      {"event_depth", c.event_depth},
      {"features", features}};
  r["daemon"] = {
      {"protocol", kProtocolVersion},
      {"pid", static_cast<std::int64_t>(::getpid())},
      {"in_process", options_.in_process},
      {"checkpoint", options_.checkpoint_path ? Json(*options_.checkpoint_path) : Json()},
      {"config", options_.config_path ? Json(*options_.config_path) : Json()},
      {"generation", generation_},
      {"jump_margin", options_.jump_margin},
      {"software_sas", options_.software_sas},
      {"sas", table_.size()}};
  return r;
}

ControlResult<ControlCore::Key> ControlCore::Install(driver::SaConfig sa, std::string origin,
                                                     std::string source) {
  const Key key{sa.dir, sa.spi};
  const std::string name = Name(sa.dir, sa.spi);
  if (sa.spi < sdk::kMinSpi) {
    return Bad(code::kInvalidArgument, "spi: " + FormatSpi(sa.spi) +
                                           " is reserved (1..255, RFC 4303); the daemon "
                                           "needs SPIs >= 256");
  }
  if (auto it = table_.find(key); it != table_.end()) {
    return Bad(code::kExists, name + " is already installed (slot " +
                                  std::to_string(it->second.slot) + ", from " + it->second.source +
                                  ")");
  }
  if (auto r = retained_.find(key); r != retained_.end()) {
    if (sa.dir == Direction::kOut) {
      sdk::SaCheckpoint rec = r->second;
      rec.esn = sa.esn;
      rec.outbound_seq = std::min(rec.outbound_seq, sdk::LastUsableSequence(sa.esn));
      auto j = sdk::RestoreJumpAhead(rec, options_.jump_margin);
      if (!j) return tl::unexpected(ToControlError(j.error()));
      if (j->needs_rekey) {
        return Bad(code::kExhausted,
                   name + ": checkpointed sequence number " + std::to_string(rec.outbound_seq) +
                       " plus the jump-ahead margin " + std::to_string(options_.jump_margin) +
                       " leaves no sequence number; rekey (new SPI and key)");
      }
      if (j->outbound_seq > sa.oseq) {
        logger_.Log(LogLevel::kInfo, "sa", "jump-ahead from checkpoint",
                    {{"spi", FormatSpi(sa.spi)},
                     {"dir", "out"},
                     {"saved", std::to_string(rec.outbound_seq)},
                     {"oseq", std::to_string(j->outbound_seq)}});
        sa.oseq = j->outbound_seq;
      }
    } else {
      sa.replay_seq = std::max(sa.replay_seq, r->second.replay_right_edge);
    }
  }
  const sdk::SaManagerStats before = sdk_->stats();
  const auto software_before = static_cast<std::uint32_t>(before.software_in + before.software_out);
  // Refuse before touching the SDK when the SA would need the software path and it is full.
  auto refuse = [&] {
    std::string why = name + ": " + TableFull(sa.dir, sa.spi);
    if (options_.software_sas > 0) {
      why += " and the software path is full (" + std::to_string(software_before) + " of " +
             std::to_string(options_.software_sas) + " SAs)";
    }
    return Bad(code::kExhausted, why);
  };
  const bool slot_free = sa.dir == Direction::kOut
                             ? before.out_free > 0
                             : before.in_free > 0 && InboundSlotHolder(sa.spi) == nullptr;
  if (!slot_free && software_before >= options_.software_sas) return refuse();
  auto id = sdk_->AdoptSa(sa);
  if (!id) {
    if (id.error().code == Errc::kExhausted) return refuse();
    return tl::unexpected(DeviceError(id.error(), name));
  }
  auto info = sdk_->Info(*id);
  const bool software = info && (sa.dir == Direction::kOut ? info->outbound : info->inbound) ==
                                    sdk::Placement::kSoftware;
  if (software && software_before >= options_.software_sas) {
    // Only when the slot check above missed (a stuck slot): undo. Its fallback event stays
    // queued and is published as stale, rather than draining other SAs' events here.
    (void)sdk_->Remove(*id);
    return refuse();
  }
  SaEntry entry;
  entry.last_seq = sa.dir == Direction::kOut ? sa.oseq : sa.replay_seq;
  entry.config = std::move(sa);
  entry.id = *id;
  if (info) SetPlacement(key.first, *info, entry);
  entry.origin = std::move(origin);
  entry.source = std::move(source);
  retained_.erase(key);
  logger_.Log(LogLevel::kInfo, "sa", "SA installed",
              {{"spi", FormatSpi(key.second)},
               {"dir", std::string(driver::ToString(key.first))},
               {"placement", entry.software ? "software" : "slot " + std::to_string(entry.slot)},
               {"origin", entry.origin}});
  Publish({{"type", "sa-added"},
           {"spi", FormatSpi(key.second)},
           {"dir", driver::ToString(key.first)},
           {"slot", SlotJson(entry)},
           {"placement", entry.software ? "software" : "hardware"},
           {"origin", entry.origin}});
  by_id_[entry.id] = key;
  table_.emplace(key, std::move(entry));
  return key;
}

ControlResult<void> ControlCore::Uninstall(const Key& key) {
  SaEntry& e = table_.at(key);
  (void)ReadSa(key, e);  // best effort: the freshest sequence number for the record
  // SaManager::Remove forgets the SA even when the device fails: a slot whose remove failed is
  // kept out of use ("stuck") until restart, so the table stays consistent either way.
  const Status removed = sdk_->Remove(e.id);
  (void)sdk_->Poll();  // ends the (zero) SPI quarantine; may migrate a software SA here
  if (key.first == Direction::kOut) {
    sdk::SaCheckpoint rec;
    rec.name = "out:" + FormatSpi(key.second);
    rec.spi = key.second;
    rec.direction = sdk::SaDirection::kOutbound;
    rec.esn = e.config.esn;
    rec.outbound_seq = std::max(e.last_seq, e.config.oseq);
    retained_[key] = rec;
  }
  logger_.Log(LogLevel::kInfo, "sa", "SA removed",
              {{"spi", FormatSpi(key.second)},
               {"dir", std::string(driver::ToString(key.first))},
               {"slot", std::to_string(e.slot)}});
  Publish({{"type", "sa-removed"},
           {"spi", FormatSpi(key.second)},
           {"dir", driver::ToString(key.first)},
           {"slot", SlotJson(e)}});
  const std::uint32_t slot = e.slot;
  by_id_.erase(e.id);
  table_.erase(key);
  RefreshPlacement();
  if (!removed) {
    ControlError err = DeviceError(removed.error(), Name(key.first, key.second));
    err.message += "; the SA is out of service and slot " + std::to_string(slot) +
                   " stays unused until the daemon restarts";
    return tl::unexpected(err);
  }
  return {};
}

ControlResult<std::vector<ControlCore::Key>> ControlCore::InstallAll(
    std::vector<driver::SaConfig> sas, const std::string& origin,
    const std::vector<std::string>& sources) {
  // Checks that need no device first, so that most bad sets touch nothing.
  std::map<Key, std::size_t> seen;
  for (std::size_t i = 0; i < sas.size(); ++i) {
    const Key key{sas[i].dir, sas[i].spi};
    if (!seen.emplace(key, i).second) {
      return Bad(code::kExists,
                 sources.at(i) + ": " + Name(key.first, key.second) + " appears twice");
    }
    if (auto it = table_.find(key); it != table_.end()) {
      return Bad(code::kExists, sources.at(i) + ": " + Name(key.first, key.second) +
                                    " is already installed (from " + it->second.source + ")");
    }
  }
  const auto retained_before = retained_;
  std::vector<Key> done;
  for (std::size_t i = 0; i < sas.size(); ++i) {
    auto key = Install(std::move(sas[i]), origin, sources.at(i));
    if (!key) {
      for (std::size_t j = done.size(); j-- > 0;) (void)Uninstall(done[j]);
      retained_ = retained_before;
      ControlError e = key.error();
      if (e.message.rfind(sources.at(i), 0) != 0) e.message = sources.at(i) + ": " + e.message;
      return tl::unexpected(e);
    }
    done.push_back(*key);
  }
  return done;
}

ControlResult<ControlCore::Key> ControlCore::FindEntry(const Json& args) const {
  auto spi_it = args.find("spi");
  if (spi_it == args.end()) return Bad(code::kInvalidArgument, "args.spi: missing");
  auto spi = ParseSpi(*spi_it, "args.spi");
  if (!spi) return tl::unexpected(spi.error());
  auto dir = DirArg(args);
  if (!dir) return tl::unexpected(dir.error());
  std::vector<Key> found;
  for (const Direction d : {Direction::kOut, Direction::kIn}) {
    if (*dir && **dir != d) continue;
    if (table_.contains({d, *spi})) found.emplace_back(d, *spi);
  }
  if (found.empty()) {
    return Bad(code::kNotFound,
               "no SA with SPI " + FormatSpi(*spi) +
                   (*dir ? " dir " + std::string(driver::ToString(**dir)) : std::string()));
  }
  if (found.size() > 1) {
    return Bad(code::kInvalidArgument,
               "SPI " + FormatSpi(*spi) + " is installed in both directions; give dir");
  }
  return found.front();
}

ControlResult<ControlCore::SaView> ControlCore::ReadSa(const Key& key, SaEntry& entry) {
  auto c = sdk_->Counters(entry.id);
  if (!c) return tl::unexpected(DeviceError(c.error(), Name(key.first, key.second)));
  const sdk::DirectionCounters& d = key.first == Direction::kOut ? c->outbound : c->inbound;
  SaView v;
  v.packets = d.packets;
  v.bytes = d.bytes;
  v.seq = d.seq;
  entry.last_seq = std::max(entry.last_seq, d.seq);
  if (d.placement == sdk::Placement::kHardware) {
    auto s = engine_->ReadSlot(key.first, entry.slot);
    if (!s) return tl::unexpected(DeviceError(s.error(), Name(key.first, key.second)));
    v.state = driver::ToString(s->state);
    v.seq_overflow = s->seq_overflow;
  } else {
    v.state = entry.hard_seen ? "hard-expired" : entry.soft_seen ? "soft-expired" : "active";
    v.seq_overflow = key.first == Direction::kOut && entry.hard_seen &&
                     d.seq >= sdk::LastUsableSequence(entry.config.esn);
  }
  return v;
}

void ControlCore::RefreshPlacement() {
  for (auto& [key, e] : table_) {
    if (auto info = sdk_->Info(e.id)) SetPlacement(key.first, *info, e);
  }
}

Json ControlCore::Describe(const Key& key, const SaEntry& e, bool with_counters) {
  const driver::SaConfig& c = e.config;
  Json j = {{"spi", FormatSpi(key.second)},
            {"dir", driver::ToString(key.first)},
            {"slot", SlotJson(e)},
            {"placement", e.software ? "software" : "hardware"},
            {"mode", driver::ToString(c.mode)},
            {"src", c.src.ToString()},
            {"dst", c.dst.ToString()},
            {"alg", driver::ToString(c.alg)},
            {"key_bits", c.key.key_bytes() * 8},
            {"icv_bits", c.icv_bytes * 8},
            {"esn", c.esn},
            {"limits", LimitsJson(c.limits)},
            {"origin", e.origin},
            {"source", e.source},
            {"line", RedactedLine(c)}};
  if (c.encap) j["encap"] = {{"sport", c.encap->sport}, {"dport", c.encap->dport}};
  if (key.first == Direction::kIn) j["replay_window"] = c.replay_window;
  if (with_counters) {
    auto s = ReadSa(key, table_.at(key));
    if (s) {
      j["state"] = s->state;
      j["packets"] = s->packets;
      j["bytes"] = s->bytes;
      j["seq"] = s->seq;
      if (key.first == Direction::kOut) j["next_seq"] = s->seq + 1;
      j["seq_overflow"] = s->seq_overflow;
    } else {
      j["state"] = "unknown";
      j["error"] = s.error().message;
    }
  }
  return j;
}

ControlResult<Json> ControlCore::SaAdd(const Json& args) {
  auto it = args.find("line");
  if (it == args.end()) return Bad(code::kInvalidArgument, "args.line: missing");
  if (!it->is_string()) return Bad(code::kInvalidArgument, "args.line: expected a string");
  std::string line = it->get<std::string>();
  std::string source = "sa add";
  if (auto s = args.find("source"); s != args.end() && s->is_string())
    source = s->get<std::string>();
  // "sa spi ..." or just "spi ...": the words after `sa` are enough.
  std::size_t first = line.find_first_not_of(" \t");
  if (first == std::string::npos || line.compare(first, 3, "sa ") != 0) line = "sa " + line;
  auto sa = driver::ParseSaLine(line, driver::SaLocation{source, 1});
  OPENSSL_cleanse(line.data(), line.size());
  if (!sa) {
    ControlError e = ToControlError(sa.error());
    e.message = WithoutLineNumber(e.message, source);
    return tl::unexpected(e);
  }
  auto key = Install(std::move(*sa), "runtime", source);
  if (!key) return tl::unexpected(key.error());
  CheckpointAfterChange();
  return Json{{"sa", Describe(*key, table_.at(*key), true)}};
}

ControlResult<ControlCore::Key> ControlCore::AddSa(driver::SaConfig sa, const std::string& origin,
                                                   const std::string& source) {
  auto key = Install(std::move(sa), origin, source);
  if (!key) return key;
  CheckpointAfterChange();
  PollEvents();  // a fallback shows up at once
  return key;
}

ControlResult<void> ControlCore::UpdateSaLimits(Direction dir, std::uint32_t spi,
                                                const driver::SaLimits& limits) {
  auto it = table_.find({dir, spi});
  if (it == table_.end()) return Bad(code::kNotFound, Name(dir, spi) + ": not installed");
  driver::SaConfig check = it->second.config.Clone();
  check.limits = limits;
  if (auto st = driver::Validate(check); !st) {
    return Bad(code::kInvalidArgument, Name(dir, spi) + ": " + st.error().message);
  }
  if (auto st = sdk_->UpdateLimits(it->second.id, dir, limits); !st) {
    return tl::unexpected(DeviceError(st.error(), Name(dir, spi)));
  }
  it->second.config.limits = limits;
  Publish({{"type", "sa-updated"},
           {"spi", FormatSpi(spi)},
           {"dir", driver::ToString(dir)},
           {"limits", LimitsJson(limits)}});
  return {};
}

ControlResult<void> ControlCore::RemoveSa(Direction dir, std::uint32_t spi) {
  if (!table_.contains({dir, spi})) return Bad(code::kNotFound, Name(dir, spi) + ": not installed");
  auto st = Uninstall({dir, spi});
  CheckpointAfterChange();
  return st;
}

ControlResult<Json> ControlCore::SaUpdate(const Json& args) {
  auto key = FindEntry(args);
  if (!key) return tl::unexpected(key.error());
  SaEntry& e = table_.at(*key);
  driver::SaLimits limits = e.config.limits;
  bool any = false;
  for (const auto& [name, field] : std::array<std::pair<const char*, std::uint64_t*>, 4>{
           {{"soft_packets", &limits.soft_packets},
            {"hard_packets", &limits.hard_packets},
            {"soft_bytes", &limits.soft_bytes},
            {"hard_bytes", &limits.hard_bytes}}}) {
    auto v = U64Arg(args, name);
    if (!v) return tl::unexpected(v.error());
    if (*v) {
      *field = **v;
      any = true;
    }
  }
  if (!any) {
    return Bad(code::kInvalidArgument,
               "sa update: give at least one of soft_packets, hard_packets, soft_bytes, "
               "hard_bytes");
  }
  driver::SaConfig check = e.config.Clone();
  check.limits = limits;
  if (auto st = driver::Validate(check); !st) {
    return Bad(code::kInvalidArgument, Name(key->first, key->second) + ": " + st.error().message);
  }
  if (auto st = sdk_->UpdateLimits(e.id, key->first, limits); !st) {
    return tl::unexpected(DeviceError(st.error(), Name(key->first, key->second)));
  }
  e.config.limits = limits;
  Publish({{"type", "sa-updated"},
           {"spi", FormatSpi(key->second)},
           {"dir", driver::ToString(key->first)},
           {"limits", LimitsJson(limits)}});
  return Json{{"sa", Describe(*key, e, true)}};
}

ControlResult<Json> ControlCore::SaDel(const Json& args) {
  auto key = FindEntry(args);
  if (!key) return tl::unexpected(key.error());
  Json described = Describe(*key, table_.at(*key), true);
  if (auto st = Uninstall(*key); !st) return tl::unexpected(st.error());
  CheckpointAfterChange();
  return Json{{"removed", described}};
}

ControlResult<Json> ControlCore::SaList() {
  Json sas = Json::array();
  for (const auto& [key, e] : table_) sas.push_back(Describe(key, e, true));
  return Json{{"sas", sas}};
}

ControlResult<Json> ControlCore::SaShow(const Json& args) {
  auto key = FindEntry(args);
  if (!key) return tl::unexpected(key.error());
  return Json{{"sa", Describe(*key, table_.at(*key), true)}};
}

ControlResult<Json> ControlCore::SaLoad(const Json& args) {
  auto it = args.find("text");
  if (it == args.end() || !it->is_string()) {
    return Bad(code::kInvalidArgument, "args.text: missing or not a string");
  }
  std::string name = "<sa load>";
  if (auto n = args.find("name"); n != args.end() && n->is_string()) name = n->get<std::string>();
  auto sas = driver::ParseSaText(it->get<std::string>(), name);
  if (!sas) return tl::unexpected(ToControlError(sas.error()));
  std::vector<std::string> sources;
  for (const auto& sa : *sas) sources.push_back(name + " (" + Name(sa.dir, sa.spi) + ")");
  auto keys = InstallAll(std::move(*sas), "runtime", sources);
  if (!keys) return tl::unexpected(keys.error());
  CheckpointAfterChange();
  Json list = Json::array();
  for (const Key& k : *keys) list.push_back(Describe(k, table_.at(k), true));
  return Json{{"installed", keys->size()}, {"sas", list}};
}

ControlResult<Json> ControlCore::SaSend(const Json& args) {
  Json a = args;
  if (!a.contains("dir")) a["dir"] = "out";
  if (a["dir"] != "out") return Bad(code::kInvalidArgument, "args.dir: only dir out SAs send");
  auto key = FindEntry(a);
  if (!key) return tl::unexpected(key.error());
  auto count = U64Arg(args, "count");
  if (!count) return tl::unexpected(count.error());
  auto size = U64Arg(args, "size");
  if (!size) return tl::unexpected(size.error());
  const std::uint64_t n = count->value_or(1);
  const std::uint64_t bytes = size->value_or(64);
  if (n == 0 || n > 10000) return Bad(code::kInvalidArgument, "args.count: expected 1..10000");
  if (bytes > 1400) return Bad(code::kInvalidArgument, "args.size: expected at most 1400 bytes");
  SaEntry& e = table_.at(*key);
  const std::uint64_t selector = sdk::SaManager::AdoptedSelector(Direction::kOut, key->second);
  std::vector<sdk::TxPacket> packets;
  for (std::uint64_t i = 0; i < n; ++i) {
    packets.push_back(sdk::TxPacket{selector, MakeUdpTestPacket(e.config.src, e.config.dst, bytes,
                                                                static_cast<std::uint32_t>(i))});
  }
  auto results = sdk_->Transmit(packets);
  if (!results) return tl::unexpected(DeviceError(results.error(), Name(key->first, key->second)));
  std::map<std::string, std::uint64_t> statuses;
  for (const auto& r : *results) ++statuses[std::string(driver::ToString(r.status))];
  auto slot = ReadSa(*key, e);
  if (!slot) return tl::unexpected(slot.error());
  return Json{{"spi", FormatSpi(key->second)},
              {"sent", n},
              {"status", statuses},
              {"seq", slot->seq},
              {"next_seq", slot->seq + 1}};
}

ControlResult<Json> ControlCore::Stats() {
  auto c = engine_->ReadCounters();
  if (!c) return tl::unexpected(DeviceError(c.error(), "stats"));
  std::uint32_t in_used = 0;
  std::uint32_t out_used = 0;
  for (const auto& [k, e] : table_) {
    if (!e.software) (k.first == Direction::kIn ? in_used : out_used)++;
  }
  const sdk::SaManagerStats st = sdk_->stats();
  Json sas = Json::array();
  for (const auto& [key, e] : table_) {
    Json d = Describe(key, e, true);
    sas.push_back({{"spi", d["spi"]},
                   {"dir", d["dir"]},
                   {"slot", d["slot"]},
                   {"placement", d["placement"]},
                   {"state", d["state"]},
                   {"packets", d.value("packets", 0)},
                   {"bytes", d.value("bytes", 0)},
                   {"seq", d.value("seq", 0)}});
  }
  return Json{{"drops",
               {{"auth", c->drop_auth},
                {"replay", c->drop_replay},
                {"no_sa", c->drop_no_sa},
                {"malformed", c->drop_malformed},
                {"lifetime", c->drop_lifetime}}},
              {"released", {{"out", c->released_out}, {"in", c->released_in}}},
              {"events_lost", c->events_lost},
              {"table",
               {{"out", {{"used", out_used}, {"slots", engine_->caps().out_slots}}},
                {"in", {{"used", in_used}, {"slots", engine_->caps().in_slots}}},
                {"stuck_slots", st.stuck_slots}}},
              {"software",
               {{"out", st.software_out},
                {"in", st.software_in},
                {"limit", options_.software_sas},
                {"fallbacks", st.fallbacks},
                {"migrations", st.migrations}}},
              {"daemon",
               {{"device_errors", device_errors_},
                {"events", events_seen_},
                {"checkpoint_generation", generation_}}},
              {"sas", sas}};
}

void ControlCore::PollEvents() {
  if (auto st = sdk_->Poll(); !st) (void)DeviceError(st.error(), "migrate software SAs");
  auto events = sdk_->CollectEvents();
  if (!events) {
    (void)DeviceError(events.error(), "drain events");
    return;
  }
  bool moved = false;
  for (const sdk::SaEvent& ev : *events) {
    if (ev.kind == sdk::SaEventKind::kStateChange) continue;  // add / remove are published
    ++events_seen_;
    auto where = by_id_.find(ev.sa);
    Json j = {{"dir", driver::ToString(ev.dir)}, {"software", ev.software}};
    std::uint32_t spi = 0;
    SaEntry* entry = nullptr;
    if (where != by_id_.end()) {
      spi = where->second.second;
      entry = &table_.at(where->second);
      j["spi"] = FormatSpi(spi);
      j["origin"] = entry->origin;
    } else {
      j["stale"] = true;  // the SA was removed since
    }
    switch (ev.kind) {
      case sdk::SaEventKind::kSoft:
      case sdk::SaEventKind::kHard:
      case sdk::SaEventKind::kSeqOverflow: {
        const driver::EventKind kind = ev.kind == sdk::SaEventKind::kSoft ? driver::EventKind::kSoft
                                       : ev.kind == sdk::SaEventKind::kHard
                                           ? driver::EventKind::kHard
                                           : driver::EventKind::kSeqOverflow;
        j["type"] = driver::ToString(kind);
        j["packets"] = ev.packets;
        j["bytes"] = ev.bytes;
        if (entry != nullptr) {
          (kind == driver::EventKind::kSoft ? entry->soft_seen : entry->hard_seen) = true;
          j["slot"] = SlotJson(*entry);
        }
        logger_.Log(kind == driver::EventKind::kSoft ? LogLevel::kInfo : LogLevel::kWarn, "event",
                    "SA " + std::string(driver::ToString(kind)),
                    {{"spi", FormatSpi(spi)},
                     {"dir", std::string(driver::ToString(ev.dir))},
                     {"packets", std::to_string(ev.packets)}});
        Publish(j);
        if (limit_hook_ && entry != nullptr) limit_hook_(where->second, *entry, kind, ev);
        break;
      }
      case sdk::SaEventKind::kFallback:
      case sdk::SaEventKind::kMigrated: {
        const bool fallback = ev.kind == sdk::SaEventKind::kFallback;
        j["type"] = fallback ? "fallback" : "migrated";
        moved = moved || !fallback;
        logger_.Log(fallback ? LogLevel::kWarn : LogLevel::kInfo, "sdk",
                    fallback ? "SA on the software path: no free slot"
                             : "SA moved from software to a hardware slot",
                    {{"spi", FormatSpi(spi)}, {"dir", std::string(driver::ToString(ev.dir))}});
        Publish(j);
        break;
      }
      case sdk::SaEventKind::kStateChange:
        break;
    }
  }
  if (moved) {
    RefreshPlacement();
    CheckpointAfterChange();
  }
}

ControlResult<Json> ControlCore::SaveCheckpoint(bool only_if_changed) {
  if (!store_) return Json{{"saved", false}};
  sdk::Checkpoint cp;
  cp.generation = generation_ + 1;
  for (auto& [key, e] : table_) {
    if (auto s = ReadSa(key, e); !s) {
      logger_.Log(LogLevel::kWarn, "checkpoint", "using the last known sequence number",
                  {{"spi", FormatSpi(key.second)}, {"error", s.error().message}});
    }
    sdk::SaCheckpoint rec;
    rec.name = std::string(driver::ToString(key.first)) + ":" + FormatSpi(key.second);
    rec.spi = key.second;
    rec.esn = e.config.esn;
    if (key.first == Direction::kOut) {
      rec.direction = sdk::SaDirection::kOutbound;
      rec.outbound_seq = std::max(e.last_seq, e.config.oseq);
    } else {
      rec.direction = sdk::SaDirection::kInbound;
      rec.replay_right_edge = std::min(std::max(e.last_seq, e.config.replay_seq),
                                       sdk::LastUsableSequence(e.config.esn));
      rec.replay_window = e.config.replay_window;
      // Fail closed: every number inside the window counts as received.
      rec.replay_bitmap.assign((rec.replay_window + 63) / 64, 0);
      const std::uint64_t bits = std::min<std::uint64_t>(rec.replay_window, rec.replay_right_edge);
      for (std::uint64_t b = 0; b < bits; ++b)
        rec.replay_bitmap[b / 64] |= std::uint64_t{1} << (b % 64);
    }
    cp.sas.push_back(std::move(rec));
  }
  for (const auto& [key, rec] : retained_) {
    if (!table_.contains(key)) cp.sas.push_back(rec);
  }
  if (only_if_changed && cp.sas == last_saved_) {
    return Json{{"saved", false}, {"path", store_->path().string()}, {"generation", generation_}};
  }
  if (auto st = store_->Save(cp); !st) {
    logger_.Log(LogLevel::kError, "checkpoint", "checkpoint not written",
                {{"error", st.error().message}});
    return tl::unexpected(ToControlError(st.error()));
  }
  generation_ = cp.generation;
  last_saved_ = std::move(cp.sas);
  logger_.Log(LogLevel::kDebug, "checkpoint", "checkpoint written",
              {{"path", store_->path().string()}, {"generation", std::to_string(generation_)}});
  return Json{{"saved", true},
              {"path", store_->path().string()},
              {"generation", generation_},
              {"records", last_saved_.size()}};
}

void ControlCore::CheckpointAfterChange() { (void)SaveCheckpoint(); }

ControlResult<Json> ControlCore::ReloadConfig() {
  std::vector<std::string> sources;
  auto sas = ReadConfig(&sources);
  if (!sas) return tl::unexpected(sas.error());
  std::map<Key, std::size_t> wanted;
  for (std::size_t i = 0; i < sas->size(); ++i) {
    const Key key{(*sas)[i].dir, (*sas)[i].spi};
    wanted[key] = i;
    if (auto it = table_.find(key); it != table_.end() && it->second.origin != "config") {
      return Bad(code::kExists, sources[i] + ": " + Name(key.first, key.second) +
                                    " was added at runtime (" + it->second.source +
                                    "); delete it first");
    }
  }
  // Plan: unchanged, limits only, replace (remove + add), remove, add.
  std::vector<Key> remove;
  std::vector<std::pair<Key, driver::SaLimits>> relimit;
  std::vector<std::size_t> add;
  for (const auto& [key, e] : table_) {
    if (e.origin != "config") continue;
    auto w = wanted.find(key);
    if (w == wanted.end()) {
      remove.push_back(key);
      continue;
    }
    driver::SaConfig a = e.config.Clone();
    driver::SaConfig b = (*sas)[w->second].Clone();
    a.oseq = b.oseq = 0;
    a.replay_seq = b.replay_seq = 0;
    const driver::SaLimits new_limits = b.limits;
    a.limits = b.limits = {};
    if (!driver::SaConfigEqual(a, b)) {
      remove.push_back(key);
      add.push_back(w->second);
    } else if (!(e.config.limits == new_limits)) {
      relimit.emplace_back(key, new_limits);
    }
  }
  for (const auto& [key, i] : wanted) {
    if (!table_.contains(key)) add.push_back(i);
  }
  // Execute with rollback.
  const auto retained_before = retained_;
  std::vector<std::pair<Key, driver::SaLimits>> relimited;
  std::vector<std::pair<driver::SaConfig, std::string>> removed;  // to reinstall on rollback
  auto rollback = [&](const std::vector<Key>& added) {
    for (std::size_t j = added.size(); j-- > 0;) (void)Uninstall(added[j]);
    for (auto& [sa, source] : removed) {
      retained_.erase({sa.dir, sa.spi});
      (void)Install(std::move(sa), "config", source);
    }
    for (const auto& [key, limits] : relimited) {
      SaEntry& e = table_.at(key);
      if (sdk_->UpdateLimits(e.id, key.first, limits)) e.config.limits = limits;
    }
    retained_ = retained_before;
  };
  for (const auto& [key, limits] : relimit) {
    SaEntry& e = table_.at(key);
    if (auto st = sdk_->UpdateLimits(e.id, key.first, limits); !st) {
      rollback({});
      return tl::unexpected(DeviceError(st.error(), Name(key.first, key.second)));
    }
    relimited.emplace_back(key, e.config.limits);
    e.config.limits = limits;
  }
  for (const Key& key : remove) {
    SaEntry& e = table_.at(key);
    (void)ReadSa(key, e);
    driver::SaConfig old = e.config.Clone();
    if (key.first == Direction::kOut) old.oseq = std::max(old.oseq, e.last_seq);
    if (key.first == Direction::kIn) old.replay_seq = std::max(old.replay_seq, e.last_seq);
    std::string source = e.source;
    if (auto st = Uninstall(key); !st) {
      rollback({});
      return tl::unexpected(st.error());
    }
    removed.emplace_back(std::move(old), std::move(source));
  }
  std::vector<Key> added;
  for (const std::size_t i : add) {
    auto key = Install((*sas)[i].Clone(), "config", sources[i]);
    if (!key) {
      rollback(added);
      ControlError e = key.error();
      e.message = sources[i] + ": " + e.message;
      return tl::unexpected(e);
    }
    added.push_back(*key);
  }
  CheckpointAfterChange();
  std::size_t n_replaced = 0;
  for (const Key& k : remove) n_replaced += wanted.count(k);
  Json r = {{"path", *options_.config_path},         {"added", added.size() - n_replaced},
            {"removed", remove.size() - n_replaced}, {"replaced", n_replaced},
            {"limits_updated", relimit.size()},      {"sas", table_.size()}};
  logger_.Log(LogLevel::kInfo, "config", "config reloaded",
              {{"path", *options_.config_path},
               {"added", std::to_string(added.size() - n_replaced)},
               {"removed", std::to_string(remove.size() - n_replaced)},
               {"replaced", std::to_string(n_replaced)},
               {"limits_updated", std::to_string(relimit.size())}});
  Publish({{"type", "config-reloaded"}, {"result", r}});
  return r;
}

}  // namespace espo::ikectl
