// SPDX-License-Identifier: Apache-2.0
//
// SaManager, SoftwareEsp, RekeyScheduler, LoopbackIke and SA groups over Engine + ModelDevice
// with small tables, a FakeClock and seeded Rngs: SPI encoding and quarantine, all-or-nothing
// pair installs under injected device failures, life-cycle states, make-before-break with real
// packets crossing several rekeys, simultaneous rekeys, headroom, pacing, software fallback and
// return to hardware, hard expiry, groups, and a randomized property test.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sdk_manager_util.hpp"
#include "test_seed.hpp"

#include "espo/sdk/software_esp.hpp"

namespace espo::sdk {
namespace {

using driver::Direction;
using driver::PacketStatus;
using testing::End;
using testing::EndOptions;
using testing::OpenEngine;
using testing::PacketLifetime;
using testing::SpecFor;
using testing::Traffic;
using testing::TwoEnds;
using testing::UniqueSlotSpis;

driver::KeyMaterial Key(std::uint8_t seed) {
  std::vector<std::uint8_t> k(20);
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + i * 3U);
  return std::move(*driver::KeyMaterial::FromBytes(k));
}

// Returns `value` for the first `count` draws, then a seeded sequence.
class StuckRng final : public Rng {
 public:
  StuckRng(std::uint64_t value, int count) : value_(value), count_(count), rest_(7) {}
  std::uint64_t NextU64() override {
    if (count_ > 0) {
      --count_;
      return value_;
    }
    return rest_.NextU64();
  }
  void Stick(int count) { count_ = count; }

