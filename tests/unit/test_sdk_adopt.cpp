// SPDX-License-Identifier: Apache-2.0
//
// SaManager::AdoptSa / UpdateLimits / FindBySpi: one-direction SAs whose SPI, key, limits, start
// sequence and replay edge were chosen outside the SDK (operator SA lines, SAs mirrored from the
// kernel), over Engine + ModelDevice: hardware placement (inbound in the slot its SPI encodes),
// software fallback and return to hardware, duplicate and invalid configurations (nothing
// installed), limit updates and their events, and device failures at every register write.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "esp_test_util.hpp"
#include "sdk_manager_util.hpp"
#include "test_seed.hpp"

namespace espo::sdk {
namespace {

using driver::Direction;
using driver::PacketStatus;
using testing::OpenEngine;

constexpr std::uint32_t kSlots = 16;

// One seed per test program (printed once); only SPIs of managed SAs depend on it.
std::uint64_t Seed() {
  static const std::uint64_t seed = espo::testing::TestSeed();
  return seed;
}

// A's outbound view of the SA (src A, dst B); the same config with dir kIn is B's inbound view.
driver::SaConfig Config(Direction dir, std::uint32_t spi, std::uint8_t key_seed = 1) {
  espo::testing::SaSpec s;
  s.spi = spi;
  s.key_seed = key_seed;
  return espo::testing::MakeSa(s, dir);
}

std::vector<TxPacket> Packets(std::uint64_t selector, int n) {
  std::vector<TxPacket> tx;
  for (int i = 0; i < n; ++i) {
    espo::testing::InnerSpec spec;
    spec.fill = static_cast<std::uint8_t>(i);
    tx.push_back(TxPacket{selector, espo::testing::MakeInner(spec)});
  }
  return tx;
}

// A manager over its own engine and clock.
struct Node {
  explicit Node(SaManagerOptions options = {}, testing::FaultyDevice** faulty = nullptr)
      : engine(OpenEngine(kSlots, faulty)), rng(Seed()) {
    auto m = SaManager::Create(*engine, clock, rng, options);
    EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().message);
    if (m) mgr = std::move(*m);
  }
  // Sends n packets on the adopted outbound SA `spi`; returns the ESP packets sent (status ok).
  std::vector<Bytes> Send(std::uint32_t spi, int n, std::vector<std::uint64_t>* seqs = nullptr,
                          std::vector<PacketStatus>* statuses = nullptr) {
    auto res = mgr->Transmit(Packets(SaManager::AdoptedSelector(Direction::kOut, spi), n));
    EXPECT_TRUE(res.has_value()) << (res ? "" : res.error().message);
    std::vector<Bytes> esp;
    if (!res) return esp;
    for (PacketResult& r : *res) {
      if (statuses != nullptr) statuses->push_back(r.status);
      if (r.status != PacketStatus::kOk) continue;
      auto info = driver::ParseEspPacket(r.data);
      EXPECT_TRUE(info.has_value());
      if (info && seqs != nullptr) seqs->push_back(info->seq_low);
      esp.push_back(std::move(r.data));
    }
    return esp;
  }
  // Receives packets; returns the statuses.
  std::vector<PacketStatus> Recv(const std::vector<Bytes>& esp) {
    std::vector<PacketStatus> out;
    auto res = mgr->Receive(esp);
    EXPECT_TRUE(res.has_value()) << (res ? "" : res.error().message);
    if (!res) return out;
    for (const PacketResult& r : *res) out.push_back(r.status);
    return out;
  }
  // Every slot of both tables free on the device and in the manager's pools.
  ::testing::AssertionResult AllSlotsFree() {
    for (const Direction dir : {Direction::kIn, Direction::kOut}) {
      for (std::uint32_t s = 0; s < kSlots; ++s) {
        auto st = engine->ReadSlot(dir, s);
        if (!st) return ::testing::AssertionFailure() << st.error().message;
        if (st->state != driver::SlotState::kFree) {
          return ::testing::AssertionFailure()
                 << driver::ToString(dir) << " slot " << s << " is not free";
        }
      }
    }
    const SaManagerStats s = mgr->stats();
    if (s.in_free != kSlots || s.out_free != kSlots) {
      return ::testing::AssertionFailure() << "pools: " << s.in_free << "/" << s.out_free;
    }
    if (s.live_sas != 0) return ::testing::AssertionFailure() << s.live_sas << " live SAs";
    return ::testing::AssertionSuccess();
  }

