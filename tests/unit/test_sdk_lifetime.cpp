// SPDX-License-Identifier: Apache-2.0
//
// LifetimePolicy on a FakeClock and a seeded Rng: thresholds, fuzz ranges over 10 000 draws,
// distributions (mean and a chi-square bucket check), rekeyer choice, configuration errors.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_seed.hpp"

#include "espo/sdk/clock.hpp"
#include "espo/sdk/lifetime_policy.hpp"
#include "espo/sdk/random.hpp"

namespace espo::sdk {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr int kDraws = 10000;
// Chi-square upper 1e-6 quantile for 19 degrees of freedom (Wilson-Hilferty: 64.4).
constexpr double kChi2Limit19 = 65.0;

// Checks that every sample lies in [lo, hi], the mean is near the middle and the 20 equal buckets
// of [lo, hi] are filled as a uniform distribution would fill them. `step` > 0: the distribution
// is discrete on lo, lo + step, ..., hi, so a bucket's expected share is its number of support
// points (101 points do not split evenly into 20 buckets).
void ExpectUniform(const std::vector<std::uint64_t>& samples, std::uint64_t lo, std::uint64_t hi,
                   const std::string& what, std::uint64_t step = 0) {
  SCOPED_TRACE(what);
  ASSERT_FALSE(samples.empty());
  double sum = 0;
  std::vector<int> buckets(20, 0);
  const double width = static_cast<double>(hi - lo + 1) / 20.0;
  for (const std::uint64_t s : samples) {
    ASSERT_GE(s, lo);
    ASSERT_LE(s, hi);
    sum += static_cast<double>(s);
    const auto b = static_cast<std::size_t>(static_cast<double>(s - lo) / width);
    ++buckets[std::min<std::size_t>(b, 19)];
  }
  const double mean = sum / static_cast<double>(samples.size());
  const double expected_mean = (static_cast<double>(lo) + static_cast<double>(hi)) / 2.0;
  EXPECT_NEAR(mean, expected_mean, 0.02 * static_cast<double>(hi - lo) + 1.0);
  std::vector<double> share(20, 1.0 / 20.0);
  if (step > 0) {
    std::vector<int> points(20, 0);
    for (std::uint64_t v = lo; v <= hi; v += step) {
      const auto b = static_cast<std::size_t>(static_cast<double>(v - lo) / width);
      ++points[std::min<std::size_t>(b, 19)];
    }
    const double total = static_cast<double>((hi - lo) / step + 1);
    for (std::size_t b = 0; b < 20; ++b) share[b] = points[b] / total;
  }
  double chi2 = 0;
  for (std::size_t b = 0; b < 20; ++b) {
    const double expect = static_cast<double>(samples.size()) * share[b];
    chi2 += (buckets[b] - expect) * (buckets[b] - expect) / expect;
  }
  EXPECT_LT(chi2, kChi2Limit19) << "buckets not uniform";
  // Both ends are reached (within one bucket).
  EXPECT_LT(static_cast<double>(*std::min_element(samples.begin(), samples.end()) - lo), width);
  EXPECT_LT(static_cast<double>(hi - *std::max_element(samples.begin(), samples.end())), width);
}

std::uint64_t Ns(Duration d) { return static_cast<std::uint64_t>(d.count()); }

class LifetimeTest : public ::testing::Test {
 protected:
  LifetimeTest() : clock_(TimePoint(hours(1000))), rng_(espo::testing::TestSeed()) {}

  LifetimePolicy Make(const LifetimePolicyConfig& config) {
    auto policy = LifetimePolicy::Create(config, clock_, rng_);
    EXPECT_TRUE(policy) << (policy ? "" : policy.error().message);
    return std::move(*policy);
  }
  std::string CreateError(const LifetimePolicyConfig& config) {
    auto policy = LifetimePolicy::Create(config, clock_, rng_);
    if (policy) return "";
    EXPECT_EQ(policy.error().code, Errc::kInvalidArgument);
    EXPECT_EQ(policy.error().message.find('\n'), std::string::npos);
    return policy.error().message;
  }
  std::uint64_t SinceNow(TimePoint t) const { return Ns(t - clock_.Now()); }

