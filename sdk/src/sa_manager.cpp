// SPDX-License-Identifier: Apache-2.0
#include "espo/sdk/sa_manager.hpp"

#include <algorithm>
#include <bit>
#include <string>
#include <utility>

#include "sa_manager_helpers.hpp"

namespace espo::sdk {

using driver::Direction;
using driver::PacketStatus;

std::string_view ToString(SaState state) {
  switch (state) {
    case SaState::kLarval:
      return "larval";
    case SaState::kActive:
      return "active";
    case SaState::kRekeying:
      return "rekeying";
    case SaState::kDraining:
      return "draining";
    case SaState::kGone:
      return "gone";
  }
  return "?";
}

std::string_view ToString(Placement placement) {
  switch (placement) {
    case Placement::kNone:
      return "none";
    case Placement::kHardware:
      return "hardware";
    case Placement::kSoftware:
      return "software";
  }
  return "?";
}

std::string_view ToString(SaEventKind kind) {
  switch (kind) {
    case SaEventKind::kSoft:
      return "soft";
    case SaEventKind::kHard:
      return "hard";
    case SaEventKind::kSeqOverflow:
      return "seq-overflow";
    case SaEventKind::kStateChange:
      return "state";
    case SaEventKind::kFallback:
      return "fallback";
    case SaEventKind::kMigrated:
      return "migrated";
  }
  return "?";
}

using internal::Remaining;
using internal::SaName;
using internal::SoftNotBelowHard;
using internal::SpecFromConfig;
using internal::SpiHex;
using internal::ToCountLimits;
using internal::ToSlotLimits;

namespace {

PacketStatus ToStatus(const driver::EspInboundResult& r) {
  switch (r.verdict) {
    case driver::InboundVerdict::kAccept:
    case driver::InboundVerdict::kDiscardDummy:
      return PacketStatus::kOk;
    case driver::InboundVerdict::kNotEsp:
      return PacketStatus::kNotEsp;
    case driver::InboundVerdict::kDrop:
      break;
  }
  switch (r.drop) {
    case driver::DropReason::kAuth:
      return PacketStatus::kAuth;
    case driver::DropReason::kReplay:
      return PacketStatus::kReplay;
    case driver::DropReason::kNoSa:
      return PacketStatus::kNoSa;
    case driver::DropReason::kMalformed:
      return PacketStatus::kMalformed;
    case driver::DropReason::kLifetime:
      return PacketStatus::kLifetime;
  }
  return PacketStatus::kMalformed;
}

}  // namespace

// ---- SlotPool ----

void SaManager::SlotPool::Init(std::uint32_t n) {
  free_.resize(n);
  pos_.resize(n);
  // Pop() takes from the back: hand out low slot numbers first (readable in tests).
  for (std::uint32_t i = 0; i < n; ++i) {
    free_[i] = n - 1 - i;
    pos_[n - 1 - i] = i;
  }
}

std::uint32_t SaManager::SlotPool::Pop() {
  const std::uint32_t slot = free_.back();
  free_.pop_back();
  pos_[slot] = kAbsent;
  return slot;
}

bool SaManager::SlotPool::Take(std::uint32_t slot) {
  if (slot >= pos_.size() || pos_[slot] == kAbsent) return false;
  const std::uint32_t at = pos_[slot];
  const std::uint32_t last = free_.back();
  free_[at] = last;
  pos_[last] = at;
  free_.pop_back();
  pos_[slot] = kAbsent;
  return true;
}

void SaManager::SlotPool::Push(std::uint32_t slot) {
  pos_[slot] = static_cast<std::uint32_t>(free_.size());
  free_.push_back(slot);
}

// ---- construction ----

Result<std::unique_ptr<SaManager>> SaManager::Create(driver::Engine& engine, const Clock& clock,
                                                     Rng& rng, const SaManagerOptions& options) {
  const driver::Capabilities& caps = engine.caps();
  if (caps.in_slots == 0 || caps.out_slots == 0 || !std::has_single_bit(caps.in_slots)) {
    return MakeError(Errc::kInvalidArgument,
                     "sa manager: engine reports " + std::to_string(caps.in_slots) + "/" +
                         std::to_string(caps.out_slots) +
                         " slots; need a power of two inbound and at least one outbound");
  }
  if (options.max_in_slots > caps.in_slots || options.max_out_slots > caps.out_slots) {
    return MakeError(Errc::kInvalidArgument,
                     "sa manager: max_in_slots/max_out_slots exceed the engine's " +
                         std::to_string(caps.in_slots) + "/" + std::to_string(caps.out_slots));
  }
  if (options.spi_quarantine.count() < 0 || options.drain_interval.count() < 0) {
    return MakeError(Errc::kInvalidArgument, "sa manager: negative quarantine or drain interval");
  }
  return std::unique_ptr<SaManager>(new SaManager(engine, clock, rng, options));  // NOLINT
}

SaManager::SaManager(driver::Engine& engine, const Clock& clock, Rng& rng,
                     const SaManagerOptions& options)
    : engine_(engine), clock_(clock), rng_(rng), options_(options) {
  const driver::Capabilities& caps = engine.caps();
  device_in_slots_ = caps.in_slots;
  spi_slot_bits_ = static_cast<std::uint32_t>(std::countr_zero(caps.in_slots));
  const std::uint32_t in_n = options.max_in_slots == 0 ? caps.in_slots : options.max_in_slots;
  const std::uint32_t out_n = options.max_out_slots == 0 ? caps.out_slots : options.max_out_slots;
  in_pool_.Init(in_n);
  out_pool_.Init(out_n);
  in_owner_.assign(in_n, kNoSa);
  out_owner_.assign(out_n, kNoSa);
  in_waiters_.resize(in_n);
  stats_.in_slots = in_n;
  stats_.out_slots = out_n;
}

SaManager::~SaManager() = default;

SaManager::Record& SaManager::RecordStore::Insert(SaId id, Record&& r) {
  if (free_.empty()) {
    chunks_.push_back(std::make_unique<Record[]>(kChunk));  // NOLINT(*-avoid-c-arrays)
    Record* base = chunks_.back().get();
    for (std::size_t i = kChunk; i > 0; --i) free_.push_back(base + i - 1);
  }
  Record* slot = free_.back();
  free_.pop_back();
  *slot = std::move(r);
  index_.emplace(id, slot);
  return *slot;
}

void SaManager::RecordStore::Erase(SaId id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  Record* slot = it->second;
  index_.erase(it);
  *slot = Record{};  // drops (and wipes) any prepared key
  free_.push_back(slot);
}

SaManager::Record* SaManager::Find(SaId id) { return sas_.Find(id); }
const SaManager::Record* SaManager::Find(SaId id) const { return sas_.Find(id); }

SaEvent SaManager::MakeEvent(SaEventKind kind, const Record& r, Direction dir) const {
  SaEvent e;
  e.kind = kind;
  e.sa = r.id;
  e.selector = r.spec.selector;
  e.dir = dir;
  e.software = (dir == Direction::kIn ? r.in_place : r.out_place) == Placement::kSoftware;
  e.from = r.state;
  e.to = r.state;
  e.at = clock_.Now();
  return e;
}

void SaManager::Emit(const SaEvent& event) {
  events_.push_back(event);
  if (callback_) callback_(event);
}

void SaManager::SetState(Record& r, SaState to) {
  if (r.state == to) return;
  SaEvent e = MakeEvent(SaEventKind::kStateChange, r, Direction::kOut);
  e.from = r.state;
  e.to = to;
  r.state = to;
  Emit(e);
}

bool SaManager::CanTake(const SlotPool& pool, std::uint32_t headroom, SlotClass cls) const {
  if (pool.Empty()) return false;
  return cls == SlotClass::kRekey || pool.Size() > headroom;
}

std::uint32_t SaManager::DrawSpi(std::uint32_t slot_index) {
  // SPI = high << bits | slot; high >= 1 and SPI >= 256; not live, not quarantined. The high
  // part has 2^(32 - bits) - 1 >= 131071 values, so rejection ends quickly.
  const std::uint32_t bits = spi_slot_bits_;
  const std::uint64_t high_max = (std::uint64_t{1} << (32U - bits)) - 1;
  const std::uint64_t high_min =
      std::max<std::uint64_t>(1, (kMinSpi + device_in_slots_ - 1) >> bits);
  for (;;) {
    const std::uint64_t high = rng_.Uniform(high_min, high_max);
    const auto spi = static_cast<std::uint32_t>((high << bits) | slot_index);
    if (spi < kMinSpi || by_in_spi_.count(spi) != 0 || quarantine_set_.count(spi) != 0) continue;
    return spi;
  }
}

// ---- life cycle ----

Result<SaId> SaManager::Allocate(const ChildSaSpec& spec, SlotClass cls) {
  if (spec.key_bytes != 16 && spec.key_bytes != 32) {
    return MakeError(Errc::kInvalidArgument,
                     "allocate: key_bytes must be 16 or 32, got " + std::to_string(spec.key_bytes));
  }
  if (spec.local.v6 != spec.peer.v6) {
    return MakeError(Errc::kInvalidArgument, "allocate: local and peer address families differ");
  }
  Record r;
  r.id = next_id_++;
  r.spec = spec;
  if (CanTake(in_pool_, options_.headroom_in, cls)) {
    r.in_slot = in_pool_.Pop();
    in_owner_[r.in_slot] = r.id;
    r.in_spi = DrawSpi(r.in_slot);
  } else {
    if (!options_.software_fallback) {
      return MakeError(Errc::kExhausted, "allocate: no free inbound slot (" +
                                             std::to_string(in_pool_.Size()) + " free, headroom " +
                                             std::to_string(options_.headroom_in) + ")");
    }
    r.in_sw_reserved = true;
    const auto target = static_cast<std::uint32_t>(
        rng_.Uniform(0, static_cast<std::uint64_t>(stats_.in_slots) - 1));
    r.in_spi = DrawSpi(target);
  }
  const SaId id = r.id;
  Record& stored = sas_.Insert(id, std::move(r));
  by_in_spi_.emplace(stored.in_spi, &stored);
  return id;
}

driver::SaConfig SaManager::BuildConfig(const Record& r, Direction dir) const {
  driver::SaConfig sa;
  sa.dir = dir;
  sa.mode = r.spec.mode;
  sa.alg = r.spec.alg;
  sa.icv_bytes = r.spec.icv_bytes;
  sa.esn = r.spec.esn;
  if (dir == Direction::kOut) {
    sa.spi = r.prepared ? r.prepared->peer_spi : r.out_spi;
    sa.src = r.spec.local;
    sa.dst = r.spec.peer;
    sa.encap = r.spec.encap;
    sa.limits = ToSlotLimits(r.out_limits);
  } else {
    sa.spi = r.in_spi;
    sa.src = r.spec.peer;
    sa.dst = r.spec.local;
    if (r.spec.encap) sa.encap = driver::UdpEncap{r.spec.encap->dport, r.spec.encap->sport};
    sa.replay_window = r.spec.replay_window;
    sa.limits = ToSlotLimits(r.in_limits);
  }
  return sa;
}

Status SaManager::InstallInboundSide(Record& r, driver::KeyMaterial key) {
  driver::SaConfig sa = BuildConfig(r, Direction::kIn);
  sa.key = std::move(key);
  if (!r.in_sw_reserved) {
    auto st = engine_.Install(r.in_slot, sa);
    if (!st) return MakeError(st.error().code, SaName(r.id) + " inbound: " + st.error().message);
    ++stats_.installs;
    r.in_place = Placement::kHardware;
    return Ok();
  }
  ESPO_RETURN_IF_ERROR(software_.Add(SwKey(r.id, Direction::kIn), std::move(sa)));
  r.in_place = Placement::kSoftware;
  ++stats_.fallbacks;
  ++stats_.software_in;
  const std::uint32_t target = r.in_spi & (device_in_slots_ - 1);
  if (target < in_waiters_.size()) {
    in_waiters_[target].push_back(r.id);
    ++in_waiting_;
    // Its slot is free and only the headroom kept it out: Poll() looks again once it allows.
    if (in_pool_.IsFree(target)) blocked_in_slots_.push_back(target);
  }
  Emit(MakeEvent(SaEventKind::kFallback, r, Direction::kIn));
  return Ok();
}

Status SaManager::InstallInbound(SaId id, driver::KeyMaterial key, const CountLimits& limits) {
  Record* r = Find(id);
  if (r == nullptr) return MakeError(Errc::kNotFound, SaName(id) + ": no such SA");
  if (r->in_place != Placement::kNone || r->state != SaState::kLarval) {
    return MakeError(Errc::kExists, SaName(id) + ": inbound side already installed");
  }
  r->in_limits = limits;
  auto st = InstallInboundSide(*r, std::move(key));
  if (!st) {
    (void)Remove(id);  // the SA is unusable: free its slot, quarantine its SPI
    return st;
  }
  return Ok();
}

Status SaManager::PrepareOutbound(SaId id, std::uint32_t peer_spi, driver::KeyMaterial key,
                                  const CountLimits& limits) {
  Record* r = Find(id);
  if (r == nullptr) return MakeError(Errc::kNotFound, SaName(id) + ": no such SA");
  if (r->out_place != Placement::kNone || r->prepared) {
    return MakeError(Errc::kExists, SaName(id) + ": outbound side already prepared");
  }
  if (peer_spi == 0) return MakeError(Errc::kInvalidArgument, SaName(id) + ": peer SPI 0");
  r->prepared = PreparedOut{peer_spi, std::move(key), limits};
  r->out_spi = peer_spi;
  r->out_limits = limits;
  by_out_spi_.insert_or_assign(peer_spi, r);
  return Ok();
}

Status SaManager::InstallOutboundSide(Record& r, SlotClass cls) {
  driver::SaConfig sa = BuildConfig(r, Direction::kOut);
  sa.key = std::move(r.prepared->key);
  r.prepared.reset();
  if (CanTake(out_pool_, options_.headroom_out, cls)) {
    const std::uint32_t slot = out_pool_.Pop();
    auto st = engine_.Install(slot, sa);
    if (!st) {
      out_pool_.Push(slot);
      return MakeError(st.error().code, SaName(r.id) + " outbound: " + st.error().message);
    }
    ++stats_.installs;
    r.out_slot = slot;
    out_owner_[slot] = r.id;
    r.out_place = Placement::kHardware;
    return Ok();
  }
  if (!options_.software_fallback) {
    return MakeError(Errc::kExhausted, SaName(r.id) + " outbound: no free slot");
  }
  ESPO_RETURN_IF_ERROR(software_.Add(SwKey(r.id, Direction::kOut), std::move(sa)));
  r.out_place = Placement::kSoftware;
  ++stats_.fallbacks;
  ++stats_.software_out;
  out_waiters_.push_back(r.id);
  Emit(MakeEvent(SaEventKind::kFallback, r, Direction::kOut));
  return Ok();
}

Status SaManager::ActivateOutbound(SaId id, SlotClass cls) {
  Record* r = Find(id);
  if (r == nullptr) return MakeError(Errc::kNotFound, SaName(id) + ": no such SA");
  if (!r->prepared)
    return MakeError(Errc::kInvalidArgument, SaName(id) + ": outbound not prepared");
  if (r->in_place == Placement::kNone || r->state != SaState::kLarval) {
    return MakeError(Errc::kInvalidArgument,
                     SaName(id) + ": activate needs a larval SA with its inbound side installed");
  }
  auto st = InstallOutboundSide(*r, cls);
  if (!st) {
    // Reverse-order unwinding: the inbound side goes too; the SA is gone.
    (void)Remove(id);
    return st;
  }
  current_.insert_or_assign(r->spec.selector, r);
  SetState(*r, SaState::kActive);
  return Ok();
}

Status SaManager::InstallOutbound(SaId id, std::uint32_t peer_spi, driver::KeyMaterial key,
                                  const CountLimits& limits, SlotClass cls) {
  ESPO_RETURN_IF_ERROR(PrepareOutbound(id, peer_spi, std::move(key), limits));
  return ActivateOutbound(id, cls);
}

Status SaManager::InstallPair(SaId id, std::uint32_t peer_spi, driver::KeyMaterial inbound_key,
                              driver::KeyMaterial outbound_key, const CountLimits& inbound_limits,
                              const CountLimits& outbound_limits, SlotClass cls) {
  ESPO_RETURN_IF_ERROR(InstallInbound(id, std::move(inbound_key), inbound_limits));
  return InstallOutbound(id, peer_spi, std::move(outbound_key), outbound_limits, cls);
}

// ---- adopted (one-direction, caller-keyed) SAs ----

Result<SaId> SaManager::AdoptSa(const driver::SaConfig& sa, SlotClass cls) {
  return AdoptSa(sa, AdoptedSelector(sa.dir, sa.spi), cls);
}

Result<SaId> SaManager::AdoptSa(const driver::SaConfig& sa, std::uint64_t selector, SlotClass cls) {
  const bool in = sa.dir == Direction::kIn;
  const auto what = [&sa] {
    return "adopt " + std::string(driver::ToString(sa.dir)) + " SPI " + SpiHex(sa.spi);
  };
  // Everything is checked before the device or any table is touched.
  if (auto valid = driver::Validate(sa); !valid) {
    return MakeError(Errc::kInvalidArgument, what() + ": " + valid.error().message);
  }
  if (sa.spi < kMinSpi) {
    return MakeError(Errc::kInvalidArgument, what() + ": SPIs below 256 are reserved");
  }
  const SaId live = FindBySpi(sa.dir, sa.spi);
  if (live != kNoSa) {
    return MakeError(Errc::kExists, what() + ": already in use by " + SaName(live));
  }
  if (in && quarantine_set_.count(sa.spi) != 0) {
    return MakeError(Errc::kExists,
                     what() + ": SPI in quarantine (a removed SA's packets may still arrive)");
  }
  Record r;
  r.id = next_id_;
  r.spec = SpecFromConfig(sa, selector);
  r.adopted = true;
  bool fallback = false;
  ESPO_RETURN_IF_ERROR(PlaceDirection(r, sa.Clone(), cls, 0, 0, fallback, what));
  const SaId id = next_id_++;
  Record& stored = sas_.Insert(id, std::move(r));
  (in ? by_in_spi_ : by_out_spi_).emplace(sa.spi, &stored);
  if (!in) current_.insert_or_assign(selector, &stored);
  if (fallback) Emit(MakeEvent(SaEventKind::kFallback, stored, sa.dir));
  SetState(stored, SaState::kActive);
  return id;
}

Status SaManager::PlaceDirection(Record& r, driver::SaConfig config, SlotClass cls,
                                 std::uint64_t base_packets, std::uint64_t base_bytes,
                                 bool& fallback, const std::function<std::string()>& what) {
  const bool in = config.dir == Direction::kIn;
  (in ? r.in_spi : r.out_spi) = config.spi;
  (in ? r.in_limits : r.out_limits) = ToCountLimits(config.limits);
  // A slot counts from 0: it gets what is left of the limits; software counts from the base.
  const driver::SaLimits absolute = config.limits;
  const driver::SaLimits slot_limits =
      base_packets == 0 && base_bytes == 0
          ? absolute
          : Remaining(ToCountLimits(absolute), base_packets, base_bytes);
  const std::uint32_t target = engine_.InboundSlotFor(config.spi);
  const bool hardware = in ? target < stats_.in_slots && in_pool_.IsFree(target) &&
                                 CanTake(in_pool_, options_.headroom_in, cls)
                           : CanTake(out_pool_, options_.headroom_out, cls);
  if (hardware) {
    const std::uint32_t slot = in ? target : out_pool_.Pop();
    if (in) (void)in_pool_.Take(slot);
    config.limits = slot_limits;
    auto st = engine_.Install(slot, config);
    if (!st) {
      (in ? in_pool_ : out_pool_).Push(slot);
      return MakeError(st.error().code, what() + ": " + st.error().message);
    }
    ++stats_.installs;
    (in ? r.in_slot : r.out_slot) = slot;
    (in ? in_owner_ : out_owner_)[slot] = r.id;
    (in ? r.in_place : r.out_place) = Placement::kHardware;
    (in ? r.in_base_packets : r.out_base_packets) = base_packets;
    (in ? r.in_base_bytes : r.out_base_bytes) = base_bytes;
    return Ok();
  }
  if (!options_.software_fallback) {
    if (in) {
      return MakeError(Errc::kExhausted, what() + ": inbound slot " + std::to_string(target) +
                                             " (SPI mod " + std::to_string(device_in_slots_) +
                                             ") is not free");
    }
    return MakeError(Errc::kExhausted, what() + ": no free outbound slot (" +
                                           std::to_string(out_pool_.Size()) + " free, headroom " +
                                           std::to_string(options_.headroom_out) + ")");
  }
  const SoftwareSaKey key = SwKey(r.id, config.dir);
  auto st = software_.Add(key, std::move(config), base_packets, base_bytes);
  if (!st) return MakeError(st.error().code, what() + ": " + st.error().message);
  ++stats_.fallbacks;
  if (in) {
    r.in_sw_reserved = true;
    r.in_place = Placement::kSoftware;
    ++stats_.software_in;
    if (target < in_waiters_.size()) {
      in_waiters_[target].push_back(r.id);
      ++in_waiting_;
      if (in_pool_.IsFree(target)) blocked_in_slots_.push_back(target);  // see above
    }
  } else {
    r.out_place = Placement::kSoftware;
    ++stats_.software_out;
    out_waiters_.push_back(r.id);
  }
  fallback = true;
  return Ok();
}

Status SaManager::UpdateLimits(SaId id, Direction dir, const driver::SaLimits& limits) {
  Record* r = Find(id);
  if (r == nullptr) return MakeError(Errc::kNotFound, SaName(id) + ": no such SA");
  const bool in = dir == Direction::kIn;
  const std::string what =
      SaName(id) + " " + std::string(driver::ToString(dir)) + ": update limits";
  const Placement place = in ? r->in_place : r->out_place;
  if (place == Placement::kNone) {
    return MakeError(Errc::kNotFound, what + ": direction not installed");
  }
  if (SoftNotBelowHard(limits)) {
    return MakeError(Errc::kInvalidArgument, what + ": soft limit must be below hard");
  }
  if (place == Placement::kHardware) {
    // The slot counts from its install; limits are absolute over the SA's life.
    const std::uint64_t base_p = in ? r->in_base_packets : r->out_base_packets;
    const std::uint64_t base_b = in ? r->in_base_bytes : r->out_base_bytes;
    const driver::SaLimits slot_limits =
        base_p == 0 && base_b == 0 ? limits : Remaining(ToCountLimits(limits), base_p, base_b);
    auto st = engine_.UpdateLimits(dir, in ? r->in_slot : r->out_slot, slot_limits);
    if (!st) return MakeError(st.error().code, what + ": " + st.error().message);
  } else {
    auto st = software_.UpdateLimits(SwKey(id, dir), limits);
    if (!st) return MakeError(st.error().code, what + ": " + st.error().message);
  }
  (in ? r->in_limits : r->out_limits) = ToCountLimits(limits);
  return Ok();
}

SaId SaManager::FindBySpi(Direction dir, std::uint32_t spi) const {
  return dir == Direction::kIn ? FindByInboundSpi(spi) : FindByOutboundSpi(spi);
}

bool SaManager::IsAdopted(SaId id) const {
  const Record* r = Find(id);
  return r != nullptr && r->adopted;
}

Status SaManager::SetRekeying(SaId id, bool rekeying) {
  Record* r = Find(id);
  if (r == nullptr) return MakeError(Errc::kNotFound, SaName(id) + ": no such SA");
  if (rekeying && r->state == SaState::kActive) {
    SetState(*r, SaState::kRekeying);
  } else if (!rekeying && r->state == SaState::kRekeying) {
    SetState(*r, SaState::kActive);
  } else if (r->state != (rekeying ? SaState::kRekeying : SaState::kActive)) {
    return MakeError(Errc::kInvalidArgument,
                     SaName(id) + ": cannot set rekeying=" + (rekeying ? "true" : "false") +
                         " in state " + std::string(ToString(r->state)));
  }
  return Ok();
}

Status SaManager::RemoveOutboundSide(Record& r) {
  Status result = Ok();
  if (r.out_place == Placement::kHardware) {
    auto st = engine_.Remove(Direction::kOut, r.out_slot);
    ++stats_.removes;
    out_owner_[r.out_slot] = kNoSa;
    if (st) {
      out_pool_.Push(r.out_slot);
    } else {
      ++stats_.stuck_slots;
      result = MakeError(st.error().code, SaName(r.id) + " outbound: " + st.error().message);
    }
    r.out_slot = kNoSlotIndex;
  } else if (r.out_place == Placement::kSoftware) {
    (void)software_.Remove(SwKey(r.id, Direction::kOut));
    --stats_.software_out;
  }
  r.out_place = Placement::kNone;
  r.prepared.reset();
  if (r.out_spi != 0) {
    auto it = by_out_spi_.find(r.out_spi);
    if (it != by_out_spi_.end() && it->second == &r) by_out_spi_.erase(it);
  }
  auto cur = current_.find(r.spec.selector);
  if (cur != current_.end() && cur->second == &r) current_.erase(cur);
  return result;
}

Status SaManager::RemoveInboundSide(Record& r) {
  Status result = Ok();
  if (r.in_place == Placement::kHardware) {
    auto st = engine_.Remove(Direction::kIn, r.in_slot);
    ++stats_.removes;
    if (!st) {
      ++stats_.stuck_slots;
      in_owner_[r.in_slot] = kNoSa;
      r.in_slot = kNoSlotIndex;
      result = MakeError(st.error().code, SaName(r.id) + " inbound: " + st.error().message);
    }
  } else if (r.in_place == Placement::kSoftware) {
    (void)software_.Remove(SwKey(r.id, Direction::kIn));
    --stats_.software_in;
  }
  if (r.in_slot != kNoSlotIndex) {  // installed or only reserved
    in_owner_[r.in_slot] = kNoSa;
    in_pool_.Push(r.in_slot);
    freed_in_slots_.push_back(r.in_slot);
    r.in_slot = kNoSlotIndex;
  }
  r.in_place = Placement::kNone;
  return result;
}

void SaManager::Forget(Record& r) {
  SetState(r, SaState::kGone);
  if (r.in_spi != 0) {  // 0: an adopted outbound-only SA has no inbound SPI
    auto it = by_in_spi_.find(r.in_spi);
    if (it != by_in_spi_.end() && it->second == &r) by_in_spi_.erase(it);
    const TimePoint until = clock_.Now() + options_.spi_quarantine;
    if (quarantine_set_.insert(r.in_spi).second) quarantine_.emplace_back(until, r.in_spi);
  }
  sas_.Erase(r.id);  // resets r
}

Status SaManager::Retire(SaId id) {
  Record* r = Find(id);
  if (r == nullptr) return MakeError(Errc::kNotFound, SaName(id) + ": no such SA");
  if (r->state == SaState::kDraining) return Ok();
  auto st = RemoveOutboundSide(*r);
  r->drain_until = clock_.Now() + options_.drain_interval;
  drains_.emplace_back(*r->drain_until, id);
  SetState(*r, SaState::kDraining);
  return st;
}

Status SaManager::Remove(SaId id) {
  Record* r = Find(id);
  if (r == nullptr) return MakeError(Errc::kNotFound, SaName(id) + ": no such SA");
  auto out = RemoveOutboundSide(*r);
  auto in = RemoveInboundSide(*r);
  Forget(*r);
  if (!out) return out;
  return in;
}

Status SaManager::Poll() {
  const TimePoint now = clock_.Now();
  Status first_error = Ok();
  while (!drains_.empty() && drains_.front().first <= now) {
    const SaId id = drains_.front().second;
    drains_.pop_front();
    Record* r = Find(id);
    if (r == nullptr || r->state != SaState::kDraining) continue;
    auto st = Remove(id);
    if (!st && first_error) first_error = st;
  }
  while (!quarantine_.empty() && quarantine_.front().first <= now) {
    quarantine_set_.erase(quarantine_.front().second);
    quarantine_.pop_front();
  }
  if (!options_.migrate_to_hardware) {
    freed_in_slots_.clear();
    blocked_in_slots_.clear();
    return first_error;
  }
  // Outbound: oldest software SA first, as long as slots beyond the headroom are free.
  while (!out_waiters_.empty() && CanTake(out_pool_, options_.headroom_out, SlotClass::kNew)) {
    const SaId id = out_waiters_.front();
    out_waiters_.pop_front();
    Record* r = Find(id);
    if (r == nullptr || r->out_place != Placement::kSoftware) continue;
    auto st = MigrateOutbound(*r);
    if (!st && first_error) first_error = st;
  }
  // Inbound: an SA can only live in the slot its SPI encodes.
  // Slots freed since the last Poll, plus free slots whose waiters only the headroom kept out
  // (looked at again once the headroom allows a kNew slot).
  if (in_waiting_ == 0) {  // nothing on software waits for an inbound slot
    freed_in_slots_.clear();
    blocked_in_slots_.clear();
    return first_error;
  }
  std::vector<std::uint32_t> freed;
  freed.swap(freed_in_slots_);
  if (blocked_in_slots_.size() > stats_.in_slots) {  // bounded while the headroom holds
    std::sort(blocked_in_slots_.begin(), blocked_in_slots_.end());
    blocked_in_slots_.erase(std::unique(blocked_in_slots_.begin(), blocked_in_slots_.end()),
                            blocked_in_slots_.end());
  }
  if (!blocked_in_slots_.empty() && CanTake(in_pool_, options_.headroom_in, SlotClass::kNew)) {
    freed.insert(freed.end(), blocked_in_slots_.begin(), blocked_in_slots_.end());
    blocked_in_slots_.clear();
    std::sort(freed.begin(), freed.end());
    freed.erase(std::unique(freed.begin(), freed.end()), freed.end());
  }
  for (const std::uint32_t slot : freed) {
    std::vector<SaId>& waiters = in_waiters_[slot];
    while (!waiters.empty() && in_pool_.IsFree(slot) &&
           CanTake(in_pool_, options_.headroom_in, SlotClass::kNew)) {
      const SaId id = waiters.front();
      waiters.erase(waiters.begin());
      --in_waiting_;
      Record* r = Find(id);
      if (r == nullptr || r->in_place != Placement::kSoftware || r->state == SaState::kDraining) {
        continue;
      }
      auto st = MigrateInbound(*r);
      if (!st && first_error) first_error = st;
    }
    if (!waiters.empty() && in_pool_.IsFree(slot)) blocked_in_slots_.push_back(slot);
  }
  return first_error;
}

Status SaManager::MigrateOutbound(Record& r) {
  ESPO_ASSIGN_OR_RETURN(SoftwareEsp::Extracted ex, software_.Extract(SwKey(r.id, Direction::kOut)));
  if (ex.state.hard_expired) {  // nothing to gain; keep it where its expiry was seen
    const std::uint64_t p = ex.state.packets;
    const std::uint64_t b = ex.state.bytes;
    return software_.Add(SwKey(r.id, Direction::kOut), std::move(ex.sa), p, b);
  }
  driver::SaConfig sa = std::move(ex.sa);  // oseq = the last number software used
  const driver::SaLimits absolute = sa.limits;
  sa.limits = Remaining(r.out_limits, ex.state.packets, ex.state.bytes);
  const std::uint32_t slot = out_pool_.Pop();
  auto st = engine_.Install(slot, sa);
  if (!st) {
    out_pool_.Push(slot);
    sa.limits = absolute;
    (void)software_.Add(SwKey(r.id, Direction::kOut), std::move(sa), ex.state.packets,
                        ex.state.bytes);
    out_waiters_.push_back(r.id);
    return MakeError(st.error().code, SaName(r.id) + " migrate outbound: " + st.error().message);
  }
  ++stats_.installs;
  ++stats_.migrations;
  --stats_.software_out;
  r.out_slot = slot;
  out_owner_[slot] = r.id;
  r.out_place = Placement::kHardware;
  r.out_base_packets = ex.state.packets;
  r.out_base_bytes = ex.state.bytes;
  Emit(MakeEvent(SaEventKind::kMigrated, r, Direction::kOut));
  return Ok();
}

Status SaManager::MigrateInbound(Record& r) {
  const std::uint32_t slot = r.in_spi & (device_in_slots_ - 1);
  ESPO_ASSIGN_OR_RETURN(SoftwareEsp::Extracted ex, software_.Extract(SwKey(r.id, Direction::kIn)));
  driver::SaConfig sa = std::move(ex.sa);  // replay_seq = software right edge
  const driver::SaLimits absolute = sa.limits;
  sa.limits = Remaining(r.in_limits, ex.state.packets, ex.state.bytes);
  if (ex.state.hard_expired || !in_pool_.Take(slot)) {
    sa.limits = absolute;
    return software_.Add(SwKey(r.id, Direction::kIn), std::move(sa), ex.state.packets,
                         ex.state.bytes);
  }
  auto st = engine_.Install(slot, sa);
  if (!st) {
    in_pool_.Push(slot);
    sa.limits = absolute;
    (void)software_.Add(SwKey(r.id, Direction::kIn), std::move(sa), ex.state.packets,
                        ex.state.bytes);
    return MakeError(st.error().code, SaName(r.id) + " migrate inbound: " + st.error().message);
  }
  ++stats_.installs;
  ++stats_.migrations;
  --stats_.software_in;
  r.in_slot = slot;
  r.in_sw_reserved = false;
  in_owner_[slot] = r.id;
  r.in_place = Placement::kHardware;
  r.in_base_packets = ex.state.packets;
  r.in_base_bytes = ex.state.bytes;
  Emit(MakeEvent(SaEventKind::kMigrated, r, Direction::kIn));
  return Ok();
}

std::optional<TimePoint> SaManager::NextDeadline() const {
  if (drains_.empty()) return std::nullopt;
  return drains_.front().first;
}

Result<std::vector<SaEvent>> SaManager::CollectEvents() {
  ESPO_ASSIGN_OR_RETURN(std::vector<driver::Event> hw, engine_.DrainEvents());
  for (const driver::Event& ev : hw) {
    const bool in = ev.dir == Direction::kIn;
    const std::vector<SaId>& owners = in ? in_owner_ : out_owner_;
    if (ev.slot >= owners.size()) continue;
    Record* r = Find(owners[ev.slot]);
    if (r == nullptr) continue;
    // A stale event of a slot that was removed and reused since: the SPI tells.
    if ((in ? r->in_spi : r->out_spi) != ev.spi) continue;
    if ((in ? r->in_place : r->out_place) != Placement::kHardware) continue;
    SaEvent e = MakeEvent(ev.kind == driver::EventKind::kSoft   ? SaEventKind::kSoft
                          : ev.kind == driver::EventKind::kHard ? SaEventKind::kHard
                                                                : SaEventKind::kSeqOverflow,
                          *r, ev.dir);
    // Life totals: plus what the SA counted on software before it moved to this slot.
    e.packets = ev.packets + (in ? r->in_base_packets : r->out_base_packets);
    e.bytes = ev.bytes + (in ? r->in_base_bytes : r->out_base_bytes);
    events_.push_back(e);
  }
  for (const SoftwareEvent& sw : software_.DrainEvents()) {
    Record* r = Find(sw.key / 2);
    if (r == nullptr) continue;
    const SaEventKind kind = sw.event.kind == driver::EventKind::kSoft ? SaEventKind::kSoft
                             : sw.event.kind == driver::EventKind::kHard
                                 ? SaEventKind::kHard
                                 : SaEventKind::kSeqOverflow;
    SaEvent e = MakeEvent(kind, *r, sw.event.dir);
    e.software = true;
    e.packets = sw.event.packets;
    e.bytes = sw.event.bytes;
    events_.push_back(e);
  }
  std::vector<SaEvent> out;
  out.swap(events_);
  return out;
}

// ---- data path ----

Result<std::vector<PacketResult>> SaManager::Transmit(std::span<const TxPacket> packets) {
  std::vector<PacketResult> results(packets.size());
  std::vector<driver::PacketIn> hw;
  std::vector<std::size_t> hw_index;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    PacketResult& res = results[i];
    const SaId id = CurrentFor(packets[i].selector);
    const Record* r = Find(id);
    if (r == nullptr || r->out_place == Placement::kNone) {
      res.status = PacketStatus::kNoSa;
      continue;
    }
    res.sa = id;
    if (r->out_place == Placement::kSoftware) {
      res.software = true;
      ESPO_ASSIGN_OR_RETURN(SoftwareTxResult tx,
                            software_.Encapsulate(SwKey(id, Direction::kOut), packets[i].data));
      res.status = tx.status;
      res.seq = tx.seq;
      res.data = std::move(tx.data);
      continue;
    }
    hw.push_back(driver::PacketIn{Direction::kOut, static_cast<std::uint16_t>(r->out_slot),
                                  static_cast<std::uint32_t>(i), packets[i].data});
    hw_index.push_back(i);
  }
  if (!hw.empty()) {
    ESPO_ASSIGN_OR_RETURN(std::vector<driver::PacketOut> out, engine_.Process(hw));
    for (std::size_t k = 0; k < out.size() && k < hw_index.size(); ++k) {
      PacketResult& res = results[hw_index[k]];
      res.status = out[k].status;
      res.seq = out[k].seq_lo;
      res.data = std::move(out[k].data);
    }
  }
  return results;
}

