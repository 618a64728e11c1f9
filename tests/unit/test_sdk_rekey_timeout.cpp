// SPDX-License-Identifier: Apache-2.0
//
// RekeyScheduler rekey timeout (RekeyOptions::rekey_timeout / rekey_backoff / max_rekey_timeout)
// on a FakeClock: an unanswered request is given up and retried with growing timeouts, a late
// answer to a given-up exchange creates nothing (one SA per selector at both ends), and an SA
// whose rekey is never answered is removed at its hard deadline and counted as lost.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "sdk_manager_util.hpp"
#include "test_seed.hpp"

namespace espo::sdk {
namespace {

using std::chrono::seconds;
using testing::EndOptions;
using testing::SpecFor;
using testing::Traffic;
using testing::TwoEnds;

std::uint64_t Seed() {
  static const std::uint64_t seed = espo::testing::TestSeed();
  return seed;
}

driver::KeyMaterial Key(std::uint8_t seed) {
  std::vector<std::uint8_t> k(20);
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + i * 5U);
  return std::move(*driver::KeyMaterial::FromBytes(k));
}

ChildKeys Keys(std::uint8_t seed) { return ChildKeys{Key(seed), Key(seed + 1)}; }

// An IKE side whose requests go nowhere: it records what the scheduler asked for.
class BlackHole final : public RekeyHandler {
 public:
  void StartRekey(const RekeyRequest& request) override { requests.push_back(request); }
  void SendDelete(SaId sa, std::uint32_t spi) override { deletes.emplace_back(sa, spi); }
  std::vector<RekeyRequest> requests;
  std::vector<std::pair<SaId, std::uint32_t>> deletes;
};

// One end over ModelDevice with a black-hole IKE side.
struct Lonely {
  Lonely(const RekeyOptions& ro, const LifetimePolicyConfig& life, SaManagerOptions mo = {})
      : engine(testing::OpenEngine(16)), rng(Seed()) {
    auto m = SaManager::Create(*engine, clock, rng, mo);
    EXPECT_TRUE(m.has_value());
    mgr = std::move(*m);
    auto p = LifetimePolicy::Create(life, clock, rng);
    EXPECT_TRUE(p.has_value()) << (p ? "" : p.error().message);
    policy.emplace(*p);
    auto s = RekeyScheduler::Create(*mgr, *policy, ike, ro);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
    sched = std::move(*s);
  }
  SaId CreateSa() {
    auto id = sched->BeginChildSa(SpecFor(1));
    EXPECT_TRUE(id.has_value());
    auto st = sched->CompleteChildSa(*id, 0x5000, Keys(1), ExchangeRole::kInitiator);
    EXPECT_TRUE(st.has_value()) << (st ? "" : st.error().message);
    return *id;
  }
  void PollAt(Duration t) {
    clock.AdvanceTo(start + t);
    ASSERT_TRUE(sched->Poll().has_value());
  }

  FakeClock clock;
  TimePoint start = clock.Now();
  std::unique_ptr<driver::Engine> engine;
  SeededRng rng;
  std::unique_ptr<SaManager> mgr;
  std::optional<LifetimePolicy> policy;
  BlackHole ike;
  std::unique_ptr<RekeyScheduler> sched;
};

TEST(RekeySchedulerTimeoutTest, UnansweredRequestIsRetriedWithBackoff) {
  RekeyOptions ro;
  ro.rekey_timeout = seconds(30);
  ro.rekey_backoff = 2.0;
  ro.max_rekey_timeout = seconds(100);
  SaManagerOptions mo;
  mo.spi_quarantine = std::chrono::hours(10);  // keeps quarantine ends out of NextDeadline()
  Lonely e(ro, testing::PacketLifetime(1000000), mo);
  const SaId old_sa = e.CreateSa();
  ASSERT_TRUE(e.sched->RequestRekey(old_sa).has_value());
  e.PollAt(seconds(0));
  ASSERT_EQ(e.ike.requests.size(), 1U);
  const RekeyRequest first = e.ike.requests[0];
  EXPECT_EQ(e.sched->NextDeadline(), e.start + seconds(30));

  e.PollAt(seconds(29));
  EXPECT_EQ(e.ike.requests.size(), 1U) << "retried before the timeout";
  e.PollAt(seconds(30));
  ASSERT_EQ(e.ike.requests.size(), 2U);
  // The given-up exchange: the peer is told to drop its side, the larval SA is gone.
  ASSERT_EQ(e.ike.deletes.size(), 1U);
  EXPECT_EQ(e.ike.deletes[0].first, first.new_sa);
  EXPECT_EQ(e.ike.deletes[0].second, first.new_inbound_spi);
  EXPECT_EQ(e.mgr->StateOf(first.new_sa), SaState::kGone);
  EXPECT_TRUE(e.mgr->IsSpiQuarantined(first.new_inbound_spi));
  EXPECT_EQ(e.mgr->StateOf(old_sa), SaState::kRekeying);
  const RekeyRequest second = e.ike.requests[1];
  EXPECT_EQ(second.old_sa, old_sa);
  EXPECT_EQ(second.rekey_spi, first.rekey_spi);
  EXPECT_NE(second.new_sa, first.new_sa);
  EXPECT_NE(second.new_inbound_spi, first.new_inbound_spi);
  // Backoff: 30 s, 60 s, then capped at 100 s.
  EXPECT_EQ(e.sched->NextDeadline(), e.start + seconds(90));
  e.PollAt(seconds(89));
  EXPECT_EQ(e.ike.requests.size(), 2U);
  e.PollAt(seconds(90));
  ASSERT_EQ(e.ike.requests.size(), 3U);
  EXPECT_EQ(e.sched->NextDeadline(), e.start + seconds(190));
  e.PollAt(seconds(190));
  ASSERT_EQ(e.ike.requests.size(), 4U);
  EXPECT_EQ(e.sched->NextDeadline(), e.start + seconds(290));
  const RekeyStats& st = e.sched->stats();
  EXPECT_EQ(st.rekeys_started, 4U);
  EXPECT_EQ(st.rekeys_timed_out, 3U);
  EXPECT_EQ(st.rekey_retries, 3U);
  EXPECT_EQ(st.in_flight, 1U);
  EXPECT_EQ(e.mgr->stats().live_sas, 2U) << "old SA + the current attempt's larval SA";

  // A late answer to a given-up exchange is refused and creates nothing.
  ExchangeNonces nonces{{1, 2, 3}, {4, 5, 6}};
  auto late = e.sched->OnRekeyResponse(first.new_sa, 0x6000, nonces, Keys(7));
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, Errc::kNotFound);
  EXPECT_EQ(e.mgr->stats().live_sas, 2U);
  EXPECT_TRUE(e.sched->OnRekeyFailed(first.new_sa).has_value());  // a late failure: ignored
  EXPECT_EQ(e.mgr->StateOf(old_sa), SaState::kRekeying);