  FakeClock clock_;
  SeededRng rng_;
};

// ---- count-based (SPEC 8a) ----

TEST(RekeyValue, LargerValueRekeys) {
  EXPECT_EQ(ChooseRekeyer(9, 3), RekeyDesignation::kRekeyer);
  EXPECT_EQ(ChooseRekeyer(3, 9), RekeyDesignation::kOther);
  EXPECT_EQ(ChooseRekeyer(0, 1), RekeyDesignation::kOther);  // 0 = never: the peer rekeys
  EXPECT_EQ(ChooseRekeyer(1, 0), RekeyDesignation::kRekeyer);
  EXPECT_EQ(ChooseRekeyer(7, 7), RekeyDesignation::kTie);
  EXPECT_EQ(ChooseRekeyer(0, 0), RekeyDesignation::kTie);
  EXPECT_EQ(ChooseRekeyer(65535, 65534), RekeyDesignation::kRekeyer);
  // The two ends always agree: exactly one rekeyer unless tied.
  SeededRng rng(espo::testing::TestSeed());
  for (int i = 0; i < 1000; ++i) {
    const RekeyValue a = DrawRekeyValue(rng);
    const RekeyValue b = DrawRekeyValue(rng);
    ASSERT_NE(a, 0);
    const RekeyDesignation at_a = ChooseRekeyer(a, b);
    const RekeyDesignation at_b = ChooseRekeyer(b, a);
    if (a == b) {
      EXPECT_EQ(at_a, RekeyDesignation::kTie);
      EXPECT_EQ(at_b, RekeyDesignation::kTie);
    } else {
      EXPECT_NE(at_a, at_b);
      EXPECT_NE(at_a, RekeyDesignation::kTie);
    }
  }
}

TEST_F(LifetimeTest, CountBasedRekeyerSoftPoint) {
  LifetimePolicyConfig config;
  config.kind = LifetimePolicyKind::kCountBased;
  config.count_based.hard_packets = 1'000'000;
  config.count_based.hard_bytes = 1'000'000'000'000;
  LifetimePolicy policy = Make(config);
  std::vector<std::uint64_t> packets;
  std::vector<std::uint64_t> bytes;
  for (int i = 0; i < kDraws; ++i) {
    const SaLifetime l = policy.ForNewSa(
        {SaDirection::kOutbound, ExchangeRole::kInitiator, RekeyDesignation::kRekeyer});
    ASSERT_EQ(l.counts.hard_packets, 1'000'000U);
    ASSERT_EQ(l.counts.hard_bytes, 1'000'000'000'000U);
    EXPECT_FALSE(l.soft_deadline);
    EXPECT_FALSE(l.hard_deadline);
    packets.push_back(l.counts.soft_packets);
    bytes.push_back(l.counts.soft_bytes);
  }
  ExpectUniform(packets, 800'000, 850'000, "rekeyer packets: X_i*L + U(0, 0.05 L)");
  ExpectUniform(bytes, 800'000'000'000, 850'000'000'000, "rekeyer bytes");
  // Packets and bytes draw independently.
  int same_rank = 0;
  for (int i = 0; i < kDraws; ++i) {
    same_rank +=
        (packets[i] - 800'000) / 5000 == (bytes[i] - 800'000'000'000) / 5'000'000'000 ? 1 : 0;
  }
  EXPECT_LT(same_rank, kDraws / 5);
}

TEST_F(LifetimeTest, CountBasedOtherPeerAndTie) {
  LifetimePolicyConfig config;
  config.kind = LifetimePolicyKind::kCountBased;
  config.count_based.hard_packets = 1'000'000;
  config.count_based.hard_time = hours(1);
  LifetimePolicy policy = Make(config);
  std::vector<std::uint64_t> other;
  std::vector<std::uint64_t> tie;
  std::vector<std::uint64_t> time_soft;
  for (int i = 0; i < kDraws; ++i) {
    const SaLifetime o = policy.ForNewSa(
        {SaDirection::kInbound, ExchangeRole::kResponder, RekeyDesignation::kOther});
    other.push_back(o.counts.soft_packets);
    EXPECT_EQ(o.counts.soft_bytes, 0U);
    EXPECT_EQ(o.counts.hard_bytes, 0U);
    ASSERT_TRUE(o.hard_deadline && o.soft_deadline);
    EXPECT_EQ(*o.hard_deadline - clock_.Now(), hours(1));
    time_soft.push_back(SinceNow(*o.soft_deadline));
    const SaLifetime t =
        policy.ForNewSa({SaDirection::kInbound, ExchangeRole::kResponder, RekeyDesignation::kTie});
    tie.push_back(t.counts.soft_packets);
  }
  ExpectUniform(other, 900'000, 950'000, "other peer: X_r*L + U(0, 0.05 L)");
  ExpectUniform(tie, 800'000, 850'000, "tie uses X_i");
  ExpectUniform(time_soft, Ns(minutes(54)), Ns(minutes(57)), "time soft for the other peer");
}

TEST_F(LifetimeTest, CountBasedOtherClampedBelowL) {
  // X_r = 0.949: X_r + 0.05 = 0.999 < 1 is allowed; with a tiny L the clamp L - 1 bites.
  LifetimePolicyConfig config;
  config.kind = LifetimePolicyKind::kCountBased;
  config.count_based.x_i = 0.5;
  config.count_based.x_r = 0.949;
  config.count_based.hard_packets = 20;
  LifetimePolicy policy = Make(config);
  for (int i = 0; i < kDraws; ++i) {
    const SaLifetime l = policy.ForNewSa({.designation = RekeyDesignation::kOther});
    ASSERT_GE(l.counts.soft_packets, 18U);  // floor(0.949 * 20) = 18
    ASSERT_LE(l.counts.soft_packets, 19U);  // L - 1
  }
  config.count_based.hard_packets = 2;  // smallest L: soft must still be 1 <= soft < L
  LifetimePolicy tiny = Make(config);
  for (const RekeyDesignation d :
       {RekeyDesignation::kRekeyer, RekeyDesignation::kOther, RekeyDesignation::kTie}) {
    EXPECT_EQ(tiny.ForNewSa({.designation = d}).counts.soft_packets, 1U);
  }
  // Near 2^64 the arithmetic neither overflows nor reaches L.
  config.count_based.hard_bytes = UINT64_MAX;
  LifetimePolicy huge = Make(config);
  for (int i = 0; i < 1000; ++i) {
    const SaLifetime l = huge.ForNewSa({.designation = RekeyDesignation::kOther});
    ASSERT_LT(l.counts.soft_bytes, UINT64_MAX);
    ASSERT_GE(l.counts.soft_bytes, static_cast<std::uint64_t>(0.948L * 18446744073709551615.0L));
  }
}

TEST_F(LifetimeTest, CountBasedConstraintErrors) {
  LifetimePolicyConfig config;
  config.kind = LifetimePolicyKind::kCountBased;
  config.count_based.hard_packets = 1000;
  EXPECT_EQ(CreateError(config), "");
  config.count_based.x_i = 0.85;  // boundary: x_i + 0.05 == x_r is allowed
  EXPECT_EQ(CreateError(config), "");
  config.count_based.x_i = 0.0;
  EXPECT_NE(CreateError(config).find("count_based.x_i"), std::string::npos);
  config.count_based.x_i = NAN;
  EXPECT_NE(CreateError(config).find("count_based.x_i"), std::string::npos);
  config.count_based.x_i = 0.86;
  EXPECT_NE(CreateError(config).find("count_based.x_r"), std::string::npos);
  config.count_based.x_i = 0.80;
  config.count_based.x_r = 0.95;
  EXPECT_NE(CreateError(config).find("count_based.x_r"), std::string::npos);
  config.count_based.x_r = 0.90;
  config.count_based.hard_packets = 1;
  EXPECT_NE(CreateError(config).find("count_based.hard_packets"), std::string::npos);
  config.count_based.hard_packets = 0;
  EXPECT_NE(CreateError(config).find("no hard limit"), std::string::npos);
  config.count_based.hard_time = seconds(-1);
  EXPECT_NE(CreateError(config).find("count_based.hard_time"), std::string::npos);
}

// ---- strongSwan (SPEC 9.1) ----

TEST(Strongswan, DefaultsAndDerivations) {
  auto d = ResolveStrongswan({});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->time.rekey, hours(1));
  EXPECT_EQ(d->time.life, minutes(66));
  EXPECT_EQ(d->time.rand, minutes(6));
  EXPECT_EQ(d->bytes.rekey, 0U);
  EXPECT_EQ(d->bytes.life, 0U);
  EXPECT_EQ(d->packets.rand, 0U);

