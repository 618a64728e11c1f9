// SPDX-License-Identifier: Apache-2.0
//
// The table-pressure simulation behind `ikectl simulate` (docs/SIMULATE.md).
//
// Structure of one run (one policy, one scenario):
//   - two gateways A and B; each has `shards` engines (a CountingDevice + driver::Engine + the real
//     sdk::SaManager, LifetimePolicy and RekeyScheduler), because one engine holds at most 32768
//     slots per direction (CAP_SLOTS fields are 16 bits); selector s lives on shard s % shards;
//   - an IKE wire (Wire): CREATE_CHILD_SA requests / responses / failures and Deletes between the
//     schedulers, delivered rtt/2 after they are sent, with keys drawn from the run's RNG;
//   - flows: selector s has a flow A->B and B->A with a fixed packet rate; a flow feeds the
//     sender's current outbound SA and the receiver's inbound SA with that SPI. Traffic is applied
//     lazily: a flow is "settled" (its packets since the last settle go into both slots with
//     CountingDevice::AddTraffic) when a limit is due (a heap of crossing times), when its mapping
//     changes (SaManager callback) and before any COMMIT touches one of its slots (device hook);
//   - the event loop advances the FakeClock to the next thing to do (flow crossing, IKE message,
//     scheduler deadline, timer, scenario event), rounded up to the quantum, and polls the
//     schedulers of the shards that have something to do.
#include "espo/ikectl/simulate.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <deque>
#include <iomanip>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <sstream>
#include <thread>
#include <utility>

#include "espo/driver/counting_device.hpp"
#include "espo/driver/engine.hpp"
#include "espo/driver/key_material.hpp"
#include "espo/sdk/clock.hpp"
#include "espo/sdk/flat_map.hpp"
#include "espo/sdk/lifetime_policy.hpp"
#include "espo/sdk/random.hpp"
#include "espo/sdk/rekey_scheduler.hpp"
#include "espo/sdk/sa_manager.hpp"

namespace espo::ikectl {

std::string_view ToString(SimScenario s) {
  switch (s) {
    case SimScenario::kSteady:
      return "steady";
    case SimScenario::kColdStart:
      return "cold-start";
    case SimScenario::kPeerReboot:
      return "peer-reboot";
    case SimScenario::kBurst:
      return "burst";
  }
  return "?";
}

std::string_view ToString(SimPolicy p) {
  switch (p) {
    case SimPolicy::kNone:
      return "none";
    case SimPolicy::kStrongswan:
      return "strongswan";
    case SimPolicy::kLibreswan:
      return "libreswan";
    case SimPolicy::kCountBased:
      return "count-based";
    case SimPolicy::kController:
      return "controller";
  }
  return "?";
}

Result<std::vector<SimScenario>> ParseScenarios(std::string_view text) {
  const std::vector<SimScenario> all{SimScenario::kSteady, SimScenario::kColdStart,
                                     SimScenario::kPeerReboot, SimScenario::kBurst};
  if (text == "all") return all;
  for (SimScenario s : all) {
    if (ToString(s) == text) return std::vector<SimScenario>{s};
  }
  return MakeError(Errc::kInvalidArgument,
                   "--scenario: expected steady, cold-start, peer-reboot, burst or all, got '" +
                       std::string(text) + "'");
}

Result<std::vector<SimPolicy>> ParsePolicies(std::string_view text) {
  const std::vector<SimPolicy> all{SimPolicy::kNone, SimPolicy::kStrongswan, SimPolicy::kLibreswan,
                                   SimPolicy::kCountBased, SimPolicy::kController};
  if (text == "all") return all;
  for (SimPolicy p : all) {
    if (ToString(p) == text) return std::vector<SimPolicy>{p};
  }
  return MakeError(Errc::kInvalidArgument,
                   "--policy: expected none, strongswan, libreswan, count-based, controller or "
                   "all, got '" +
                       std::string(text) + "'");
}

namespace {

using driver::Direction;
using sdk::Duration;
using sdk::SaId;
using sdk::SaState;
using sdk::TimePoint;

constexpr std::uint32_t kNoFlow = 0xFFFFFFFFU;
constexpr int kA = 0;
constexpr int kB = 1;

Duration Seconds(double s) { return Duration(static_cast<std::int64_t>(std::llround(s * 1e9))); }
double ToSeconds(Duration d) { return static_cast<double>(d.count()) * 1e-9; }

std::uint64_t Mix(std::uint64_t x) {  // splitmix64: per-run seeds from (seed, policy, scenario)
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27U)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31U);
}

double Normal(sdk::Rng& rng) {  // Box-Muller (deterministic across standard libraries)
  const double u1 = std::max(rng.UniformReal(), 1e-300);
  const double u2 = rng.UniformReal();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
}

class Sim;

// The IKE side of one shard of one gateway: forwards to the simulation's wire.
class Handler final : public sdk::RekeyHandler {
 public:
  Handler(Sim& sim, int side, std::uint32_t shard) : sim_(sim), side_(side), shard_(shard) {}
  void StartRekey(const sdk::RekeyRequest& request) override;
  void SendDelete(SaId sa, std::uint32_t inbound_spi) override;

 private:
  Sim& sim_;
  int side_;
  std::uint32_t shard_;
};

// The live SAs of one selector at one end: two fit inline (an SA and its replacement), more
// (duplicates) spill to the heap.
class LiveIds {
 public:
  std::size_t size() const { return n_ <= kInline ? n_ : more_.size(); }
  void push_back(SaId id) {
    if (n_ < kInline) {
      inline_[n_++] = id;
      return;
    }
    if (n_ == kInline) more_.assign(inline_.begin(), inline_.end());
    more_.push_back(id);
    ++n_;
  }
  void erase(SaId id) {
    if (n_ > kInline) {
      more_.erase(std::remove(more_.begin(), more_.end(), id), more_.end());
      n_ = static_cast<std::uint32_t>(more_.size());
      if (n_ <= kInline) {
        std::copy(more_.begin(), more_.end(), inline_.begin());
        more_.clear();
      }
      return;
    }
    auto end = std::remove(inline_.begin(), inline_.begin() + n_, id);
    n_ = static_cast<std::uint32_t>(end - inline_.begin());
  }
  std::vector<SaId> ids() const {
    if (n_ > kInline) return more_;
    return {inline_.begin(), inline_.begin() + n_};
  }

 private:
  static constexpr std::uint32_t kInline = 2;
  std::array<SaId, kInline> inline_{};
  std::uint32_t n_ = 0;
  std::vector<SaId> more_;
};

struct Shard {
  driver::CountingDevice* dev = nullptr;  // owned by engine
  std::unique_ptr<driver::Engine> engine;
  std::unique_ptr<sdk::SaManager> mgr;
  std::optional<sdk::LifetimePolicy> policy;
  std::unique_ptr<Handler> handler;
  std::unique_ptr<sdk::RekeyScheduler> sched;
  std::vector<std::uint32_t> out_flow;  // slot -> flow feeding it
  std::vector<std::uint32_t> in_flow;
  bool need_poll = false;
  // sched->NextDeadline() as of its last Poll or the last step's end. Only a Poll, or what
  // the event loop does before polling (which sets need_poll whenever it could make something
  // due now), changes it, so the loop need not ask the scheduler again in between.
  std::optional<TimePoint> next;
  sdk::detail::FlatSet<SaId> started;   // old SAs with a StartRekey since they entered rekeying
  sdk::detail::FlatSet<SaId> peer_req;  // old SAs the peer asked to rekey
  std::vector<SaId> entered;            // SAs that entered rekeying (checked after Poll)
  std::vector<LiveIds> live;            // local selector index -> live (active / rekeying) SAs
  std::uint64_t rekeys_base = 0;        // stats of schedulers replaced by a reboot
  std::uint64_t collisions_base = 0;
};

struct Flow {
  std::uint32_t sel = 0;
  int sender = kA;
  double rate = 0.0;  // packets per second before the burst factor
  double acc = 0.0;   // fractional packets carried over
  TimePoint last;
  std::uint8_t out_place = 0;  // 0 none, 1 hardware, 2 software
  std::uint8_t in_place = 0;
  std::uint32_t out_slot = 0;
  std::uint32_t in_slot = 0;
  bool served = false;
  bool hw = false;
  bool dirty = false;
};

