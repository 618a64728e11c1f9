// SPDX-License-Identifier: Apache-2.0
//
// RekeyScheduler: turns soft expiries into make-before-break rekeys (SPEC 7.2), resolves
// simultaneous rekeys (SPEC 7.3, RFC 7296 2.8.1), paces rekeys when many are due at once, removes
// SAs on hard expiry / sequence overflow (counting an SA as lost when no replacement was active),
// and keeps SA groups (RFC 9611 per-resource SAs, per-DSCP SAs; SPEC 8b, 8e) together.
//
// The IKE daemon implements RekeyHandler (it owns nonces, KEYMAT and the wire) and feeds the
// exchange's results back:
//
//   initiator (A)                                   responder (B)
//   soft event -> Poll() -> handler.StartRekey(req)
//     (new larval SA, new inbound SPI_A')  ---- CREATE_CHILD_SA(REKEY_SA, SPI_A', Ni) --->
//                                                   OnRekeyRequest(): install new inbound,
//                                                   prepare new outbound, keep old  <- SPI_B', Nr
//   OnRekeyResponse(): install new inbound + outbound,
//   switch outbound, remove old outbound,
//   handler.SendDelete(old)              ---- Delete(old SPI_A) ------------------------->
//                                                   OnDelete(): activate new outbound, remove
//   old inbound freed after drain                   old outbound; old inbound freed after drain
//
// Lifetime limits of every new SA come from the LifetimePolicy (count limits into the slot, time
// deadlines into this scheduler's timers). Not thread-safe: one owner.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "espo/driver/key_material.hpp"
#include "espo/driver/result.hpp"
#include "espo/sdk/clock.hpp"
#include "espo/sdk/flat_map.hpp"
#include "espo/sdk/lifetime_policy.hpp"
#include "espo/sdk/sa_manager.hpp"
#include "espo/sdk/time_queue.hpp"

namespace espo::sdk {

// What the daemon must send: CREATE_CHILD_SA with N(REKEY_SA, rekey_spi) and new_inbound_spi.
struct RekeyRequest {
  SaId old_sa = kNoSa;
  std::uint32_t rekey_spi = 0;  // the old SA's inbound SPI (SPEC 7.1)
  SaId new_sa = kNoSa;          // larval; its inbound SPI goes into the SA payload
  std::uint32_t new_inbound_spi = 0;
  std::uint64_t selector = 0;
};

// The IKE side of the scheduler. Calls come from inside RekeyScheduler methods; a handler must
// not call back into the same scheduler synchronously (queue the work instead).
class RekeyHandler {
 public:
  RekeyHandler() = default;
  virtual ~RekeyHandler() = default;
  RekeyHandler(const RekeyHandler&) = delete;
  RekeyHandler& operator=(const RekeyHandler&) = delete;
  RekeyHandler(RekeyHandler&&) = delete;
  RekeyHandler& operator=(RekeyHandler&&) = delete;