  std::unique_ptr<driver::Engine> engine;
  FakeClock clock;
  SeededRng rng;
  std::unique_ptr<SaManager> mgr;
};

std::vector<PacketStatus> AllOk(std::size_t n) { return std::vector<PacketStatus>(n); }

TEST(SaManagerAdoptTest, AdoptsBothDirectionsInHardware) {
  Node a;
  Node b;
  constexpr std::uint32_t kSpi = 0x12345;  // slot 5 of 16
  driver::SaConfig out = Config(Direction::kOut, kSpi);
  out.oseq = 1000;  // start sequence chosen outside
  driver::SaConfig in = Config(Direction::kIn, kSpi);
  in.replay_seq = 1000;  // replay right edge chosen outside
  auto a_id = a.mgr->AdoptSa(out);
  auto b_id = b.mgr->AdoptSa(in);
  ASSERT_TRUE(a_id.has_value()) << a_id.error().message;
  ASSERT_TRUE(b_id.has_value()) << b_id.error().message;

  auto ai = a.mgr->Info(*a_id);
  auto bi = b.mgr->Info(*b_id);
  ASSERT_TRUE(ai && bi);
  EXPECT_TRUE(ai->adopted);
  EXPECT_EQ(ai->state, SaState::kActive);
  EXPECT_EQ(ai->outbound, Placement::kHardware);
  EXPECT_EQ(ai->inbound, Placement::kNone);
  EXPECT_EQ(ai->outbound_spi, kSpi);
  EXPECT_EQ(ai->inbound_spi, 0U);
  EXPECT_EQ(ai->selector, SaManager::AdoptedSelector(Direction::kOut, kSpi));
  EXPECT_EQ(bi->state, SaState::kActive);
  EXPECT_EQ(bi->inbound, Placement::kHardware);
  EXPECT_EQ(bi->outbound, Placement::kNone);
  EXPECT_EQ(bi->inbound_slot, kSpi % kSlots);
  EXPECT_EQ(bi->inbound_spi, kSpi);
  EXPECT_EQ(a.mgr->FindBySpi(Direction::kOut, kSpi), *a_id);
  EXPECT_EQ(a.mgr->FindBySpi(Direction::kIn, kSpi), kNoSa);
  EXPECT_EQ(b.mgr->FindBySpi(Direction::kIn, kSpi), *b_id);
  EXPECT_EQ(a.mgr->CurrentFor(SaManager::AdoptedSelector(Direction::kOut, kSpi)), *a_id);
  EXPECT_EQ(a.mgr->stats().installs, 1U);
  EXPECT_EQ(a.mgr->stats().out_free, kSlots - 1);
  EXPECT_EQ(b.mgr->stats().in_free, kSlots - 1);
  const ChildSaSpec* spec = b.mgr->SpecOf(*b_id);
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->local, in.dst);  // this end's view
  EXPECT_EQ(spec->peer, in.src);