struct Selector {
  bool started = false;   // created (or refused) at least once
  bool outage = false;    // planned outage (peer reboot): not counted as lost
  bool incident = false;  // currently unserved and counted
  bool recovery_armed = false;
  bool dup_open = false;                 // duplicate incident counted
  std::uint8_t hw_flows = 0;             // flows served in hardware at both ends
  std::array<TimePoint, 2> dup_since{};  // per side: when it last got >= 2 live SAs
};

enum class MsgType : std::uint8_t { kRequest, kResponse, kFailure, kDelete };
struct Msg {
  TimePoint at;
  MsgType type = MsgType::kRequest;
  int to = kB;
  std::uint32_t shard = 0;
  std::uint32_t rekey_spi = 0;
  std::uint32_t spi = 0;
  SaId initiator_new = sdk::kNoSa;
  SaId initiator_old = sdk::kNoSa;
  bool exhausted = false;  // failure: the responder found no slot
  std::uint64_t ni = 0;
  std::uint64_t nr = 0;
  std::uint64_t epoch = 0;  // messages from before a reboot are dropped
};

enum class TimerKind : std::uint8_t { kRetry, kRecover, kCreate };
struct Timer {
  TimePoint at;
  std::uint64_t order = 0;
  TimerKind kind = TimerKind::kRetry;
  int side = kA;
  std::uint32_t shard = 0;
  std::uint64_t a = 0;  // SA id or selector
  bool operator>(const Timer& o) const { return at != o.at ? at > o.at : order > o.order; }
};

// The flows' next traffic-limit crossings: one pending crossing per flow in an indexed binary
// heap ordered by (time, flow). A remap replaces the flow's entry in place, so the heap holds at
// most one entry per flow however often flows remap, and a replaced crossing never wakes the
// event loop.
class CrossingQueue {
 public:
  void Init(std::size_t flows) {
    pos_.assign(flows, kAbsent);
    heap_.clear();
    heap_.reserve(flows);
  }
  // Replaces the flow's pending crossing (if any) by one at `at`, or by none when `at` is empty.
  void Set(std::uint32_t flow, std::optional<TimePoint> at) {
    const std::uint32_t i = pos_[flow];
    if (i != kAbsent) {
      if (at) {
        const TimePoint old = heap_[i].at;
        heap_[i].at = *at;
        if (*at < old) {
          SiftUp(i);
        } else {
          SiftDown(i);
        }
        return;
      }
      RemoveAt(i);
      return;
    }
    if (!at) return;
    heap_.push_back(Entry{*at, flow});
    pos_[flow] = static_cast<std::uint32_t>(heap_.size() - 1);
    SiftUp(static_cast<std::uint32_t>(heap_.size() - 1));
  }
  // The earliest pending crossing at or before `now` (removed), in (time, flow) order.
  std::optional<std::uint32_t> PopDue(TimePoint now) {
    if (heap_.empty() || heap_[0].at > now) return std::nullopt;
    const std::uint32_t flow = heap_[0].flow;
    RemoveAt(0);
    return flow;
  }
  // The earliest pending crossing.
  std::optional<TimePoint> Next() const {
    if (heap_.empty()) return std::nullopt;
    return heap_[0].at;
  }

 private:
  static constexpr std::uint32_t kAbsent = 0xFFFFFFFFU;
  struct Entry {
    TimePoint at;
    std::uint32_t flow = 0;
  };
  static bool Less(const Entry& a, const Entry& b) {
    return a.at != b.at ? a.at < b.at : a.flow < b.flow;
  }
  void Place(std::uint32_t i, const Entry& e) {
    heap_[i] = e;
    pos_[e.flow] = i;
  }
  void SiftUp(std::uint32_t i) {
    const Entry e = heap_[i];
    while (i > 0) {
      const std::uint32_t parent = (i - 1) / 2;
      if (!Less(e, heap_[parent])) break;
      Place(i, heap_[parent]);
      i = parent;
    }
    Place(i, e);
  }
  void SiftDown(std::uint32_t i) {
    const Entry e = heap_[i];
    const auto n = static_cast<std::uint32_t>(heap_.size());
    for (;;) {
      std::uint32_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && Less(heap_[child + 1], heap_[child])) ++child;
      if (!Less(heap_[child], e)) break;
      Place(i, heap_[child]);
      i = child;
    }
    Place(i, e);
  }
  void RemoveAt(std::uint32_t i) {
    pos_[heap_[i].flow] = kAbsent;
    const Entry last = heap_.back();
    heap_.pop_back();
    if (i == heap_.size()) return;
    const Entry removed_at = heap_[i];
    heap_[i] = last;
    pos_[last.flow] = i;
    if (Less(last, removed_at)) {
      SiftUp(i);
    } else {
      SiftDown(i);
    }
  }

  std::vector<Entry> heap_;
  std::vector<std::uint32_t> pos_;  // flow -> heap index
};