  StrongswanConfig only_life;
  only_life.life_time = minutes(110);
  only_life.life_packets = 1100;
  auto l = ResolveStrongswan(only_life);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->time.rekey, minutes(100));  // life / 1.1
  EXPECT_EQ(l->time.rand, minutes(10));
  EXPECT_EQ(l->packets.rekey, 1000U);
  EXPECT_EQ(l->packets.rand, 100U);

  StrongswanConfig volume;
  volume.rekey_bytes = 1'000'000;
  volume.rand_bytes = 5000;
  auto v = ResolveStrongswan(volume);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->bytes.life, 1'100'000U);
  EXPECT_EQ(v->bytes.rand, 5000U);

  StrongswanConfig bad;
  bad.rekey_time = hours(2);
  bad.life_time = hours(1);
  auto e = ResolveStrongswan(bad);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("strongswan.life_time"), std::string::npos);
}

TEST_F(LifetimeTest, StrongswanDefaultTimeJitter) {
  LifetimePolicyConfig config;
  config.kind = LifetimePolicyKind::kStrongswan;
  LifetimePolicy policy = Make(config);
  std::vector<std::uint64_t> soft;
  for (int i = 0; i < kDraws; ++i) {
    const SaLifetime l = policy.ForNewSa({.direction = SaDirection::kOutbound});
    ASSERT_TRUE(l.soft_deadline && l.hard_deadline);
    EXPECT_EQ(*l.hard_deadline - clock_.Now(), minutes(66));
    soft.push_back(SinceNow(*l.soft_deadline));
    EXPECT_EQ(l.counts, CountLimits{});
  }
  ExpectUniform(soft, Ns(minutes(54)), Ns(minutes(60)), "rekey_time - U{0..rand_time}");
}

