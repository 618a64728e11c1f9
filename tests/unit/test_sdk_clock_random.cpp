// SPDX-License-Identifier: Apache-2.0
//
// Injected clock and RNG: FakeClock moves only when told; SeededRng replays; Uniform stays in
// range and is unbiased; CryptoRng works.
#include <array>
#include <chrono>
#include <cstdint>
#include <set>

#include <gtest/gtest.h>

#include "test_seed.hpp"

#include "espo/sdk/clock.hpp"
#include "espo/sdk/random.hpp"

namespace espo::sdk {
namespace {

using std::chrono::seconds;

TEST(FakeClock, MovesOnlyWhenTold) {
  FakeClock clock(TimePoint(seconds(100)));
  EXPECT_EQ(clock.Now(), TimePoint(seconds(100)));
  EXPECT_EQ(clock.Now(), TimePoint(seconds(100)));
  clock.Advance(seconds(5));
  EXPECT_EQ(clock.Now(), TimePoint(seconds(105)));
  clock.Advance(seconds(-50));  // ignored: monotonic
  EXPECT_EQ(clock.Now(), TimePoint(seconds(105)));
  clock.AdvanceTo(TimePoint(seconds(104)));  // earlier: ignored
  EXPECT_EQ(clock.Now(), TimePoint(seconds(105)));
  clock.AdvanceTo(TimePoint(seconds(200)));
  EXPECT_EQ(clock.Now(), TimePoint(seconds(200)));
  const Clock& as_base = clock;
  EXPECT_EQ(as_base.Now(), TimePoint(seconds(200)));
}

TEST(SteadyClock, IsMonotonic) {
  SteadyClock clock;
  const TimePoint a = clock.Now();
  const TimePoint b = clock.Now();
  EXPECT_LE(a, b);
}

TEST(SeededRng, SameSeedSameSequence) {
  const std::uint64_t seed = espo::testing::TestSeed();
  SeededRng a(seed);
  SeededRng b(seed);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.NextU64(), b.NextU64());
  SeededRng c(seed + 1);
  SeededRng d(seed);
  int equal = 0;
  for (int i = 0; i < 100; ++i) equal += c.NextU64() == d.NextU64() ? 1 : 0;
  EXPECT_LT(equal, 3);
}

TEST(SeededRng, KnownFirstValue) {
  // std::mt19937_64 is fully specified by the standard: the 10000th output for the default seed
  // 5489 is 9981545732273789042.
  SeededRng rng(5489);
  std::uint64_t v = 0;
  for (int i = 0; i < 10000; ++i) v = rng.NextU64();
  EXPECT_EQ(v, 9981545732273789042ULL);
}

TEST(Rng, UniformStaysInRangeAndCoversIt) {
  SeededRng rng(espo::testing::TestSeed());
  std::array<int, 7> counts{};
  for (int i = 0; i < 70000; ++i) {
    const std::uint64_t v = rng.Uniform(10, 16);
    ASSERT_GE(v, 10U);
    ASSERT_LE(v, 16U);
    ++counts[v - 10];
  }
  // Chi-square, 6 degrees of freedom; 37.0 is the 1e-6 upper quantile.
  double chi2 = 0;
  for (const int c : counts) chi2 += (c - 10000.0) * (c - 10000.0) / 10000.0;
  EXPECT_LT(chi2, 37.0);
  EXPECT_EQ(rng.Uniform(5, 5), 5U);
  EXPECT_LE(rng.Uniform(9, 3), 9U);  // swapped bounds
  EXPECT_GE(rng.Uniform(9, 3), 3U);
  (void)rng.Uniform(0, UINT64_MAX);  // full range: no overflow
}

TEST(Rng, UniformRealInUnitInterval) {
  SeededRng rng(espo::testing::TestSeed());
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    const double u = rng.UniformReal();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.01);
  const double r = rng.UniformReal(-2.0, 3.0);
  EXPECT_GE(r, -2.0);
  EXPECT_LT(r, 3.0);
}

TEST(CryptoRng, ProducesDistinctWords) {
  ASSERT_TRUE(CryptoRng::CheckAvailable());
  CryptoRng rng;
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(rng.NextU64());  // crosses several buffer refills
  EXPECT_EQ(seen.size(), 1000U);
  EXPECT_LE(rng.Uniform(1, 6), 6U);
}

}  // namespace
}  // namespace espo::sdk