std::vector<std::uint8_t> NonceBytes(std::uint64_t v) {
  std::vector<std::uint8_t> n(8);
  for (int i = 7; i >= 0; --i, v >>= 8U)
    n[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
  return n;
}

class Sim {
 public:
  Sim(const SimParams& p, SimPolicy policy, SimScenario scenario)
      : p_(p),
        policy_(policy),
        scenario_(scenario),
        rng_(Mix(p.seed ^ Mix((static_cast<std::uint64_t>(policy) << 8U) |
                              static_cast<std::uint64_t>(scenario)))),
        traffic_rng_(Mix(p.seed + 0x5151)) {}

  Result<SimResult> Run(const std::function<void(double)>& progress);

  // ---- called by handlers ----
  void OnStartRekey(int side, std::uint32_t shard, const sdk::RekeyRequest& req) {
    Shard& sh = shards_[side][shard];
    sh.started.insert(req.old_sa);
    Msg m;
    m.type = MsgType::kRequest;
    m.to = 1 - side;
    m.shard = shard;
    m.rekey_spi = req.rekey_spi;
    m.spi = req.new_inbound_spi;
    m.initiator_new = req.new_sa;
    m.initiator_old = req.old_sa;
    m.ni = rng_.NextU64();
    Send(std::move(m));
  }
  void OnSendDelete(int side, std::uint32_t shard, std::uint32_t spi) {
    Msg m;
    m.type = MsgType::kDelete;
    m.to = 1 - side;
    m.shard = shard;
    m.spi = spi;
    Send(std::move(m));
  }

 private:
  // ---- setup ----
  Status Setup();
  Status BuildShard(int side, std::uint32_t k);
  sdk::LifetimePolicyConfig PolicyConfig() const;
  // D of SPEC 9.4: from the initiator's allocation to the responder's old inbound leaving
  // (request, response, Delete, drain), plus the event-time grid.
  double Overlap() const { return 2.0 * p_.rtt_s + p_.drain_s + 2.0 * p_.quantum_s; }
  std::uint32_t ShardOf(std::uint32_t sel) const { return sel % nshards_; }
  std::uint32_t LocalOf(std::uint32_t sel) const { return sel / nshards_; }

  // ---- IKE ----
  void Send(Msg m) {
    m.at = now_ + Seconds(p_.rtt_s / 2.0);
    m.epoch = epoch_;
    wire_.push_back(std::move(m));
  }
  void Deliver(Msg& m);
  sdk::ChildKeys Keys() {
    sdk::ChildKeys k;
    std::array<std::uint8_t, 20> raw{};
    for (auto* km : {&k.inbound, &k.outbound}) {
      for (std::size_t i = 0; i < raw.size(); i += 8) {
        std::uint64_t w = rng_.NextU64();
        for (std::size_t j = i; j < std::min(raw.size(), i + 8); ++j, w >>= 8U) {
          raw[j] = static_cast<std::uint8_t>(w);
        }
      }
      auto key = driver::KeyMaterial::FromBytes(raw);
      if (key) *km = std::move(*key);
    }
    return k;
  }
  void Backoff(int side, std::uint32_t shard, SaId old_sa);
  void CheckStarted(int side, std::uint32_t shard);
  void Note(const Status& st) {
    if (!st && st.error().code != Errc::kNotFound) ++sdk_errors_;
  }

  // ---- selectors ----
  void CreatePair(std::uint32_t sel);
  void Teardown(std::uint32_t sel);
  void OnSaEvent(int side, std::uint32_t shard, const sdk::SaEvent& e);
  void CloseDuplicate(std::uint32_t sel, int side, TimePoint at);
  void CloseDuplicates(int side, TimePoint at);
  void MarkSelectorDirty(std::uint32_t sel) {
    MarkDirty(2 * sel);
    MarkDirty(2 * sel + 1);
  }
  void MarkDirty(std::uint32_t f) {
    if (!flows_[f].dirty) {
      flows_[f].dirty = true;
      dirty_.push_back(f);
    }
  }
  void UpdateSelector(std::uint32_t sel);

  // ---- traffic ----
  void Settle(std::uint32_t f);
  void Remap(std::uint32_t f);
  void OnCommit(int side, std::uint32_t shard, Direction dir, std::uint32_t slot) {
    Shard& sh = shards_[side][shard];
    const std::uint32_t f = dir == Direction::kOut ? sh.out_flow[slot] : sh.in_flow[slot];
    if (f == kNoFlow) return;
    Settle(f);
    MarkDirty(f);
  }
  void SetRateFactor(double factor);
  void Reboot();

  // ---- metrics ----
  void Measure(TimePoint t);
  void PushTimer(TimerKind kind, TimePoint at, int side, std::uint32_t shard, std::uint64_t a) {
    timers_.push(Timer{at, timer_order_++, kind, side, shard, a});
  }

  const SimParams& p_;
  SimPolicy policy_;
  SimScenario scenario_;
  sdk::SeededRng rng_;
  sdk::SeededRng traffic_rng_;  // same traffic for every policy of a seed
  sdk::FakeClock clock_;
  TimePoint now_;
  TimePoint end_;
  std::uint32_t nshards_ = 1;
  std::uint32_t headroom_ = 0;
  std::vector<std::uint32_t> shard_slots_;
  std::vector<std::uint32_t> shard_sas_;
  std::array<std::vector<Shard>, 2> shards_;
  std::unique_ptr<sdk::SeededRng> policy_rng_[2];
  std::vector<Flow> flows_;
  std::vector<Selector> sels_;
  std::vector<std::uint32_t> dirty_;
  std::deque<Msg> wire_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::uint64_t timer_order_ = 0;
  CrossingQueue crossings_;
  std::vector<std::pair<TimePoint, std::uint32_t>> creations_;  // sorted
  std::size_t next_creation_ = 0;
  double rate_factor_ = 1.0;
  std::uint64_t epoch_ = 0;
  bool in_request_ = false;  // delivering a rekey request (responder SetRekeying)
  int req_side_ = kA;
  bool fallback_ = false;

  // metrics
  std::uint64_t exhaustion_ = 0;
  std::uint64_t lost_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t software_packets_ = 0;
  std::uint64_t sdk_errors_ = 0;
  std::uint64_t useful_ = 0;  // selectors with both flows in hardware
  TimePoint measure_from_;
  TimePoint last_measure_;
  double occ_now_ = 0.0;
  double util_now_ = 0.0;
  double occ_integral_ = 0.0;
  double util_integral_ = 0.0;
  double peak_ = 0.0;
  std::uint64_t steps_ = 0;
  std::vector<SimSample> series_;
  double bucket_s_ = 1.0;
  double bucket_max_ = 0.0;
  std::size_t bucket_index_ = 0;
};

void Handler::StartRekey(const sdk::RekeyRequest& request) {
  sim_.OnStartRekey(side_, shard_, request);
}
void Handler::SendDelete(SaId /*sa*/, std::uint32_t inbound_spi) {
  sim_.OnSendDelete(side_, shard_, inbound_spi);
}

sdk::LifetimePolicyConfig Sim::PolicyConfig() const {
  const Duration life = Seconds(p_.lifetime_hours * 3600.0);
  // Packet lifetime L: an SA at the mean rate of the (uncapped) log-normal reaches L at T.
  const double mean_rate = p_.rate_median_pps * std::exp(p_.rate_sigma * p_.rate_sigma / 2.0);
  const auto hard_packets = std::max<std::uint64_t>(
      1000, static_cast<std::uint64_t>(mean_rate * p_.lifetime_hours * 3600.0));
  sdk::LifetimePolicyConfig c;
  switch (policy_) {
    case SimPolicy::kNone:
      c.kind = sdk::LifetimePolicyKind::kNone;
      c.none.soft_fraction = 0.80;
      c.none.hard_packets = hard_packets;
      c.none.hard_time = life;
      break;
    case SimPolicy::kStrongswan:
      c.kind = sdk::LifetimePolicyKind::kStrongswan;
      c.strongswan.life_time = life;  // rekey = life / 1.1, rand = life - rekey (SPEC 9.1)
      c.strongswan.life_packets = hard_packets;
      break;
    case SimPolicy::kLibreswan:
      c.kind = sdk::LifetimePolicyKind::kLibreswan;
      c.libreswan.ipsec_lifetime = life;
      c.libreswan.ipsec_max_packets = hard_packets;
      c.libreswan.ipsec_max_bytes = 0;
      break;
    case SimPolicy::kCountBased:
    case SimPolicy::kController:
      c.kind = sdk::LifetimePolicyKind::kCountBased;
      c.count_based.x_i = 0.80;
      c.count_based.x_r = 0.90;
      c.count_based.hard_packets = hard_packets;
      c.count_based.hard_time = life;
      break;
  }
  return c;
}

Status Sim::BuildShard(int side, std::uint32_t k) {
  Shard& sh = shards_[side][k];
  const std::uint32_t s = shard_slots_[k];
  std::uint32_t dev_slots = 2;
  while (dev_slots < s) dev_slots *= 2;
  ESPO_ASSIGN_OR_RETURN(auto dev, driver::CountingDevice::Create({dev_slots, 65535, 1024}));
  sh.dev = dev.get();
  ESPO_ASSIGN_OR_RETURN(sh.engine, driver::Engine::Open(std::move(dev)));
  sdk::SaManagerOptions mo;
  mo.drain_interval = Seconds(p_.drain_s);
  mo.max_in_slots = s;
  mo.max_out_slots = s;
  mo.headroom_in = headroom_;
  mo.headroom_out = headroom_;
  mo.software_fallback = fallback_;
  mo.migrate_to_hardware = fallback_;
  ESPO_ASSIGN_OR_RETURN(sh.mgr, sdk::SaManager::Create(*sh.engine, clock_, rng_, mo));
  ESPO_ASSIGN_OR_RETURN(sdk::LifetimePolicy pol,
                        sdk::LifetimePolicy::Create(PolicyConfig(), clock_, *policy_rng_[side]));
  sh.policy.emplace(std::move(pol));
  sh.handler = std::make_unique<Handler>(*this, side, k);
  sdk::RekeyOptions ro;
  const bool count = policy_ == SimPolicy::kCountBased || policy_ == SimPolicy::kController;
  // Count Based SA Extension: A proposed the larger rekey value (the draw is symmetric).
  ro.designation = !count       ? sdk::RekeyDesignation::kTie
                   : side == kA ? sdk::RekeyDesignation::kRekeyer
                                : sdk::RekeyDesignation::kOther;
  if (policy_ == SimPolicy::kController) {
    // SPEC 9.4 pacing: a started rekey holds an extra slot for about D, so at most H / D starts
    // per second (token bucket of burst 1: at most 1 + r * D starts in any window D).
    ro.max_concurrent = std::max<std::uint32_t>(1, headroom_);
    ro.rate_per_second = std::max(0.5, (static_cast<double>(headroom_) - 1.0) / Overlap());
    ro.burst = 1.0;
  } else {
    ro.max_concurrent = 0;  // daemons without a controller start every due rekey
  }
  ESPO_ASSIGN_OR_RETURN(sh.sched,
                        sdk::RekeyScheduler::Create(*sh.mgr, *sh.policy, *sh.handler, ro));
  sh.out_flow.assign(dev_slots, kNoFlow);
  sh.in_flow.assign(dev_slots, kNoFlow);
  sh.live.assign(shard_sas_[k], {});
  sh.started.clear();
  sh.peer_req.clear();
  sh.entered.clear();
  sh.mgr->SetEventCallback([this, side, k](const sdk::SaEvent& e) { OnSaEvent(side, k, e); });
  sh.dev->SetCommitHook(
      [this, side, k](Direction dir, std::uint32_t slot) { OnCommit(side, k, dir, slot); });
  return Ok();
}

Status Sim::Setup() {
  if (p_.sas == 0 || p_.slots == 0) {
    return MakeError(Errc::kInvalidArgument, "simulate: --sas and --slots must be > 0");
  }
  nshards_ = (p_.slots + p_.max_device_slots - 1) / p_.max_device_slots;
  nshards_ = std::min(nshards_, p_.sas);
  shard_slots_.assign(nshards_, p_.slots / nshards_);
  shard_sas_.assign(nshards_, p_.sas / nshards_);
  for (std::uint32_t k = 0; k < p_.slots % nshards_; ++k) ++shard_slots_[k];
  for (std::uint32_t k = 0; k < p_.sas % nshards_; ++k) ++shard_sas_[k];
  fallback_ = policy_ == SimPolicy::kController;
  if (policy_ == SimPolicy::kController) {
    // SPEC 9.4: D = overlap, W = the count-based fuzz window (5 % of T), B = the rekeyer's slack
    // before the other peer's window starts ((x_r - x_i - 0.05) T = 5 % of T).
    const double t = p_.lifetime_hours * 3600.0;
    const double d = Overlap();
    const std::uint32_t want = sdk::RecommendedHeadroom(shard_sas_[0], d, 0.05 * t, 0.05 * t);
    const std::uint32_t spare =
        shard_slots_[0] > shard_sas_[0] ? shard_slots_[0] - shard_sas_[0] : 0;
    headroom_ = std::min(want, spare);
  }
  policy_rng_[0] = std::make_unique<sdk::SeededRng>(rng_.NextU64());
  policy_rng_[1] = std::make_unique<sdk::SeededRng>(rng_.NextU64());
  for (int side : {kA, kB}) {
    shards_[side].resize(nshards_);
    for (std::uint32_t k = 0; k < nshards_; ++k) ESPO_RETURN_IF_ERROR(BuildShard(side, k));
  }
  // Traffic (same for every policy of a seed): A->B log-normal, B->A = A->B * U(0.5, 2).
  flows_.resize(2 * static_cast<std::size_t>(p_.sas));
  crossings_.Init(flows_.size());
  sels_.assign(p_.sas, {});
  const double cap = p_.rate_median_pps * p_.rate_cap;
  for (std::uint32_t s = 0; s < p_.sas; ++s) {
    const double ab =
        std::min(cap, p_.rate_median_pps * std::exp(p_.rate_sigma * Normal(traffic_rng_)));
    const double ba = std::min(cap, ab * traffic_rng_.UniformReal(0.5, 2.0));
    Flow ab_flow;
    ab_flow.sel = s;
    ab_flow.sender = kA;
    ab_flow.rate = ab;
    Flow ba_flow = ab_flow;
    ba_flow.sender = kB;
    ba_flow.rate = ba;
    flows_[2 * s] = ab_flow;
    flows_[2 * s + 1] = ba_flow;
  }
  // Creation times.
  const double ramp = scenario_ == SimScenario::kColdStart ? 0.0 : 0.8 * p_.lifetime_hours * 3600.0;
  creations_.reserve(p_.sas);
  for (std::uint32_t s = 0; s < p_.sas; ++s) {
    const double at = ramp * traffic_rng_.UniformReal();
    creations_.emplace_back(TimePoint{} + Seconds(at), s);
  }
  std::sort(creations_.begin(), creations_.end());
  measure_from_ = TimePoint{} + Seconds(std::min(ramp, p_.hours * 3600.0));
  end_ = TimePoint{} + Seconds(p_.hours * 3600.0);
  bucket_s_ = std::max(p_.hours * 3600.0 / std::max<std::uint32_t>(1, p_.plot_points), 1e-3);
  return Ok();
}

// ---- selectors ----

void Sim::CreatePair(std::uint32_t sel) {
  const std::uint32_t k = ShardOf(sel);
  Shard& a = shards_[kA][k];
  Shard& b = shards_[kB][k];
  Selector& S = sels_[sel];
  S.started = true;
  S.outage = false;
  sdk::ChildSaSpec spec;
  spec.selector = sel;
  spec.local.bytes = {10, 0, 0, 1};
  spec.peer.bytes = {10, 0, 0, 2};
  spec.replay_window = 64;
  auto refused = [&](const Error& e) {
    if (e.code == Errc::kExhausted) {
      ++exhaustion_;
    } else {
      ++sdk_errors_;
    }
    MarkSelectorDirty(sel);
    if (!S.incident) {  // a refused install: the selector has no SA
      S.incident = true;
      ++lost_;
    }
    if (!S.recovery_armed) {
      S.recovery_armed = true;
      PushTimer(TimerKind::kRecover, now_ + Seconds(p_.recover_s), kA, k, sel);
    }
  };
  auto id_a = a.sched->BeginChildSa(spec);
  if (!id_a) return refused(id_a.error());
  auto id_b = b.sched->BeginChildSa(sdk::MirrorSpec(spec));
  if (!id_b) {
    (void)a.mgr->Remove(*id_a);
    return refused(id_b.error());
  }
  const std::uint32_t spi_a = a.mgr->Info(*id_a).value_or(sdk::SaInfo{}).inbound_spi;
  const std::uint32_t spi_b = b.mgr->Info(*id_b).value_or(sdk::SaInfo{}).inbound_spi;
  sdk::ChildKeys ka = Keys();
  sdk::ChildKeys kb;
  kb.inbound = ka.outbound.Clone();
  kb.outbound = ka.inbound.Clone();
  if (auto st =
          b.sched->CompleteChildSa(*id_b, spi_a, std::move(kb), sdk::ExchangeRole::kResponder);
      !st) {
    if (a.mgr->StateOf(*id_a) != SaState::kGone) (void)a.mgr->Remove(*id_a);
    return refused(st.error());
  }
  if (auto st =
          a.sched->CompleteChildSa(*id_a, spi_b, std::move(ka), sdk::ExchangeRole::kInitiator);
      !st) {
    if (b.mgr->StateOf(*id_b) != SaState::kGone) (void)b.mgr->Remove(*id_b);
    return refused(st.error());
  }
  MarkSelectorDirty(sel);
}

void Sim::Teardown(std::uint32_t sel) {
  const std::uint32_t k = ShardOf(sel);
  for (int side : {kA, kB}) {
    Shard& sh = shards_[side][k];
    const std::vector<SaId> ids = sh.live[LocalOf(sel)].ids();
    for (SaId id : ids) Note(sh.sched->DeleteChildSa(id));
  }
  MarkSelectorDirty(sel);
}

void Sim::OnSaEvent(int side, std::uint32_t shard, const sdk::SaEvent& e) {
  const auto sel = static_cast<std::uint32_t>(e.selector);
  if (sel >= p_.sas) return;
  Shard& sh = shards_[side][shard];
  // The flows this end's change can remap: the one it sends (its current outbound SA and that
  // SA's placement) and the one it receives (the inbound SA the peer's current SA points at).
  const std::uint32_t sends = 2 * sel + (side == kA ? 0 : 1);
  const std::uint32_t receives = 2 * sel + (side == kA ? 1 : 0);
  if (e.kind == sdk::SaEventKind::kFallback || e.kind == sdk::SaEventKind::kMigrated) {
    MarkDirty(e.dir == Direction::kOut ? sends : receives);
    if (e.kind == sdk::SaEventKind::kFallback) {
      ++exhaustion_;  // an install that found no slot (placed on SoftwareEsp)
    }
    return;
  }
  if (e.kind != sdk::SaEventKind::kStateChange) return;
  if (e.to == SaState::kGone) {
    MarkDirty(sends);
    MarkDirty(receives);
  } else if (e.to == SaState::kActive ? e.from == SaState::kLarval : e.to == SaState::kDraining) {
    MarkDirty(sends);  // a new current outbound SA, or the outbound side removed
  }
  // active <-> rekeying changes no mapping.
  LiveIds& live = sh.live[LocalOf(sel)];
  const bool was_live = e.from == SaState::kActive || e.from == SaState::kRekeying;
  const bool is_live = e.to == SaState::kActive || e.to == SaState::kRekeying;
  if (!was_live && is_live) {
    live.push_back(e.sa);
    if (live.size() == 2) sels_[sel].dup_since[side] = now_;
  } else if (was_live && !is_live) {
    if (live.size() == 2) CloseDuplicate(sel, side, now_);
    live.erase(e.sa);
    if (live.size() < 2 && shards_[1 - side][shard].live[LocalOf(sel)].size() < 2) {
      sels_[sel].dup_open = false;
    }
  }
  if (e.to == SaState::kRekeying && e.from == SaState::kActive) {
    if (in_request_ && side == req_side_) {
      sh.peer_req.insert(e.sa);
    } else {
      sh.entered.push_back(e.sa);
      sh.started.erase(e.sa);
    }
  }
  if (e.to == SaState::kGone || e.to == SaState::kDraining) {
    sh.started.erase(e.sa);
    sh.peer_req.erase(e.sa);
  }
}

// A selector that had two or more live SAs at one end since `dup_since` and is about to have
// fewer (or the run or that end ends): a duplicate if that lasted past the drain interval plus
// the exchanges' round trips (a make-before-break overlap is shorter), counted once per incident
// across both ends.
void Sim::CloseDuplicate(std::uint32_t sel, int side, TimePoint at) {
  Selector& S = sels_[sel];
  if (S.dup_open) return;
  if (at - S.dup_since[side] >= Seconds(p_.drain_s + 2 * p_.rtt_s + 1.0)) {
    S.dup_open = true;
    ++duplicates_;
  }
}

void Sim::CloseDuplicates(int side, TimePoint at) {
  for (std::uint32_t sel = 0; sel < p_.sas; ++sel) {
    if (shards_[side][ShardOf(sel)].live[LocalOf(sel)].size() >= 2) CloseDuplicate(sel, side, at);
  }
}

void Sim::Backoff(int side, std::uint32_t shard, SaId old_sa) {
  Shard& sh = shards_[side][shard];
  if (sh.mgr->StateOf(old_sa) == SaState::kRekeying) (void)sh.mgr->SetRekeying(old_sa, false);
  if (sh.mgr->StateOf(old_sa) != SaState::kActive) return;
  PushTimer(TimerKind::kRetry, now_ + Seconds(p_.retry_s + 10.0 * rng_.UniformReal()), side, shard,
            old_sa);
}

// After a Poll without a rate limit, every SA that entered rekeying has started an exchange,
// unless the peer is replacing it or the initiator's Allocate found no slot (the scheduler then
// leaves it in rekeying): that is an exhaustion event; a daemon retries later.
void Sim::CheckStarted(int side, std::uint32_t shard) {
  Shard& sh = shards_[side][shard];
  if (sh.entered.empty()) return;
  if (fallback_) {  // Allocate never fails with the software fallback: queued SAs are paced
    sh.entered.clear();
    return;
  }
  std::vector<SaId> entered;
  entered.swap(sh.entered);
  for (SaId id : entered) {
    if (sh.started.count(id) != 0 || sh.peer_req.count(id) != 0) continue;
    if (sh.mgr->StateOf(id) != SaState::kRekeying) continue;
    ++exhaustion_;
    Backoff(side, shard, id);
  }
}

void Sim::Deliver(Msg& m) {
  if (m.epoch != epoch_) return;  // sent before a reboot
  Shard& to = shards_[m.to][m.shard];
  switch (m.type) {
    case MsgType::kRequest: {
      sdk::ExchangeNonces nonces{NonceBytes(m.ni), NonceBytes(rng_.NextU64())};
      sdk::ChildKeys keys = Keys();
      in_request_ = true;
      req_side_ = m.to;
      const SaId old = to.mgr->FindByOutboundSpi(m.rekey_spi);
      if (old != sdk::kNoSa) to.peer_req.insert(old);
      auto spi = to.sched->OnRekeyRequest(m.rekey_spi, m.spi, nonces, std::move(keys));
      in_request_ = false;
      Msg reply;
      reply.to = 1 - m.to;
      reply.shard = m.shard;
      reply.initiator_new = m.initiator_new;
      reply.initiator_old = m.initiator_old;
      reply.ni = m.ni;
      for (std::uint8_t b : nonces.nr) reply.nr = (reply.nr << 8U) | b;
      if (spi) {
        reply.type = MsgType::kResponse;
        reply.spi = *spi;
      } else {
        reply.type = MsgType::kFailure;
        reply.exhausted = spi.error().code == Errc::kExhausted;
        if (reply.exhausted) {
          ++exhaustion_;
        } else if (spi.error().code != Errc::kNotFound && spi.error().code != Errc::kExists) {
          ++sdk_errors_;
        }
      }
      Send(std::move(reply));
      return;
    }
    case MsgType::kResponse: {
      sdk::ExchangeNonces nonces{NonceBytes(m.ni), NonceBytes(m.nr)};
      // Keys of the initiator's view (values do not matter to a counting device).
      sdk::ChildKeys keys = Keys();
      auto st = to.sched->OnRekeyResponse(m.initiator_new, m.spi, nonces, std::move(keys));
      if (!st) {
        if (st.error().code == Errc::kExhausted) {
          ++exhaustion_;
          Backoff(m.to, m.shard, m.initiator_old);
        } else {
          Note(st);
        }
      }
      return;
    }
    case MsgType::kFailure: {
      Note(to.sched->OnRekeyFailed(m.initiator_new));
      if (m.exhausted) Backoff(m.to, m.shard, m.initiator_old);
      return;
    }
    case MsgType::kDelete: {
      auto st = to.sched->OnDelete(m.spi);
      if (!st) {
        if (st.error().code == Errc::kExhausted) {
          ++exhaustion_;
        } else {
          Note(st);
        }
      }
      return;
    }
  }
}

// ---- traffic ----

void Sim::Settle(std::uint32_t f) {
  Flow& fl = flows_[f];
  const double dt = ToSeconds(now_ - fl.last);
  fl.last = now_;
  if (dt <= 0.0) return;
  if (!fl.served) {
    fl.acc = 0.0;
    return;
  }
  const double x = fl.acc + fl.rate * rate_factor_ * dt;
  const double n_d = std::floor(x);
  fl.acc = x - n_d;
  const auto n = static_cast<std::uint64_t>(n_d);
  if (n == 0) return;
  const std::uint32_t k = ShardOf(fl.sel);
  Shard& snd = shards_[fl.sender][k];
  Shard& rcv = shards_[1 - fl.sender][k];
  std::uint64_t a = n;
  bool software = false;
  if (fl.out_place == 1) {
    a = snd.dev->AddTraffic(Direction::kOut, fl.out_slot, n, p_.packet_bytes);
    if (snd.dev->pending_events() != 0) snd.need_poll = true;
  } else {
    software = true;
  }
  std::uint64_t b = a;
  if (fl.in_place == 1) {
    b = rcv.dev->AddTraffic(Direction::kIn, fl.in_slot, a, p_.packet_bytes);
    if (rcv.dev->pending_events() != 0) rcv.need_poll = true;
  } else {
    software = true;
  }
  if (software) software_packets_ += a;
  if (a < n || b < a) MarkDirty(f);  // a slot refused traffic (hard expiry)
}

void Sim::Remap(std::uint32_t f) {
  Flow& fl = flows_[f];
  fl.dirty = false;
  const std::uint32_t k = ShardOf(fl.sel);
  Shard& snd = shards_[fl.sender][k];
  Shard& rcv = shards_[1 - fl.sender][k];
  if (fl.out_place == 1 && fl.out_slot < snd.out_flow.size() && snd.out_flow[fl.out_slot] == f) {
    snd.out_flow[fl.out_slot] = kNoFlow;
  }
  if (fl.in_place == 1 && fl.in_slot < rcv.in_flow.size() && rcv.in_flow[fl.in_slot] == f) {
    rcv.in_flow[fl.in_slot] = kNoFlow;
  }
  fl.out_place = 0;
  fl.in_place = 0;
  const bool was_hw = fl.served && fl.hw;
  fl.served = false;
  fl.hw = false;
  {
    const std::optional<sdk::SaInfo> oi = snd.mgr->CurrentInfo(fl.sel);
    if (oi && oi->outbound != sdk::Placement::kNone) {
      const bool ohw = oi->outbound == sdk::Placement::kHardware;
      const bool ostop = ohw && snd.dev->Slot(Direction::kOut, oi->outbound_slot).state ==
                                    driver::SlotState::kHardExpired;
      const std::optional<sdk::SaInfo> ii =
          ostop ? std::nullopt : rcv.mgr->InfoByInboundSpi(oi->outbound_spi);
      if (!ostop && ii && ii->inbound != sdk::Placement::kNone) {
        const bool ihw = ii->inbound == sdk::Placement::kHardware;
        const bool istop = ihw && rcv.dev->Slot(Direction::kIn, ii->inbound_slot).state ==
                                      driver::SlotState::kHardExpired;
        if (!istop) {
          fl.served = true;
          fl.out_place = ohw ? 1 : 2;
          fl.in_place = ihw ? 1 : 2;
          fl.out_slot = oi->outbound_slot;
          fl.in_slot = ii->inbound_slot;
          fl.hw = ohw && ihw;
          if (ohw) snd.out_flow[fl.out_slot] = f;
          if (ihw) rcv.in_flow[fl.in_slot] = f;
        }
      }
    }
  }
  Selector& S = sels_[fl.sel];
  const bool is_hw = fl.served && fl.hw;
  if (was_hw != is_hw) {
    const bool before = S.hw_flows == 2;
    S.hw_flows = static_cast<std::uint8_t>(S.hw_flows + (is_hw ? 1 : -1));
    const bool after = S.hw_flows == 2;
    if (before && !after) --useful_;
    if (!before && after) ++useful_;
  }
  // Next crossing.
  std::optional<TimePoint> crossing;
  if (fl.served && fl.rate > 0.0) {
    std::uint64_t kpk = std::numeric_limits<std::uint64_t>::max();
    if (fl.out_place == 1) {
      kpk =
          std::min(kpk, snd.dev->PacketsToNextEvent(Direction::kOut, fl.out_slot, p_.packet_bytes));
    }
    if (fl.in_place == 1) {
      kpk = std::min(kpk, rcv.dev->PacketsToNextEvent(Direction::kIn, fl.in_slot, p_.packet_bytes));
    }
    if (kpk != std::numeric_limits<std::uint64_t>::max()) {
      const double secs = (static_cast<double>(kpk) - fl.acc) / (fl.rate * rate_factor_);
      const TimePoint at = now_ + Seconds(std::max(secs, 0.0)) + Duration(1);
      if (at < end_) crossing = at;
    }
  }
  crossings_.Set(f, crossing);
}

void Sim::UpdateSelector(std::uint32_t sel) {
  Selector& S = sels_[sel];
  if (!S.started) return;
  const bool down = !flows_[2 * sel].served || !flows_[2 * sel + 1].served;
  if (down && !S.incident && !S.outage) {
    S.incident = true;
    ++lost_;
  }
  if (!down) S.incident = false;
  if (down && !S.outage && !S.recovery_armed) {
    S.recovery_armed = true;
    PushTimer(TimerKind::kRecover, now_ + Seconds(p_.recover_s), kA, ShardOf(sel), sel);
  }
}

void Sim::SetRateFactor(double factor) {
  for (std::uint32_t f = 0; f < flows_.size(); ++f) Settle(f);
  rate_factor_ = factor;
  for (std::uint32_t f = 0; f < flows_.size(); ++f) MarkDirty(f);
}

void Sim::Reboot() {
  // B loses every SA; A keeps its SAs until dead-peer detection (dpd_s), then deletes them and
  // creates every selector again at once. The outage itself is not counted as lost SAs.
  for (std::uint32_t f = 0; f < flows_.size(); ++f) Settle(f);
  for (Shard& sh : shards_[kB]) {
    sh.rekeys_base += sh.sched->stats().rekeys_completed;
    sh.collisions_base += sh.sched->stats().collisions_lost;
  }
  ++epoch_;
  wire_.clear();
  CloseDuplicates(kB, now_);
  for (std::uint32_t k = 0; k < nshards_; ++k) {
    Shard& sh = shards_[kB][k];
    const std::uint64_t rb = sh.rekeys_base;
    const std::uint64_t cb = sh.collisions_base;
    sh.mgr->SetEventCallback({});
    sh.sched.reset();
    sh.mgr.reset();
    sh.engine.reset();
    sh = Shard{};
    sh.rekeys_base = rb;
    sh.collisions_base = cb;
    if (auto st = BuildShard(kB, k); !st) ++sdk_errors_;
  }
  for (Flow& fl : flows_) {
    fl.out_place = 0;  // B's slots are gone: forget the mapping without touching slot maps
    fl.in_place = 0;
  }
  for (std::uint32_t s = 0; s < p_.sas; ++s) sels_[s].outage = sels_[s].started;
  for (std::uint32_t f = 0; f < flows_.size(); ++f) MarkDirty(f);
  for (Shard& a : shards_[kA]) {
    std::fill(a.out_flow.begin(), a.out_flow.end(), kNoFlow);
    std::fill(a.in_flow.begin(), a.in_flow.end(), kNoFlow);
  }
  PushTimer(TimerKind::kCreate, now_ + Seconds(p_.dpd_s), kA, 0, 0);
}

// ---- metrics ----

void Sim::Measure(TimePoint t) {
  // Integrate the values that held since the last measurement.
  if (t > last_measure_) {
    const TimePoint from = std::max(last_measure_, measure_from_);
    if (t > from) {
      const double dt = ToSeconds(t - from);
      occ_integral_ += occ_now_ * dt;
      util_integral_ += util_now_ * dt;
    }
    last_measure_ = t;
  }
  double occ = 0.0;
  for (int side : {kA, kB}) {
    std::uint64_t used_in = 0;
    std::uint64_t used_out = 0;
    for (const Shard& sh : shards_[side]) {
      const sdk::SaManagerStats st = sh.mgr->stats();
      used_in += st.in_slots - st.in_free;
      used_out += st.out_slots - st.out_free;
    }
    occ = std::max(occ, static_cast<double>(std::max(used_in, used_out)) / p_.slots);
  }
  occ_now_ = occ;
  util_now_ = static_cast<double>(useful_) / p_.slots;
  if (t >= measure_from_) peak_ = std::max(peak_, occ);
  // Plot buckets: the max occupancy per bucket.
  const auto bucket = static_cast<std::size_t>(ToSeconds(t - TimePoint{}) / bucket_s_);
  while (bucket_index_ < bucket && bucket_index_ < p_.plot_points) {
    series_.push_back(SimSample{(static_cast<double>(bucket_index_) + 1) * bucket_s_, bucket_max_});
    ++bucket_index_;
    bucket_max_ = occ_now_;
  }
  bucket_max_ = std::max(bucket_max_, occ);
}

Result<SimResult> Sim::Run(const std::function<void(double)>& progress) {
  const auto wall0 = std::chrono::steady_clock::now();
  ESPO_RETURN_IF_ERROR(Setup());
  now_ = clock_.Now();
  last_measure_ = now_;
  const TimePoint event_at =
      TimePoint{} + Seconds(std::max(0.8 * p_.lifetime_hours * 3600.0, p_.hours * 3600.0 / 2.0));
  bool event_done = scenario_ == SimScenario::kSteady || scenario_ == SimScenario::kColdStart;
  bool burst_end_done = scenario_ != SimScenario::kBurst;
  const TimePoint burst_end = event_at + Seconds(p_.burst_minutes * 60.0);
  const Duration quantum = Seconds(p_.quantum_s);
  double last_progress = -1.0;
  for (;;) {
    ++steps_;
    // 1. IKE messages due.
    while (!wire_.empty() && wire_.front().at <= now_) {
      Msg m = std::move(wire_.front());
      wire_.pop_front();
      shards_[m.to][m.shard].need_poll = true;
      Deliver(m);
    }
    // 2. Creations due.
    while (next_creation_ < creations_.size() && creations_[next_creation_].first <= now_) {
      const std::uint32_t sel = creations_[next_creation_].second;
      CreatePair(sel);
      if (sel < p_.duplicate_selectors) CreatePair(sel);  // fault injection: a second pair
      ++next_creation_;
    }
    // 3. Scenario events.
    if (!event_done && now_ >= event_at) {
      event_done = true;
      if (scenario_ == SimScenario::kBurst) SetRateFactor(p_.burst_factor);
      if (scenario_ == SimScenario::kPeerReboot) Reboot();
    }
    if (event_done && !burst_end_done && now_ >= burst_end) {
      burst_end_done = true;
      SetRateFactor(1.0);
    }
    // 4. Timers due.
    while (!timers_.empty() && timers_.top().at <= now_) {
      const Timer t = timers_.top();
      timers_.pop();
      switch (t.kind) {
        case TimerKind::kRetry: {
          Shard& sh = shards_[t.side][t.shard];
          if (sh.mgr->StateOf(t.a) == SaState::kActive) {
            Note(sh.sched->RequestRekey(t.a));
            sh.need_poll = true;
          }
          break;
        }
        case TimerKind::kRecover: {
          const auto sel = static_cast<std::uint32_t>(t.a);
          Selector& S = sels_[sel];
          S.recovery_armed = false;
          if (S.outage) break;
          const bool down = !flows_[2 * sel].served || !flows_[2 * sel + 1].served;
          if (!down) break;
          Teardown(sel);
          CreatePair(sel);
          shards_[kA][t.shard].need_poll = true;
          shards_[kB][t.shard].need_poll = true;
          break;
        }
        case TimerKind::kCreate: {
          // Dead peer: A closes everything it had with B at once (larval rekeys fail; no packet
          // can be in flight from a dead peer, so nothing drains), then every selector is created
          // again at once.
          for (std::uint32_t k = 0; k < nshards_; ++k) {
            Shard& a = shards_[kA][k];
            for (SaId id : a.mgr->LiveSas()) {
              if (a.mgr->StateOf(id) == SaState::kLarval) Note(a.sched->OnRekeyFailed(id));
            }
            for (SaId id : a.mgr->LiveSas()) Note(a.mgr->Remove(id));
            a.need_poll = true;
          }
          wire_.clear();  // the Deletes go to a peer that no longer knows these SAs
          for (std::uint32_t s = 0; s < p_.sas; ++s) {
            if (sels_[s].started) CreatePair(s);
          }
          break;
        }
      }
    }
    // 5. Traffic limits due.
    while (const std::optional<std::uint32_t> f = crossings_.PopDue(now_)) {
      Settle(*f);
      MarkDirty(*f);
    }
    // 6. Poll the schedulers that have something to do; remap flows; repeat until quiet.
    for (int round = 0; round < 4; ++round) {
      bool polled = false;
      for (int side : {kA, kB}) {
        for (std::uint32_t k = 0; k < nshards_; ++k) {
          Shard& sh = shards_[side][k];
          if (!sh.need_poll && !(sh.next && *sh.next <= now_) && sh.dev->pending_events() == 0) {
            continue;
          }
          sh.need_poll = false;
          polled = true;
          Note(sh.sched->Poll());
          CheckStarted(side, k);
          sh.next = sh.sched->NextDeadline();
        }
      }
      std::vector<std::uint32_t> dirty;
      dirty.swap(dirty_);
      for (std::uint32_t f : dirty) Settle(f);
      for (std::uint32_t f : dirty) Remap(f);
      for (std::uint32_t f : dirty) UpdateSelector(flows_[f].sel);
      if (!polled && dirty_.empty()) break;
    }
    Measure(now_);
    if (progress) {
      const double frac = ToSeconds(now_ - TimePoint{}) / ToSeconds(end_ - TimePoint{});
      if (frac - last_progress >= 0.01) {
        last_progress = frac;
        progress(std::min(frac, 1.0));
      }
    }
    if (now_ >= end_) break;
    // 7. Next time.
    TimePoint next = end_;
    auto consider = [&next](TimePoint t) { next = std::min(next, t); };
    if (!wire_.empty()) consider(wire_.front().at);
    if (next_creation_ < creations_.size()) consider(creations_[next_creation_].first);
    if (!timers_.empty()) consider(timers_.top().at);
    if (const std::optional<TimePoint> c = crossings_.Next()) consider(*c);
    if (!event_done) consider(event_at);
    if (event_done && !burst_end_done) consider(burst_end);
    for (int side : {kA, kB}) {
      for (Shard& sh : shards_[side]) {
        sh.next = sh.sched->NextDeadline();
        if (sh.next) consider(*sh.next);
      }
    }
    // Round up to the quantum grid (batches events) and never stand still.
    const std::int64_t q = std::max<std::int64_t>(1, quantum.count());
    std::int64_t ns = next.time_since_epoch().count();
    ns = (ns + q - 1) / q * q;
    next = TimePoint(Duration(ns));
    if (next <= now_) next = now_ + Duration(q);
    next = std::min(next, end_);
    clock_.AdvanceTo(next);
    now_ = clock_.Now();
  }
  Measure(end_);
  CloseDuplicates(kA, end_);
  CloseDuplicates(kB, end_);
  while (series_.size() < p_.plot_points) {
    series_.push_back(
        SimSample{(static_cast<double>(series_.size()) + 1) * bucket_s_, bucket_max_});
    bucket_max_ = occ_now_;
  }
  SimResult r;
  r.policy = policy_;
  r.scenario = scenario_;
  r.exhaustion_events = exhaustion_;
  r.lost_sas = lost_;
  r.duplicate_sas = duplicates_;
  r.software_packets = software_packets_;
  r.peak_occupancy = peak_;
  const double window = ToSeconds(end_ - measure_from_);
  r.mean_occupancy = window > 0 ? occ_integral_ / window : occ_now_;
  r.mean_utilization = window > 0 ? util_integral_ / window : util_now_;
  for (int side : {kA, kB}) {
    for (const Shard& sh : shards_[side]) {
      r.rekeys += sh.rekeys_base + sh.sched->stats().rekeys_completed;
      r.collisions += sh.collisions_base + sh.sched->stats().collisions_lost;
      r.max_packets_past_soft = std::max(r.max_packets_past_soft, sh.dev->MaxPastSoftNow());
      r.reg_writes += sh.dev->stats().reg_writes;
    }
  }
  r.shards = nshards_;
  r.headroom = headroom_ * nshards_;
  r.steps = steps_;
  r.sdk_errors = sdk_errors_;
  r.measure_from_s = ToSeconds(measure_from_ - TimePoint{});
  r.series = std::move(series_);
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return r;
}

}  // namespace

