// SPDX-License-Identifier: Apache-2.0
//
// SaManager::Snapshot / Restore over Engine + ModelDevice: traffic, a snapshot stored in a
// FileCheckpointStore, more traffic, a crash of both ends (fresh devices and managers), restore
// with jump-ahead, more traffic. No sequence number is sent twice under one SA, replayed
// pre-crash packets are dropped, SaIds, selectors, SPIs and the quarantine survive; plus the
// error paths (non-empty manager, provider errors unwind, skipped SAs, sequence space exhausted,
// hard limit reached) and draining / software SAs.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "esp_test_util.hpp"
#include "sdk_manager_util.hpp"
#include "test_seed.hpp"

#include "espo/sdk/checkpoint.hpp"

namespace espo::sdk {
namespace {

namespace fs = std::filesystem;
using driver::Direction;
using driver::PacketStatus;

constexpr std::uint32_t kSlots = 16;
constexpr std::uint64_t kSelector = 1;
constexpr std::uint32_t kAdoptedSpi = 0x7001;

std::uint64_t Seed() {
  static const std::uint64_t seed = espo::testing::TestSeed();
  return seed;
}

// One direction as its owner (the IKE daemon, the operator's SA file) knows it. `a_to_b`: the
// packets flow from A (192.0.2.1) to B (198.51.100.2).
driver::SaConfig Owned(Direction dir, std::uint32_t spi, std::uint8_t key_seed, bool a_to_b) {
  espo::testing::SaSpec s;
  s.spi = spi;
  s.key_seed = key_seed;
  driver::SaConfig sa = espo::testing::MakeSa(s, dir);
  if (!a_to_b) std::swap(sa.src, sa.dst);
  return sa;
}

// One end: engine, manager and the owner's database of SA configurations (with keys).
struct Side {
  explicit Side(std::uint64_t seed, SaManagerOptions options = {})
      : engine(testing::OpenEngine(kSlots)), rng(std::make_unique<SeededRng>(seed)) {
    opts = options;
  }
  void Start(FakeClock& c) {
    clock = &c;
    auto m = SaManager::Create(*engine, c, *rng, opts);
    ASSERT_TRUE(m.has_value()) << m.error().message;
    mgr = std::move(*m);
  }
  // A fresh device and manager (a crash and restart); the owner's database survives.
  void Crash(std::uint64_t seed) {
    mgr.reset();
    engine = testing::OpenEngine(kSlots);
    rng = std::make_unique<SeededRng>(seed);
    Start(*clock);
  }
  RestoreConfigProvider Provider() {
    return [this](const SaCheckpoint& rec) -> Result<driver::SaConfig> {
      const Direction dir =
          rec.direction == SaDirection::kInbound ? Direction::kIn : Direction::kOut;
      auto it = owned.find({dir, rec.spi});
      if (it == owned.end()) return MakeError(Errc::kNotFound, "owner: no such SA");
      return it->second.Clone();
    };
  }