  // Start a CREATE_CHILD_SA rekey exchange. Answer with OnRekeyResponse or OnRekeyFailed.
  virtual void StartRekey(const RekeyRequest& request) = 0;
  // Send an INFORMATIONAL Delete for the Child SA whose inbound SPI is `inbound_spi`.
  virtual void SendDelete(SaId sa, std::uint32_t inbound_spi) = 0;
  // Every SA event the scheduler saw (limit events, state changes, fallbacks), for logging.
  virtual void OnEvent(const SaEvent& /*event*/) {}
};

// The two nonces of one CREATE_CHILD_SA exchange (exchange roles).
struct ExchangeNonces {
  std::vector<std::uint8_t> ni;
  std::vector<std::uint8_t> nr;
};

// The two keys of a new Child SA from this end's point of view.
struct ChildKeys {
  driver::KeyMaterial inbound;
  driver::KeyMaterial outbound;
};

// RFC 7296 2.8.1 / SPEC 7.3: memcmp order, first byte most significant; on an equal prefix the
// shorter string is lower. Returns true if `a` < `b`.
bool NonceLess(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b);
// True when exchange `x` contains the lowest of the four nonces (its SA is the redundant one).
bool ExchangeLoses(const ExchangeNonces& x, const ExchangeNonces& y);

// SPEC 9.4 headroom bounds for M SAs, overlap D, due window W, budget B (seconds):
// max(E + k*sqrt(E), M*D/B) with E = M*D/W, rounded up.
std::uint32_t RecommendedHeadroom(std::uint64_t sas, double overlap_s, double window_s,
                                  double budget_s, double k = 4.0);

using GroupId = std::uint64_t;
enum class GroupKind : std::uint8_t { kPerResource, kPerDscp };
struct GroupSpec {
  ChildSaSpec base;  // member m uses selector base.selector + m
  std::uint32_t members = 1;
  GroupKind kind = GroupKind::kPerResource;
  // kPerDscp: DSCP (0..63) -> member; entries >= members are invalid. Default: all to member 0.
  std::array<std::uint8_t, 64> dscp_to_member{};
  // When one member's soft limit fires, rekey every member (one wave, paced as usual).
  bool rekey_together = true;
};
struct GroupCounters {
  std::uint64_t in_packets = 0;
  std::uint64_t in_bytes = 0;
  std::uint64_t out_packets = 0;
  std::uint64_t out_bytes = 0;
  std::uint32_t members_active = 0;    // members with a current outbound SA
  std::uint32_t members_software = 0;  // members with a direction on software
};

struct RekeyOptions {
  // Pacing: at most this many rekeys this end initiated in flight at once (0 = unlimited) ...
  std::uint32_t max_concurrent = 16;
  // ... and a token bucket: `rate_per_second` starts per second, `burst` at once (rate 0 = off).
  double rate_per_second = 0.0;
  double burst = 1.0;
  // Count-based rekeyer designation and IKE role used for the lifetime of new SAs.
  RekeyDesignation designation = RekeyDesignation::kTie;
  // An exchange this end initiated with no answer (OnRekeyResponse / OnRekeyFailed) after the
  // timeout is given up: a Delete for its new inbound SPI goes to the peer (which drops whatever
  // it made of the request), the larval SA is removed, and the rekey is queued again (paced like
  // any other). Attempt n of one old SA waits rekey_timeout * rekey_backoff^(n - 1), at most
  // max_rekey_timeout; retries go on until the old SA is replaced or expires (hard limit or hard
  // deadline: removed and counted as lost). A late answer to a given-up exchange is refused
  // (kNotFound) and creates nothing. 0 = no timeout (the IKE side calls OnRekeyFailed).
  Duration rekey_timeout = std::chrono::seconds(30);
  double rekey_backoff = 2.0;  // >= 1
  Duration max_rekey_timeout = std::chrono::minutes(5);
};

struct RekeyStats {
  std::uint64_t soft_events = 0;
  std::uint64_t rekeys_queued = 0;
  std::uint64_t rekeys_started = 0;     // exchanges this end initiated
  std::uint64_t rekeys_completed = 0;   // as initiator: old SA replaced by ours
  std::uint64_t rekeys_responded = 0;   // as responder
  std::uint64_t rekeys_failed = 0;      // failed or timed-out exchanges (either role)
  std::uint64_t rekeys_timed_out = 0;   // own exchanges given up after the rekey timeout
  std::uint64_t rekey_retries = 0;      // exchanges started again for the same old SA
  std::uint64_t collisions = 0;         // own exchange completed while a peer exchange existed
  std::uint64_t collisions_lost = 0;    // our SA was the redundant one and was deleted
  std::uint64_t redundant_deleted = 0;  // peer's redundant SAs removed on its Delete
  std::uint64_t hard_removed = 0;       // SAs removed on hard expiry / seq overflow
  std::uint64_t lost = 0;               // ... of which had no active replacement
  std::uint32_t in_flight = 0;
  std::uint32_t max_in_flight = 0;
  std::uint64_t queued_now = 0;
  std::uint64_t paced_waits = 0;  // Poll()s that left due rekeys queued
};

class RekeyScheduler {
 public:
  // Keeps references to all arguments; they must outlive the scheduler.
  static Result<std::unique_ptr<RekeyScheduler>> Create(SaManager& manager, LifetimePolicy& policy,
                                                        RekeyHandler& handler,
                                                        const RekeyOptions& options = {});
  ~RekeyScheduler();
  RekeyScheduler(const RekeyScheduler&) = delete;
  RekeyScheduler& operator=(const RekeyScheduler&) = delete;
  RekeyScheduler(RekeyScheduler&&) = delete;
  RekeyScheduler& operator=(RekeyScheduler&&) = delete;

