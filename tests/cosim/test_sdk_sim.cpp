// SPDX-License-Identifier: Apache-2.0
//
// End to end on the simulated card: two SDK ends (SaManager + RekeyScheduler + LoopbackIke),
// each over its own SimDevice (the RTL under Verilator), exchange a traffic stream that
// crosses several count-based rekeys; no packet may be lost, reordered or sent twice with one
// sequence number.
#include <chrono>
#include <cstdint>

#include <gtest/gtest.h>

#include "sdk_manager_util.hpp"
#include "test_seed.hpp"

#include "espo/driver/device.hpp"

namespace espo::sdk {
namespace {

using testing::EndOptions;
using testing::PacketLifetime;
using testing::Traffic;
using testing::TwoEnds;
using testing::UniqueSlotSpis;

Result<std::unique_ptr<driver::Device>> OpenSim(std::uint32_t slots) {
  driver::DeviceSpec spec;
  spec.kind = driver::DeviceKind::kSim;
  spec.sa_slots = slots;
  return driver::OpenDevice(spec);
}

TEST(SdkSimTest, TrafficCrossesRekeysOnTheRtlWithoutLossOrReorder) {
  EndOptions o;
  o.slots = 64;  // a verilated SaSlots variant
  o.open = &OpenSim;
  o.lifetime = PacketLifetime(120);
  TwoEnds t(::espo::testing::TestSeed(), o, o);
  t.Create(1);
  t.Create(2);
  Traffic traffic;
  for (int round = 0; round < 240; ++round) {
    const std::uint64_t sel = 1 + round % 2;
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
  t.clock().Advance(std::chrono::seconds(5));
  t.Settle();
  EXPECT_EQ(t.a().mgr->stats().live_sas, 2U);
  EXPECT_EQ(t.b().mgr->stats().live_sas, 2U);
  EXPECT_TRUE(UniqueSlotSpis(*t.a().engine));
  EXPECT_TRUE(UniqueSlotSpis(*t.b().engine));
  EXPECT_EQ(t.a().engine->device().kind(), "sim");
}

}  // namespace
}  // namespace espo::sdk