  std::unique_ptr<driver::Engine> engine;
  std::unique_ptr<SeededRng> rng;
  FakeClock* clock = nullptr;
  SaManagerOptions opts;
  std::unique_ptr<SaManager> mgr;
  std::map<std::pair<Direction, std::uint32_t>, driver::SaConfig> owned;
};

// Packets from one side to the other with bookkeeping of every sequence number per SPI.
class Flow {
 public:
  std::vector<Bytes> Send(Side& from, std::uint64_t selector, int n) {
    std::vector<TxPacket> tx;
    for (int i = 0; i < n; ++i) {
      espo::testing::InnerSpec spec;
      spec.fill = static_cast<std::uint8_t>(counter_++);
      tx.push_back(TxPacket{selector, espo::testing::MakeInner(spec)});
    }
    auto res = from.mgr->Transmit(tx);
    EXPECT_TRUE(res.has_value()) << (res ? "" : res.error().message);
    std::vector<Bytes> esp;
    if (!res) return esp;
    for (PacketResult& r : *res) {
      EXPECT_EQ(r.status, PacketStatus::kOk) << driver::ToString(r.status);
      if (r.status != PacketStatus::kOk) continue;
      auto info = driver::ParseEspPacket(r.data);
      EXPECT_TRUE(info.has_value());
      if (!info) continue;
      const bool fresh = sent_.insert({&from, info->spi, info->seq_low}).second;
      EXPECT_TRUE(fresh) << "SPI " << info->spi << " sent sequence number " << info->seq_low
                         << " twice";
      if (!fresh) ++reused;
      esp.push_back(std::move(r.data));
    }
    return esp;
  }
  static std::vector<PacketStatus> Recv(Side& to, const std::vector<Bytes>& esp) {
    std::vector<PacketStatus> out;
    auto res = to.mgr->Receive(esp);
    EXPECT_TRUE(res.has_value()) << (res ? "" : res.error().message);
    if (!res) return out;
    for (const PacketResult& r : *res) out.push_back(r.status);
    return out;
  }
  std::uint64_t reused = 0;

