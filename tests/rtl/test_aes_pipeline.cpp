// SPDX-License-Identifier: Apache-2.0
//
// aes_pipeline (hw/rtl/aes_pipeline.sv, verilated with SideBits=16) against FIPS-197 Appendix C
// and OpenSSL AES-ECB for random keys, with key sizes mixed block by block.
// Replay a failing random run: ESPO_SEED=<printed seed> ./test_aes_pipeline

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "Vaes_pipeline.h"
#include "test_seed.hpp"

#include "espo/driver/bytes.hpp"
#include "espo/driver/gcm_reference.hpp"
#include "espo/sim/clocked_model.hpp"

namespace espo::sim {
namespace {

constexpr int kLatency = 15;  // stage 0 + 14 round stages

// Big-endian bit string onto a wide port of `words` 32-bit words: byte 0 -> top bits.
template <class Wide>
void SetBe(Wide& port, std::size_t words, ByteSpan bytes) {
  for (std::size_t w = 0; w < words; ++w) port[w] = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    port[words - 1 - i / 4] |= static_cast<std::uint32_t>(bytes[i]) << (24U - 8U * (i % 4));
  }
}

template <class Wide>
driver::AesBlock GetBe(const Wide& port) {
  driver::AesBlock b{};
  for (std::size_t i = 0; i < 16; ++i) {
    b.at(i) = static_cast<std::uint8_t>(port[3 - i / 4] >> (24U - 8U * (i % 4)));
  }
  return b;
}

struct Item {
  Bytes key;
  driver::AesBlock block{};
  std::uint16_t side = 0;
};

class AesPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dut_->en_i = 1;
    dut_->valid_i = 0;
    dut_.Reset();
  }
  void Drive(const Item& item, bool valid) {
    SetBe(dut_->key_i, 8, item.key);
    dut_->aes256_i = item.key.size() == 32 ? 1 : 0;
    SetBe(dut_->block_i, 4, item.block);
    dut_->side_i = item.side;
    dut_->valid_i = valid ? 1 : 0;
  }
  ClockedModel<Vaes_pipeline> dut_;
};

TEST_F(AesPipelineTest, MatchesFips197AppendixCBackToBack) {
  const auto key128 = FromHex("000102030405060708090a0b0c0d0e0f");
  const auto key256 = FromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const auto pt = FromHex("00112233445566778899aabbccddeeff");
  ASSERT_TRUE(key128 && key256 && pt);
  Item a{*key128, {}, 0x128};
  Item b{*key256, {}, 0x256};
  std::copy(pt->begin(), pt->end(), a.block.begin());
  b.block = a.block;
  int seen = 0;
  for (int cycle = 0; cycle < kLatency + 4; ++cycle) {
    if (cycle == 0)
      Drive(a, true);
    else if (cycle == 1)
      Drive(b, true);
    else
      dut_->valid_i = 0;
    dut_.Settle();
    if (dut_->valid_o != 0) {
      if (seen == 0) {
        EXPECT_EQ(cycle, kLatency) << "latency";
        EXPECT_EQ(ToHex(GetBe(dut_->block_o)), "69c4e0d86a7b0430d8cdb78070b4c55a");  // C.1
        EXPECT_EQ(dut_->side_o, 0x128);
      } else {
        EXPECT_EQ(ToHex(GetBe(dut_->block_o)), "8ea2b7ca516745bfeafc49904b496089");  // C.3
        EXPECT_EQ(dut_->side_o, 0x256);
      }
      ++seen;
    }
    dut_.RisingEdge();
  }
  EXPECT_EQ(seen, 2);
}

class AesPipelineRandomTest : public AesPipelineTest,
                              public ::testing::WithParamInterface<double> {};

// Random keys (128/256 mixed per block), random valid gaps, and en_i low with probability
// 1 - p_enable: every block comes out once, in order, equal to OpenSSL AES-ECB.
TEST_P(AesPipelineRandomTest, MatchesOpensslEcbWithMixedKeysAndStalls) {
  const double p_enable = GetParam();
  const std::uint64_t seed = espo::testing::TestSeed();
  SCOPED_TRACE("replay with ESPO_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution enable(p_enable);
  std::bernoulli_distribution offer(0.9);
  const int blocks = 20000 * espo::testing::SoakFactor();
  std::deque<Item> in_flight;
  int sent = 0;
  int received = 0;
  for (std::uint64_t cycle = 0; received < blocks; ++cycle) {
    ASSERT_LT(cycle, static_cast<std::uint64_t>(blocks) * 20) << "no progress";
    const bool en = enable(rng);
    const bool valid = sent < blocks && offer(rng);
    Item item;
    item.key.resize((rng() & 1U) != 0 ? 32 : 16);
    for (auto& k : item.key) k = static_cast<std::uint8_t>(rng());
    for (auto& x : item.block) x = static_cast<std::uint8_t>(rng());
    item.side = static_cast<std::uint16_t>(sent);
    Drive(item, valid);
    dut_->en_i = en ? 1 : 0;
    dut_.Settle();
    if (en && dut_->valid_o != 0) {
      ASSERT_FALSE(in_flight.empty()) << "block out of nowhere at cycle " << cycle;
      const Item& want = in_flight.front();
      const auto ref = driver::AesEncryptBlock(want.key, want.block);
      ASSERT_TRUE(ref.has_value());
      ASSERT_EQ(dut_->side_o, want.side) << "order";
      ASSERT_EQ(GetBe(dut_->block_o), *ref)
          << "block " << received << " AES-" << want.key.size() * 8 << " key " << ToHex(want.key);
      in_flight.pop_front();
      ++received;
    }
    if (en && valid) {
      in_flight.push_back(item);
      ++sent;
    }
    dut_.RisingEdge();
  }
  EXPECT_EQ(sent, blocks);
}

INSTANTIATE_TEST_SUITE_P(Enable, AesPipelineRandomTest, ::testing::Values(1.0, 0.7),
                         [](const auto& info) {
                           return info.param >= 1.0 ? std::string("AlwaysEnabled")
                                                    : std::string("RandomStalls");
                         });

}  // namespace
}  // namespace espo::sim