Result<SimResult> RunOne(const SimParams& params, SimPolicy policy, SimScenario scenario,
                         const std::function<void(double)>& progress) {
  if (params.hours <= 0 || params.lifetime_hours <= 0 || params.rtt_s < 0 || params.drain_s < 0 ||
      params.quantum_s <= 0 || params.rate_median_pps <= 0) {
    return MakeError(Errc::kInvalidArgument,
                     "simulate: hours, lifetime, quantum and rate must be > 0; rtt, drain >= 0");
  }
  auto sim = std::make_unique<Sim>(params, policy, scenario);
  return sim->Run(progress);
}

Result<SimReport> RunSimulation(const SimParams& params,
                                const std::function<void(double)>& progress) {
  const auto wall0 = std::chrono::steady_clock::now();
  std::vector<std::pair<SimPolicy, SimScenario>> jobs;
  for (SimPolicy p : params.policies) {
    for (SimScenario s : params.scenarios) jobs.emplace_back(p, s);
  }
  std::vector<std::optional<Result<SimResult>>> out(jobs.size());
  std::vector<double> frac(jobs.size(), 0.0);
  std::mutex mu;
  std::atomic<std::size_t> next{0};
  std::uint32_t nthreads =
      params.threads != 0 ? params.threads : std::thread::hardware_concurrency();
  nthreads = std::max<std::uint32_t>(
      1, std::min<std::uint32_t>(nthreads, static_cast<std::uint32_t>(jobs.size())));
  auto report = [&](std::size_t i, double f) {
    if (!progress) return;
    const std::lock_guard<std::mutex> lock(mu);
    frac[i] = f;
    double sum = 0.0;
    for (double x : frac) sum += x;
    progress(sum / static_cast<double>(jobs.size()));
  };
  auto worker = [&]() {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= jobs.size()) return;
      auto r =
          RunOne(params, jobs[i].first, jobs[i].second, [&report, i](double f) { report(i, f); });
      const std::lock_guard<std::mutex> lock(mu);
      out[i] = std::move(r);
    }
  };
  std::vector<std::thread> threads;
  for (std::uint32_t t = 1; t < nthreads; ++t) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  SimReport rep;
  rep.params = params;
  for (auto& r : out) {
    if (!r || !*r) return tl::unexpected(r ? (*r).error() : Error{Errc::kInternal, "no result"});
    rep.results.push_back(std::move(**r));
  }
  rep.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return rep;
}