 private:
  std::set<std::tuple<const Side*, std::uint32_t, std::uint64_t>> sent_;
  int counter_ = 0;
};

std::vector<PacketStatus> All(std::size_t n, PacketStatus s = PacketStatus::kOk) {
  return std::vector<PacketStatus>(n, s);
}

class SaManagerCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("espo-mgr-ckpt-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A managed pair on kSelector (A and B) and an adopted A->B SA; A's outbound table holds one
  // slot, so A's adopted outbound runs in software.
  void Build(Side& a, Side& b) {
    a.Start(clock_);
    b.Start(clock_);
    const ChildSaSpec spec_a = testing::SpecFor(kSelector);
    auto ida = a.mgr->Allocate(spec_a, SlotClass::kNew);
    auto idb = b.mgr->Allocate(MirrorSpec(spec_a), SlotClass::kNew);
    ASSERT_TRUE(ida && idb);
    a_id = *ida;
    b_id = *idb;
    a_in = a.mgr->Info(a_id)->inbound_spi;
    b_in = b.mgr->Info(b_id)->inbound_spi;
    a.owned[{Direction::kOut, b_in}] = Owned(Direction::kOut, b_in, 1, true);
    b.owned[{Direction::kIn, b_in}] = Owned(Direction::kIn, b_in, 1, true);
    b.owned[{Direction::kOut, a_in}] = Owned(Direction::kOut, a_in, 2, false);
    a.owned[{Direction::kIn, a_in}] = Owned(Direction::kIn, a_in, 2, false);
    ASSERT_TRUE(a.mgr->InstallPair(a_id, b_in, a.owned[{Direction::kIn, a_in}].key.Clone(),
                                   a.owned[{Direction::kOut, b_in}].key.Clone(), {}, {},
                                   SlotClass::kNew));
    ASSERT_TRUE(b.mgr->InstallPair(b_id, a_in, b.owned[{Direction::kIn, b_in}].key.Clone(),
                                   b.owned[{Direction::kOut, a_in}].key.Clone(), {}, {},
                                   SlotClass::kNew));
    a.owned[{Direction::kOut, kAdoptedSpi}] = Owned(Direction::kOut, kAdoptedSpi, 3, true);
    b.owned[{Direction::kIn, kAdoptedSpi}] = Owned(Direction::kIn, kAdoptedSpi, 3, true);
    auto adopted_a = a.mgr->AdoptSa(a.owned[{Direction::kOut, kAdoptedSpi}]);
    auto adopted_b = b.mgr->AdoptSa(b.owned[{Direction::kIn, kAdoptedSpi}]);
    ASSERT_TRUE(adopted_a && adopted_b);
    a_adopted = *adopted_a;
    b_adopted = *adopted_b;
  }
  static std::uint64_t AdoptedSel() {
    return SaManager::AdoptedSelector(Direction::kOut, kAdoptedSpi);
  }

  fs::path dir_;
  FakeClock clock_;
  SaId a_id = kNoSa;
  SaId b_id = kNoSa;
  SaId a_adopted = kNoSa;
  SaId b_adopted = kNoSa;
  std::uint32_t a_in = 0;
  std::uint32_t b_in = 0;
};

TEST_F(SaManagerCheckpointTest, RestoreNeverRepeatsASequenceNumberAndDropsReplays) {
  SaManagerOptions a_opt;
  a_opt.max_out_slots = 1;
  Side a(Seed() * 4 + 1, a_opt);
  Side b(Seed() * 4 + 2);
  Build(a, b);
  ASSERT_EQ(a.mgr->Info(a_adopted)->outbound, Placement::kSoftware);
  Flow flow;
  // Before the save: traffic both ways on the pair, A->B on the adopted SA.
  const std::vector<Bytes> old_ab = flow.Send(a, kSelector, 20);
  const std::vector<Bytes> old_ba = flow.Send(b, kSelector, 20);
  const std::vector<Bytes> old_adopted = flow.Send(a, AdoptedSel(), 20);
  EXPECT_EQ(Flow::Recv(b, old_ab), All(20));
  EXPECT_EQ(Flow::Recv(a, old_ba), All(20));
  EXPECT_EQ(Flow::Recv(b, old_adopted), All(20));
  // A removed SA leaves its inbound SPI in quarantine.
  auto gone = b.mgr->AdoptSa(Owned(Direction::kIn, 0x9003, 9, true));
  ASSERT_TRUE(gone.has_value());
  ASSERT_TRUE(b.mgr->Remove(*gone).has_value());

  auto snap_a = a.mgr->Snapshot();
  auto snap_b = b.mgr->Snapshot();
  ASSERT_TRUE(snap_a.has_value()) << snap_a.error().message;
  ASSERT_TRUE(snap_b.has_value()) << snap_b.error().message;
  EXPECT_EQ(snap_a->sas.size(), 3U);  // pair in + out, adopted out
  EXPECT_EQ(snap_b->sas.size(), 3U);
  EXPECT_EQ(snap_b->spis.retired, std::vector<std::uint32_t>{0x9003});
  FileCheckpointStore store_a(dir_ / "a.json");
  FileCheckpointStore store_b(dir_ / "b.json");
  ASSERT_TRUE(store_a.Save(*snap_a).has_value());
  ASSERT_TRUE(store_b.Save(*snap_b).has_value());

  // After the save, before the crash: 15 more packets per flow, delivered.
  EXPECT_EQ(Flow::Recv(b, flow.Send(a, kSelector, 15)), All(15));
  EXPECT_EQ(Flow::Recv(a, flow.Send(b, kSelector, 15)), All(15));
  EXPECT_EQ(Flow::Recv(b, flow.Send(a, AdoptedSel(), 15)), All(15));

  // Crash both ends: fresh devices, fresh managers, other random seeds.
  a.Crash(Seed() * 4 + 3);
  b.Crash(Seed() * 4 + 4);
  auto load_a = store_a.Load();
  auto load_b = store_b.Load();
  ASSERT_TRUE(load_a && load_b);
  EXPECT_EQ(*load_a, *snap_a);
  RestoreOptions ro;
  ro.jump_margin = RecommendedJumpMargin(30, std::chrono::seconds(1));  // 60 > 15
  auto rep_a = a.mgr->Restore(*load_a, a.Provider(), ro);
  auto rep_b = b.mgr->Restore(*load_b, b.Provider(), ro);
  ASSERT_TRUE(rep_a.has_value()) << rep_a.error().message;
  ASSERT_TRUE(rep_b.has_value()) << rep_b.error().message;
  EXPECT_EQ(rep_a->restored, (std::vector<SaId>{a_id, a_adopted}));
  EXPECT_EQ(rep_b->restored, (std::vector<SaId>{b_id, b_adopted}));
  EXPECT_TRUE(rep_a->skipped.empty());
  EXPECT_TRUE(rep_a->needs_rekey.empty());

  // Same ids, selectors, SPIs, pairing and placement rules.
  EXPECT_EQ(a.mgr->CurrentFor(kSelector), a_id);
  EXPECT_EQ(b.mgr->CurrentFor(kSelector), b_id);
  EXPECT_EQ(a.mgr->CurrentFor(AdoptedSel()), a_adopted);
  EXPECT_EQ(a.mgr->FindBySpi(Direction::kIn, a_in), a_id);
  EXPECT_EQ(a.mgr->FindBySpi(Direction::kOut, b_in), a_id);
  EXPECT_EQ(b.mgr->FindBySpi(Direction::kIn, kAdoptedSpi), b_adopted);
  EXPECT_TRUE(b.mgr->IsAdopted(b_adopted));
  EXPECT_FALSE(b.mgr->IsAdopted(b_id));
  auto info = a.mgr->Info(a_id);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->state, SaState::kActive);
  EXPECT_EQ(info->inbound, Placement::kHardware);
  EXPECT_EQ(info->inbound_slot, a_in % kSlots);
  EXPECT_EQ(info->outbound, Placement::kHardware);
  EXPECT_EQ(a.mgr->Info(a_adopted)->outbound, Placement::kSoftware);
  // The removed SA's SPI is still quarantined; new ids continue above the saved ones.
  EXPECT_TRUE(b.mgr->IsSpiQuarantined(0x9003));
  auto again = b.mgr->AdoptSa(Owned(Direction::kIn, 0x9003, 9, true));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Errc::kExists);
  auto fresh = b.mgr->Allocate(testing::SpecFor(5), SlotClass::kNew);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_GT(*fresh, b_adopted);
  EXPECT_GE(*fresh, snap_b->next_sa_id);
  ASSERT_TRUE(b.mgr->Remove(*fresh).has_value());

