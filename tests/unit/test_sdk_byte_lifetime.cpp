// SPDX-License-Identifier: Apache-2.0
//
// Byte lifetimes through the SDK on ModelDevice: soft/hard limits in bytes only, and mixed with
// packet limits (whichever is reached first), on a hardware slot, on SoftwareEsp and across a
// move from software to hardware (SaManager); count-based byte and mixed lifetimes driving
// make-before-break rekeys with a traffic stream (RekeyScheduler). SPEC 12.3: counted bytes are
// payload + padding + 2; a packet is processed only if the SA was not hard-expired before it, so
// a byte limit is exceeded by at most one packet; one soft and one hard event per SA.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sdk_manager_util.hpp"
#include "test_seed.hpp"

namespace espo::sdk {
namespace {

using driver::Direction;
using driver::PacketStatus;
using testing::CountedInnerBytes;
using testing::EndOptions;

constexpr std::uint32_t kSlots = 16;
constexpr std::uint64_t kSelector = 1;
constexpr std::uint32_t kBlockerSpi = 0x9000;

std::uint64_t Seed() {
  static const std::uint64_t seed = espo::testing::TestSeed();
  return seed;
}

driver::KeyMaterial Key(std::uint8_t seed) {
  std::vector<std::uint8_t> k(20);
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + i * 7U);
  return std::move(*driver::KeyMaterial::FromBytes(k));
}

enum class Where { kHardware, kSoftware, kMoved };
std::string Name(Where w) {
  return w == Where::kHardware ? "hardware" : w == Where::kSoftware ? "software" : "moved";
}

// A sends to B on one managed Child SA (selector 1); A's outbound and B's inbound carry the
// limits under test. kSoftware / kMoved: A's outbound starts on SoftwareEsp (an adopted blocker
// holds A's only usable outbound slot; kMoved frees it later) and B runs everything in software
// (its headroom covers the whole table).
class Link {
 public:
  Link(Where where, const CountLimits& limits)
      : a_engine_(testing::OpenEngine(kSlots)),
        b_engine_(testing::OpenEngine(kSlots)),
        a_rng_(Seed()),
        b_rng_(Seed() + 1) {
    SaManagerOptions ao;
    SaManagerOptions bo;
    if (where != Where::kHardware) {
      ao.max_out_slots = 1;
      bo.headroom_in = kSlots;
      bo.headroom_out = kSlots;
    }
    auto a = SaManager::Create(*a_engine_, clock_, a_rng_, ao);
    auto b = SaManager::Create(*b_engine_, clock_, b_rng_, bo);
    EXPECT_TRUE(a && b);
    a_ = std::move(*a);
    b_ = std::move(*b);
    const ChildSaSpec spec = testing::SpecFor(kSelector);
    auto ida = a_->Allocate(spec, SlotClass::kNew);
    auto idb = b_->Allocate(MirrorSpec(spec), SlotClass::kNew);
    EXPECT_TRUE(ida && idb);
    a_id_ = *ida;
    b_id_ = *idb;
    const std::uint32_t a_in = a_->Info(a_id_)->inbound_spi;
    const std::uint32_t b_in = b_->Info(b_id_)->inbound_spi;
    if (where != Where::kHardware) {
      espo::testing::SaSpec s;
      s.spi = kBlockerSpi;
      auto blocker = a_->AdoptSa(espo::testing::MakeSa(s, Direction::kOut));
      EXPECT_TRUE(blocker.has_value());
      a_blocker_ = *blocker;
    }
    EXPECT_TRUE(a_->InstallPair(a_id_, b_in, Key(1), Key(2), {}, limits, SlotClass::kNew));
    EXPECT_TRUE(b_->InstallPair(b_id_, a_in, Key(2), Key(1), limits, {}, SlotClass::kNew));
    const Placement want = where == Where::kHardware ? Placement::kHardware : Placement::kSoftware;
    EXPECT_EQ(a_->Info(a_id_)->outbound, want);
    EXPECT_EQ(b_->Info(b_id_)->inbound, want);
  }