  std::vector<std::uint64_t> seqs;
  const std::vector<Bytes> esp = a.Send(kSpi, 5, &seqs);
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{1001, 1002, 1003, 1004, 1005}));
  EXPECT_EQ(b.Recv(esp), AllOk(5));
  EXPECT_EQ(b.Recv({esp[0]}), std::vector<PacketStatus>{PacketStatus::kReplay});
  auto ca = a.mgr->Counters(*a_id);
  auto cb = b.mgr->Counters(*b_id);
  ASSERT_TRUE(ca && cb);
  EXPECT_EQ(ca->outbound.packets, 5U);
  EXPECT_EQ(ca->outbound.seq, 1005U);
  EXPECT_EQ(cb->inbound.packets, 5U);
  EXPECT_EQ(cb->inbound.seq, 1005U);

  // Remove: slots back, the inbound SPI quarantined (the outbound one is the peer's: not).
  ASSERT_TRUE(a.mgr->Remove(*a_id).has_value());
  ASSERT_TRUE(b.mgr->Remove(*b_id).has_value());
  EXPECT_TRUE(a.AllSlotsFree());
  EXPECT_TRUE(b.AllSlotsFree());
  EXPECT_TRUE(b.mgr->IsSpiQuarantined(kSpi));
  EXPECT_FALSE(a.mgr->IsSpiQuarantined(kSpi));
  EXPECT_EQ(a.mgr->FindBySpi(Direction::kOut, kSpi), kNoSa);
  EXPECT_EQ(b.mgr->FindBySpi(Direction::kIn, kSpi), kNoSa);
  EXPECT_EQ(a.mgr->CurrentFor(SaManager::AdoptedSelector(Direction::kOut, kSpi)), kNoSa);
  auto again = b.mgr->AdoptSa(in);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Errc::kExists) << again.error().message;
  b.clock.Advance(std::chrono::seconds(31));
  ASSERT_TRUE(b.mgr->Poll().has_value());
  EXPECT_TRUE(b.mgr->AdoptSa(in).has_value()) << "quarantine over";
  EXPECT_TRUE(a.mgr->AdoptSa(out).has_value()) << "outbound SPIs are not quarantined";
}

TEST(SaManagerAdoptTest, CallerSelectorAndStateEvents) {
  Node a;
  std::vector<SaEvent> seen;
  a.mgr->SetEventCallback([&seen](const SaEvent& e) { seen.push_back(e); });
  auto id = a.mgr->AdoptSa(Config(Direction::kOut, 0x4000), 77);
  ASSERT_TRUE(id.has_value()) << id.error().message;
  EXPECT_EQ(a.mgr->CurrentFor(77), *id);
  EXPECT_EQ(a.mgr->Info(*id)->selector, 77U);
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].kind, SaEventKind::kStateChange);
  EXPECT_EQ(seen[0].from, SaState::kLarval);
  EXPECT_EQ(seen[0].to, SaState::kActive);
  EXPECT_EQ(seen[0].sa, *id);
  // A second outbound SA on the same selector takes over its traffic (make-before-break).
  auto next = a.mgr->AdoptSa(Config(Direction::kOut, 0x4001, 2), 77);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(a.mgr->CurrentFor(77), *next);
}

