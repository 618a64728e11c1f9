// SPDX-License-Identifier: Apache-2.0
#include "espo/sdk/rekey_scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "espo/sdk/keymat.hpp"

namespace espo::sdk {

namespace {
std::string SaName(SaId id) { return "SA " + std::to_string(id); }
bool Live(SaState s) { return s == SaState::kActive || s == SaState::kRekeying; }

// Timeout of own exchange number `attempt` (1, 2, ...) for one old SA.
Duration RekeyTimeout(const RekeyOptions& o, std::uint32_t attempt) {
  Duration t = o.rekey_timeout;
  for (std::uint32_t i = 1; i < attempt && t < o.max_rekey_timeout; ++i) {
    t = std::chrono::duration_cast<Duration>(std::chrono::duration<double, Duration::period>(
        static_cast<double>(t.count()) * o.rekey_backoff));
  }
  return std::min(t, std::max(o.max_rekey_timeout, o.rekey_timeout));
}
}  // namespace

bool NonceLess(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  const std::size_t n = std::min(a.size(), b.size());
  const int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
  if (c != 0) return c < 0;
  return a.size() < b.size();
}

bool ExchangeLoses(const ExchangeNonces& x, const ExchangeNonces& y) {
  const std::vector<std::uint8_t>& x_low = NonceLess(x.ni, x.nr) ? x.ni : x.nr;
  const std::vector<std::uint8_t>& y_low = NonceLess(y.ni, y.nr) ? y.ni : y.nr;
  return NonceLess(x_low, y_low);
}

std::uint32_t RecommendedHeadroom(std::uint64_t sas, double overlap_s, double window_s,
                                  double budget_s, double k) {
  const auto m = static_cast<double>(sas);
  double h = 0.0;
  if (window_s > 0.0) {
    const double e = m * overlap_s / window_s;
    h = e + k * std::sqrt(e);
  }
  if (budget_s > 0.0) h = std::max(h, m * overlap_s / budget_s);
  return static_cast<std::uint32_t>(std::ceil(h));
}

ChildSaSpec MirrorSpec(const ChildSaSpec& spec) {
  ChildSaSpec m = spec;
  std::swap(m.local, m.peer);
  if (m.encap) std::swap(m.encap->sport, m.encap->dport);
  return m;
}

// ---- RekeyScheduler ----

Result<std::unique_ptr<RekeyScheduler>> RekeyScheduler::Create(SaManager& manager,
                                                               LifetimePolicy& policy,
                                                               RekeyHandler& handler,
                                                               const RekeyOptions& options) {
  if (options.rate_per_second < 0.0 || (options.rate_per_second > 0.0 && options.burst < 1.0)) {
    return MakeError(Errc::kInvalidArgument,
                     "rekey scheduler: rate_per_second must be >= 0 and burst >= 1");
  }
  if (options.rekey_timeout.count() < 0 || options.max_rekey_timeout.count() < 0 ||
      !(options.rekey_backoff >= 1.0)) {
    return MakeError(Errc::kInvalidArgument,
                     "rekey scheduler: rekey_timeout and max_rekey_timeout must be >= 0 and "
                     "rekey_backoff >= 1");
  }
  return std::unique_ptr<RekeyScheduler>(  // NOLINT(cppcoreguidelines-owning-memory)
      new RekeyScheduler(manager, policy, handler, options));
}

RekeyScheduler::RekeyScheduler(SaManager& manager, LifetimePolicy& policy, RekeyHandler& handler,
                               const RekeyOptions& options)
    : manager_(manager),
      policy_(policy),
      handler_(handler),
      clock_(manager.clock()),
      options_(options),
      tokens_(options.burst),
      last_refill_(manager.clock().Now()) {}

RekeyScheduler::~RekeyScheduler() = default;

CountLimits RekeyScheduler::LimitsFor(SaDirection dir, ExchangeRole role, SaLifetime* lifetime) {
  *lifetime = policy_.ForNewSa(SaContext{dir, role, options_.designation});
  return lifetime->counts;
}

void RekeyScheduler::ArmDeadlines(SaId id, const SaLifetime& in, const SaLifetime& out) {
  auto earliest = [](const std::optional<TimePoint>& a, const std::optional<TimePoint>& b) {
    if (!a) return b;
    if (!b) return a;
    return std::optional<TimePoint>(std::min(*a, *b));
  };
  if (auto soft = earliest(in.soft_deadline, out.soft_deadline)) {
    deadlines_.push(*soft, Deadline{id, false});
  }
  if (auto hard = earliest(in.hard_deadline, out.hard_deadline)) {
    deadlines_.push(*hard, Deadline{id, true});
  }
}

Status RekeyScheduler::InstallNew(SaId id, std::uint32_t peer_spi, ChildKeys keys,
                                  ExchangeRole role, SlotClass cls) {
  SaLifetime in_life;
  SaLifetime out_life;
  const CountLimits in_limits = LimitsFor(SaDirection::kInbound, role, &in_life);
  const CountLimits out_limits = LimitsFor(SaDirection::kOutbound, role, &out_life);
  ESPO_RETURN_IF_ERROR(manager_.InstallPair(id, peer_spi, std::move(keys.inbound),
                                            std::move(keys.outbound), in_limits, out_limits, cls));
  ArmDeadlines(id, in_life, out_life);
  return Ok();
}

Result<SaId> RekeyScheduler::BeginChildSa(const ChildSaSpec& spec) {
  return manager_.Allocate(spec, SlotClass::kNew);
}

Status RekeyScheduler::CompleteChildSa(SaId id, std::uint32_t peer_spi, ChildKeys keys,
                                       ExchangeRole role) {
  return InstallNew(id, peer_spi, std::move(keys), role, SlotClass::kNew);
}

Status RekeyScheduler::DeleteChildSa(SaId id) {
  const SaState st = manager_.StateOf(id);
  if (st == SaState::kGone) return MakeError(Errc::kNotFound, SaName(id) + ": no such SA");
  ESPO_ASSIGN_OR_RETURN(SaInfo info, manager_.Info(id));
  attempts_.erase(id);
  if (auto it = rekeying_.find(id); it != rekeying_.end()) {
    if (it->second.own_new != kNoSa) exchanges_[it->second.own_new].redundant = true;
    rekeying_.erase(it);
  }
  if (st == SaState::kLarval) return manager_.Remove(id);
  ESPO_RETURN_IF_ERROR(manager_.Retire(id));
  handler_.SendDelete(id, info.inbound_spi);
  return Ok();
}

void RekeyScheduler::Queue(SaId id) {
  if (manager_.StateOf(id) != SaState::kActive || queued_.count(id) != 0) return;
  (void)manager_.SetRekeying(id, true);
  queue_.push_back(id);
  queued_.insert(id);
  ++stats_.rekeys_queued;
}

Status RekeyScheduler::RequestRekey(SaId id) {
  if (manager_.StateOf(id) != SaState::kActive) {
    return MakeError(Errc::kInvalidArgument, SaName(id) +
                                                 ": only an active SA can be rekeyed, "
                                                 "state " +
                                                 std::string(ToString(manager_.StateOf(id))));
  }
  Queue(id);
  return Ok();
}

Status RekeyScheduler::ResumeRestored(SaId id, TimePoint installed_at, ExchangeRole role) {
  if (manager_.StateOf(id) == SaState::kGone) {
    return MakeError(Errc::kNotFound, SaName(id) + ": no such SA to resume");
  }
  if (manager_.IsAdopted(id)) {
    return MakeError(Errc::kInvalidArgument,
                     SaName(id) + ": adopted SAs are rekeyed by their owner, not resumed here");
  }
  const SaLifetime in =
      policy_.ForNewSa(SaContext{SaDirection::kInbound, role, options_.designation}, installed_at);
  const SaLifetime out =
      policy_.ForNewSa(SaContext{SaDirection::kOutbound, role, options_.designation}, installed_at);
  ArmDeadlines(id, in, out);
  return Ok();
}

Status RekeyScheduler::StartOne(SaId old_sa) {
  const ChildSaSpec* spec = manager_.SpecOf(old_sa);
  if (spec == nullptr) return Ok();
  ESPO_ASSIGN_OR_RETURN(SaInfo old_info, manager_.Info(old_sa));
  ESPO_ASSIGN_OR_RETURN(SaId new_sa, manager_.Allocate(*spec, SlotClass::kRekey));
  ESPO_ASSIGN_OR_RETURN(SaInfo new_info, manager_.Info(new_sa));
  rekeying_[old_sa].own_new = new_sa;
  Exchange& ex = exchanges_[new_sa];
  ex = Exchange{old_sa, ExchangeRole::kInitiator, {}, false, std::nullopt};
  const std::uint32_t attempt = ++attempts_[old_sa];
  if (attempt > 1) ++stats_.rekey_retries;
  if (options_.rekey_timeout.count() > 0) {
    ex.timeout_at = clock_.Now() + RekeyTimeout(options_, attempt);
    timeouts_.push(*ex.timeout_at, new_sa);
  }
  ++stats_.rekeys_started;
  ++stats_.in_flight;
  stats_.max_in_flight = std::max(stats_.max_in_flight, stats_.in_flight);
  handler_.StartRekey(
      RekeyRequest{old_sa, old_info.inbound_spi, new_sa, new_info.inbound_spi, spec->selector});
  return Ok();
}

void RekeyScheduler::StartQueued() {
  const TimePoint now = clock_.Now();
  if (options_.rate_per_second > 0.0) {
    const double dt = std::chrono::duration<double>(now - last_refill_).count();
    tokens_ = std::min(options_.burst, tokens_ + dt * options_.rate_per_second);
  }
  last_refill_ = now;
  while (!queue_.empty()) {
    if (options_.max_concurrent != 0 && stats_.in_flight >= options_.max_concurrent) break;
    if (options_.rate_per_second > 0.0 && tokens_ < 1.0) break;
    const SaId id = queue_.front();
    queue_.pop_front();
    queued_.erase(id);
    // Skip SAs that died, or that the peer is already replacing.
    if (manager_.StateOf(id) != SaState::kRekeying) continue;
    if (auto it = rekeying_.find(id);
        it != rekeying_.end() && (it->second.peer_new != kNoSa || it->second.own_new != kNoSa)) {
      continue;
    }
    if (options_.rate_per_second > 0.0) tokens_ -= 1.0;
    (void)StartOne(id);
  }
  stats_.queued_now = queue_.size();
  if (!queue_.empty()) ++stats_.paced_waits;
}

Status RekeyScheduler::ActivateReplacement(SaId old_sa, SaId new_sa) {
  Status result = manager_.ActivateOutbound(new_sa, SlotClass::kRekey);
  exchanges_.erase(new_sa);
  attempts_.erase(old_sa);
  const SaState st = manager_.StateOf(old_sa);
  if (Live(st)) {
    auto retired = manager_.Retire(old_sa);
    if (result && !retired) result = retired;
  }
  return result;
}

Result<std::uint32_t> RekeyScheduler::OnRekeyRequest(std::uint32_t rekey_spi,
                                                     std::uint32_t peer_new_spi,
                                                     const ExchangeNonces& nonces, ChildKeys keys) {
  const SaId old_sa = manager_.FindByOutboundSpi(rekey_spi);
  const SaState st = manager_.StateOf(old_sa);
  if (old_sa == kNoSa || !Live(st)) {
    return MakeError(Errc::kNotFound, "rekey request: no live Child SA with outbound SPI " +
                                          std::to_string(rekey_spi) + " (CHILD_SA_NOT_FOUND)");
  }
  OldState& old = rekeying_[old_sa];
  if (old.peer_new != kNoSa) {
    return MakeError(Errc::kExists,
                     "rekey request: " + SaName(old_sa) + " is already being rekeyed by the peer");
  }
  const ChildSaSpec* spec = manager_.SpecOf(old_sa);
  ESPO_ASSIGN_OR_RETURN(SaId new_sa, manager_.Allocate(*spec, SlotClass::kRekey));
  SaLifetime in_life;
  SaLifetime out_life;
  const CountLimits in_limits =
      LimitsFor(SaDirection::kInbound, ExchangeRole::kResponder, &in_life);
  const CountLimits out_limits =
      LimitsFor(SaDirection::kOutbound, ExchangeRole::kResponder, &out_life);
  ESPO_RETURN_IF_ERROR(manager_.InstallInbound(new_sa, std::move(keys.inbound), in_limits));
  if (auto st2 =
          manager_.PrepareOutbound(new_sa, peer_new_spi, std::move(keys.outbound), out_limits);
      !st2) {
    (void)manager_.Remove(new_sa);
    return tl::unexpected(st2.error());
  }
  ArmDeadlines(new_sa, in_life, out_life);
  if (st == SaState::kActive) (void)manager_.SetRekeying(old_sa, true);
  rekeying_[old_sa].peer_new = new_sa;
  exchanges_[new_sa] = Exchange{old_sa, ExchangeRole::kResponder, nonces, false, std::nullopt};
  ++stats_.rekeys_responded;
  ESPO_ASSIGN_OR_RETURN(SaInfo info, manager_.Info(new_sa));
  return info.inbound_spi;
}

Status RekeyScheduler::OnRekeyResponse(SaId new_sa, std::uint32_t peer_new_spi,
                                       const ExchangeNonces& nonces, ChildKeys keys) {
  auto ex_it = exchanges_.find(new_sa);
  if (ex_it == exchanges_.end() || ex_it->second.role != ExchangeRole::kInitiator) {
    return MakeError(Errc::kNotFound, "rekey response: " + SaName(new_sa) + " is not pending");
  }
  Exchange ex = std::move(ex_it->second);
  exchanges_.erase(ex_it);
  if (stats_.in_flight > 0) --stats_.in_flight;
  ex.nonces = nonces;
  const SaId old_sa = ex.old_sa;
  ESPO_ASSIGN_OR_RETURN(SaInfo new_info, manager_.Info(new_sa));
  auto old_it = rekeying_.find(old_sa);
  if (old_it != rekeying_.end() && old_it->second.own_new == new_sa) old_it->second.own_new = kNoSa;

  auto drop_ours = [&]() -> Status {
    // Our new SA is redundant: remove it and tell the peer to remove its side.
    ++stats_.collisions_lost;
    auto st = manager_.Remove(new_sa);
    handler_.SendDelete(new_sa, new_info.inbound_spi);
    return st;
  };
  if (ex.redundant) return drop_ours();
  // A peer exchange for the same old SA that has not concluded: a simultaneous rekey.
  if (old_it != rekeying_.end() && old_it->second.peer_new != kNoSa) {
    auto peer_ex = exchanges_.find(old_it->second.peer_new);
    if (peer_ex != exchanges_.end()) {
      ++stats_.collisions;
      if (ExchangeLoses(ex.nonces, peer_ex->second.nonces)) return drop_ours();
      // We win: the peer deletes its (redundant) exchange's SA; we replace the old SA.
    }
  }
  auto installed = InstallNew(new_sa, peer_new_spi, std::move(keys), ExchangeRole::kInitiator,
                              SlotClass::kRekey);
  if (!installed) {
    ++stats_.rekeys_failed;
    handler_.SendDelete(new_sa, new_info.inbound_spi);
    if (manager_.StateOf(old_sa) == SaState::kRekeying &&
        (old_it == rekeying_.end() || old_it->second.peer_new == kNoSa)) {
      (void)manager_.SetRekeying(old_sa, false);
    }
    return installed;
  }
  ++stats_.rekeys_completed;
  attempts_.erase(old_sa);
  if (Live(manager_.StateOf(old_sa))) {
    ESPO_ASSIGN_OR_RETURN(SaInfo old_info, manager_.Info(old_sa));
    auto retired = manager_.Retire(old_sa);
    handler_.SendDelete(old_sa, old_info.inbound_spi);
    ESPO_RETURN_IF_ERROR(retired);
  }
  // A losing peer exchange's SA stays until the peer's Delete removes it.
  if (old_it != rekeying_.end() && old_it->second.peer_new == kNoSa) rekeying_.erase(old_it);
  return Ok();
}

Status RekeyScheduler::OnRekeyFailed(SaId new_sa) {
  auto ex_it = exchanges_.find(new_sa);
  if (ex_it == exchanges_.end()) return Ok();
  const Exchange ex = std::move(ex_it->second);
  exchanges_.erase(ex_it);
  if (ex.role == ExchangeRole::kInitiator && stats_.in_flight > 0) --stats_.in_flight;
  ++stats_.rekeys_failed;
  auto removed = manager_.Remove(new_sa);
  auto old_it = rekeying_.find(ex.old_sa);
  if (old_it != rekeying_.end()) {
    if (old_it->second.own_new == new_sa) old_it->second.own_new = kNoSa;
    if (old_it->second.peer_new == new_sa) old_it->second.peer_new = kNoSa;
    if (old_it->second.own_new == kNoSa && old_it->second.peer_new == kNoSa) {
      rekeying_.erase(old_it);
      // Still ours to replace: try again (paced like any other rekey).
      if (manager_.StateOf(ex.old_sa) == SaState::kRekeying) {
        (void)manager_.SetRekeying(ex.old_sa, false);
        Queue(ex.old_sa);
      }
    }
  }
  return removed;
}

Status RekeyScheduler::OnDelete(std::uint32_t spi) {
  const SaId id = manager_.FindByOutboundSpi(spi);
  const SaState st = manager_.StateOf(id);
  if (id == kNoSa || st == SaState::kGone || st == SaState::kDraining) return Ok();
  auto ex_it = exchanges_.find(id);
  if (st == SaState::kLarval) {
    // The peer closes the SA of an exchange it lost (SPEC 7.3) or abandoned.
    if (ex_it != exchanges_.end()) {
      const SaId old_sa = ex_it->second.old_sa;
      exchanges_.erase(ex_it);
      if (auto o = rekeying_.find(old_sa); o != rekeying_.end()) {
        if (o->second.peer_new == id) o->second.peer_new = kNoSa;
        if (o->second.own_new == kNoSa && o->second.peer_new == kNoSa) rekeying_.erase(o);
      }
    }
    ++stats_.redundant_deleted;
    return manager_.Remove(id);
  }
  // A live SA: either the peer's rekey concluded (activate its replacement, SPEC 7.2 step 4)
  // or a plain delete.
  Status result = Ok();
  if (auto o = rekeying_.find(id); o != rekeying_.end()) {
    if (o->second.own_new != kNoSa) {
      auto own = exchanges_.find(o->second.own_new);
      if (own != exchanges_.end()) own->second.redundant = true;
    }
    const SaId replacement = o->second.peer_new;
    rekeying_.erase(o);
    if (replacement != kNoSa) return ActivateReplacement(id, replacement);
  }
  attempts_.erase(id);
  result = manager_.Retire(id);
  return result;
}

Status RekeyScheduler::HandleExpiry(SaId id) {
  const SaState st = manager_.StateOf(id);
  if (st == SaState::kGone) return Ok();
  attempts_.erase(id);
  ++stats_.hard_removed;
  Status result = Ok();
  if (Live(st)) {
    ++stats_.lost;  // it stopped before a replacement took over
    ESPO_ASSIGN_OR_RETURN(SaInfo info, manager_.Info(id));
    if (auto o = rekeying_.find(id); o != rekeying_.end()) {
      const SaId replacement = o->second.peer_new;
      rekeying_.erase(o);  // an own exchange still pending completes as a plain replacement
      if (replacement != kNoSa) {
        result = manager_.ActivateOutbound(replacement, SlotClass::kRekey);
        exchanges_.erase(replacement);
      }
    }
    handler_.SendDelete(id, info.inbound_spi);
  }
  auto removed = manager_.Remove(id);
  if (result && !removed) result = removed;
  return result;
}

Status RekeyScheduler::Poll() {
  Status first_error = manager_.Poll();
  ESPO_ASSIGN_OR_RETURN(std::vector<SaEvent> events, manager_.CollectEvents());
  for (const SaEvent& e : events) {
    handler_.OnEvent(e);
    const bool limit = e.kind == SaEventKind::kSoft || e.kind == SaEventKind::kHard ||
                       e.kind == SaEventKind::kSeqOverflow;
    // Adopted SAs (keys chosen outside) belong to their owner: reported, never rekeyed or removed.
    if (!limit || manager_.IsAdopted(e.sa)) continue;
    switch (e.kind) {
      case SaEventKind::kSoft: {
        ++stats_.soft_events;
        Queue(e.sa);
        auto g = selector_group_.find(e.selector);
        if (g != selector_group_.end()) {
          const GroupSpec& spec = groups_[g->second].spec;
          if (spec.rekey_together) {
            for (std::uint32_t m = 0; m < spec.members; ++m) {
              Queue(manager_.CurrentFor(spec.base.selector + m));
            }
          }
        }
        break;
      }
      case SaEventKind::kHard:
      case SaEventKind::kSeqOverflow: {
        auto st = HandleExpiry(e.sa);
        if (!st && first_error) first_error = st;
        break;
      }
      default:
        break;
    }
  }
  const TimePoint now = clock_.Now();
  while (!deadlines_.empty() && deadlines_.top().at <= now) {
    const SaId id = deadlines_.top().payload.id;
    const bool hard = deadlines_.top().payload.hard;
    deadlines_.pop();
    if (hard) {
      auto st = HandleExpiry(id);
      if (!st && first_error) first_error = st;
    } else {
      Queue(id);
    }
  }
  while (!timeouts_.empty() && timeouts_.top().at <= now) {
    const TimePoint at = timeouts_.top().at;
    const SaId new_sa = timeouts_.top().payload;
    timeouts_.pop();
    auto ex = exchanges_.find(new_sa);
    if (ex == exchanges_.end() || ex->second.timeout_at != at) continue;  // answered meanwhile
    auto st = TimeOut(new_sa);
    if (!st && first_error) first_error = st;
  }
  StartQueued();
  PruneStale();
  return first_error;
}

// Pops deadlines and timeouts at the front that can no longer do anything, so NextDeadline()
// does not name a time at which Poll() would find nothing to do: a gone SA's deadlines, a
// draining SA's soft deadline (it never becomes active again; a hard one still removes it),
// the timeout of an exchange that was answered or given up. Exactly the entries Poll() would
// skip when they fell due. A front already found live is not looked up again (one that went
// stale since only costs Poll() a call with nothing to do).
void RekeyScheduler::PruneStale() {
  while (!deadlines_.empty() && deadlines_.top().seq != live_deadline_seq_) {
    const Deadline& d = deadlines_.top().payload;
    const SaState st = manager_.StateOf(d.id);
    if (st != SaState::kGone && (d.hard || st != SaState::kDraining)) {
      live_deadline_seq_ = deadlines_.top().seq;
      break;
    }
    deadlines_.pop();
  }
  while (!timeouts_.empty() && timeouts_.top().seq != live_timeout_seq_) {
    auto ex = exchanges_.find(timeouts_.top().payload);
    if (ex != exchanges_.end() && ex->second.timeout_at == timeouts_.top().at) {
      live_timeout_seq_ = timeouts_.top().seq;
      break;
    }
    timeouts_.pop();
  }
}

Status RekeyScheduler::TimeOut(SaId new_sa) {
  ++stats_.rekeys_timed_out;
  // The peer may have answered into the void: it drops what it made of the request (OnDelete of
  // a larval SA), and a late answer finds no exchange here.
  if (auto info = manager_.Info(new_sa); info) handler_.SendDelete(new_sa, info->inbound_spi);
  return OnRekeyFailed(new_sa);  // removes the larval SA and queues the old SA again
}

std::optional<TimePoint> RekeyScheduler::NextDeadline() const {
  std::optional<TimePoint> next = manager_.NextDeadline();
  if (!deadlines_.empty() && (!next || deadlines_.top().at < *next)) {
    next = deadlines_.top().at;
  }
  if (!timeouts_.empty() && (!next || timeouts_.top().at < *next)) {
    next = timeouts_.top().at;
  }
  if (!queue_.empty() && options_.rate_per_second > 0.0) {
    const TimePoint t =
        last_refill_ + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(
                           (1.0 - std::min(tokens_, 1.0)) / options_.rate_per_second));
    if (!next || t < *next) next = t;
  }
  return next;
}