  // ---- new Child SAs (IKE_AUTH or CREATE_CHILD_SA without REKEY_SA) ----
  // A larval SA and its inbound SPI (SlotClass::kNew: the headroom stays for rekeys).
  Result<SaId> BeginChildSa(const ChildSaSpec& spec);
  // Installs both sides (all-or-nothing) with lifetimes from the policy; -> active.
  Status CompleteChildSa(SaId id, std::uint32_t peer_spi, ChildKeys keys, ExchangeRole role);
  // Local delete (not a rekey): removes the outbound now, drains the inbound, sends Delete.
  Status DeleteChildSa(SaId id);

  // ---- rekey exchange results from the daemon ----
  // Responder, SPEC 7.2 step 2. `rekey_spi` is our outbound SPI of the old SA. Returns our new
  // inbound SPI. kNotFound (send CHILD_SA_NOT_FOUND) if no such SA or it is already replaced.
  Result<std::uint32_t> OnRekeyRequest(std::uint32_t rekey_spi, std::uint32_t peer_new_spi,
                                       const ExchangeNonces& nonces, ChildKeys keys);
  // Initiator, SPEC 7.2 step 3 (or 7.3 when a peer exchange for the same SA exists).
  Status OnRekeyResponse(SaId new_sa, std::uint32_t peer_new_spi, const ExchangeNonces& nonces,
                         ChildKeys keys);
  // The exchange failed (error notify, timeout): the larval SA is removed; the old SA becomes
  // active again and is re-queued on its next soft event or deadline.
  Status OnRekeyFailed(SaId new_sa);
  // A Delete from the peer listing `spi` (our outbound SPI of the SA it closes).
  Status OnDelete(std::uint32_t spi);
  // Asks for a rekey now (e.g. operator request); queued and paced like a soft event.
  Status RequestRekey(SaId id);

  // ---- after SaManager::Restore (docs/CHECKPOINT.md) ----
  // Time lifetimes live here, not in the checkpoint: arms the soft and hard time deadlines of a
  // restored managed SA as the policy gives them to an SA installed at `installed_at` (when the
  // owner first installed it; a fresh fuzz draw), so it is rekeyed and removed on time. A
  // deadline already behind the clock fires on the next Poll(). Count limits are untouched (the
  // restore provider set them). Errors: kNotFound (not live), kInvalidArgument (an adopted SA:
  // its owner rekeys it).
  Status ResumeRestored(SaId id, TimePoint installed_at,
                        ExchangeRole role = ExchangeRole::kInitiator);

  // Collects SA events, handles soft (queue a rekey), hard and seq-overflow (remove), time
  // deadlines, drain ends (SaManager::Poll) and starts queued rekeys within the pacing limits.
  Status Poll();
  // When Poll() next has something to do: a drain end (SaManager::NextDeadline), a time
  // deadline, a rekey timeout, or a paced rekey's token. Empty: nothing scheduled.
  std::optional<TimePoint> NextDeadline() const;

  // ---- SA groups ----
  // Registers a group; its members are then created with BeginChildSa/CompleteChildSa using
  // selectors base.selector + m (LoopbackIke::CreateGroup does both ends).
  Result<GroupId> RegisterGroup(const GroupSpec& spec);
  // The member selector for a queue / lane (queue mod members) or a DSCP value.
  Result<std::uint64_t> SelectorForQueue(GroupId group, std::uint32_t queue) const;
  Result<std::uint64_t> SelectorForDscp(GroupId group, std::uint8_t dscp) const;
  // Sum over the members' current SAs (draining SAs are not counted).
  Result<GroupCounters> Counters(GroupId group);
  Result<GroupSpec> GroupOf(GroupId group) const;

  const RekeyStats& stats() const { return stats_; }
  SaManager& manager() { return manager_; }

 private:
  struct Exchange {
    SaId old_sa = kNoSa;
    ExchangeRole role = ExchangeRole::kInitiator;
    ExchangeNonces nonces;   // responder: known at once; initiator: at response
    bool redundant = false;  // initiator: the peer's exchange replaced the old SA meanwhile
    std::optional<TimePoint> timeout_at;  // initiator: when it is given up (rekey_timeout)
  };
  struct OldState {
    SaId own_new = kNoSa;   // the exchange we initiated
    SaId peer_new = kNoSa;  // the exchange the peer initiated (we responded)
  };
  struct Group {
    GroupSpec spec;
  };