 private:
  std::uint64_t value_;
  int count_;
  SeededRng rest_;
};

std::uint64_t Seed() { return espo::testing::TestSeed(); }

TEST(SaManagerTest, SpisEncodeTheSlotAndAreNeverSmall) {
  auto engine = OpenEngine(16);
  FakeClock clock;
  SeededRng rng(Seed());
  auto mgr = SaManager::Create(*engine, clock, rng);
  ASSERT_TRUE(mgr.has_value());
  std::set<std::uint32_t> spis;
  std::set<std::uint32_t> slots;
  for (int i = 0; i < 24; ++i) {  // 16 in hardware, then software
    auto id = (*mgr)->Allocate(SpecFor(i), SlotClass::kNew);
    ASSERT_TRUE(id.has_value());
    auto info = (*mgr)->Info(*id);
    ASSERT_TRUE(info.has_value());
    EXPECT_GE(info->inbound_spi, 256U);
    EXPECT_TRUE(spis.insert(info->inbound_spi).second);
    if (i < 16) {
      EXPECT_EQ(info->inbound_spi % 16, info->inbound_slot);
      EXPECT_EQ(engine->InboundSlotFor(info->inbound_spi), info->inbound_slot);
      EXPECT_TRUE(slots.insert(info->inbound_slot).second);
    } else {
      EXPECT_EQ(info->inbound_slot, kNoSlotIndex);
    }
    EXPECT_EQ(info->state, SaState::kLarval);
  }
  EXPECT_EQ((*mgr)->stats().in_free, 0U);
}

TEST(SaManagerTest, SmallSpisAreNeverDrawn) {
  // A table of 2 slots: without the >= 256 rule, high bits 0..127 would give SPIs below 256.
  auto engine = OpenEngine(2);
  FakeClock clock;
  StuckRng rng(0, 1000);  // Uniform(lo, hi) with a zero word returns lo
  auto mgr = SaManager::Create(*engine, clock, rng);
  ASSERT_TRUE(mgr.has_value());
  auto id = (*mgr)->Allocate(SpecFor(1), SlotClass::kNew);
  ASSERT_TRUE(id.has_value());
  EXPECT_GE((*mgr)->Info(*id)->inbound_spi, 256U);
}

TEST(SaManagerTest, FreedSpisAreQuarantined) {
  auto engine = OpenEngine(16);
  FakeClock clock;
  StuckRng rng(0x123456789ULL, 1);
  SaManagerOptions opt;
  opt.spi_quarantine = std::chrono::seconds(10);
  auto mgr = SaManager::Create(*engine, clock, rng, opt);
  ASSERT_TRUE(mgr.has_value());
  SaManager& m = **mgr;
  auto first = m.Allocate(SpecFor(1), SlotClass::kNew);
  ASSERT_TRUE(first.has_value());
  const std::uint32_t spi = m.Info(*first)->inbound_spi;
  ASSERT_TRUE(m.Remove(*first).has_value());
  EXPECT_TRUE(m.IsSpiQuarantined(spi));
  EXPECT_EQ(m.StateOf(*first), SaState::kGone);
  // Same slot (LIFO free list), same random draw: the quarantine must refuse the old SPI.
  rng.Stick(1);
  auto second = m.Allocate(SpecFor(2), SlotClass::kNew);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(m.Info(*second)->inbound_slot, m.Info(*second)->inbound_spi % 16);
  EXPECT_NE(m.Info(*second)->inbound_spi, spi);
  ASSERT_TRUE(m.Remove(*second).has_value());
  // After the quarantine the same draw may give the SPI again.
  clock.Advance(std::chrono::seconds(11));
  ASSERT_TRUE(m.Poll().has_value());
  EXPECT_FALSE(m.IsSpiQuarantined(spi));
  rng.Stick(1);
  auto third = m.Allocate(SpecFor(3), SlotClass::kNew);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(m.Info(*third)->inbound_spi, spi);
}

TEST(SaManagerTest, PairInstallIsAllOrNothingUnderDeviceFailures) {
  bool saw_outbound_failure = false;
  for (std::uint64_t n = 1; n < 400; ++n) {
    testing::FaultyDevice* faulty = nullptr;
    auto engine = OpenEngine(16, &faulty);
    FakeClock clock;
    SeededRng rng(n);
    auto mgr = SaManager::Create(*engine, clock, rng);
    ASSERT_TRUE(mgr.has_value());
    SaManager& m = **mgr;
    auto id = m.Allocate(SpecFor(1), SlotClass::kNew);
    ASSERT_TRUE(id.has_value());
    const std::uint32_t spi = m.Info(*id)->inbound_spi;
    const std::uint64_t before = faulty->writes();
    faulty->FailWriteAfter(n);
    auto st = m.InstallPair(*id, 0x5000, Key(1), Key(2), {}, {}, SlotClass::kNew);
    faulty->FailWriteAfter(0);
    if (st.has_value()) {
      EXPECT_EQ(m.StateOf(*id), SaState::kActive);
      EXPECT_GT(n, faulty->writes() - before) << "the fault should have fired";
      ASSERT_TRUE(saw_outbound_failure) << "no injected failure hit the outbound install";
      return;
    }
    // Nothing left behind: no slot in use, the SA gone, its SPI quarantined.
    EXPECT_EQ(m.StateOf(*id), SaState::kGone) << "write " << n;
    EXPECT_EQ(m.stats().live_sas, 0U);
    EXPECT_TRUE(m.IsSpiQuarantined(spi));
    EXPECT_EQ(m.CurrentFor(1), kNoSa);
    for (const Direction dir : {Direction::kIn, Direction::kOut}) {
      for (std::uint32_t s = 0; s < 16; ++s) {
        auto slot = engine->ReadSlot(dir, s);
        ASSERT_TRUE(slot.has_value());
        EXPECT_EQ(slot->state, driver::SlotState::kFree)
            << "write " << n << ": " << driver::ToString(dir) << " slot " << s << " left over";
      }
    }
    EXPECT_EQ(m.stats().in_free + m.stats().stuck_slots, 16U);
    EXPECT_EQ(m.stats().out_free, 16U);
    if (st.error().message.find("outbound") != std::string::npos) saw_outbound_failure = true;
  }
  FAIL() << "the install never succeeded";
}

TEST(SaManagerTest, LifeCycleStatesAndCallback) {
  TwoEnds t(Seed(), EndOptions{}, EndOptions{});
  std::vector<std::string> seen;
  t.a().mgr->SetEventCallback([&seen](const SaEvent& e) {
    if (e.kind == SaEventKind::kStateChange && e.sa == 1) {
      seen.push_back(std::string(ToString(e.from)) + "->" + std::string(ToString(e.to)));
    }
  });
  auto [a, b] = t.Create(7);
  ASSERT_EQ(a, 1U);
  ASSERT_TRUE(t.a().sched->RequestRekey(a).has_value());
  t.Settle();
  EXPECT_EQ(t.a().mgr->StateOf(a), SaState::kDraining);
  t.clock().Advance(std::chrono::seconds(3));
  t.Settle();
  EXPECT_EQ(t.a().mgr->StateOf(a), SaState::kGone);
  EXPECT_EQ(seen, (std::vector<std::string>{"larval->active", "active->rekeying",
                                            "rekeying->draining", "draining->gone"}));
  EXPECT_EQ(ToString(SaState::kLarval), "larval");
}

TEST(SoftwareEspTest, SameSequenceAndEventRulesAsHardware) {
  auto engine = OpenEngine(16);
  SoftwareEsp sw;
  auto make = [](std::uint64_t oseq) {
    driver::SaConfig sa;
    sa.spi = 0x1234;
    sa.dir = Direction::kOut;
    sa.src = espo::testing::V4(192, 0, 2, 1);
    sa.dst = espo::testing::V4(198, 51, 100, 2);
    sa.key = Key(9);
    sa.oseq = oseq;
    sa.limits.soft_packets = 1;
    sa.limits.hard_packets = 5;
    return sa;
  };
  const std::uint64_t start = 0xFFFFFFFFULL - 2;
  ASSERT_TRUE(engine->Install(0, make(start)).has_value());
  ASSERT_TRUE(sw.Add(1, make(start)).has_value());
  const Bytes inner = espo::testing::MakeInner({});
  std::vector<PacketStatus> hw_status;
  std::vector<PacketStatus> sw_status;
  for (int i = 0; i < 4; ++i) {
    std::vector<driver::PacketIn> in{{Direction::kOut, 0, 0, inner}};
    auto out = engine->Process(in);
    ASSERT_TRUE(out.has_value());
    hw_status.push_back((*out)[0].status);
    auto tx = sw.Encapsulate(1, inner);
    ASSERT_TRUE(tx.has_value());
    sw_status.push_back(tx->status);
    if (tx->status == PacketStatus::kOk) {
      EXPECT_EQ(tx->data, (*out)[0].data) << "software and hardware ESP differ at packet " << i;
    }
  }
  EXPECT_EQ(sw_status, hw_status);
  EXPECT_EQ(sw_status[2], PacketStatus::kLifetime);  // after 2^32 - 1 nothing is sent
  auto hw_events = engine->DrainEvents();
  ASSERT_TRUE(hw_events.has_value());
  const auto sw_events = sw.DrainEvents();
  ASSERT_EQ(sw_events.size(), hw_events->size());
  for (std::size_t i = 0; i < sw_events.size(); ++i) {
    EXPECT_EQ(sw_events[i].event.kind, (*hw_events)[i].kind) << i;
    EXPECT_EQ(sw_events[i].event.packets, (*hw_events)[i].packets) << i;
    EXPECT_EQ(sw_events[i].event.bytes, (*hw_events)[i].bytes) << i;
  }
  ASSERT_EQ(sw_events.size(), 2U);
  EXPECT_EQ(sw_events[1].event.kind, driver::EventKind::kSeqOverflow);
}

TEST(RekeySchedulerTest, NonceRuleDeletesTheLowest) {
  ExchangeNonces x{{5, 9}, {7, 7}};
  ExchangeNonces y{{6, 0}, {8, 1}};
  EXPECT_TRUE(ExchangeLoses(x, y));  // 05 09 is the lowest of the four
  EXPECT_FALSE(ExchangeLoses(y, x));
  EXPECT_TRUE(NonceLess({1, 2}, {1, 2, 0}));                   // equal prefix: shorter is lower
  EXPECT_EQ(RecommendedHeadroom(1000, 2.0, 360.0, 0.0), 15U);  // SPEC 9.4: E = 5.6, k = 4
  EXPECT_EQ(RecommendedHeadroom(1000, 2.0, 0.0, 83.0), 25U);
}

// Make-before-break: traffic in both directions through real engines crosses many rekeys, with
// packets in flight across every switch; nothing is lost, reordered or sent twice.
TEST(RekeySchedulerTest, MakeBeforeBreakLosesNothingAcrossRekeys) {
  EndOptions o;
  o.slots = 16;
  testing::ExpectMakeBeforeBreakStream(Seed(), o);
}

// Both ends rekey the same SA at once (requests cross). Exactly one new SA survives at each end,
// the two ends agree on it, the redundant one and the old one are removed exactly once.
TEST(RekeySchedulerTest, SimultaneousRekeyKeepsExactlyOneSa) {
  const std::uint64_t seed = Seed();
  int a_won = 0;
  int b_won = 0;
  for (std::uint64_t i = 0; i < 24; ++i) {
    TwoEnds t(seed + i, EndOptions{}, EndOptions{});
    auto [a_old, b_old] = t.Create(3);
    ASSERT_TRUE(t.a().sched->RequestRekey(a_old).has_value());
    ASSERT_TRUE(t.b().sched->RequestRekey(b_old).has_value());
    ASSERT_TRUE(t.a().sched->Poll().has_value());  // A's request queued
    ASSERT_TRUE(t.b().sched->Poll().has_value());  // B's request queued: they cross
    ASSERT_TRUE(t.ike().DeliverAll().has_value());
    t.Settle();
    const RekeyStats& sa = t.a().sched->stats();
    const RekeyStats& sb = t.b().sched->stats();
    EXPECT_EQ(sa.collisions, 1U);
    EXPECT_EQ(sb.collisions, 1U);
    EXPECT_EQ(sa.collisions_lost + sb.collisions_lost, 1U) << "exactly one exchange loses";
    EXPECT_EQ(sa.redundant_deleted + sb.redundant_deleted, 1U);
    (sa.collisions_lost == 0 ? a_won : b_won) += 1;
    const SaId a_new = t.a().mgr->CurrentFor(3);
    const SaId b_new = t.b().mgr->CurrentFor(3);
    ASSERT_NE(a_new, kNoSa);
    ASSERT_NE(b_new, kNoSa);
    EXPECT_NE(a_new, a_old);
    EXPECT_NE(b_new, b_old);
    auto ai = t.a().mgr->Info(a_new);
    auto bi = t.b().mgr->Info(b_new);
    ASSERT_TRUE(ai && bi);
    EXPECT_EQ(ai->outbound_spi, bi->inbound_spi);
    EXPECT_EQ(bi->outbound_spi, ai->inbound_spi);
    EXPECT_EQ(t.a().mgr->StateOf(a_old), SaState::kDraining);
    EXPECT_EQ(t.b().mgr->StateOf(b_old), SaState::kDraining);
    EXPECT_EQ(t.a().mgr->stats().live_sas, 2U);  // new + draining old, no redundant left
    EXPECT_EQ(t.b().mgr->stats().live_sas, 2U);
    Traffic traffic;
    traffic.Both(t, 3, 5);
    EXPECT_EQ(traffic.rx_drops + traffic.tx_drops, 0U);
    t.clock().Advance(std::chrono::seconds(3));
    t.Settle();
    EXPECT_EQ(t.a().mgr->stats().live_sas, 1U);
    EXPECT_EQ(t.b().mgr->stats().live_sas, 1U);
    EXPECT_EQ(sa.lost + sb.lost, 0U);
  }
  EXPECT_GT(a_won, 0);  // both outcomes covered
  EXPECT_GT(b_won, 0);
}

TEST(RekeySchedulerTest, HeadroomIsKeptForRekeys) {
  EndOptions o;
  o.slots = 16;
  o.manager.headroom_in = 4;
  o.manager.headroom_out = 4;
  TwoEnds t(Seed(), o, EndOptions{});
  std::vector<SaId> ids;
  for (std::uint64_t s = 0; s < 13; ++s) ids.push_back(t.Create(s).first);
  for (std::size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(t.a().mgr->Info(ids[i])->inbound, Placement::kHardware) << i;
  }
  // The 13th new SA finds only the 4 reserved slots: software.
  EXPECT_EQ(t.a().mgr->Info(ids[12])->inbound, Placement::kSoftware);
  EXPECT_EQ(t.a().mgr->Info(ids[12])->outbound, Placement::kSoftware);
  EXPECT_EQ(t.a().mgr->stats().in_free, 4U);
  // A rekey may use the headroom.
  ASSERT_TRUE(t.a().sched->RequestRekey(ids[0]).has_value());
  t.Settle();
  const SaId fresh = t.a().mgr->CurrentFor(0);
  ASSERT_NE(fresh, ids[0]);
  EXPECT_EQ(t.a().mgr->Info(fresh)->inbound, Placement::kHardware);
  EXPECT_EQ(t.a().mgr->Info(fresh)->outbound, Placement::kHardware);
}

TEST(RekeySchedulerTest, PacingLimitsConcurrencyAndRate) {
  EndOptions o;
  o.slots = 64;
  o.rekey.max_concurrent = 3;
  TwoEnds t(Seed(), o, EndOptions{});
  std::vector<SaId> ids;
  for (std::uint64_t s = 0; s < 12; ++s) ids.push_back(t.Create(s).first);
  for (SaId id : ids) ASSERT_TRUE(t.a().sched->RequestRekey(id).has_value());
  int rounds = 0;
  while (t.a().sched->stats().rekeys_completed < 12 && rounds < 20) {
    ASSERT_TRUE(t.a().sched->Poll().has_value());
    EXPECT_LE(t.a().sched->stats().in_flight, 3U);
    EXPECT_LE(t.ike().pending(), 3U);
    ASSERT_TRUE(t.ike().DeliverAll().has_value());
    ++rounds;
  }
  EXPECT_EQ(t.a().sched->stats().rekeys_completed, 12U);
  EXPECT_EQ(t.a().sched->stats().max_in_flight, 3U);
  EXPECT_GE(rounds, 4);

  // Token bucket: one rekey per second.
  EndOptions r;
  r.rekey.max_concurrent = 0;
  r.rekey.rate_per_second = 1.0;
  r.rekey.burst = 1.0;
  TwoEnds u(Seed() + 1, r, EndOptions{});
  std::vector<SaId> more;
  for (std::uint64_t s = 0; s < 4; ++s) more.push_back(u.Create(s).first);
  for (SaId id : more) ASSERT_TRUE(u.a().sched->RequestRekey(id).has_value());
  ASSERT_TRUE(u.a().sched->Poll().has_value());
  EXPECT_EQ(u.a().sched->stats().rekeys_started, 1U);
  u.clock().Advance(std::chrono::milliseconds(500));
  ASSERT_TRUE(u.a().sched->Poll().has_value());
  EXPECT_EQ(u.a().sched->stats().rekeys_started, 1U);
  ASSERT_TRUE(u.a().sched->NextDeadline().has_value());
  u.clock().AdvanceTo(*u.a().sched->NextDeadline());
  ASSERT_TRUE(u.a().sched->Poll().has_value());
  EXPECT_EQ(u.a().sched->stats().rekeys_started, 2U);
}

// A's table holds 8 SAs; 10 are created, so 2 run in software. B receives everything in software
// (its headroom covers its whole table), where every packet is decrypted and replay-checked.
// Then slots free up at A and the software SAs move to hardware keeping their sequence numbers.
TEST(RekeySchedulerTest, FallbackToSoftwareAndBackKeepsSequenceNumbers) {
  EndOptions a;
  a.slots = 8;
  a.manager.drain_interval = std::chrono::seconds(1);
  EndOptions b;
  b.slots = 8;
  b.manager.headroom_in = 8;
  b.manager.headroom_out = 8;
  TwoEnds t(Seed(), a, b);
  std::vector<SaId> ids;
  for (std::uint64_t s = 0; s < 10; ++s) ids.push_back(t.Create(s).first);
  EXPECT_EQ(t.a().mgr->stats().software_out, 2U);
  EXPECT_EQ(t.a().mgr->stats().software_in, 2U);
  EXPECT_EQ(t.b().mgr->stats().software_in, 10U);
  Traffic traffic;
  for (std::uint64_t s = 0; s < 10; ++s) traffic.Both(t, s, 20);
  // Free slots: delete four hardware SAs (8 .. 9 are the software ones).
  for (std::size_t i = 0; i < 4; ++i) ASSERT_TRUE(t.a().sched->DeleteChildSa(ids[i]).has_value());
  t.Settle();
  t.clock().Advance(std::chrono::seconds(2));
  t.Settle();
  EXPECT_EQ(t.a().mgr->stats().software_out, 0U) << "outbound did not return to hardware";
  EXPECT_EQ(t.a().mgr->Info(ids[8])->outbound, Placement::kHardware);
  EXPECT_EQ(t.a().mgr->Info(ids[9])->outbound, Placement::kHardware);
  EXPECT_GE(t.a().mgr->stats().migrations, 2U);
  for (std::uint64_t s = 4; s < 10; ++s) traffic.Both(t, s, 20);
  auto c = t.a().mgr->Counters(ids[8]);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->outbound.seq, 40U) << "hardware must continue after software's last number";
  EXPECT_EQ(traffic.rx_drops, 0U) << traffic.last_rx_drop;  // B's replay windows saw no reuse
  EXPECT_EQ(traffic.tx_drops, 0U) << traffic.last_tx_drop;
  EXPECT_EQ(traffic.reused_seq, 0U);
  EXPECT_EQ(traffic.delivered, traffic.SentCount());
  EXPECT_GT(traffic.rx_software, 0U);
}