// ---- groups ----

Result<GroupId> RekeyScheduler::RegisterGroup(const GroupSpec& spec) {
  if (spec.members == 0 || spec.members > 65536) {
    return MakeError(Errc::kInvalidArgument,
                     "group: members must be 1..65536, got " + std::to_string(spec.members));
  }
  if (spec.kind == GroupKind::kPerDscp) {
    for (std::size_t d = 0; d < spec.dscp_to_member.size(); ++d) {
      if (spec.dscp_to_member[d] >= spec.members) {
        return MakeError(Errc::kInvalidArgument, "group: dscp " + std::to_string(d) +
                                                     " maps to member " +
                                                     std::to_string(spec.dscp_to_member[d]) +
                                                     " of " + std::to_string(spec.members));
      }
    }
  }
  for (std::uint32_t m = 0; m < spec.members; ++m) {
    if (selector_group_.count(spec.base.selector + m) != 0) {
      return MakeError(Errc::kExists, "group: selector " + std::to_string(spec.base.selector + m) +
                                          " already belongs to a group");
    }
  }
  const GroupId id = next_group_++;
  groups_[id] = Group{spec};
  for (std::uint32_t m = 0; m < spec.members; ++m) selector_group_[spec.base.selector + m] = id;
  return id;
}

Result<GroupSpec> RekeyScheduler::GroupOf(GroupId group) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) {
    return MakeError(Errc::kNotFound, "group " + std::to_string(group) + ": no such group");
  }
  return it->second.spec;
}