  // Outbound counters resume at saved + margin; counters count the skipped numbers as used.
  auto ca = a.mgr->Counters(a_id);
  ASSERT_TRUE(ca.has_value());
  EXPECT_EQ(ca->outbound.seq, 20 + ro.jump_margin);
  EXPECT_EQ(ca->outbound.packets, 20 + ro.jump_margin);
  EXPECT_EQ(ca->inbound.seq, 20U) << "inbound edge = saved edge";

  // More traffic: accepted, and no number repeats (Flow checks every SPI's numbers).
  EXPECT_EQ(Flow::Recv(b, flow.Send(a, kSelector, 20)), All(20));
  EXPECT_EQ(Flow::Recv(a, flow.Send(b, kSelector, 20)), All(20));
  EXPECT_EQ(Flow::Recv(b, flow.Send(a, AdoptedSel(), 20)), All(20));
  EXPECT_EQ(flow.reused, 0U);
  // Every pre-crash packet replayed into the restored receivers is dropped.
  EXPECT_EQ(Flow::Recv(b, old_ab), All(20, PacketStatus::kReplay));
  EXPECT_EQ(Flow::Recv(a, old_ba), All(20, PacketStatus::kReplay));
  EXPECT_EQ(Flow::Recv(b, old_adopted), All(20, PacketStatus::kReplay));
  EXPECT_TRUE(testing::UniqueSlotSpis(*a.engine));
  EXPECT_TRUE(testing::UniqueSlotSpis(*b.engine));

  // A second snapshot round-trips through the text form.
  auto snap2 = a.mgr->Snapshot();
  ASSERT_TRUE(snap2.has_value());
  auto text = SerializeCheckpoint(*snap2);
  ASSERT_TRUE(text.has_value()) << text.error().message;
  auto parsed = ParseCheckpoint(*text, "memory");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(*parsed, *snap2);
}