// ---- output ----

nlohmann::json ToJson(const SimReport& report) {
  const SimParams& p = report.params;
  nlohmann::json params = {
      {"sas", p.sas},
      {"slots", p.slots},
      {"hours", p.hours},
      {"seed", p.seed},
      {"scenarios", nlohmann::json::array()},
      {"policies", nlohmann::json::array()},
      {"lifetime_hours", p.lifetime_hours},
      {"rtt_s", p.rtt_s},
      {"drain_s", p.drain_s},
      {"quantum_s", p.quantum_s},
      {"rate_median_pps", p.rate_median_pps},
      {"rate_sigma", p.rate_sigma},
      {"rate_cap", p.rate_cap},
      {"packet_bytes", p.packet_bytes},
      {"burst_factor", p.burst_factor},
      {"burst_minutes", p.burst_minutes},
      {"dpd_s", p.dpd_s},
      {"retry_s", p.retry_s},
      {"recover_s", p.recover_s},
  };
  for (SimScenario s : p.scenarios) params["scenarios"].push_back(std::string(ToString(s)));
  for (SimPolicy q : p.policies) params["policies"].push_back(std::string(ToString(q)));
  nlohmann::json results = nlohmann::json::array();
  for (const SimResult& r : report.results) {
    results.push_back({{"policy", std::string(ToString(r.policy))},
                       {"scenario", std::string(ToString(r.scenario))},
                       {"exhaustion_events", r.exhaustion_events},
                       {"lost_sas", r.lost_sas},
                       {"duplicate_sas", r.duplicate_sas},
                       {"collisions", r.collisions},
                       {"peak_occupancy", r.peak_occupancy},
                       {"mean_occupancy", r.mean_occupancy},
                       {"mean_utilization", r.mean_utilization},
                       {"software_packets", r.software_packets},
                       {"max_packets_past_soft", r.max_packets_past_soft},
                       {"rekeys", r.rekeys},
                       {"shards", r.shards},
                       {"headroom", r.headroom},
                       {"sdk_errors", r.sdk_errors},
                       {"steps", r.steps},
                       {"wall_seconds", r.wall_seconds}});
  }
  return {{"params", params}, {"wall_seconds", report.wall_seconds}, {"results", results}};
}

