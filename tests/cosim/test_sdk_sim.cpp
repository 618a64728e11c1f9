// SPDX-License-Identifier: Apache-2.0
//
// End to end on the simulated card: two SDK ends (SaManager + RekeyScheduler + LoopbackIke),
// each over its own SimDevice (the RTL under Verilator), exchange a traffic stream that
// crosses several count-based rekeys; no packet may be lost, reordered or sent twice with one
// sequence number. Lifetimes in packets, and in bytes.
#include <chrono>
#include <cstdint>

#include <gtest/gtest.h>

#include "sdk_manager_util.hpp"
#include "test_seed.hpp"

#include "espo/driver/device.hpp"

namespace espo::sdk {
namespace {

using testing::EndOptions;

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
  testing::ExpectMakeBeforeBreakStream(::espo::testing::TestSeed(), o);
}

// The same stream with count-based lifetimes in bytes only (120 packets' worth): the RTL's byte
// counters and byte soft/hard limits drive the rekeys.
TEST(SdkSimTest, ByteLifetimesCrossRekeysOnTheRtlWithoutLossOrReorder) {
  EndOptions o;
  o.slots = 64;
  o.open = &OpenSim;
  testing::ExpectMakeBeforeBreakStream(::espo::testing::TestSeed(), o, testing::ByteLifetime(120));
}

}  // namespace
}  // namespace espo::sdk