TEST(RekeySchedulerTest, HardExpiryWithoutReplacementCountsALostSa) {
  EndOptions o;
  o.lifetime = PacketLifetime(20);
  TwoEnds t(Seed(), o, o);
  auto [a, b] = t.Create(1);
  Traffic traffic;
  // Keep the IKE messages in the queue: the rekey never completes before the hard limit.
  for (int i = 0; i < 6; ++i) {
    auto esp = traffic.Send(t.a(), 1, 4, true);
    traffic.Deliver(t.b(), esp, true);
    ASSERT_TRUE(t.a().sched->Poll().has_value());
    ASSERT_TRUE(t.b().sched->Poll().has_value());
  }
  EXPECT_EQ(t.a().mgr->StateOf(a), SaState::kGone);
  EXPECT_EQ(t.b().mgr->StateOf(b), SaState::kGone);
  EXPECT_EQ(t.a().sched->stats().lost, 1U);
  EXPECT_GT(traffic.tx_drops, 0U);
  // A rekey that completes in time leaves nothing lost.
  TwoEnds u(Seed() + 1, o, o);
  u.Create(1);
  Traffic ok;
  for (int i = 0; i < 30; ++i) {
    ok.Both(u, 1, 3);
    u.Settle();
  }
  EXPECT_EQ(u.a().sched->stats().lost + u.b().sched->stats().lost, 0U);
  EXPECT_EQ(ok.rx_drops + ok.tx_drops, 0U);
}

