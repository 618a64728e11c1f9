// SPDX-License-Identifier: Apache-2.0
//
// Two IPsec ends (A and B) for SaManager / RekeyScheduler tests: each an Engine over a
// ModelDevice with a small table, a SaManager, a LifetimePolicy and a RekeyScheduler, joined by
// LoopbackIke; one FakeClock; seeded Rngs. Plus a traffic helper that pushes real packets
// through both engines and checks order, completeness and sequence-number uniqueness.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "esp_test_util.hpp"

#include "espo/driver/engine.hpp"
#include "espo/driver/esp.hpp"
#include "espo/driver/model_device.hpp"
#include "espo/sdk/clock.hpp"
#include "espo/sdk/lifetime_policy.hpp"
#include "espo/sdk/random.hpp"
#include "espo/sdk/rekey_scheduler.hpp"
#include "espo/sdk/sa_manager.hpp"

namespace espo::sdk::testing {

// Decorator that fails the N-th register write from now (0 = never).
class FaultyDevice final : public driver::Device {
 public:
  explicit FaultyDevice(std::unique_ptr<driver::Device> inner) : inner_(std::move(inner)) {}
  std::string_view kind() const override { return "faulty"; }
  Result<std::uint32_t> ReadReg(std::uint32_t offset) override { return inner_->ReadReg(offset); }
  Status WriteReg(std::uint32_t offset, std::uint32_t value) override {
    ++writes_;
    if (fail_at_ != 0 && writes_ == fail_at_) {
      return MakeError(Errc::kDevice, "injected write failure");
    }
    return inner_->WriteReg(offset, value);
  }
  Result<driver::DmaBuffer> AllocBuffer(std::size_t bytes) override {
    return inner_->AllocBuffer(bytes);
  }
  Status WriteBuffer(const driver::DmaBuffer& b, std::size_t o, ByteSpan d) override {
    return inner_->WriteBuffer(b, o, d);
  }
  Status ReadBuffer(const driver::DmaBuffer& b, std::size_t o, MutableByteSpan d) override {
    return inner_->ReadBuffer(b, o, d);
  }
  void FreeBuffer(const driver::DmaBuffer& b) override { inner_->FreeBuffer(b); }
  Status RunBatch(std::chrono::milliseconds t) override { return inner_->RunBatch(t); }
  void FailWriteAfter(std::uint64_t n) { fail_at_ = n == 0 ? 0 : writes_ + n; }
  std::uint64_t writes() const { return writes_; }

 private:
  std::unique_ptr<driver::Device> inner_;
  std::uint64_t writes_ = 0;
  std::uint64_t fail_at_ = 0;
};

// The device every End uses: ModelDevice by default; SdkSimTest (label cosim) opens the RTL.
using DeviceOpener = Result<std::unique_ptr<driver::Device>> (*)(std::uint32_t slots);

inline Result<std::unique_ptr<driver::Device>> OpenModel(std::uint32_t slots) {
  driver::ModelOptions opt;
  opt.sa_slots = slots;
  return driver::OpenModelDevice(opt);
}

inline std::unique_ptr<driver::Engine> OpenEngine(std::uint32_t slots,
                                                  FaultyDevice** faulty = nullptr,
                                                  DeviceOpener open = &OpenModel) {
  auto dev = open(slots);
  EXPECT_TRUE(dev.has_value()) << (dev ? "" : dev.error().message);
  std::unique_ptr<driver::Device> device = std::move(*dev);
  if (faulty != nullptr) {
    auto f = std::make_unique<FaultyDevice>(std::move(device));
    *faulty = f.get();
    device = std::move(f);
  }
  auto engine = driver::Engine::Open(std::move(device));
  EXPECT_TRUE(engine.has_value()) << (engine ? "" : engine.error().message);
  return std::move(*engine);
}

inline ChildSaSpec SpecFor(std::uint64_t selector) {
  ChildSaSpec s;
  s.selector = selector;
  s.local = espo::testing::V4(192, 0, 2, 1);
  s.peer = espo::testing::V4(198, 51, 100, 2);
  s.replay_window = 64;
  return s;
}

inline LifetimePolicyConfig PacketLifetime(std::uint64_t hard_packets) {
  LifetimePolicyConfig c;
  c.kind = LifetimePolicyKind::kCountBased;
  c.count_based.hard_packets = hard_packets;
  return c;
}

struct EndOptions {
  std::uint32_t slots = 32;
  DeviceOpener open = &OpenModel;
  SaManagerOptions manager;
  RekeyOptions rekey;
  LifetimePolicyConfig lifetime = PacketLifetime(1000000);
};

struct End {
  std::unique_ptr<driver::Engine> engine;
  std::unique_ptr<SeededRng> rng;
  std::unique_ptr<SaManager> mgr;
  std::optional<LifetimePolicy> policy;
  std::unique_ptr<RekeyScheduler> sched;
};

// Two ends joined by a LoopbackIke. Not movable (the members reference each other).
class TwoEnds {
 public:
  TwoEnds(std::uint64_t seed, const EndOptions& a, const EndOptions& b)
      : ike_rng_(seed ^ 0x1CEU), ike_(ike_rng_) {
    Build(a_, seed * 2 + 1, a, ike_.handler_a());
    Build(b_, seed * 2 + 2, b, ike_.handler_b());
    ike_.Connect(*a_.sched, *b_.sched);
  }