// Inbound: the SPI's slot taken by another SA -> software; the table full -> software. Both
// return to hardware once their slots are free, keeping replay state and sequence numbers.
TEST(SaManagerAdoptTest, FallsBackToSoftwareAndMigratesBack) {
  SaManagerOptions opt;
  opt.max_out_slots = 2;
  Node a(opt);
  Node b;
  std::vector<SaEvent> events;
  b.mgr->SetEventCallback([&events](const SaEvent& e) { events.push_back(e); });

  // Inbound 0x1003 and 0x2003 both encode slot 3.
  auto first = b.mgr->AdoptSa(Config(Direction::kIn, 0x1003, 1));
  auto second = b.mgr->AdoptSa(Config(Direction::kIn, 0x2003, 2));
  ASSERT_TRUE(first && second);
  EXPECT_EQ(b.mgr->Info(*first)->inbound, Placement::kHardware);
  EXPECT_EQ(b.mgr->Info(*second)->inbound, Placement::kSoftware);
  EXPECT_EQ(b.mgr->Info(*second)->inbound_slot, kNoSlotIndex);
  EXPECT_EQ(b.mgr->stats().software_in, 1U);
  EXPECT_EQ(b.mgr->stats().fallbacks, 1U);
  ASSERT_GE(events.size(), 2U);
  bool fallback_seen = false;
  for (const SaEvent& e : events) {
    if (e.kind == SaEventKind::kFallback) {
      fallback_seen = true;
      EXPECT_EQ(e.sa, *second);
      EXPECT_EQ(e.dir, Direction::kIn);
      EXPECT_TRUE(e.software);
    }
  }
  EXPECT_TRUE(fallback_seen);

  // Outbound: 2 usable slots, the third SA goes to software.
  std::vector<SaId> outs;
  for (const auto& [spi, key] : {std::pair{0x1003U, 1}, {0x4003U, 4}, {0x2003U, 2}}) {
    auto id = a.mgr->AdoptSa(Config(Direction::kOut, spi, static_cast<std::uint8_t>(key)));
    ASSERT_TRUE(id.has_value()) << id.error().message;
    outs.push_back(*id);
  }
  EXPECT_EQ(a.mgr->Info(outs[2])->outbound, Placement::kSoftware);
  EXPECT_EQ(a.mgr->stats().software_out, 1U);

  // 0x2003 flows software -> software.
  std::vector<std::uint64_t> seqs;
  auto esp = a.Send(0x2003, 10, &seqs);
  EXPECT_EQ(b.Recv(esp), AllOk(10));
  const std::vector<Bytes> early = esp;  // replayed later

  // Free the slots (0x1003 at both ends); Poll moves both software SAs to hardware.
  ASSERT_TRUE(a.mgr->Remove(outs[0]).has_value());
  ASSERT_TRUE(b.mgr->Remove(*first).has_value());
  ASSERT_TRUE(a.mgr->Poll().has_value());
  ASSERT_TRUE(b.mgr->Poll().has_value());
  EXPECT_EQ(a.mgr->Info(outs[2])->outbound, Placement::kHardware);
  EXPECT_EQ(b.mgr->Info(*second)->inbound, Placement::kHardware);
  EXPECT_EQ(b.mgr->Info(*second)->inbound_slot, 3U);
  EXPECT_EQ(a.mgr->stats().migrations, 1U);
  EXPECT_EQ(b.mgr->stats().migrations, 1U);
  EXPECT_EQ(b.mgr->stats().software_in, 0U);

  esp = a.Send(0x2003, 10, &seqs);
  EXPECT_EQ(b.Recv(esp), AllOk(10));
  std::set<std::uint64_t> unique(seqs.begin(), seqs.end());
  EXPECT_EQ(unique.size(), 20U) << "a sequence number was reused across the move";
  EXPECT_EQ(seqs.back(), 20U);
  // Pre-move packets are refused by the hardware window.
  for (PacketStatus s : b.Recv(early)) EXPECT_EQ(s, PacketStatus::kReplay);
  // Counters span the move.
  auto ca = a.mgr->Counters(outs[2]);
  auto cb = b.mgr->Counters(*second);
  ASSERT_TRUE(ca && cb);
  EXPECT_EQ(ca->outbound.packets, 20U);
  EXPECT_EQ(ca->outbound.seq, 20U);
  EXPECT_EQ(cb->inbound.packets, 20U);
  EXPECT_EQ(cb->inbound.seq, 20U);
}

// An inbound SA whose slot was free but held back by the headroom moves to that slot as soon as
// the headroom allows a new SA, even though its own slot is never "freed".
TEST(SaManagerAdoptTest, HeadroomHeldInboundSaMovesOnceTheHeadroomAllows) {
  SaManagerOptions opt;
  opt.headroom_in = 2;
  Node n(opt);
  std::vector<SaId> ids;
  for (std::uint32_t slot = 0; slot < kSlots - 2; ++slot) {
    auto id = n.mgr->AdoptSa(Config(Direction::kIn, 0x1000 + slot));
    ASSERT_TRUE(id.has_value()) << id.error().message;
    ids.push_back(*id);
  }
  auto held = n.mgr->AdoptSa(Config(Direction::kIn, 0x2000 + kSlots - 2));  // slot 14: free
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(n.mgr->Info(*held)->inbound, Placement::kSoftware);
  ASSERT_TRUE(n.mgr->Poll().has_value());
  EXPECT_EQ(n.mgr->Info(*held)->inbound, Placement::kSoftware) << "the headroom still holds";
  ASSERT_TRUE(n.mgr->Remove(ids[0]).has_value());  // slot 0 frees: 3 free > headroom 2
  ASSERT_TRUE(n.mgr->Poll().has_value());
  EXPECT_EQ(n.mgr->Info(*held)->inbound, Placement::kHardware);
  EXPECT_EQ(n.mgr->Info(*held)->inbound_slot, kSlots - 2);
  EXPECT_EQ(n.mgr->stats().migrations, 1U);
  EXPECT_EQ(n.mgr->stats().in_free, 2U);
}