Result<std::uint64_t> RekeyScheduler::SelectorForQueue(GroupId group, std::uint32_t queue) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) {
    return MakeError(Errc::kNotFound, "group " + std::to_string(group) + ": no such group");
  }
  const GroupSpec& s = it->second.spec;
  return s.base.selector + queue % s.members;
}

Result<std::uint64_t> RekeyScheduler::SelectorForDscp(GroupId group, std::uint8_t dscp) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) {
    return MakeError(Errc::kNotFound, "group " + std::to_string(group) + ": no such group");
  }
  if (dscp >= 64) {
    return MakeError(Errc::kInvalidArgument, "dscp " + std::to_string(dscp) + ": must be < 64");
  }
  const GroupSpec& s = it->second.spec;
  if (s.kind != GroupKind::kPerDscp) return s.base.selector;  // one class: member 0
  return s.base.selector + s.dscp_to_member[dscp];
}

Result<GroupCounters> RekeyScheduler::Counters(GroupId group) {
  ESPO_ASSIGN_OR_RETURN(GroupSpec s, GroupOf(group));
  GroupCounters c;
  for (std::uint32_t m = 0; m < s.members; ++m) {
    const SaId id = manager_.CurrentFor(s.base.selector + m);
    if (id == kNoSa) continue;
    ESPO_ASSIGN_OR_RETURN(SaCounters sc, manager_.Counters(id));
    c.in_packets += sc.inbound.packets;
    c.in_bytes += sc.inbound.bytes;
    c.out_packets += sc.outbound.packets;
    c.out_bytes += sc.outbound.bytes;
    ++c.members_active;
    if (sc.inbound.placement == Placement::kSoftware ||
        sc.outbound.placement == Placement::kSoftware) {
      ++c.members_software;
    }
  }
  return c;
}