  End& a() { return a_; }
  End& b() { return b_; }
  LoopbackIke& ike() { return ike_; }
  FakeClock& clock() { return clock_; }

  std::pair<SaId, SaId> Create(std::uint64_t selector) {
    auto ids = ike_.CreateChildSa(SpecFor(selector));
    EXPECT_TRUE(ids.has_value()) << (ids ? "" : ids.error().message);
    return ids ? *ids : std::pair<SaId, SaId>{kNoSa, kNoSa};
  }
  // Poll both ends and deliver every message until nothing moves (bounded).
  void Settle() {
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(a_.sched->Poll().has_value());
      ASSERT_TRUE(b_.sched->Poll().has_value());
      if (ike_.pending() == 0) return;
      auto st = ike_.DeliverAll();
      ASSERT_TRUE(st.has_value()) << st.error().message;
    }
  }

 private:
  void Build(End& e, std::uint64_t seed, const EndOptions& o, RekeyHandler& handler) {
    e.engine = OpenEngine(o.slots, nullptr, o.open);
    e.rng = std::make_unique<SeededRng>(seed);
    auto mgr = SaManager::Create(*e.engine, clock_, *e.rng, o.manager);
    ASSERT_TRUE(mgr.has_value()) << mgr.error().message;
    e.mgr = std::move(*mgr);
    auto policy = LifetimePolicy::Create(o.lifetime, clock_, *e.rng);
    ASSERT_TRUE(policy.has_value()) << policy.error().message;
    e.policy.emplace(*policy);
    auto sched = RekeyScheduler::Create(*e.mgr, *e.policy, handler, o.rekey);
    ASSERT_TRUE(sched.has_value()) << sched.error().message;
    e.sched = std::move(*sched);
  }

  FakeClock clock_;
  SeededRng ike_rng_;
  LoopbackIke ike_;
  End a_;
  End b_;
};

// An inner IPv4 packet carrying (selector, counter) so the receiver can check order.
inline Bytes CountedInner(std::uint64_t selector, std::uint32_t counter, bool a_to_b) {
  espo::testing::InnerSpec spec;
  spec.payload_bytes = 40;
  Bytes p = espo::testing::MakeInner(spec);
  StoreBe32(MutableByteSpan(p).subspan(28), counter);
  StoreBe32(MutableByteSpan(p).subspan(32), static_cast<std::uint32_t>(selector));
  p[36] = a_to_b ? 0xAB : 0xBA;
  return p;
}