// Replays right after the restore, before any new traffic: everything up to the saved edge is
// refused; numbers authenticated after the save are the documented gap (RFC 6311).
TEST_F(SaManagerCheckpointTest, RestoredWindowIsFailClosedAtTheSavedEdge) {
  Side a(Seed() * 4 + 1);
  Side b(Seed() * 4 + 2);
  Build(a, b);
  Flow flow;
  const std::vector<Bytes> before = flow.Send(a, kSelector, 10);
  EXPECT_EQ(Flow::Recv(b, before), All(10));
  auto snap = b.mgr->Snapshot();
  ASSERT_TRUE(snap.has_value());
  for (const SaCheckpoint& rec : snap->sas) {
    if (rec.direction != SaDirection::kInbound) continue;
    EXPECT_EQ(rec.replay_window, 64U);
    EXPECT_EQ(rec.replay_bitmap, std::vector<std::uint64_t>{~std::uint64_t{0}});
  }
  b.Crash(Seed() * 4 + 5);
  auto rep = b.mgr->Restore(*snap, b.Provider());
  ASSERT_TRUE(rep.has_value()) << rep.error().message;
  EXPECT_EQ(Flow::Recv(b, before), All(10, PacketStatus::kReplay));
  EXPECT_EQ(Flow::Recv(b, flow.Send(a, kSelector, 5)), All(5));
}

TEST_F(SaManagerCheckpointTest, RestoreErrorsUnwindAndSkippedSasAreQuarantined) {
  Side a(Seed() * 4 + 1);
  Side b(Seed() * 4 + 2);
  Build(a, b);
  auto snap = a.mgr->Snapshot();
  ASSERT_TRUE(snap.has_value());
  // Not into a manager that holds SAs.
  auto busy = a.mgr->Restore(*snap, a.Provider());
  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().code, Errc::kInvalidArgument);

  // A provider error other than kNotFound aborts; nothing is left installed.
  a.Crash(Seed() * 4 + 6);
  int calls = 0;
  auto failing = [&](const SaCheckpoint& rec) -> Result<driver::SaConfig> {
    if (++calls == 2) return MakeError(Errc::kIo, "owner database unreadable");
    return a.Provider()(rec);
  };
  auto failed = a.mgr->Restore(*snap, failing);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, Errc::kIo);
  EXPECT_NE(failed.error().message.find("owner database unreadable"), std::string::npos);
  EXPECT_EQ(a.mgr->stats().live_sas, 0U);
  EXPECT_EQ(a.mgr->stats().in_free, kSlots);
  EXPECT_EQ(a.mgr->stats().out_free, kSlots);
  EXPECT_EQ(a.mgr->stats().software_in + a.mgr->stats().software_out, 0U);
  for (const Direction dir : {Direction::kIn, Direction::kOut}) {
    for (std::uint32_t s = 0; s < kSlots; ++s) {
      EXPECT_EQ(a.engine->ReadSlot(dir, s)->state, driver::SlotState::kFree);
    }
  }

  // A provider that returns another SA than the record names is refused.
  a.Crash(Seed() * 4 + 7);
  auto wrong = [&](const SaCheckpoint&) -> Result<driver::SaConfig> {
    return Owned(Direction::kOut, 0x4444, 1, true);
  };
  auto mismatch = a.mgr->Restore(*snap, wrong);
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_EQ(mismatch.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(a.mgr->stats().live_sas, 0U);

  // The owner forgot the pair's inbound side: skipped, its SPI quarantined, the rest restored.
  a.Crash(Seed() * 4 + 8);
  a.owned.erase({Direction::kIn, a_in});
  auto partial = a.mgr->Restore(*snap, a.Provider());
  ASSERT_TRUE(partial.has_value()) << partial.error().message;
  ASSERT_EQ(partial->skipped.size(), 1U);
  EXPECT_EQ(partial->skipped[0].spi, a_in);
  EXPECT_TRUE(a.mgr->IsSpiQuarantined(a_in));
  EXPECT_EQ(a.mgr->Info(a_id)->inbound, Placement::kNone);
  EXPECT_EQ(a.mgr->Info(a_id)->outbound, Placement::kHardware);
  EXPECT_EQ(a.mgr->CurrentFor(kSelector), a_id);
}