Result<std::vector<PacketResult>> SaManager::Receive(std::span<const Bytes> packets) {
  std::vector<PacketResult> results(packets.size());
  std::vector<driver::PacketIn> hw;
  std::vector<std::size_t> hw_index;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    PacketResult& res = results[i];
    SaId id = kNoSa;
    if (auto info = driver::ParseEspPacket(packets[i], {driver::kNatTraversalPort, true});
        info && info->kind == driver::PacketKind::kEsp) {
      id = FindByInboundSpi(info->spi);
    }
    const Record* r = Find(id);
    if (r != nullptr && r->in_place == Placement::kSoftware) {
      res.sa = id;
      res.software = true;
      ESPO_ASSIGN_OR_RETURN(driver::EspInboundResult rx,
                            software_.Decapsulate(SwKey(id, Direction::kIn), packets[i]));
      res.status = ToStatus(rx);
      res.seq = rx.seq;
      res.data = std::move(rx.packet);
      continue;
    }
    // Hardware SAs and everything unknown go to the engine, which counts its drops.
    if (r != nullptr && r->in_place == Placement::kHardware) res.sa = id;
    hw.push_back(driver::PacketIn{Direction::kIn, driver::kNoSlot, static_cast<std::uint32_t>(i),
                                  packets[i]});
    hw_index.push_back(i);
  }
  if (!hw.empty()) {
    ESPO_ASSIGN_OR_RETURN(std::vector<driver::PacketOut> out, engine_.Process(hw));
    for (std::size_t k = 0; k < out.size() && k < hw_index.size(); ++k) {
      PacketResult& res = results[hw_index[k]];
      res.status = out[k].status;
      res.seq = out[k].seq_lo;
      res.data = std::move(out[k].data);
      if (res.status != PacketStatus::kOk && res.status != PacketStatus::kNotEsp) {
        // Keep the SA attribution only when the engine found it.
        if (res.status == PacketStatus::kNoSa) res.sa = kNoSa;
      }
    }
  }
  return results;
}