  // Sends n packets A -> B; returns A's and B's statuses.
  std::pair<std::vector<PacketStatus>, std::vector<PacketStatus>> Send(int n) {
    std::vector<TxPacket> tx;
    for (int i = 0; i < n; ++i) {
      tx.push_back(TxPacket{kSelector, testing::CountedInner(kSelector, next_++, true)});
    }
    std::vector<PacketStatus> sent;
    std::vector<PacketStatus> got;
    auto res = a_->Transmit(tx);
    EXPECT_TRUE(res.has_value());
    if (!res) return {sent, got};
    std::vector<Bytes> esp;
    for (PacketResult& r : *res) {
      sent.push_back(r.status);
      if (r.status == PacketStatus::kOk) esp.push_back(std::move(r.data));
    }
    auto rx = b_->Receive(esp);
    EXPECT_TRUE(rx.has_value());
    if (rx) {
      for (const PacketResult& r : *rx) got.push_back(r.status);
    }
    return {sent, got};
  }
  void MoveToHardware() {
    ASSERT_TRUE(a_->Remove(a_blocker_).has_value());
    ASSERT_TRUE(a_->Poll().has_value());
    ASSERT_EQ(a_->Info(a_id_)->outbound, Placement::kHardware);
  }
  // Soft/hard events of one SA: (kind, packets, bytes).
  static std::vector<std::tuple<SaEventKind, std::uint64_t, std::uint64_t>> Limits(SaManager& m,
                                                                                   SaId id) {
    std::vector<std::tuple<SaEventKind, std::uint64_t, std::uint64_t>> out;
    auto events = m.CollectEvents();
    EXPECT_TRUE(events.has_value());
    if (!events) return out;
    for (const SaEvent& e : *events) {
      if (e.sa != id || (e.kind != SaEventKind::kSoft && e.kind != SaEventKind::kHard)) continue;
      out.emplace_back(e.kind, e.packets, e.bytes);
    }
    return out;
  }

  SaManager& a() { return *a_; }
  SaManager& b() { return *b_; }
  SaId a_id() const { return a_id_; }
  SaId b_id() const { return b_id_; }