TEST(SaGroupTest, PerQueueAndPerDscpGroupsAreCountedAndRekeyedTogether) {
  EndOptions o;
  o.slots = 32;
  o.lifetime = PacketLifetime(100);
  TwoEnds t(Seed(), o, o);
  GroupSpec g;
  g.base = SpecFor(100);
  g.members = 4;
  g.kind = GroupKind::kPerResource;
  auto ids = t.ike().CreateGroup(g);
  ASSERT_TRUE(ids.has_value()) << ids.error().message;
  const GroupId ga = ids->first;
  EXPECT_EQ(*t.a().sched->SelectorForQueue(ga, 6), 102U);
  Traffic traffic;
  for (std::uint32_t q = 0; q < 4; ++q) {
    const std::uint64_t sel = *t.a().sched->SelectorForQueue(ga, q);
    auto esp = traffic.Send(t.a(), sel, 10 + q, true);
    traffic.Deliver(t.b(), esp, true);
  }
  auto counters = t.a().sched->Counters(ga);
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->out_packets, 10U + 11U + 12U + 13U);
  EXPECT_EQ(counters->members_active, 4U);
  auto cb = t.b().sched->Counters(ids->second);
  EXPECT_EQ(cb->in_packets, 46U);
  // One member crosses its soft limit: the whole group is rekeyed.
  std::vector<SaId> before;
  for (std::uint64_t s = 100; s < 104; ++s) before.push_back(t.a().mgr->CurrentFor(s));
  const SaId m0 = before[0];
  for (int i = 0; i < 10; ++i) {
    auto esp = traffic.Send(t.a(), 100, 10, true);
    traffic.Deliver(t.b(), esp, true);
    t.Settle();
  }
  EXPECT_NE(t.a().mgr->CurrentFor(100), m0);
  EXPECT_GE(t.a().sched->stats().rekeys_started + t.b().sched->stats().rekeys_started, 4U);
  for (std::uint64_t s = 101; s < 104; ++s) {
    EXPECT_NE(t.a().mgr->CurrentFor(s), kNoSa);
    EXPECT_NE(t.a().mgr->CurrentFor(s), before[s - 100]) << "member " << s << " was not rekeyed";
  }
  EXPECT_EQ(traffic.rx_drops, 0U);

  // DSCP classes: EF (46) to member 1, everything else member 0.
  GroupSpec d;
  d.base = SpecFor(200);
  d.members = 2;
  d.kind = GroupKind::kPerDscp;
  d.dscp_to_member[46] = 1;
  auto dg = t.ike().CreateGroup(d);
  ASSERT_TRUE(dg.has_value());
  EXPECT_EQ(*t.a().sched->SelectorForDscp(dg->first, 46), 201U);
  EXPECT_EQ(*t.a().sched->SelectorForDscp(dg->first, 0), 200U);
  d.dscp_to_member[3] = 7;
  EXPECT_FALSE(t.a().sched->RegisterGroup(d).has_value());
}