std::string FormatTable(const SimReport& report) {
  const std::vector<std::string> head = {"policy",    "scenario", "exhaust",  "lost", "dup",
                                         "collis",    "peak_occ", "mean_occ", "util", "sw_packets",
                                         "past_soft", "rekeys",   "wall_s"};
  std::vector<std::vector<std::string>> rows;
  auto fixed = [](double v, int prec) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(prec) << v;
    return o.str();
  };
  for (const SimResult& r : report.results) {
    rows.push_back({std::string(ToString(r.policy)), std::string(ToString(r.scenario)),
                    std::to_string(r.exhaustion_events), std::to_string(r.lost_sas),
                    std::to_string(r.duplicate_sas), std::to_string(r.collisions),
                    fixed(r.peak_occupancy, 4), fixed(r.mean_occupancy, 4),
                    fixed(r.mean_utilization, 4), std::to_string(r.software_packets),
                    std::to_string(r.max_packets_past_soft), std::to_string(r.rekeys),
                    fixed(r.wall_seconds, 1)});
  }
  std::vector<std::size_t> width(head.size());
  for (std::size_t c = 0; c < head.size(); ++c) {
    width[c] = head[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  std::ostringstream o;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      if (c < 2) {
        o << std::left << std::setw(static_cast<int>(width[c])) << cells[c];
      } else {
        o << std::right << std::setw(static_cast<int>(width[c])) << cells[c];
      }
      o << (c + 1 < cells.size() ? "  " : "\n");
    }
  };
  line(head);
  for (const auto& row : rows) line(row);
  o << "M=" << report.params.sas << " S=" << report.params.slots << " ("
    << fixed(100.0 * report.params.sas / report.params.slots, 1)
    << "% full) hours=" << report.params.hours << " seed=" << report.params.seed
    << " wall=" << fixed(report.wall_seconds, 1) << "s\n";
  return o.str();
}