TEST(SaManagerAdoptTest, ExhaustedWithoutSoftwareFallback) {
  SaManagerOptions opt;
  opt.software_fallback = false;
  opt.max_out_slots = 1;
  Node n(opt);
  ASSERT_TRUE(n.mgr->AdoptSa(Config(Direction::kIn, 0x1003)).has_value());
  auto in = n.mgr->AdoptSa(Config(Direction::kIn, 0x2003));
  ASSERT_FALSE(in.has_value());
  EXPECT_EQ(in.error().code, Errc::kExhausted) << in.error().message;
  ASSERT_TRUE(n.mgr->AdoptSa(Config(Direction::kOut, 0x1003)).has_value());
  auto out = n.mgr->AdoptSa(Config(Direction::kOut, 0x2003));
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().code, Errc::kExhausted) << out.error().message;
  EXPECT_EQ(n.mgr->stats().live_sas, 2U);
  EXPECT_EQ(n.mgr->FindBySpi(Direction::kIn, 0x2003), kNoSa);
  EXPECT_FALSE(n.mgr->IsSpiQuarantined(0x2003));
}

TEST(SaManagerAdoptTest, HeadroomSendsNewAdoptedSasToSoftware) {
  SaManagerOptions opt;
  opt.headroom_in = kSlots;  // every slot reserved for rekeys
  Node n(opt);
  auto fresh = n.mgr->AdoptSa(Config(Direction::kIn, 0x1003), SlotClass::kNew);
  auto rekey = n.mgr->AdoptSa(Config(Direction::kIn, 0x1004), SlotClass::kRekey);
  ASSERT_TRUE(fresh && rekey);
  EXPECT_EQ(n.mgr->Info(*fresh)->inbound, Placement::kSoftware);
  EXPECT_EQ(n.mgr->Info(*rekey)->inbound, Placement::kHardware);
}

TEST(SaManagerAdoptTest, DuplicateSpiIsRejectedAndNothingInstalled) {
  Node n;
  auto in = n.mgr->AdoptSa(Config(Direction::kIn, 0x1003));
  auto out = n.mgr->AdoptSa(Config(Direction::kOut, 0x1003));  // other direction: allowed
  ASSERT_TRUE(in && out);
  const SaManagerStats before = n.mgr->stats();
  for (const Direction dir : {Direction::kIn, Direction::kOut}) {
    auto dup = n.mgr->AdoptSa(Config(dir, 0x1003, 9), 5);
    ASSERT_FALSE(dup.has_value());
    EXPECT_EQ(dup.error().code, Errc::kExists) << dup.error().message;
    EXPECT_NE(dup.error().message.find("0x00001003"), std::string::npos) << dup.error().message;
  }
  // A managed SA's inbound SPI is taken too.
  auto managed = n.mgr->Allocate(testing::SpecFor(1), SlotClass::kNew);
  ASSERT_TRUE(managed.has_value());
  const std::uint32_t managed_spi = n.mgr->Info(*managed)->inbound_spi;
  EXPECT_EQ(n.mgr->FindBySpi(Direction::kIn, managed_spi), *managed);
  auto clash = n.mgr->AdoptSa(Config(Direction::kIn, managed_spi));
  ASSERT_FALSE(clash.has_value());
  EXPECT_EQ(clash.error().code, Errc::kExists);
  ASSERT_TRUE(n.mgr->Remove(*managed).has_value());

  const SaManagerStats after = n.mgr->stats();
  EXPECT_EQ(after.installs, before.installs);
  EXPECT_EQ(after.live_sas, before.live_sas);
  EXPECT_EQ(after.in_free, before.in_free);
  EXPECT_EQ(after.out_free, before.out_free);
  EXPECT_EQ(n.mgr->FindBySpi(Direction::kIn, 0x1003), *in);
  EXPECT_EQ(n.mgr->FindBySpi(Direction::kOut, 0x1003), *out);
  EXPECT_EQ(n.mgr->CurrentFor(5), kNoSa);
  EXPECT_TRUE(testing::UniqueSlotSpis(*n.engine));
}