  // The current attempt's answer completes the rekey; the next rekey starts at 30 s again.
  const RekeyRequest current = e.ike.requests.back();
  ASSERT_TRUE(e.sched->OnRekeyResponse(current.new_sa, 0x6001, nonces, Keys(9)).has_value());
  EXPECT_EQ(e.mgr->StateOf(current.new_sa), SaState::kActive);
  EXPECT_EQ(e.mgr->StateOf(old_sa), SaState::kDraining);
  EXPECT_EQ(e.mgr->CurrentFor(1), current.new_sa);
  EXPECT_EQ(e.sched->stats().rekeys_completed, 1U);
  e.PollAt(seconds(300));  // drain over, the stale timeout entry skipped
  EXPECT_EQ(e.mgr->StateOf(old_sa), SaState::kGone);
  EXPECT_EQ(e.sched->stats().rekeys_timed_out, 3U);
  ASSERT_TRUE(e.sched->RequestRekey(current.new_sa).has_value());
  e.PollAt(seconds(301));
  EXPECT_EQ(e.sched->NextDeadline(), e.start + seconds(331));
}

TEST(RekeySchedulerTimeoutTest, ZeroTimeoutWaitsForTheIkeSide) {
  RekeyOptions ro;
  ro.rekey_timeout = Duration::zero();
  Lonely e(ro, testing::PacketLifetime(1000000));
  const SaId old_sa = e.CreateSa();
  ASSERT_TRUE(e.sched->RequestRekey(old_sa).has_value());
  e.PollAt(seconds(0));
  EXPECT_FALSE(e.sched->NextDeadline().has_value());
  e.PollAt(std::chrono::hours(10));
  EXPECT_EQ(e.ike.requests.size(), 1U);
  EXPECT_EQ(e.sched->stats().rekeys_timed_out, 0U);

  FakeClock clock;
  SeededRng rng(1);
  auto engine = testing::OpenEngine(16);
  auto mgr = SaManager::Create(*engine, clock, rng);
  ASSERT_TRUE(mgr.has_value());
  auto policy = LifetimePolicy::Create(testing::PacketLifetime(100), clock, rng);
  ASSERT_TRUE(policy.has_value());
  BlackHole ike;
  RekeyOptions bad;
  bad.rekey_backoff = 0.5;
  auto s = RekeyScheduler::Create(**mgr, *policy, ike, bad);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, Errc::kInvalidArgument);
}