std::string FormatCsv(const SimReport& report) {
  std::ostringstream o;
  o << "policy,scenario,sas,slots,hours,seed,exhaustion_events,lost_sas,duplicate_sas,collisions,"
       "peak_occupancy,mean_occupancy,mean_utilization,software_packets,max_packets_past_soft,"
       "rekeys,headroom,wall_seconds\n";
  for (const SimResult& r : report.results) {
    o << ToString(r.policy) << ',' << ToString(r.scenario) << ',' << report.params.sas << ','
      << report.params.slots << ',' << report.params.hours << ',' << report.params.seed << ','
      << r.exhaustion_events << ',' << r.lost_sas << ',' << r.duplicate_sas << ',' << r.collisions
      << ',' << std::setprecision(6) << r.peak_occupancy << ',' << r.mean_occupancy << ','
      << r.mean_utilization << ',' << r.software_packets << ',' << r.max_packets_past_soft << ','
      << r.rekeys << ',' << r.headroom << ',' << std::setprecision(4) << r.wall_seconds << '\n';
  }
  return o.str();
}

std::string FormatSvg(const SimReport& report) {
  // One panel per scenario (stacked), one polyline per policy: occupancy (fraction of S) over time.
  const std::vector<std::string> colors = {"#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#000000"};
  std::vector<SimScenario> scenarios = report.params.scenarios;
  const double w = 900;
  const double ph = 220;
  const double ml = 60;
  const double mr = 150;
  const double mt = 30;
  const double gap = 40;
  const double h = mt + static_cast<double>(scenarios.size()) * (ph + gap);
  double ymax = 0.0;
  for (const SimResult& r : report.results) ymax = std::max(ymax, r.peak_occupancy);
  for (const SimResult& r : report.results) {
    for (const SimSample& s : r.series) ymax = std::max(ymax, s.occupancy);
  }
  ymax = std::max(1.0, std::ceil(ymax * 10.0) / 10.0);
  const double tmax = report.params.hours * 3600.0;
  std::ostringstream o;
  o << std::fixed << std::setprecision(1);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << ml << "\" y=\"18\" font-size=\"13\">ikectl simulate: slot occupancy "
    << "(max over gateways and directions, fraction of S) -- M=" << report.params.sas
    << " S=" << report.params.slots << " seed=" << report.params.seed << "</text>\n";
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const double top = mt + static_cast<double>(i) * (ph + gap);
    const double pw = w - ml - mr;
    o << "<g>\n<text x=\"" << ml << "\" y=\"" << top + 12 << "\" font-weight=\"bold\">"
      << ToString(scenarios[i]) << "</text>\n";
    o << "<rect x=\"" << ml << "\" y=\"" << top + 18 << "\" width=\"" << pw << "\" height=\""
      << ph - 30 << "\" fill=\"none\" stroke=\"#888\"/>\n";
    auto ypix = [&](double v) { return top + 18 + (ph - 30) * (1.0 - v / ymax); };
    auto xpix = [&](double t) { return ml + pw * (tmax > 0 ? t / tmax : 0.0); };
    for (double v = 0.0; v <= ymax + 1e-9; v += 0.25) {
      o << "<line x1=\"" << ml << "\" x2=\"" << ml + pw << "\" y1=\"" << ypix(v) << "\" y2=\""
        << ypix(v) << "\" stroke=\"#eee\"/>\n<text x=\"" << ml - 5 << "\" y=\"" << ypix(v) + 4
        << "\" text-anchor=\"end\">" << std::setprecision(2) << v << std::setprecision(1)
        << "</text>\n";
    }
    o << "<line x1=\"" << ml << "\" x2=\"" << ml + pw << "\" y1=\"" << ypix(1.0) << "\" y2=\""
      << ypix(1.0) << "\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n";
    const int hours = static_cast<int>(std::ceil(report.params.hours));
    const int step = std::max(1, hours / 12);
    for (int hr = 0; hr <= hours; hr += step) {
      o << "<text x=\"" << xpix(hr * 3600.0) << "\" y=\"" << top + ph + 2
        << "\" text-anchor=\"middle\">" << hr << "h</text>\n";
    }
    std::size_t legend = 0;
    for (const SimResult& r : report.results) {
      if (r.scenario != scenarios[i]) continue;
      const std::string& color = colors[static_cast<std::size_t>(r.policy) % colors.size()];
      o << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.2\" points=\"";
      for (const SimSample& s : r.series) o << xpix(s.t_s) << ',' << ypix(s.occupancy) << ' ';
      o << "\"/>\n";
      const double ly = top + 30 + 16 * static_cast<double>(legend++);
      o << "<line x1=\"" << ml + pw + 10 << "\" x2=\"" << ml + pw + 30 << "\" y1=\"" << ly
        << "\" y2=\"" << ly << "\" stroke=\"" << color << "\" stroke-width=\"2\"/>\n<text x=\""
        << ml + pw + 35 << "\" y=\"" << ly + 4 << "\">" << ToString(r.policy) << "</text>\n";
    }
    o << "</g>\n";
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace espo::ikectl
