// SPDX-License-Identifier: Apache-2.0
//
// ghash_mul (hw/rtl/ghash_mul.sv), a combinational GF(2^128) multiplier, against a bitwise C++
// transcription of NIST SP 800-38D Algorithm 1 and a value from the GCM paper.
// Replay a failing random run: ESPO_SEED=<printed seed> ./test_ghash_mul

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "Vghash_mul.h"
#include "test_seed.hpp"

#include "espo/driver/bytes.hpp"
#include "espo/sim/clocked_model.hpp"

namespace espo::sim {
namespace {

using Block = std::array<std::uint8_t, 16>;

// SP 800-38D Algorithm 1: bit i of a block is bit (7 - i mod 8) of byte i / 8 (MSB first);
// V >> 1 moves every bit one position towards byte 15; R = 0xE1 || 0^120.
Block ReferenceMul(const Block& x, const Block& y) {
  Block z{};
  Block v = y;
  for (std::size_t i = 0; i < 128; ++i) {
    if (((x.at(i / 8) >> (7U - i % 8U)) & 1U) != 0) {
      for (std::size_t k = 0; k < 16; ++k) z.at(k) ^= v.at(k);
    }
    const bool lsb = (v[15] & 1U) != 0;
    for (std::size_t k = 15; k > 0; --k) {
      v.at(k) = static_cast<std::uint8_t>((v.at(k) >> 1U) | (v.at(k - 1) << 7U));
    }
    v[0] = static_cast<std::uint8_t>(v[0] >> 1U);
    if (lsb) v[0] ^= 0xe1U;
  }
  return z;
}

// Big-endian bit string onto a 128-bit port: byte 0 -> bits [127:120].
template <class Wide>
void SetBe(Wide& port, const Block& b) {
  for (std::size_t w = 0; w < 4; ++w) port[w] = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    port[3 - i / 4] |= static_cast<std::uint32_t>(b.at(i)) << (24U - 8U * (i % 4));
  }
}

template <class Wide>
Block GetBe(const Wide& port) {
  Block b{};
  for (std::size_t i = 0; i < 16; ++i) {
    b.at(i) = static_cast<std::uint8_t>(port[3 - i / 4] >> (24U - 8U * (i % 4)));
  }
  return b;
}

Block FromHexBlock(const char* hex) {
  Block b{};
  const auto bytes = FromHex(hex);
  EXPECT_TRUE(bytes.has_value() && bytes->size() == 16);
  if (bytes && bytes->size() == 16) std::copy(bytes->begin(), bytes->end(), b.begin());
  return b;
}

class GhashMulTest : public ::testing::Test {
 protected:
  Block Mul(const Block& a, const Block& b) {
    SetBe(dut_->a_i, a);
    SetBe(dut_->b_i, b);
    dut_->eval();
    return GetBe(dut_->p_o);
  }
  ClockedModel<Vghash_mul> dut_;
};

TEST_F(GhashMulTest, OneIsTheMostSignificantBitOfByteZero) {
  const Block one = FromHexBlock("80000000000000000000000000000000");
  const Block h = FromHexBlock("66e94bd4ef8a2c3b884cfa59ca342b2e");
  EXPECT_EQ(Mul(one, h), h);
  EXPECT_EQ(Mul(h, one), h);
}

// GCM paper (McGrew, Viega), Test Case 2: H = E_0(0), C = 0388dace..., X1 = C * H.
TEST_F(GhashMulTest, MatchesGcmPaperTestCaseTwo) {
  const Block h = FromHexBlock("66e94bd4ef8a2c3b884cfa59ca342b2e");
  const Block c = FromHexBlock("0388dace60b6a392f328c2b971b2fe78");
  EXPECT_EQ(ToHex(Mul(c, h)), "5e2ec746917062882c85b0685353deb7");
  EXPECT_EQ(ReferenceMul(c, h), Mul(c, h));
}

TEST_F(GhashMulTest, MatchesBitwiseReferenceOnRandomAndSparseOperands) {
  const std::uint64_t seed = espo::testing::TestSeed();
  SCOPED_TRACE("replay with ESPO_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int n = 20000 * espo::testing::SoakFactor();
  for (int i = 0; i < n; ++i) {
    Block a{};
    Block b{};
    for (auto& x : a) x = static_cast<std::uint8_t>(rng());
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    if (i % 4 == 1) {  // single-bit operands exercise each reduction path
      a = Block{};
      a.at((i / 4) % 16) = static_cast<std::uint8_t>(1U << ((i / 64) % 8));
    }
    if (i % 4 == 2) {
      b = Block{};
      b[15] = static_cast<std::uint8_t>(1U << (i % 8U));
    }
    const Block got = Mul(a, b);
    const Block want = ReferenceMul(a, b);
    ASSERT_EQ(got, want) << "a " << ToHex(a) << " b " << ToHex(b) << " iteration " << i;
  }
}

}  // namespace
}  // namespace espo::sim