TEST_F(SaManagerCheckpointTest, ExhaustedSequenceSpaceAndLifetimeAreNotReinstalled) {
  Side a(Seed() * 4 + 1);
  a.Start(clock_);
  driver::SaConfig near_end = Owned(Direction::kOut, 0x5000, 1, true);
  near_end.oseq = 0xFFFFFFFFULL - 50;
  driver::SaConfig limited = Owned(Direction::kOut, 0x5001, 2, true);
  limited.limits = driver::SaLimits{8, 10, 0, 0};
  driver::SaConfig soft = Owned(Direction::kOut, 0x5002, 3, true);
  soft.limits = driver::SaLimits{6, 1000, 0, 0};
  for (driver::SaConfig* sa : {&near_end, &limited, &soft}) {
    a.owned[{Direction::kOut, sa->spi}] = sa->Clone();
    ASSERT_TRUE(a.mgr->AdoptSa(*sa).has_value());
  }
  Flow flow;
  flow.Send(a, SaManager::AdoptedSelector(Direction::kOut, 0x5001), 5);
  flow.Send(a, SaManager::AdoptedSelector(Direction::kOut, 0x5002), 5);
  auto snap = a.mgr->Snapshot();
  ASSERT_TRUE(snap.has_value());
  a.Crash(Seed() * 4 + 9);
  RestoreOptions ro;
  ro.jump_margin = 100;
  auto rep = a.mgr->Restore(*snap, a.Provider(), ro);
  ASSERT_TRUE(rep.has_value()) << rep.error().message;
  // 0x5000: saved + 100 passes 2^32 - 1; 0x5001: 5 sent + 100 skipped >= hard 10.
  ASSERT_EQ(rep->needs_rekey.size(), 2U);
  EXPECT_EQ(rep->needs_rekey[0].spi, 0x5000U);
  EXPECT_EQ(rep->needs_rekey[1].spi, 0x5001U);
  EXPECT_EQ(a.mgr->FindBySpi(Direction::kOut, 0x5000), kNoSa);
  EXPECT_EQ(a.mgr->FindBySpi(Direction::kOut, 0x5001), kNoSa);
  // 0x5002: restored, its soft point (6) already behind it: rekey now.
  const SaId s = a.mgr->FindBySpi(Direction::kOut, 0x5002);
  ASSERT_NE(s, kNoSa);
  EXPECT_EQ(rep->rekey_now, std::vector<SaId>{s});
  EXPECT_EQ(rep->restored, std::vector<SaId>{s});
}

TEST_F(SaManagerCheckpointTest, DrainingSasAreRestoredDrainingAndEndAfterTheDrain) {
  Side a(Seed() * 4 + 1);
  Side b(Seed() * 4 + 2);
  Build(a, b);
  ASSERT_TRUE(a.mgr->Retire(a_id).has_value());  // outbound gone, inbound draining
  auto snap = a.mgr->Snapshot();
  ASSERT_TRUE(snap.has_value());
  a.Crash(Seed() * 4 + 10);
  auto rep = a.mgr->Restore(*snap, a.Provider());
  ASSERT_TRUE(rep.has_value()) << rep.error().message;
  EXPECT_EQ(a.mgr->StateOf(a_id), SaState::kDraining);
  EXPECT_EQ(a.mgr->CurrentFor(kSelector), kNoSa);
  ASSERT_TRUE(a.mgr->NextDeadline().has_value());
  clock_.Advance(std::chrono::seconds(3));
  ASSERT_TRUE(a.mgr->Poll().has_value());
  EXPECT_EQ(a.mgr->StateOf(a_id), SaState::kGone);
  EXPECT_TRUE(a.mgr->IsSpiQuarantined(a_in));
}

}  // namespace
}  // namespace espo::sdk