 private:
  FakeClock clock_;
  std::unique_ptr<driver::Engine> a_engine_;
  std::unique_ptr<driver::Engine> b_engine_;
  SeededRng a_rng_;
  SeededRng b_rng_;
  std::unique_ptr<SaManager> a_;
  std::unique_ptr<SaManager> b_;
  SaId a_id_ = kNoSa;
  SaId b_id_ = kNoSa;
  SaId a_blocker_ = kNoSa;
  std::uint32_t next_ = 0;
};

using Ev = std::tuple<SaEventKind, std::uint64_t, std::uint64_t>;

std::vector<PacketStatus> Statuses(int ok, int lifetime) {
  std::vector<PacketStatus> v(static_cast<std::size_t>(ok), PacketStatus::kOk);
  v.resize(static_cast<std::size_t>(ok + lifetime), PacketStatus::kLifetime);
  return v;
}

// Bytes only: soft after 2 packets' bytes + 1 (crossed by packet 3), hard after 5 packets' bytes
// + 10 (crossed by packet 6, which still passes: at most one packet beyond the limit).
TEST(ByteLifetimeTest, ByteOnlyLimitsFireOnceAndStopTheSa) {
  const std::uint64_t c = CountedInnerBytes();
  ASSERT_EQ(c, 64U);  // 60-byte inner packet + 2, padded to a multiple of 4
  const CountLimits limits{0, 0, 2 * c + 1, 5 * c + 10};
  for (const Where where : {Where::kHardware, Where::kSoftware, Where::kMoved}) {
    SCOPED_TRACE(Name(where));
    Link link(where, limits);
    int ok = 0;
    if (where == Where::kMoved) {
      auto [sent, got] = link.Send(2);
      EXPECT_EQ(sent, Statuses(2, 0));
      link.MoveToHardware();
      ok = 2;
    }
    auto [sent, got] = link.Send(8 - ok);
    EXPECT_EQ(sent, Statuses(6 - ok, 2));
    EXPECT_EQ(got, Statuses(6 - ok, 0));
    const std::vector<Ev> want{{SaEventKind::kSoft, 3, 3 * c}, {SaEventKind::kHard, 6, 6 * c}};
    EXPECT_EQ(Link::Limits(link.a(), link.a_id()), want) << "outbound";
    EXPECT_EQ(Link::Limits(link.b(), link.b_id()), want) << "inbound";
    auto counters = link.a().Counters(link.a_id());
    ASSERT_TRUE(counters.has_value());
    EXPECT_EQ(counters->outbound.bytes, 6 * c);
    EXPECT_EQ(counters->outbound.packets, 6U);
  }
}

// Packets and bytes together: each event fires at whichever limit is reached first, once.
TEST(ByteLifetimeTest, MixedLimitsFireAtWhicheverComesFirst) {
  const std::uint64_t c = CountedInnerBytes();
  struct Case {
    std::string name;
    CountLimits limits;
    int soft_at;
    int hard_at;
  };
  const std::vector<Case> cases = {
      {"bytes first", {4, 10, 2 * c + 1, 8 * c}, 3, 8},
      {"packets first", {3, 6, 10 * c, 20 * c}, 3, 6},
      {"soft by packets, hard by bytes", {2, 50, 5 * c, 7 * c - 1}, 2, 7},
      {"soft by bytes, hard by packets", {4, 5, 3 * c, 60 * c}, 3, 5},
  };
  for (const Case& k : cases) {
    for (const Where where : {Where::kHardware, Where::kSoftware}) {
      SCOPED_TRACE(k.name + " on " + Name(where));
      Link link(where, k.limits);
      auto [sent, got] = link.Send(k.hard_at + 3);
      EXPECT_EQ(sent, Statuses(k.hard_at, 3));
      EXPECT_EQ(got, Statuses(k.hard_at, 0));
      const auto s = static_cast<std::uint64_t>(k.soft_at);
      const auto h = static_cast<std::uint64_t>(k.hard_at);
      const std::vector<Ev> want{{SaEventKind::kSoft, s, s * c}, {SaEventKind::kHard, h, h * c}};
      EXPECT_EQ(Link::Limits(link.a(), link.a_id()), want) << "outbound";
      EXPECT_EQ(Link::Limits(link.b(), link.b_id()), want) << "inbound";
    }
  }
}

// Count-based lifetimes in bytes only, and mixed, drive make-before-break rekeys of a stream:
// nothing lost, reordered or sent twice (testing::ExpectMakeBeforeBreakStream checks it).
TEST(ByteLifetimeTest, ByteLifetimesRekeyAStreamWithoutLoss) {
  EndOptions o;
  o.slots = 16;
  testing::ExpectMakeBeforeBreakStream(Seed(), o, testing::ByteLifetime(120));
}

TEST(ByteLifetimeTest, MixedLifetimesRekeyAtTheFirstLimit) {
  EndOptions o;
  o.slots = 16;
  // Bytes reached first (120 packets' worth; the packet limit 100 000 is far away).
  LifetimePolicyConfig bytes_first = testing::ByteLifetime(120);
  bytes_first.count_based.hard_packets = 100000;
  testing::ExpectMakeBeforeBreakStream(Seed(), o, bytes_first);
  // Packets reached first (120; the byte limit is 100 000 packets' worth).
  LifetimePolicyConfig packets_first = testing::ByteLifetime(100000);
  packets_first.count_based.hard_packets = 120;
  testing::ExpectMakeBeforeBreakStream(Seed() + 1, o, packets_first);
}

// The soft points the policy draws for bytes respect SPEC 8a (X_i * L + U(0, 5% L)) and reach the
// slot as byte limits: read back through the soft event of a real SA.
TEST(ByteLifetimeTest, CountBasedByteSoftPointIsWithinTheFuzzWindow) {
  EndOptions o;
  o.lifetime = testing::ByteLifetime(1000);
  o.rekey.designation = RekeyDesignation::kRekeyer;
  testing::TwoEnds t(Seed(), o, o);
  auto [a, b] = t.Create(kSelector);
  std::vector<SaEvent> soft;
  testing::Traffic traffic;
  for (int i = 0; i < 100 && soft.empty(); ++i) {
    traffic.Deliver(t.b(), traffic.Send(t.a(), kSelector, 10, true), true);
    auto events = t.a().mgr->CollectEvents();
    ASSERT_TRUE(events.has_value());
    for (const SaEvent& e : *events) {
      if (e.kind == SaEventKind::kSoft && e.sa == a) soft.push_back(e);
    }
  }
  ASSERT_EQ(soft.size(), 1U);
  const std::uint64_t l = 1000 * CountedInnerBytes();
  EXPECT_EQ(soft[0].dir, Direction::kOut);
  // X_i = 0.80: the soft point lies in [0.80 L, 0.85 L]; the event comes with the packet that
  // crosses it (at most one packet later).
  EXPECT_GE(soft[0].bytes, l * 80 / 100);
  EXPECT_LE(soft[0].bytes, l * 85 / 100 + CountedInnerBytes());
  EXPECT_EQ(soft[0].bytes, soft[0].packets * CountedInnerBytes());
  (void)b;
}

}  // namespace
}  // namespace espo::sdk