// Traffic between the two ends, with bookkeeping per (direction, selector).
class Traffic {
 public:
  // Sends `n` packets on `selector` from one end and returns the ESP packets (in flight).
  std::vector<Bytes> Send(End& from, std::uint64_t selector, std::uint32_t n, bool a_to_b) {
    std::vector<TxPacket> tx;
    std::uint32_t& next = next_[{a_to_b, selector}];
    for (std::uint32_t i = 0; i < n; ++i) {
      tx.push_back(TxPacket{selector, CountedInner(selector, next + i, a_to_b)});
    }
    auto res = from.mgr->Transmit(tx);
    EXPECT_TRUE(res.has_value()) << (res ? "" : res.error().message);
    std::vector<Bytes> esp;
    if (!res) return esp;
    for (std::size_t i = 0; i < res->size(); ++i) {
      PacketResult& r = (*res)[i];
      if (r.status != driver::PacketStatus::kOk) {
        ++tx_drops;
        last_tx_drop = std::string(driver::ToString(r.status));
        continue;
      }
      // Never a reused outbound sequence number under one SA (one key).
      auto info = driver::ParseEspPacket(r.data);
      EXPECT_TRUE(info.has_value());
      if (info) {
        const bool fresh = used_seq_.insert({a_to_b, r.sa, info->seq_low}).second;
        EXPECT_TRUE(fresh) << "sequence " << info->seq_low << " reused on SA " << r.sa;
        if (!fresh) ++reused_seq;
      }
      sent_[{a_to_b, selector}].push_back(tx[i].data);
      esp.push_back(std::move(r.data));
    }
    next += n;
    return esp;
  }
  // Delivers ESP packets to an end; checks that each selector's packets arrive complete and in
  // order.
  void Deliver(End& to, const std::vector<Bytes>& esp, bool a_to_b) {
    if (esp.empty()) return;
    auto res = to.mgr->Receive(esp);
    EXPECT_TRUE(res.has_value()) << (res ? "" : res.error().message);
    if (!res) return;
    for (PacketResult& r : *res) {
      if (r.status != driver::PacketStatus::kOk) {
        ++rx_drops;
        last_rx_drop = std::string(driver::ToString(r.status));
        continue;
      }
      if (r.software) ++rx_software;
      const std::uint64_t selector = LoadBe32(ByteSpan(r.data).subspan(32));
      auto& q = sent_[{a_to_b, selector}];
      std::size_t& got = received_[{a_to_b, selector}];
      EXPECT_LT(got, q.size()) << "unexpected packet";
      if (got < q.size()) {
        EXPECT_EQ(r.data, q[got]) << "packet " << got << " of selector " << selector
                                  << " lost or reordered";
        if (r.data != q[got]) ++reordered;
      }
      ++got;
      ++delivered;
    }
  }
  void Both(TwoEnds& t, std::uint64_t selector, std::uint32_t n) {
    Deliver(t.b(), Send(t.a(), selector, n, true), true);
    Deliver(t.a(), Send(t.b(), selector, n, false), false);
  }
  std::uint64_t SentCount() const {
    std::uint64_t n = 0;
    for (const auto& [k, v] : sent_) n += v.size();
    return n;
  }

  std::uint64_t tx_drops = 0;
  std::uint64_t rx_drops = 0;
  std::uint64_t rx_software = 0;
  std::uint64_t reordered = 0;
  std::uint64_t reused_seq = 0;
  std::uint64_t delivered = 0;
  std::string last_tx_drop;
  std::string last_rx_drop;

 private:
  std::map<std::pair<bool, std::uint64_t>, std::uint32_t> next_;
  std::map<std::pair<bool, std::uint64_t>, std::vector<Bytes>> sent_;
  std::map<std::pair<bool, std::uint64_t>, std::size_t> received_;
  std::set<std::tuple<bool, SaId, std::uint32_t>> used_seq_;
};