TEST_F(LifetimeTest, StrongswanVolumesDrawSeparately) {
  LifetimePolicyConfig config;
  config.kind = LifetimePolicyKind::kStrongswan;
  config.strongswan.rekey_bytes = 10'000'000;
  config.strongswan.rekey_packets = 100'000;
  LifetimePolicy policy = Make(config);
  std::vector<std::uint64_t> bytes;
  std::vector<std::uint64_t> packets;
  for (int i = 0; i < kDraws; ++i) {
    const SaLifetime l = policy.ForNewSa({.direction = SaDirection::kInbound});
    ASSERT_EQ(l.counts.hard_bytes, 11'000'000U);
    ASSERT_EQ(l.counts.hard_packets, 110'000U);
    bytes.push_back(l.counts.soft_bytes);
    packets.push_back(l.counts.soft_packets);
  }
  ExpectUniform(bytes, 9'000'000, 10'000'000, "rekey_bytes - U{0..rand_bytes}");
  ExpectUniform(packets, 90'000, 100'000, "rekey_packets - U{0..rand_packets}");
}

TEST_F(LifetimeTest, StrongswanJitterCappedBelowRekey) {
  // rand > rekey: the draw is U{0..rekey-1}, so the soft point stays >= 1.
  LifetimePolicyConfig config;
  config.kind = LifetimePolicyKind::kStrongswan;
  config.strongswan.rekey_packets = 10;
  config.strongswan.life_packets = 1000;
  LifetimePolicy policy = Make(config);
  std::vector<std::uint64_t> soft;
  for (int i = 0; i < kDraws; ++i) soft.push_back(policy.ForNewSa({}).counts.soft_packets);
  EXPECT_EQ(*std::min_element(soft.begin(), soft.end()), 1U);
  EXPECT_EQ(*std::max_element(soft.begin(), soft.end()), 10U);
}

TEST_F(LifetimeTest, StrongswanNoJitterOnlyInboundRekeys) {
  LifetimePolicyConfig config;
  config.kind = LifetimePolicyKind::kStrongswan;
  config.strongswan.rekey_time = hours(1);
  config.strongswan.rand_time = seconds(0);
  LifetimePolicy policy = Make(config);
  const SaLifetime out = policy.ForNewSa({.direction = SaDirection::kOutbound});
  const SaLifetime in = policy.ForNewSa({.direction = SaDirection::kInbound});
  EXPECT_FALSE(out.soft_deadline);
  ASSERT_TRUE(out.hard_deadline);
  EXPECT_EQ(*out.hard_deadline - clock_.Now(), minutes(66));
  ASSERT_TRUE(in.soft_deadline);
  EXPECT_EQ(*in.soft_deadline - clock_.Now(), hours(1));
}

TEST_F(LifetimeTest, DeadlinesFollowTheInjectedClock) {
  LifetimePolicyConfig config;
  config.kind = LifetimePolicyKind::kStrongswan;
  config.strongswan.rand_time = seconds(0);
  LifetimePolicy policy = Make(config);
  clock_.Advance(hours(5));
  const SaLifetime l = policy.ForNewSa({.direction = SaDirection::kInbound});
  EXPECT_EQ(*l.soft_deadline, TimePoint(hours(1006)));
  const SaLifetime at = policy.ForNewSa({.direction = SaDirection::kInbound}, TimePoint(hours(1)));
  EXPECT_EQ(*at.soft_deadline, TimePoint(hours(2)));
}

// ---- Libreswan (SPEC 9.2) ----

TEST_F(LifetimeTest, LibreswanTimeMargins) {
  LifetimePolicyConfig config;
  config.kind = LifetimePolicyKind::kLibreswan;
  LifetimePolicy policy = Make(config);
  std::vector<std::uint64_t> initiator;
  for (int i = 0; i < kDraws; ++i) {
    const SaLifetime l = policy.ForNewSa({.role = ExchangeRole::kInitiator});
    ASSERT_TRUE(l.soft_deadline && l.hard_deadline);
    EXPECT_EQ(*l.hard_deadline - clock_.Now(), hours(8));
    const std::uint64_t soft = SinceNow(*l.soft_deadline);
    // margin = 9 min * (100 + k) / 100, k in 0..100: only whole-percent steps of 5.4 s.
    ASSERT_EQ((Ns(hours(8)) - soft) % Ns(std::chrono::milliseconds(5400)), 0U);
    initiator.push_back(soft);
  }
  ExpectUniform(initiator, Ns(hours(7) + minutes(42)), Ns(hours(7) + minutes(51)),
                "initiator: lifetime - rekeymargin * (100 + U{0..fuzz}) / 100",
                Ns(std::chrono::milliseconds(5400)));
  const SaLifetime r = policy.ForNewSa({.role = ExchangeRole::kResponder});
  EXPECT_EQ(*r.soft_deadline - clock_.Now(), hours(7) + minutes(55) + seconds(30));
}

TEST_F(LifetimeTest, LibreswanCountLimits) {
  LifetimePolicyConfig config;
  config.kind = LifetimePolicyKind::kLibreswan;
  config.libreswan.ipsec_max_packets = 1'600'000;
  LifetimePolicy policy = Make(config);
  std::vector<std::uint64_t> initiator;
  std::vector<std::uint64_t> responder;
  for (int i = 0; i < kDraws; ++i) {
    const SaLifetime a = policy.ForNewSa({.role = ExchangeRole::kInitiator});
    ASSERT_EQ(a.counts.hard_packets, 1'600'000U);
    ASSERT_EQ(a.counts.hard_bytes, std::uint64_t{1} << 63U);  // Libreswan's default
    initiator.push_back(a.counts.soft_packets);
    responder.push_back(policy.ForNewSa({.role = ExchangeRole::kResponder}).counts.soft_packets);
  }
  ExpectUniform(initiator, 400'000, 500'000, "initiator 25..31.25 %");
  ExpectUniform(responder, 700'000, 800'000, "responder 43.75..50 %");
  // Below 16384 there is no fuzz.
  config.libreswan.ipsec_max_packets = 16000;
  LifetimePolicy small = Make(config);
  EXPECT_EQ(small.ForNewSa({.role = ExchangeRole::kInitiator}).counts.soft_packets, 4000U);
  EXPECT_EQ(small.ForNewSa({.role = ExchangeRole::kResponder}).counts.soft_packets, 8000U);
}

TEST_F(LifetimeTest, LibreswanRekeyNoAndErrors) {
  LifetimePolicyConfig config;
  config.kind = LifetimePolicyKind::kLibreswan;
  config.libreswan.rekey = false;
  LifetimePolicy policy = Make(config);
  const SaLifetime l = policy.ForNewSa({});
  EXPECT_FALSE(l.soft_deadline);
  EXPECT_TRUE(l.hard_deadline);
  EXPECT_EQ(l.counts.soft_packets, 0U);
  EXPECT_EQ(l.counts.soft_bytes, 0U);

  config.libreswan.rekey = true;
  config.libreswan.ipsec_lifetime = hours(25);
  EXPECT_NE(CreateError(config).find("libreswan.ipsec_lifetime"), std::string::npos);
  config.libreswan.ipsec_lifetime = hours(9);
  config.libreswan.fips = true;
  EXPECT_NE(CreateError(config).find("FIPS"), std::string::npos);
  config.libreswan.fips = false;
  config.libreswan.ipsec_lifetime = minutes(18);  // == 9 min * 200 / 100: must exceed it
  EXPECT_NE(CreateError(config).find("libreswan.rekeymargin"), std::string::npos);
  config.libreswan.ipsec_lifetime = minutes(18) + seconds(1);
  EXPECT_EQ(CreateError(config), "");
}

// ---- none ----

TEST_F(LifetimeTest, NoneIsFixed) {
  LifetimePolicyConfig config;
  config.kind = LifetimePolicyKind::kNone;
  config.none.hard_packets = 1000;
  config.none.hard_bytes = 1'000'000;
  config.none.hard_time = hours(1);
  LifetimePolicy policy = Make(config);
  for (int i = 0; i < 100; ++i) {
    const SaLifetime l = policy.ForNewSa({});
    EXPECT_EQ(l.counts.soft_packets, 800U);
    EXPECT_EQ(l.counts.soft_bytes, 800'000U);
    EXPECT_EQ(*l.soft_deadline - clock_.Now(), minutes(48));
    EXPECT_EQ(*l.hard_deadline - clock_.Now(), hours(1));
  }
  config.none.soft_fraction = 1.0;
  EXPECT_NE(CreateError(config).find("none.soft_fraction"), std::string::npos);
}

TEST(LifetimePolicyKind, Names) {
  for (const LifetimePolicyKind kind :
       {LifetimePolicyKind::kNone, LifetimePolicyKind::kCountBased, LifetimePolicyKind::kStrongswan,
        LifetimePolicyKind::kLibreswan}) {
    auto parsed = ParseLifetimePolicyKind(ToString(kind));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_FALSE(ParseLifetimePolicyKind("racoon"));
}

TEST_F(LifetimeTest, SameSeedSameLimits) {
  LifetimePolicyConfig config;
  config.count_based.hard_packets = 1 << 20;
  FakeClock clock;
  SeededRng a(42);
  SeededRng b(42);
  auto pa = LifetimePolicy::Create(config, clock, a);
  auto pb = LifetimePolicy::Create(config, clock, b);
  ASSERT_TRUE(pa && pb);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(pa->ForNewSa({}).counts, pb->ForNewSa({}).counts);
  }
}

}  // namespace
}  // namespace espo::sdk