TEST(SaManagerAdoptTest, InvalidConfigIsRejectedAndNothingInstalled) {
  Node n;
  std::vector<std::pair<std::string, driver::SaConfig>> bad;
  bad.emplace_back("spi below 256", Config(Direction::kIn, 255));
  bad.emplace_back("spi 0", Config(Direction::kOut, 0));
  driver::SaConfig c = Config(Direction::kOut, 0x1000);
  c.icv_bytes = 10;
  bad.emplace_back("icv", std::move(c));
  c = Config(Direction::kOut, 0x1000);
  c.limits.soft_packets = 10;
  c.limits.hard_packets = 10;
  bad.emplace_back("soft >= hard", std::move(c));
  c = Config(Direction::kIn, 0x1000);
  c.replay_window = 48;
  bad.emplace_back("window", std::move(c));
  c = Config(Direction::kIn, 0x1000);
  c.oseq = 5;
  bad.emplace_back("oseq on inbound", std::move(c));
  c = Config(Direction::kOut, 0x1000);
  c.oseq = 0xFFFFFFFFULL;
  bad.emplace_back("oseq exhausted", std::move(c));
  c = Config(Direction::kOut, 0x1000);
  c.key = driver::KeyMaterial{};
  bad.emplace_back("no key", std::move(c));
  for (const auto& [what, sa] : bad) {
    auto id = n.mgr->AdoptSa(sa);
    ASSERT_FALSE(id.has_value()) << what;
    EXPECT_EQ(id.error().code, Errc::kInvalidArgument) << what << ": " << id.error().message;
    EXPECT_EQ(n.mgr->FindBySpi(sa.dir, sa.spi), kNoSa) << what;
  }
  EXPECT_TRUE(n.AllSlotsFree());
  EXPECT_EQ(n.mgr->stats().installs, 0U);
  EXPECT_EQ(n.mgr->stats().quarantined_spis, 0U);
  EXPECT_EQ(n.mgr->stats().software_in + n.mgr->stats().software_out, 0U);
}

// UpdateLimits moves the soft and hard points of an adopted SA; the events fire at the new
// limits (hardware slot, software, and an SA that moved from software to a slot meanwhile).
TEST(SaManagerAdoptTest, UpdateLimitsThenSoftAndHardEventsFire) {
  enum class Where { kHardware, kSoftware, kMoved };
  for (const Where where : {Where::kHardware, Where::kSoftware, Where::kMoved}) {
    SCOPED_TRACE(static_cast<int>(where));
    SaManagerOptions opt;
    opt.max_out_slots = 1;
    Node n(opt);
    SaId blocker = kNoSa;
    if (where != Where::kHardware) {
      blocker = *n.mgr->AdoptSa(Config(Direction::kOut, 0x9000));
    }
    driver::SaConfig sa = Config(Direction::kOut, 0x1000);
    sa.limits.soft_packets = 100;
    sa.limits.hard_packets = 200;
    auto id = n.mgr->AdoptSa(sa);
    ASSERT_TRUE(id.has_value()) << id.error().message;
    const Placement expect =
        where == Where::kHardware ? Placement::kHardware : Placement::kSoftware;
    EXPECT_EQ(n.mgr->Info(*id)->outbound, expect);
    std::uint64_t sent_before = 0;
    if (where == Where::kMoved) {
      EXPECT_EQ(n.Send(0x1000, 3).size(), 3U);
      sent_before = 3;
      ASSERT_TRUE(n.mgr->Remove(blocker).has_value());
      ASSERT_TRUE(n.mgr->Poll().has_value());
      EXPECT_EQ(n.mgr->Info(*id)->outbound, Placement::kHardware);
    }
    ASSERT_TRUE(n.mgr->CollectEvents().has_value());  // drop state/fallback/migration events

    // Errors leave the limits alone.
    driver::SaLimits bad{8, 8, 0, 0};
    auto st = n.mgr->UpdateLimits(*id, Direction::kOut, bad);
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, Errc::kInvalidArgument);
    st = n.mgr->UpdateLimits(*id, Direction::kIn, driver::SaLimits{5, 8, 0, 0});
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, Errc::kNotFound) << "inbound side not installed";
    st = n.mgr->UpdateLimits(*id + 100, Direction::kOut, driver::SaLimits{5, 8, 0, 0});
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, Errc::kNotFound);

    // Absolute over the SA's life: soft at packet 5, hard at packet 8.
    ASSERT_TRUE(n.mgr->UpdateLimits(*id, Direction::kOut, driver::SaLimits{5, 8, 0, 0}));
    std::vector<PacketStatus> statuses;
    n.Send(0x1000, static_cast<int>(10 - sent_before), nullptr, &statuses);
    std::vector<PacketStatus> expect_status(8 - sent_before, PacketStatus::kOk);
    expect_status.resize(10 - sent_before, PacketStatus::kLifetime);
    EXPECT_EQ(statuses, expect_status);
    auto events = n.mgr->CollectEvents();
    ASSERT_TRUE(events.has_value());
    ASSERT_EQ(events->size(), 2U);
    EXPECT_EQ((*events)[0].kind, SaEventKind::kSoft);
    EXPECT_EQ((*events)[0].packets, 5U);
    EXPECT_EQ((*events)[1].kind, SaEventKind::kHard);
    EXPECT_EQ((*events)[1].packets, 8U);
    for (const SaEvent& e : *events) {
      EXPECT_EQ(e.sa, *id);
      EXPECT_EQ(e.dir, Direction::kOut);
      EXPECT_EQ(e.software, where == Where::kSoftware);
    }
  }
}