// The rekey is never answered: retries until the hard deadline, then the SA is removed and
// counted as lost; the exchange still pending then times out and leaves nothing behind.
TEST(RekeySchedulerTimeoutTest, NeverAnsweredSaIsRemovedAtHardExpiryAndCountsAsLost) {
  LifetimePolicyConfig life;
  life.kind = LifetimePolicyKind::kNone;
  life.none.soft_fraction = 0.8;
  life.none.hard_time = seconds(600);  // soft at 480 s, hard at 600 s
  Lonely e(RekeyOptions{}, life);      // defaults: 30 s, x2, max 5 min
  const SaId old_sa = e.CreateSa();
  e.PollAt(seconds(479));
  EXPECT_TRUE(e.ike.requests.empty());
  e.PollAt(seconds(480));
  ASSERT_EQ(e.ike.requests.size(), 1U);
  e.PollAt(seconds(510));  // timeout 30 s
  ASSERT_EQ(e.ike.requests.size(), 2U);
  e.PollAt(seconds(570));  // timeout 60 s
  ASSERT_EQ(e.ike.requests.size(), 3U);
  EXPECT_EQ(e.mgr->StateOf(old_sa), SaState::kRekeying);
  EXPECT_EQ(e.sched->stats().lost, 0U);
  e.PollAt(seconds(600));  // hard deadline: the SA stops without a replacement
  EXPECT_EQ(e.mgr->StateOf(old_sa), SaState::kGone);
  const RekeyStats& st = e.sched->stats();
  EXPECT_EQ(st.hard_removed, 1U);
  EXPECT_EQ(st.lost, 1U);
  EXPECT_EQ(st.rekeys_timed_out, 2U);
  EXPECT_EQ(st.rekeys_completed, 0U);
  EXPECT_EQ(e.mgr->CurrentFor(1), kNoSa);
  // The third attempt (timeout 120 s from 570 s) is given up without another retry.
  e.PollAt(seconds(689));
  EXPECT_EQ(e.mgr->stats().live_sas, 1U);
  e.PollAt(seconds(690));
  EXPECT_EQ(e.ike.requests.size(), 3U) << "no retry for an SA that is gone";
  EXPECT_EQ(e.sched->stats().rekeys_timed_out, 3U);
  EXPECT_EQ(e.sched->stats().in_flight, 0U);
  EXPECT_EQ(e.mgr->stats().live_sas, 0U);
  EXPECT_EQ(e.mgr->stats().in_free, 16U);
  EXPECT_EQ(e.mgr->stats().out_free, 16U);
}

// Two ends: A's request reaches B, B's answer arrives after A gave up and retried. The late
// answer creates nothing, A's Delete removes B's copy, the retry completes: exactly one SA per
// selector at each end, traffic flows, nothing lost.
TEST(RekeySchedulerTimeoutTest, LateAnswerAfterRetryCreatesNoDuplicateSa) {
  EndOptions o;
  o.rekey.rekey_timeout = seconds(10);
  TwoEnds t(Seed(), o, o);
  auto [a_old, b_old] = t.Create(3);
  Traffic traffic;
  traffic.Both(t, 3, 5);
  ASSERT_TRUE(t.a().sched->RequestRekey(a_old).has_value());
  ASSERT_TRUE(t.a().sched->Poll().has_value());  // request 1 queued
  auto one = t.ike().DeliverOne();               // B answers; the answer is in flight
  ASSERT_TRUE(one.has_value() && *one);
  EXPECT_EQ(t.b().sched->stats().rekeys_responded, 1U);
  t.clock().Advance(seconds(10));
  ASSERT_TRUE(t.a().sched->Poll().has_value());  // A gives up: Delete + request 2 queued
  EXPECT_EQ(t.a().sched->stats().rekeys_timed_out, 1U);
  EXPECT_EQ(t.a().sched->stats().rekey_retries, 1U);
  int refused = 0;
  for (int i = 0; i < 20 && t.ike().pending() > 0; ++i) {
    auto r = t.ike().DeliverOne();
    if (!r) {  // the late answer
      EXPECT_EQ(r.error().code, Errc::kNotFound) << r.error().message;
      ++refused;
    }
  }
  EXPECT_EQ(refused, 1);
  t.Settle();
  EXPECT_EQ(t.b().sched->stats().redundant_deleted, 1U) << "B dropped its answer's SA";
  EXPECT_EQ(t.a().sched->stats().rekeys_completed, 1U);
  const SaId a_new = t.a().mgr->CurrentFor(3);
  const SaId b_new = t.b().mgr->CurrentFor(3);
  ASSERT_NE(a_new, a_old);
  ASSERT_NE(b_new, b_old);
  EXPECT_EQ(t.a().mgr->Info(a_new)->outbound_spi, t.b().mgr->Info(b_new)->inbound_spi);
  EXPECT_EQ(t.b().mgr->Info(b_new)->outbound_spi, t.a().mgr->Info(a_new)->inbound_spi);
  traffic.Both(t, 3, 5);
  t.clock().Advance(seconds(5));
  t.Settle();
  EXPECT_EQ(t.a().mgr->stats().live_sas, 1U);
  EXPECT_EQ(t.b().mgr->stats().live_sas, 1U);
  EXPECT_EQ(traffic.rx_drops + traffic.tx_drops, 0U);
  EXPECT_EQ(traffic.delivered, traffic.SentCount());
  EXPECT_EQ(t.a().sched->stats().lost + t.b().sched->stats().lost, 0U);
}

}  // namespace
}  // namespace espo::sdk