// Never two non-free slots with one SPI in a table (both directions), read from the device.
inline ::testing::AssertionResult UniqueSlotSpis(driver::Engine& engine) {
  for (const driver::Direction dir : {driver::Direction::kIn, driver::Direction::kOut}) {
    const std::uint32_t n =
        dir == driver::Direction::kIn ? engine.caps().in_slots : engine.caps().out_slots;
    std::set<std::uint32_t> spis;
    for (std::uint32_t s = 0; s < n; ++s) {
      auto st = engine.ReadSlot(dir, s);
      if (!st) return ::testing::AssertionFailure() << st.error().message;
      if (st->state == driver::SlotState::kFree) continue;
      if (!spis.insert(st->spi).second) {
        return ::testing::AssertionFailure()
               << "two " << driver::ToString(dir) << " slots hold SPI " << st->spi;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// Bytes counted per packet of the streams below (CountedInner: 60-byte inner packet; SPEC 12.3:
// payload + padding + 2).
inline std::uint64_t CountedInnerBytes() {
  return driver::EspCountedBytes(CountedInner(0, 0, true).size());
}

// Count-based lifetime in bytes only, hard L = `packets` stream packets' worth of bytes.
inline LifetimePolicyConfig ByteLifetime(std::uint64_t packets) {
  LifetimePolicyConfig c;
  c.kind = LifetimePolicyKind::kCountBased;
  c.count_based.hard_bytes = packets * CountedInnerBytes();
  return c;
}

// Two ends exchange a traffic stream over two selectors for 240 rounds while count-based
// lifetimes (default: hard 120 packets; or `lifetime`, e.g. ByteLifetime(120)) force rekeys;
// checks zero lost, reordered or reused packets, no lost SA, and one SA per selector and end
// after the last drain. Used over ModelDevice (unit) and over SimDevice (cosim).
inline void ExpectMakeBeforeBreakStream(std::uint64_t seed, EndOptions o,
                                        std::optional<LifetimePolicyConfig> lifetime = {}) {
  o.lifetime = lifetime ? *lifetime : PacketLifetime(120);
  TwoEnds t(seed, o, o);
  t.Create(1);
  t.Create(2);
  Traffic traffic;
  for (int round = 0; round < 240; ++round) {
    const std::uint64_t sel = 1 + round % 2;
    // Packets leave both ends, then the control plane moves one step, then they arrive.
    auto ab = traffic.Send(t.a(), sel, 4, true);
    auto ba = traffic.Send(t.b(), sel, 4, false);
    ASSERT_TRUE(t.a().sched->Poll().has_value());
    ASSERT_TRUE(t.b().sched->Poll().has_value());
    for (int k = 0; k < 2; ++k) {
      auto one = t.ike().DeliverOne();
      ASSERT_TRUE(one.has_value()) << one.error().message;
    }
    traffic.Deliver(t.b(), ab, true);
    traffic.Deliver(t.a(), ba, false);
    t.clock().Advance(std::chrono::milliseconds(200));
  }
  t.Settle();
  const RekeyStats& sa = t.a().sched->stats();
  const RekeyStats& sb = t.b().sched->stats();
  EXPECT_GE(sa.rekeys_completed + sb.rekeys_completed, 8U);
  EXPECT_EQ(traffic.tx_drops, 0U) << traffic.last_tx_drop;
  EXPECT_EQ(traffic.rx_drops, 0U) << traffic.last_rx_drop;
  EXPECT_EQ(traffic.reordered, 0U);
  EXPECT_EQ(traffic.reused_seq, 0U);
  EXPECT_EQ(traffic.delivered, traffic.SentCount());
  EXPECT_EQ(sa.lost + sb.lost, 0U);
  // After the last drain only one SA per selector and end is left.
  t.clock().Advance(std::chrono::seconds(5));
  t.Settle();
  EXPECT_EQ(t.a().mgr->stats().live_sas, 2U);
  EXPECT_EQ(t.b().mgr->stats().live_sas, 2U);
  EXPECT_TRUE(UniqueSlotSpis(*t.a().engine));
  EXPECT_TRUE(UniqueSlotSpis(*t.b().engine));
}

}  // namespace espo::sdk::testing