TEST(SaManagerAdoptTest, UpdateLimitsOnInboundBytes) {
  Node a;
  Node b;
  driver::SaConfig in = Config(Direction::kIn, 0x1007);
  ASSERT_TRUE(a.mgr->AdoptSa(Config(Direction::kOut, 0x1007)).has_value());
  auto id = b.mgr->AdoptSa(in);
  ASSERT_TRUE(id.has_value());
  auto esp = a.Send(0x1007, 1);
  ASSERT_EQ(b.Recv(esp), AllOk(1));
  auto c = b.mgr->Counters(*id);
  ASSERT_TRUE(c.has_value());
  const std::uint64_t per_packet = c->inbound.bytes;
  ASSERT_GT(per_packet, 0U);
  // Soft after 3 packets' bytes, hard after 4.
  ASSERT_TRUE(b.mgr->UpdateLimits(*id, Direction::kIn,
                                  driver::SaLimits{0, 0, 3 * per_packet, 4 * per_packet}));
  esp = a.Send(0x1007, 5);
  std::vector<PacketStatus> want = AllOk(3);
  want.push_back(PacketStatus::kLifetime);
  want.push_back(PacketStatus::kLifetime);
  EXPECT_EQ(b.Recv(esp), want);
  auto events = b.mgr->CollectEvents();
  ASSERT_TRUE(events.has_value());
  std::vector<SaEventKind> kinds;
  for (const SaEvent& e : *events) {
    if (e.kind == SaEventKind::kSoft || e.kind == SaEventKind::kHard) {
      kinds.push_back(e.kind);
      EXPECT_EQ(e.sa, *id);
      EXPECT_EQ(e.dir, Direction::kIn);
    }
  }
  EXPECT_EQ(kinds, (std::vector<SaEventKind>{SaEventKind::kSoft, SaEventKind::kHard}));
}

// A RekeyScheduler on the same manager reports adopted SAs' events and leaves them alone.
TEST(SaManagerAdoptTest, SchedulerLeavesAdoptedSasToTheOwner) {
  class Recorder final : public RekeyHandler {
   public:
    void StartRekey(const RekeyRequest& /*request*/) override { ++starts; }
    void SendDelete(SaId /*sa*/, std::uint32_t /*spi*/) override { ++deletes; }
    void OnEvent(const SaEvent& e) override { kinds.push_back(e.kind); }
    int starts = 0;
    int deletes = 0;
    std::vector<SaEventKind> kinds;
  };
  Node n;
  auto policy = LifetimePolicy::Create(testing::PacketLifetime(1000), n.clock, n.rng);
  ASSERT_TRUE(policy.has_value());
  Recorder handler;
  auto sched = RekeyScheduler::Create(*n.mgr, *policy, handler);
  ASSERT_TRUE(sched.has_value());
  driver::SaConfig sa = Config(Direction::kOut, 0x1000);
  sa.limits = driver::SaLimits{2, 3, 0, 0};
  auto id = n.mgr->AdoptSa(sa);
  ASSERT_TRUE(id.has_value());
  EXPECT_TRUE(n.mgr->IsAdopted(*id));
  n.Send(0x1000, 4);
  ASSERT_TRUE((*sched)->Poll().has_value());
  ASSERT_TRUE((*sched)->Poll().has_value());
  EXPECT_EQ(handler.starts, 0);
  EXPECT_EQ(handler.deletes, 0);
  EXPECT_EQ(std::count(handler.kinds.begin(), handler.kinds.end(), SaEventKind::kSoft), 1);
  EXPECT_EQ(std::count(handler.kinds.begin(), handler.kinds.end(), SaEventKind::kHard), 1);
  EXPECT_EQ(n.mgr->StateOf(*id), SaState::kActive) << "the owner removes it, not the scheduler";
  EXPECT_EQ((*sched)->stats().hard_removed, 0U);
  EXPECT_EQ((*sched)->stats().lost, 0U);
  EXPECT_EQ((*sched)->stats().rekeys_queued, 0U);
}

