// SPDX-License-Identifier: Apache-2.0
//
// SaManager::Snapshot / Restore: the manager's side of docs/CHECKPOINT.md (sequence high-water
// marks, replay edges, SPI allocation, SaIds) so that after a restart no outbound sequence number
// is reused under one key and removed inbound SPIs are not handed out again.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sa_manager_helpers.hpp"

#include "espo/sdk/sa_manager.hpp"

namespace espo::sdk {

using driver::Direction;
using internal::SpecFromConfig;
using internal::SpiHex;

namespace {

SaDirection ToSaDirection(Direction dir) {
  return dir == Direction::kIn ? SaDirection::kInbound : SaDirection::kOutbound;
}

Direction ToDirection(SaDirection dir) {
  return dir == SaDirection::kInbound ? Direction::kIn : Direction::kOut;
}

// Every number in the window counted as received (bits < W set, SPEC 1.8 bitmap layout).
std::vector<std::uint64_t> FailClosedBitmap(std::uint32_t window) {
  std::vector<std::uint64_t> words((window + 63U) / 64U, ~std::uint64_t{0});
  if (window % 64U != 0 && !words.empty()) words.back() = (std::uint64_t{1} << (window % 64U)) - 1;
  return words;
}

bool Reached(std::uint64_t limit, std::uint64_t used) { return limit != 0 && used >= limit; }

std::optional<SaState> ParseState(const std::string& s) {
  if (s == "larval") return SaState::kLarval;
  if (s == "active") return SaState::kActive;
  if (s == "rekeying") return SaState::kRekeying;
  if (s == "draining") return SaState::kDraining;
  return std::nullopt;
}

}  // namespace

Result<SaCheckpoint> SaManager::SnapshotDirection(const Record& r, Direction dir) {
  const bool in = dir == Direction::kIn;
  SaCheckpoint rec;
  rec.name = "sa-" + std::to_string(r.id) + (in ? "-in" : "-out");
  rec.spi = in ? r.in_spi : r.out_spi;
  rec.direction = ToSaDirection(dir);
  rec.esn = r.spec.esn;
  rec.sa_id = r.id;
  rec.selector = r.spec.selector;
  rec.state = std::string(ToString(r.state));
  rec.adopted = r.adopted;
  const Placement place = in ? r.in_place : r.out_place;
  rec.placement = std::string(ToString(place));
  std::uint64_t seq = 0;
  if (place == Placement::kHardware) {
    rec.slot = in ? r.in_slot : r.out_slot;
    ESPO_ASSIGN_OR_RETURN(driver::SlotStatus s, engine_.ReadSlot(dir, rec.slot));
    rec.packets = s.packets + (in ? r.in_base_packets : r.out_base_packets);
    rec.bytes = s.bytes + (in ? r.in_base_bytes : r.out_base_bytes);
    seq = s.seq;
  } else {
    ESPO_ASSIGN_OR_RETURN(SoftwareSaState s, software_.State(SwKey(r.id, dir)));
    rec.packets = s.packets;
    rec.bytes = s.bytes;
    seq = s.seq;
  }
  if (in) {
    rec.replay_right_edge = seq;
    rec.replay_window = r.spec.replay_window;
    rec.replay_bitmap = FailClosedBitmap(rec.replay_window);
  } else {
    rec.outbound_seq = seq;
    rec.current = CurrentFor(r.spec.selector) == r.id;
  }
  return rec;
}

Result<Checkpoint> SaManager::Snapshot() {
  Checkpoint c;
  c.next_sa_id = next_id_;
  c.spis.ranges.push_back(SpiRange{kMinSpi, 0xFFFFFFFFU});
  for (const SaId id : LiveSas()) {
    const Record& r = *sas_.Find(id);
    if (r.in_place != Placement::kNone) {
      ESPO_ASSIGN_OR_RETURN(SaCheckpoint rec, SnapshotDirection(r, Direction::kIn));
      c.sas.push_back(std::move(rec));
    }
    if (r.out_place != Placement::kNone) {
      ESPO_ASSIGN_OR_RETURN(SaCheckpoint rec, SnapshotDirection(r, Direction::kOut));
      c.sas.push_back(std::move(rec));
    }
    if (r.in_spi != 0) c.spis.allocated.push_back(r.in_spi);  // larval SPIs included
  }
  for (const auto& [until, spi] : quarantine_) c.spis.retired.push_back(spi);
  std::sort(c.spis.allocated.begin(), c.spis.allocated.end());
  std::sort(c.spis.retired.begin(), c.spis.retired.end());
  return c;
}

Result<RestoreReport> SaManager::Restore(const Checkpoint& checkpoint,
                                         const RestoreConfigProvider& provider,
                                         const RestoreOptions& options) {
  if (!sas_.empty()) {
    return MakeError(Errc::kInvalidArgument,
                     "restore: the manager already holds " + std::to_string(sas_.size()) + " SAs");
  }
  if (auto valid = ValidateCheckpoint(checkpoint); !valid) {
    return MakeError(Errc::kInvalidArgument, "restore: " + valid.error().message);
  }
  RestoreReport report;
  const TimePoint now = clock_.Now();
  auto quarantine = [&](std::uint32_t spi) {
    if (spi < kMinSpi || by_in_spi_.count(spi) != 0) return;
    if (quarantine_set_.insert(spi).second) {
      quarantine_.emplace_back(now + options_.spi_quarantine, spi);
      ++report.quarantined;
    }
  };
  // Records by SaId (inbound first); records without one (written by other tools) become
  // adopted one-direction SAs with fresh ids above every saved one.
  std::map<SaId, std::vector<const SaCheckpoint*>> groups;
  std::vector<const SaCheckpoint*> loose;
  SaId next = std::max(next_id_, checkpoint.next_sa_id);
  for (const SaCheckpoint& rec : checkpoint.sas) {
    if (rec.sa_id == 0) {
      loose.push_back(&rec);
      continue;
    }
    groups[rec.sa_id].push_back(&rec);
    next = std::max(next, rec.sa_id + 1);
  }
  for (const SaCheckpoint* rec : loose) groups[next++].push_back(rec);
  next_id_ = next;
  for (auto& [id, recs] : groups) {
    std::sort(recs.begin(), recs.end(), [](const SaCheckpoint* a, const SaCheckpoint* b) {
      return a->direction == SaDirection::kInbound && b->direction != SaDirection::kInbound;
    });
  }

  std::vector<SaId> done;
  auto unwind = [&](Error error) -> Result<RestoreReport> {
    for (const SaId id : done) (void)Remove(id);
    return tl::unexpected<Error>(std::move(error));
  };
  for (const auto& [id, recs] : groups) {
    const SaCheckpoint& first = *recs.front();
    const bool loose_record = first.sa_id == 0;
    const std::uint64_t selector =
        loose_record ? AdoptedSelector(ToDirection(first.direction), first.spi) : first.selector;
    Record& r = sas_.Insert(id, Record{});
    r.id = id;
    r.adopted = loose_record || first.adopted;
    r.spec.selector = selector;
    done.push_back(id);
    bool placed_any = false;
    bool rekey_now = first.state == "rekeying";
    bool current = false;
    for (const SaCheckpoint* rec : recs) {
      const Direction dir = ToDirection(rec->direction);
      const bool in = dir == Direction::kIn;
      const auto what = [rec] {
        return "restore " + std::string(ToString(rec->direction)) + " SPI " + SpiHex(rec->spi) +
               " ('" + rec->name + "')";
      };
      auto provided = provider(*rec);
      if (!provided) {
        if (provided.error().code != Errc::kNotFound) {
          return unwind(Error{provided.error().code, what() + ": " + provided.error().message});
        }
        report.skipped.push_back(*rec);
        continue;
      }
      driver::SaConfig cfg = std::move(*provided);
      if (cfg.spi != rec->spi || cfg.dir != dir || cfg.esn != rec->esn) {
        return unwind(Error{Errc::kInvalidArgument,
                            what() + ": the provider's SA differs in SPI, direction or ESN"});
      }
      std::uint64_t base_packets = rec->packets;
      const std::uint64_t base_bytes = rec->bytes;
      if (in) {
        cfg.oseq = 0;
        cfg.replay_seq = rec->replay_right_edge;  // fail-closed window at the saved edge
      } else {
        auto jump = RestoreJumpAhead(*rec, options.jump_margin);
        if (!jump) return unwind(Error{jump.error().code, what() + ": " + jump.error().message});
        if (jump->needs_rekey) {
          report.needs_rekey.push_back(*rec);
          continue;
        }
        cfg.oseq = jump->outbound_seq;
        cfg.replay_seq = 0;
        // The skipped numbers may have been sent after the save: count them against the limits.
        base_packets += jump->outbound_seq - rec->outbound_seq;
      }
      if (auto valid = driver::Validate(cfg); !valid) {
        return unwind(Error{Errc::kInvalidArgument, what() + ": " + valid.error().message});
      }
      const driver::SaLimits& l = cfg.limits;
      if (Reached(l.hard_packets, base_packets) || Reached(l.hard_bytes, base_bytes)) {
        report.needs_rekey.push_back(*rec);  // its life is over: not installed
        continue;
      }
      if (Reached(l.soft_packets, base_packets) || Reached(l.soft_bytes, base_bytes)) {
        rekey_now = true;
      }
      if (!placed_any) r.spec = SpecFromConfig(cfg, selector);
      bool fallback = false;
      if (auto st = PlaceDirection(r, std::move(cfg), options.cls, base_packets, base_bytes,
                                   fallback, what);
          !st) {
        return unwind(st.error());
      }
      placed_any = true;
      (in ? by_in_spi_ : by_out_spi_).insert_or_assign(rec->spi, &r);
      if (fallback) Emit(MakeEvent(SaEventKind::kFallback, r, dir));
      if (!in && (rec->current || loose_record)) current = true;
    }
    if (!placed_any) {  // nothing of this SA came back
      sas_.Erase(id);
      done.pop_back();
      for (const SaCheckpoint* rec : recs) {
        if (rec->direction == SaDirection::kInbound) quarantine(rec->spi);
      }
      continue;
    }
    const SaState state =
        loose_record ? SaState::kActive : ParseState(first.state).value_or(SaState::kActive);
    if (current) current_.insert_or_assign(selector, &r);
    if (state == SaState::kDraining) {
      SetState(r, SaState::kDraining);
      r.drain_until = now + options_.drain_interval;
      drains_.emplace_back(*r.drain_until, id);
    } else if (state != SaState::kLarval) {
      SetState(r, SaState::kActive);
    }
    if (rekey_now && r.state == SaState::kActive) report.rekey_now.push_back(id);
    report.restored.push_back(id);
  }
  // Inbound SPIs that may still see packets and are not live again: never handed out soon.
  for (const SaCheckpoint& rec : checkpoint.sas) {
    if (rec.direction == SaDirection::kInbound && FindByInboundSpi(rec.spi) == kNoSa) {
      quarantine(rec.spi);
    }
  }
  for (const std::uint32_t spi : checkpoint.spis.allocated) quarantine(spi);
  for (const std::uint32_t spi : checkpoint.spis.retired) quarantine(spi);
  return report;
}

}  // namespace espo::sdk