// ---- LoopbackIke ----

class LoopbackIke::Impl {
 public:
  enum class Type : std::uint8_t { kRequest, kResponse, kFailure, kDelete };
  struct Message {
    Type type = Type::kRequest;
    bool to_b = true;
    std::uint32_t rekey_spi = 0;  // request
    std::uint32_t spi = 0;        // request: initiator's new SPI; response: responder's; delete
    SaId initiator_new = kNoSa;   // request / response / failure
    ExchangeNonces nonces;
    std::size_t key_bytes = 16;
  };

  class Side final : public RekeyHandler {
   public:
    Side(Impl& impl, bool is_a) : impl_(impl), is_a_(is_a) {}
    void StartRekey(const RekeyRequest& request) override {
      Message m;
      m.type = Type::kRequest;
      m.to_b = is_a_;
      m.rekey_spi = request.rekey_spi;
      m.spi = request.new_inbound_spi;
      m.initiator_new = request.new_sa;
      m.nonces.ni = impl_.Nonce();
      const ChildSaSpec* spec = impl_.Sched(is_a_).manager().SpecOf(request.new_sa);
      m.key_bytes = spec == nullptr ? 16 : spec->key_bytes;
      impl_.queue.push_back(std::move(m));
    }
    void SendDelete(SaId /*sa*/, std::uint32_t inbound_spi) override {
      Message m;
      m.type = Type::kDelete;
      m.to_b = is_a_;
      m.spi = inbound_spi;
      impl_.queue.push_back(std::move(m));
    }