// ---- queries ----

Result<SaInfo> SaManager::Info(SaId id) const {
  const Record* r = Find(id);
  if (r == nullptr) return MakeError(Errc::kNotFound, SaName(id) + ": no such SA (gone)");
  return InfoOf(r);
}

std::optional<SaInfo> SaManager::CurrentInfo(std::uint64_t selector) const {
  auto it = current_.find(selector);
  if (it == current_.end()) return std::nullopt;
  return InfoOf(it->second);
}

std::optional<SaInfo> SaManager::InfoByInboundSpi(std::uint32_t spi) const {
  auto it = by_in_spi_.find(spi);
  if (it == by_in_spi_.end()) return std::nullopt;
  return InfoOf(it->second);
}

SaInfo SaManager::InfoOf(const Record* r) {
  SaInfo info;
  info.id = r->id;
  info.selector = r->spec.selector;
  info.state = r->state;
  info.inbound_spi = r->in_spi;
  info.outbound_spi = r->out_spi;
  info.inbound = r->in_place;
  info.outbound = r->out_place;
  info.inbound_slot = r->in_slot;
  info.outbound_slot = r->out_slot;
  info.outbound_prepared = r->prepared.has_value();
  info.adopted = r->adopted;
  info.drain_until = r->drain_until;
  return info;
}