// A register write fails at every position of an adopt: either the adopt succeeds, or nothing
// is left behind (no SA, no SPI taken or quarantined, every slot free) and a retry succeeds.
TEST(SaManagerAdoptTest, DeviceFailuresLeaveManagerAndTableConsistent) {
  for (const Direction dir : {Direction::kIn, Direction::kOut}) {
    SCOPED_TRACE(std::string(driver::ToString(dir)));
    bool succeeded = false;
    for (std::uint64_t k = 1; k < 200 && !succeeded; ++k) {
      testing::FaultyDevice* faulty = nullptr;
      Node n({}, &faulty);
      ASSERT_NE(faulty, nullptr);
      const driver::SaConfig sa = Config(dir, 0x1005);
      faulty->FailWriteAfter(k);
      auto id = n.mgr->AdoptSa(sa);
      faulty->FailWriteAfter(0);
      if (id.has_value()) {
        succeeded = true;
        EXPECT_EQ(n.mgr->Info(*id)->state, SaState::kActive);
        continue;
      }
      EXPECT_EQ(id.error().code, Errc::kDevice) << id.error().message;
      EXPECT_TRUE(n.AllSlotsFree()) << "write " << k;
      EXPECT_EQ(n.mgr->FindBySpi(dir, sa.spi), kNoSa);
      EXPECT_FALSE(n.mgr->IsSpiQuarantined(sa.spi));
      EXPECT_EQ(n.mgr->stats().installs, 0U);
      auto retry = n.mgr->AdoptSa(sa);
      ASSERT_TRUE(retry.has_value()) << "write " << k << ": " << retry.error().message;
      EXPECT_EQ(n.mgr->Info(*retry)->state, SaState::kActive);
      EXPECT_TRUE(testing::UniqueSlotSpis(*n.engine));
    }
    EXPECT_TRUE(succeeded) << "the adopt never succeeded";
  }

  // UpdateLimits and Remove under a failing device.
  testing::FaultyDevice* faulty = nullptr;
  Node n({}, &faulty);
  driver::SaConfig sa = Config(Direction::kOut, 0x1005);
  sa.limits = driver::SaLimits{5, 8, 0, 0};
  auto id = n.mgr->AdoptSa(sa);
  ASSERT_TRUE(id.has_value());
  faulty->FailWriteAfter(1);
  auto st = n.mgr->UpdateLimits(*id, Direction::kOut, driver::SaLimits{2, 3, 0, 0});
  faulty->FailWriteAfter(0);
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, Errc::kDevice);
  std::vector<PacketStatus> statuses;
  n.Send(0x1005, 6, nullptr, &statuses);
  EXPECT_EQ(statuses, AllOk(6)) << "the old limits (hard 8) still apply";
  faulty->FailWriteAfter(1);
  st = n.mgr->Remove(*id);
  faulty->FailWriteAfter(0);
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(n.mgr->StateOf(*id), SaState::kGone);
  EXPECT_EQ(n.mgr->FindBySpi(Direction::kOut, 0x1005), kNoSa);
  EXPECT_EQ(n.mgr->stats().stuck_slots, 1U);
  EXPECT_EQ(n.mgr->stats().out_free, kSlots - 1) << "the stuck slot stays out of the pool";
  EXPECT_EQ(n.mgr->stats().live_sas, 0U);
}

}  // namespace
}  // namespace espo::sdk