// Random operation sequences: create, traffic, clock, rekey (also crossing), delete, table
// pressure, partial message delivery. Invariants after every step: never two non-free slots
// with one SPI, never a reused outbound sequence number, never a lost SA, every packet
// delivered in order.
TEST(SdkPropertyTest, RandomOperationSequences) {
  const std::uint64_t seed = Seed();
  std::mt19937_64 gen(seed);
  const int sequences = 10000 * espo::testing::SoakFactor();
  EndOptions o;
  o.slots = 16;
  o.lifetime = PacketLifetime(60);
  o.manager.drain_interval = std::chrono::seconds(1);
  o.manager.spi_quarantine = std::chrono::seconds(5);
  o.manager.headroom_in = 2;
  o.manager.headroom_out = 2;
  std::uint64_t total_rekeys = 0;
  std::uint64_t total_fallbacks = 0;
  std::uint64_t total_collisions = 0;
  // ESPO_TRACE=<sequence> prints that sequence's operations (replay with its ESPO_SEED).
  const char* trace_env = std::getenv("ESPO_TRACE");  // NOLINT(concurrency-mt-unsafe): test
  const int trace = trace_env == nullptr ? -1 : std::atoi(trace_env);
  for (int seq = 0; seq < sequences; ++seq) {
    TwoEnds t(gen(), o, o);
    if (seq == trace) {
      auto print = [](const char* end, const SaEvent& e) {
        std::cout << "  " << end << " SA " << e.sa << " sel " << e.selector << " "
                  << ToString(e.kind) << " " << driver::ToString(e.dir) << " "
                  << (e.kind == SaEventKind::kStateChange
                          ? std::string(ToString(e.from)) + "->" + std::string(ToString(e.to))
                          : std::string(e.software ? "sw" : "hw"))
                  << "\n";
      };
      t.a().mgr->SetEventCallback([print](const SaEvent& e) { print("A", e); });
      t.b().mgr->SetEventCallback([print](const SaEvent& e) { print("B", e); });
    }
    Traffic traffic;
    std::vector<std::uint64_t> selectors;
    std::uint64_t next_selector = 1;
    const int steps = 4 + static_cast<int>(gen() % 8);
    for (int step = 0; step < steps; ++step) {
      const int op = static_cast<int>(gen() % 8);
      if (seq == trace) std::cout << "step " << step << " op " << op << "\n";
      switch (op) {
        case 0:
        case 1: {  // create (op 1 under pressure: several at once)
          const int n = op == 0 ? 1 : 6;
          for (int k = 0; k < n; ++k) {
            t.Create(next_selector);
            selectors.push_back(next_selector++);
          }
          break;
        }
        case 2:
        case 3: {  // traffic: the control plane first catches up, then packets both ways
          if (selectors.empty()) break;
          t.Settle();
          const std::uint64_t sel = selectors[gen() % selectors.size()];
          if (t.a().mgr->CurrentFor(sel) == kNoSa) break;
          // At most 8 packets: less than hard - soft (>= 9 with L = 60), so a rekey started
          // before the burst always completes in time.
          traffic.Both(t, sel, 1 + static_cast<std::uint32_t>(gen() % 8));
          break;
        }
        case 4:
          t.clock().Advance(std::chrono::milliseconds(gen() % 3000));
          break;
        case 5: {  // rekey from one or both ends (crossing requests)
          if (selectors.empty()) break;
          const std::uint64_t sel = selectors[gen() % selectors.size()];
          const int who = static_cast<int>(gen() % 3);
          if (who != 1 && t.a().mgr->StateOf(t.a().mgr->CurrentFor(sel)) == SaState::kActive) {
            ASSERT_TRUE(t.a().sched->RequestRekey(t.a().mgr->CurrentFor(sel)).has_value());
          }
          if (who != 0 && t.b().mgr->StateOf(t.b().mgr->CurrentFor(sel)) == SaState::kActive) {
            ASSERT_TRUE(t.b().sched->RequestRekey(t.b().mgr->CurrentFor(sel)).has_value());
          }
          ASSERT_TRUE(t.a().sched->Poll().has_value());
          ASSERT_TRUE(t.b().sched->Poll().has_value());
          break;
        }
        case 6: {  // delete a selector's SA
          if (selectors.empty()) break;
          const std::size_t i = gen() % selectors.size();
          t.Settle();
          const SaId id = t.a().mgr->CurrentFor(selectors[i]);
          if (id != kNoSa) {
            ASSERT_TRUE(t.a().sched->DeleteChildSa(id).has_value());
          }
          selectors.erase(selectors.begin() + static_cast<std::ptrdiff_t>(i));
          break;
        }
        default: {  // deliver some control messages
          const int n = static_cast<int>(gen() % 3);
          for (int k = 0; k < n; ++k) {
            auto one = t.ike().DeliverOne();
            ASSERT_TRUE(one.has_value()) << one.error().message;
          }
          break;
        }
      }
      ASSERT_TRUE(UniqueSlotSpis(*t.a().engine)) << "sequence " << seq << " step " << step;
      ASSERT_TRUE(UniqueSlotSpis(*t.b().engine)) << "sequence " << seq << " step " << step;
      ASSERT_EQ(traffic.reused_seq, 0U);
      ASSERT_EQ(t.a().sched->stats().lost + t.b().sched->stats().lost, 0U)
          << "sequence " << seq << " step " << step;
    }
    t.Settle();
    ASSERT_EQ(traffic.rx_drops, 0U) << "sequence " << seq << ": " << traffic.last_rx_drop;
    ASSERT_EQ(traffic.tx_drops, 0U) << "sequence " << seq << ": " << traffic.last_tx_drop;
    ASSERT_EQ(traffic.delivered, traffic.SentCount()) << "sequence " << seq;
    // Every remaining selector has exactly one current SA at each end, and they match.
    for (const std::uint64_t sel : selectors) {
      const SaId a = t.a().mgr->CurrentFor(sel);
      const SaId b = t.b().mgr->CurrentFor(sel);
      ASSERT_NE(a, kNoSa) << "sequence " << seq << " selector " << sel;
      ASSERT_NE(b, kNoSa) << "sequence " << seq << " selector " << sel;
      ASSERT_EQ(t.a().mgr->Info(a)->outbound_spi, t.b().mgr->Info(b)->inbound_spi);
      ASSERT_EQ(t.b().mgr->Info(b)->outbound_spi, t.a().mgr->Info(a)->inbound_spi);
    }
    total_rekeys += t.a().sched->stats().rekeys_completed + t.b().sched->stats().rekeys_completed;
    total_fallbacks += t.a().mgr->stats().fallbacks + t.b().mgr->stats().fallbacks;
    total_collisions += t.a().sched->stats().collisions;
  }
  std::cout << "[  STATS   ] rekeys " << total_rekeys << ", fallbacks " << total_fallbacks
            << ", collisions " << total_collisions << std::endl;
  EXPECT_GT(total_rekeys, 0U);
  EXPECT_GT(total_fallbacks, 0U);
}

}  // namespace
}  // namespace espo::sdk