SaState SaManager::StateOf(SaId id) const {
  const Record* r = Find(id);
  return r == nullptr ? SaState::kGone : r->state;
}

SaId SaManager::CurrentFor(std::uint64_t selector) const {
  auto it = current_.find(selector);
  return it == current_.end() ? kNoSa : it->second->id;
}

SaId SaManager::FindByInboundSpi(std::uint32_t spi) const {
  auto it = by_in_spi_.find(spi);
  return it == by_in_spi_.end() ? kNoSa : it->second->id;
}

SaId SaManager::FindByOutboundSpi(std::uint32_t spi) const {
  auto it = by_out_spi_.find(spi);
  return it == by_out_spi_.end() ? kNoSa : it->second->id;
}

const ChildSaSpec* SaManager::SpecOf(SaId id) const {
  const Record* r = Find(id);
  return r == nullptr ? nullptr : &r->spec;
}

Result<SaCounters> SaManager::Counters(SaId id) {
  const Record* r = Find(id);
  if (r == nullptr) return MakeError(Errc::kNotFound, SaName(id) + ": no such SA (gone)");
  SaCounters c;
  auto fill = [&](Direction dir, Placement place, std::uint32_t slot,
                  DirectionCounters& out) -> Status {
    out.placement = place;
    if (place == Placement::kHardware) {
      ESPO_ASSIGN_OR_RETURN(driver::SlotStatus s, engine_.ReadSlot(dir, slot));
      // Plus what the SA counted on software before it moved to this slot.
      const bool in = dir == Direction::kIn;
      out.packets = s.packets + (in ? r->in_base_packets : r->out_base_packets);
      out.bytes = s.bytes + (in ? r->in_base_bytes : r->out_base_bytes);
      out.seq = s.seq;
    } else if (place == Placement::kSoftware) {
      ESPO_ASSIGN_OR_RETURN(SoftwareSaState s, software_.State(SwKey(id, dir)));
      out.packets = s.packets;
      out.bytes = s.bytes;
      out.seq = s.seq;
    }
    return Ok();
  };
  ESPO_RETURN_IF_ERROR(fill(Direction::kIn, r->in_place, r->in_slot, c.inbound));
  ESPO_RETURN_IF_ERROR(fill(Direction::kOut, r->out_place, r->out_slot, c.outbound));
  return c;
}

SaManagerStats SaManager::stats() const {
  SaManagerStats s = stats_;
  s.in_free = in_pool_.Size();
  s.out_free = out_pool_.Size();
  s.live_sas = sas_.size();
  s.quarantined_spis = quarantine_set_.size();
  return s;
}

std::vector<SaId> SaManager::LiveSas() const {
  std::vector<SaId> ids;
  ids.reserve(sas_.size());
  sas_.ForEachId([&ids](SaId id) { ids.push_back(id); });
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace espo::sdk
