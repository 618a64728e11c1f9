// SPDX-License-Identifier: Apache-2.0
//
// espo kernel register file, SA commit codes and event FIFO, through SimDevice (raw registers).
#include <cstdint>
#include <memory>

#include <gtest/gtest.h>

#include "kernel_test_util.hpp"
#include "test_seed.hpp"

#include "espo/regmap/espo_regs.hpp"
#include "espo/sim/sim_device.hpp"

namespace espo::testing {
namespace {

namespace rm = espo::regmap;

std::unique_ptr<driver::Device> Open() {
  auto dev = sim::OpenSimDevice(64);
  EXPECT_TRUE(dev.has_value()) << (dev ? "" : dev.error().message);
  return dev ? std::move(*dev) : nullptr;
}

std::uint32_t Rd(driver::Device& d, std::uint32_t off) {
  auto v = d.ReadReg(off);
  EXPECT_TRUE(v.has_value());
  return v ? *v : 0xDEADBEEFU;
}
void Wr(driver::Device& d, std::uint32_t off, std::uint32_t v) {
  EXPECT_TRUE(d.WriteReg(off, v).has_value());
}

// Stages a valid outbound AES-128 GCM tunnel SA (SPI `spi`).
void StageValid(driver::Device& d, std::uint32_t spi) {
  Wr(d, rm::kStageSpiOffset, spi);
  Wr(d, rm::kStageFlagsOffset, 4U << rm::kStageFlagsIcvWords.lsb);
  Wr(d, rm::kStageReplayWindowOffset, 64);
  for (std::uint32_t i = 0; i < 8; ++i) Wr(d, rm::StageKeyOffset(i), 0x01020304U * (i + 1));
  Wr(d, rm::kStageSaltOffset, 0xCAFEBABEU);
  Wr(d, rm::kStageSeqLoOffset, 0);
  Wr(d, rm::kStageSeqHiOffset, 0);
  for (std::uint32_t i = 0; i < 8; ++i) Wr(d, rm::StageLimitOffset(i), 0);
}

std::uint32_t Commit(driver::Device& d, std::uint32_t slot, std::uint32_t op, bool in) {
  Wr(d, rm::kSaCommitOffset, slot | (op << 16U) | (in ? 1U << 31U : 0U));
  for (int i = 0; i < 1000; ++i) {
    const std::uint32_t st = Rd(d, rm::kSaCommitStatusOffset);
    if ((st & 1U) == 0) return rm::kSaCommitStatusCode.Get(st);
  }
  ADD_FAILURE() << "commit stuck busy";
  return 0xFF;
}

TEST(KernelRegsTest, ReportsIdentityAndCapabilities) {
  auto d = Open();
  ASSERT_TRUE(d);
  EXPECT_EQ(Rd(*d, rm::kIdOffset), 0x4553504FU);
  EXPECT_EQ(Rd(*d, rm::kRegmapHashOffset), rm::kRegmapHash);
  EXPECT_EQ(rm::kVersionMajor.Get(Rd(*d, rm::kVersionOffset)), rm::kRegmapVersionMajor);
  EXPECT_EQ(Rd(*d, rm::kCapSlotsOffset), (64U << 16U) | 64U);
  EXPECT_EQ(rm::kCapDatapathReplayBits.Get(Rd(*d, rm::kCapDatapathOffset)), 1024U);
  EXPECT_EQ(rm::kCapLimitsMaxPacket.Get(Rd(*d, rm::kCapLimitsOffset)), 9600U);
  const std::uint32_t ctrl = Rd(*d, rm::kCtrlOffset);
  EXPECT_EQ(rm::kCtrlIdle.Get(ctrl), 1U);
  EXPECT_EQ(rm::kCtrlDone.Get(ctrl), 0U);
  // An engine through the driver opens.
  auto e = Engine::Open(std::move(d));
  EXPECT_TRUE(e.has_value()) << (e ? "" : e.error().message);
}

TEST(KernelRegsTest, KeyAndSaltRegistersReadZero) {
  auto d = Open();
  ASSERT_TRUE(d);
  for (std::uint32_t i = 0; i < 8; ++i) Wr(*d, rm::StageKeyOffset(i), 0xA5A5A5A5U + i);
  Wr(*d, rm::kStageSaltOffset, 0x12345678U);
  for (std::uint32_t i = 0; i < 8; ++i) EXPECT_EQ(Rd(*d, rm::StageKeyOffset(i)), 0U);
  EXPECT_EQ(Rd(*d, rm::kStageSaltOffset), 0U);
  // Every other offset of the map also never returns the key words.
  for (std::uint32_t off = 0; off < 0x1000; off += 4) {
    const std::uint32_t v = Rd(*d, off);
    for (std::uint32_t i = 0; i < 8; ++i) EXPECT_NE(v, 0xA5A5A5A5U + i) << "offset " << off;
    EXPECT_NE(v, 0x12345678U) << "offset " << off;
  }
}

TEST(KernelRegsTest, StagingAndBatchRegistersReadBack) {
  auto d = Open();
  ASSERT_TRUE(d);
  const std::uint32_t regs[] = {
      rm::kStageSpiOffset,   rm::kStageFlagsOffset, rm::kStageReplayWindowOffset,
      rm::kStageSeqLoOffset, rm::kStageSeqHiOffset, rm::kStageUdpPortsOffset,
      rm::kInAddrLoOffset,   rm::kInAddrHiOffset,   rm::kInCountOffset,
      rm::kOutAddrLoOffset,  rm::kOutAddrHiOffset,  rm::kOutSizeOffset};
  std::uint32_t v = 0x1000;
  for (std::uint32_t r : regs) Wr(*d, r, v++);
  v = 0x1000;
  for (std::uint32_t r : regs) EXPECT_EQ(Rd(*d, r), v++) << "offset " << r;
  for (std::uint32_t i = 0; i < 4; ++i) {
    Wr(*d, rm::StageSrcOffset(i), 0x100U + i);
    Wr(*d, rm::StageDstOffset(i), 0x200U + i);
  }
  for (std::uint32_t i = 0; i < 8; ++i) Wr(*d, rm::StageLimitOffset(i), 0x300U + i);
  for (std::uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(Rd(*d, rm::StageSrcOffset(i)), 0x100U + i);
    EXPECT_EQ(Rd(*d, rm::StageDstOffset(i)), 0x200U + i);
  }
  for (std::uint32_t i = 0; i < 8; ++i) EXPECT_EQ(Rd(*d, rm::StageLimitOffset(i)), 0x300U + i);
}

TEST(KernelRegsTest, SaCommitReturnsDocumentedCodes) {
  auto d = Open();
  ASSERT_TRUE(d);
  constexpr std::uint32_t kOk = 0, kBadSlot = 1, kSlotBusy = 2, kSlotFree = 3, kBadParam = 4,
                          kBadOp = 5;
  StageValid(*d, 0x1005);
  EXPECT_EQ(Commit(*d, 64, 1, false), kBadSlot);
  EXPECT_EQ(Commit(*d, 3, 0, false), kBadOp);
  EXPECT_EQ(Commit(*d, 3, 7, false), kBadOp);
  EXPECT_EQ(Commit(*d, 3, 2, false), kSlotFree);
  EXPECT_EQ(Commit(*d, 3, 3, false), kSlotFree);
  EXPECT_EQ(Commit(*d, 3, 1, false), kOk);
  EXPECT_EQ(Commit(*d, 3, 1, false), kSlotBusy);
  Wr(*d, rm::kSaReadSelOffset, 3);
  EXPECT_EQ(rm::kSaReadStateState.Get(Rd(*d, rm::kSaReadStateOffset)), 1U);
  EXPECT_EQ(Rd(*d, rm::kSaReadSpiOffset), 0x1005U);
  // inbound: SPI low bits must equal the slot
  EXPECT_EQ(Commit(*d, 4, 1, true), kBadParam);
  EXPECT_EQ(Commit(*d, 5, 1, true), kOk);
  // parameter checks, each on a fresh slot; a failed install leaves the slot FREE
  struct Bad {
    std::uint32_t reg;
    std::uint32_t value;
  };
  const Bad bad[] = {
      {rm::kStageSpiOffset, 0},
      {rm::kStageFlagsOffset, 5U << 8U},         // ICV 20 bytes
      {rm::kStageFlagsOffset, 1U << 8U},         // ICV 4 bytes
      {rm::kStageFlagsOffset, (3U << 8U) | 2U},  // GMAC with ICV 12
      {rm::kStageReplayWindowOffset, 48},        // not a power of two
      {rm::kStageReplayWindowOffset, 2048},      // above REPLAY_BITS
      {rm::kStageFlagsOffset, (4U << 8U) | 1U},  // ESN with window 0 (below)
      {rm::kStageSeqLoOffset, 0xFFFFFFFFU},      // non-ESN start 2^32 - 1
  };
  for (const Bad& b : bad) {
    StageValid(*d, 0x2007);
    if (b.reg == rm::kStageFlagsOffset && (b.value & 1U) != 0) {
      Wr(*d, rm::kStageReplayWindowOffset, 0);
    }
    Wr(*d, b.reg, b.value);
    EXPECT_EQ(Commit(*d, 7, 1, false), kBadParam) << "reg " << b.reg << " value " << b.value;
    Wr(*d, rm::kSaReadSelOffset, 7);
    EXPECT_EQ(rm::kSaReadStateState.Get(Rd(*d, rm::kSaReadStateOffset)), 0U);
  }
  // soft >= hard
  StageValid(*d, 0x2007);
  Wr(*d, rm::StageLimitOffset(0), 10);
  Wr(*d, rm::StageLimitOffset(2), 10);
  EXPECT_EQ(Commit(*d, 7, 1, false), kBadParam);
  Wr(*d, rm::StageLimitOffset(0), 9);
  EXPECT_EQ(Commit(*d, 7, 1, false), kOk);
  // SET_LIMITS validates soft < hard too; REMOVE clears the slot
  Wr(*d, rm::StageLimitOffset(0), 11);
  EXPECT_EQ(Commit(*d, 7, 3, false), kBadParam);
  Wr(*d, rm::StageLimitOffset(0), 1);
  EXPECT_EQ(Commit(*d, 7, 3, false), kOk);
  EXPECT_EQ(Commit(*d, 7, 2, false), kOk);
  Wr(*d, rm::kSaReadSelOffset, 7);
  EXPECT_EQ(rm::kSaReadStateState.Get(Rd(*d, rm::kSaReadStateOffset)), 0U);
  EXPECT_EQ(Rd(*d, rm::kSaReadSpiOffset), 0U);
  EXPECT_EQ(Commit(*d, 7, 2, false), kSlotFree);
}

// Soft + hard events on many slots overflow the event FIFO; losses are counted, read clears.
TEST(KernelRegsTest, EventFifoOverflowIsCounted) {
  auto sim = OpenSimEngine(64);
  ASSERT_TRUE(sim);
  auto model = OpenModelEngine(sim->caps());
  ASSERT_TRUE(model);
  const std::uint32_t depth = sim->caps().event_depth;
  ASSERT_EQ(depth, 64U);
  std::mt19937_64 rng(TestSeed());
  std::vector<PacketIn> pkts;
  for (std::uint32_t slot = 0; slot < 40; ++slot) {
    SaShape shape;
    SaConfig sa = MakeSa(rng, shape, Direction::kOut, 0x100 + slot, MakeKeymat(rng, false));
    sa.limits.soft_packets = 1;
    sa.limits.hard_packets = 2;
    ASSERT_TRUE(sim->Install(slot, sa).has_value());
    ASSERT_TRUE(model->Install(slot, sa).has_value());
    for (int i = 0; i < 3; ++i) {
      pkts.push_back(
          PacketIn{Direction::kOut, static_cast<std::uint16_t>(slot), slot, MakeIpv4(rng, 40)});
    }
  }
  auto a = sim->Process(pkts);
  auto b = model->Process(pkts);
  ASSERT_TRUE(a && b) << (a ? "" : a.error().message);
  ExpectSameResults(*a, *b, "overflow");
  auto ev = sim->device().ReadReg(rm::kEvtStatusOffset);
  ASSERT_TRUE(ev);
  EXPECT_EQ(*ev, depth);
  auto ovf = sim->device().ReadReg(rm::kEvtOverflowOffset);
  ASSERT_TRUE(ovf);
  EXPECT_EQ(*ovf, 80U - depth);
  auto ovf2 = sim->device().ReadReg(rm::kEvtOverflowOffset);
  ASSERT_TRUE(ovf2);
  EXPECT_EQ(*ovf2, 0U);
  // the model lost the same number of events
  auto mo = model->device().ReadReg(rm::kEvtOverflowOffset);
  ASSERT_TRUE(mo);
  EXPECT_EQ(*mo, 80U - depth);
}

}  // namespace
}  // namespace espo::testing