   private:
    Impl& impl_;
    bool is_a_;
  };

  explicit Impl(Rng& rng) : rng(rng), side_a(*this, true), side_b(*this, false) {
    sk_d.resize(32);
    for (std::uint8_t& b : sk_d) b = static_cast<std::uint8_t>(rng.NextU64());
  }
  ~Impl() { std::fill(sk_d.begin(), sk_d.end(), 0); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  Impl(Impl&&) = delete;
  Impl& operator=(Impl&&) = delete;

  std::vector<std::uint8_t> Nonce() {
    std::vector<std::uint8_t> n(32);
    for (std::size_t i = 0; i < n.size(); i += 8) {
      std::uint64_t w = rng.NextU64();
      for (std::size_t k = 0; k < 8; ++k, w >>= 8U) n[i + k] = static_cast<std::uint8_t>(w);
    }
    return n;
  }
  RekeyScheduler& Sched(bool a) { return a ? *sched_a : *sched_b; }

  // Keys for the side that played `role` in the exchange with `nonces`.
  Result<ChildKeys> Keys(const ExchangeNonces& nonces, std::size_t key_bytes, ExchangeRole role) {
    ESPO_ASSIGN_OR_RETURN(ChildSaKeys k,
                          DeriveChildSaKeys(PrfAlgorithm::kHmacSha256, sk_d, nonces.ni, nonces.nr,
                                            std::nullopt, key_bytes));
    ChildKeys out;
    if (role == ExchangeRole::kInitiator) {
      out.outbound = std::move(k.initiator_to_responder);
      out.inbound = std::move(k.responder_to_initiator);
    } else {
      out.inbound = std::move(k.initiator_to_responder);
      out.outbound = std::move(k.responder_to_initiator);
    }
    return out;
  }

  Status Deliver(Message m) {
    const bool to_a = !m.to_b;
    RekeyScheduler& to = Sched(to_a);
    switch (m.type) {
      case Type::kRequest: {
        m.nonces.nr = Nonce();
        ESPO_ASSIGN_OR_RETURN(ChildKeys keys,
                              Keys(m.nonces, m.key_bytes, ExchangeRole::kResponder));
        auto spi = to.OnRekeyRequest(m.rekey_spi, m.spi, m.nonces, std::move(keys));
        Message reply;
        reply.to_b = to_a;  // back to the initiator
        reply.initiator_new = m.initiator_new;
        reply.key_bytes = m.key_bytes;
        reply.nonces = m.nonces;
        if (spi) {
          reply.type = Type::kResponse;
          reply.spi = *spi;
        } else if (spi.error().code == Errc::kNotFound || spi.error().code == Errc::kExists) {
          reply.type = Type::kFailure;
        } else {
          return tl::unexpected(spi.error());
        }
        queue.push_back(std::move(reply));
        return Ok();
      }
      case Type::kResponse: {
        ESPO_ASSIGN_OR_RETURN(ChildKeys keys,
                              Keys(m.nonces, m.key_bytes, ExchangeRole::kInitiator));
        return to.OnRekeyResponse(m.initiator_new, m.spi, m.nonces, std::move(keys));
      }
      case Type::kFailure:
        return to.OnRekeyFailed(m.initiator_new);
      case Type::kDelete:
        return to.OnDelete(m.spi);
    }
    return Ok();
  }

  Rng& rng;
  Side side_a;
  Side side_b;
  RekeyScheduler* sched_a = nullptr;
  RekeyScheduler* sched_b = nullptr;
  std::vector<std::uint8_t> sk_d;
  std::deque<Message> queue;
};

LoopbackIke::LoopbackIke(Rng& rng) : impl_(std::make_unique<Impl>(rng)) {}
LoopbackIke::~LoopbackIke() = default;
RekeyHandler& LoopbackIke::handler_a() { return impl_->side_a; }
RekeyHandler& LoopbackIke::handler_b() { return impl_->side_b; }
void LoopbackIke::Connect(RekeyScheduler& a, RekeyScheduler& b) {
  impl_->sched_a = &a;
  impl_->sched_b = &b;
}
std::size_t LoopbackIke::pending() const { return impl_->queue.size(); }

Result<bool> LoopbackIke::DeliverOne() {
  if (impl_->queue.empty()) return false;
  Impl::Message m = std::move(impl_->queue.front());
  impl_->queue.pop_front();
  ESPO_RETURN_IF_ERROR(impl_->Deliver(std::move(m)));
  return true;
}

Status LoopbackIke::DeliverAll() {
  for (;;) {
    ESPO_ASSIGN_OR_RETURN(bool delivered, DeliverOne());
    if (!delivered) return Ok();
  }
}

Result<std::pair<SaId, SaId>> LoopbackIke::CreateChildSa(const ChildSaSpec& spec_a) {
  RekeyScheduler& a = *impl_->sched_a;
  RekeyScheduler& b = *impl_->sched_b;
  ESPO_ASSIGN_OR_RETURN(SaId id_a, a.BeginChildSa(spec_a));
  auto id_b = b.BeginChildSa(MirrorSpec(spec_a));
  if (!id_b) {
    (void)a.manager().Remove(id_a);
    return tl::unexpected(id_b.error());
  }
  const std::uint32_t spi_a = a.manager().Info(id_a).value_or(SaInfo{}).inbound_spi;
  const std::uint32_t spi_b = b.manager().Info(*id_b).value_or(SaInfo{}).inbound_spi;
  ExchangeNonces nonces{impl_->Nonce(), impl_->Nonce()};
  auto fail = [&](const Error& e) -> Result<std::pair<SaId, SaId>> {
    if (a.manager().StateOf(id_a) != SaState::kGone) (void)a.manager().Remove(id_a);
    if (b.manager().StateOf(*id_b) != SaState::kGone) (void)b.manager().Remove(*id_b);
    return tl::unexpected(e);
  };
  auto keys_a = impl_->Keys(nonces, spec_a.key_bytes, ExchangeRole::kInitiator);
  if (!keys_a) return fail(keys_a.error());
  auto keys_b = impl_->Keys(nonces, spec_a.key_bytes, ExchangeRole::kResponder);
  if (!keys_b) return fail(keys_b.error());
  if (auto st = b.CompleteChildSa(*id_b, spi_a, std::move(*keys_b), ExchangeRole::kResponder);
      !st) {
    return fail(st.error());
  }
  if (auto st = a.CompleteChildSa(id_a, spi_b, std::move(*keys_a), ExchangeRole::kInitiator); !st) {
    return fail(st.error());
  }
  return std::make_pair(id_a, *id_b);
}

Result<std::pair<GroupId, GroupId>> LoopbackIke::CreateGroup(const GroupSpec& spec_a) {
  RekeyScheduler& a = *impl_->sched_a;
  RekeyScheduler& b = *impl_->sched_b;
  GroupSpec spec_b = spec_a;
  spec_b.base = MirrorSpec(spec_a.base);
  std::vector<std::pair<SaId, SaId>> made;
  for (std::uint32_t m = 0; m < spec_a.members; ++m) {
    ChildSaSpec member = spec_a.base;
    member.selector = spec_a.base.selector + m;
    auto ids = CreateChildSa(member);
    if (!ids) {
      for (auto it = made.rbegin(); it != made.rend(); ++it) {  // all-or-nothing, newest first
        (void)a.manager().Remove(it->first);
        (void)b.manager().Remove(it->second);
      }
      return tl::unexpected(ids.error());
    }
    made.push_back(*ids);
  }
  ESPO_ASSIGN_OR_RETURN(GroupId ga, a.RegisterGroup(spec_a));
  ESPO_ASSIGN_OR_RETURN(GroupId gb, b.RegisterGroup(spec_b));
  return std::make_pair(ga, gb);
}

}  // namespace espo::sdk