  RekeyScheduler(SaManager& manager, LifetimePolicy& policy, RekeyHandler& handler,
                 const RekeyOptions& options);
  CountLimits LimitsFor(SaDirection dir, ExchangeRole role, SaLifetime* lifetime);
  void ArmDeadlines(SaId id, const SaLifetime& in, const SaLifetime& out);
  void Queue(SaId id);
  Status StartOne(SaId old_sa);
  void StartQueued();
  Status HandleExpiry(SaId id);
  Status TimeOut(SaId new_sa);
  void PruneStale();
  Status ActivateReplacement(SaId old_sa, SaId new_sa);
  Status InstallNew(SaId id, std::uint32_t peer_spi, ChildKeys keys, ExchangeRole role,
                    SlotClass cls);

  SaManager& manager_;
  LifetimePolicy& policy_;
  RekeyHandler& handler_;
  const Clock& clock_;
  RekeyOptions options_;
  // Per-SA state in open-addressing maps (detail::FlatMap: any insert or erase invalidates
  // references into the same map).
  detail::FlatMap<SaId, Exchange> exchanges_;  // new SA -> its exchange
  detail::FlatMap<SaId, OldState> rekeying_;   // old SA -> exchanges replacing it
  std::deque<SaId> queue_;                     // due rekeys, oldest first
  detail::FlatSet<SaId> queued_;               // membership of queue_
  // Time deadlines (SA, hard?) popped in (when, arming order) order, so deadlines due together
  // are handled in the order they were armed; stale entries skipped.
  struct Deadline {
    SaId id = kNoSa;
    bool hard = false;
  };
  detail::TimeQueue<Deadline> deadlines_;
  // Rekey timeouts: new SA of an own exchange, in (when, start order) order; stale entries
  // skipped.
  detail::TimeQueue<SaId> timeouts_;
  // PruneStale: push order of the fronts last found live (TimeQueue seqs start at 0).
  std::uint64_t live_deadline_seq_ = ~std::uint64_t{0};
  std::uint64_t live_timeout_seq_ = ~std::uint64_t{0};
  detail::FlatMap<SaId, std::uint32_t> attempts_;  // old SA -> own exchanges started
  double tokens_ = 0.0;
  TimePoint last_refill_;
  GroupId next_group_ = 1;
  std::unordered_map<GroupId, Group> groups_;
  detail::FlatMap<std::uint64_t, GroupId> selector_group_;
  RekeyStats stats_;
};

// A built-in IKE peer for tests and simulations: connects two schedulers (end A and end B) in
// one process, draws nonces from the Rng, derives keys with KEYMAT (prf+ HMAC-SHA-256 over a
// random SK_d, SPEC 7.4) and carries messages through a FIFO the caller pumps, so tests decide
// the interleaving (e.g. crossing requests for a collision). Not thread-safe.
class LoopbackIke {
 public:
  explicit LoopbackIke(Rng& rng);
  ~LoopbackIke();
  LoopbackIke(const LoopbackIke&) = delete;
  LoopbackIke& operator=(const LoopbackIke&) = delete;
  LoopbackIke(LoopbackIke&&) = delete;
  LoopbackIke& operator=(LoopbackIke&&) = delete;

  // The handlers to pass to the two schedulers' Create().
  RekeyHandler& handler_a();
  RekeyHandler& handler_b();
  // Must be called once both schedulers exist.
  void Connect(RekeyScheduler& a, RekeyScheduler& b);

  // Creates a Child SA at both ends (A initiates; B's spec is A's with local/peer and ports
  // swapped). Returns {A's SaId, B's SaId}.
  Result<std::pair<SaId, SaId>> CreateChildSa(const ChildSaSpec& spec_a);
  // Creates a group at both ends; all-or-nothing (members already created are deleted on error).
  Result<std::pair<GroupId, GroupId>> CreateGroup(const GroupSpec& spec_a);

  // Delivers the oldest queued message; false when none is queued.
  Result<bool> DeliverOne();
  // Delivers until the queue is empty (messages sent while delivering included).
  Status DeliverAll();
  std::size_t pending() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The peer's view of a spec: local and peer swapped, UDP ports swapped.
ChildSaSpec MirrorSpec(const ChildSaSpec& spec);

}  // namespace espo::sdk
