// SPDX-License-Identifier: Apache-2.0
//
// ReplayWindow: RFC 4303 appendix A / SPEC 1.8 check and update, SPEC 1.9 ESN inference.
#include <cstdint>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "test_seed.hpp"

#include "espo/driver/replay_window.hpp"

namespace espo::driver {
namespace {

constexpr std::uint64_t k2p32 = 1ULL << 32U;

ReplayWindow Make(std::uint32_t w, bool esn, std::uint64_t t = 0) {
  auto r = ReplayWindow::Create(w, esn, t);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return *r;
}

// The set-based reference of SPEC 1.8.
struct RefWindow {
  std::uint32_t w;
  std::uint64_t t = 0;
  std::set<std::uint64_t> seen;
  bool Check(std::uint64_t s) const {
    if (w == 0) return true;
    if (s == 0) return false;
    if (s > t) return true;
    if (t - s >= w) return false;
    return seen.count(s) == 0;
  }
  void Update(std::uint64_t s) {
    if (w == 0) return;
    seen.insert(s);
    if (s > t) t = s;
  }
};

// RFC 4303 A2.2 by definition: the value congruent to s mod 2^32 in [B, B + 2^32), B = T - W + 1;
// below zero (T < W - 1) the high half is 0.
std::uint64_t RefInfer(std::uint64_t t, std::uint32_t w, std::uint32_t s) {
  if (t + 1 < w) return s;
  const std::uint64_t b = t - w + 1;
  return b + static_cast<std::uint32_t>(s - static_cast<std::uint32_t>(b));
}

TEST(ReplayWindowTest, CreateValidatesSize) {
  for (std::uint32_t w : {0U, 1U, 2U, 32U, 64U, 128U, 256U, 512U, 1024U}) {
    EXPECT_TRUE(ReplayWindow::Create(w, false).has_value()) << w;
  }
  for (std::uint32_t w : {3U, 48U, 1000U, 2048U, 4096U}) {
    auto r = ReplayWindow::Create(w, false);
    ASSERT_FALSE(r.has_value()) << w;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  }
  EXPECT_FALSE(ReplayWindow::Create(0, true).has_value());  // ESN needs a window
  EXPECT_FALSE(ReplayWindow::Create(64, false, k2p32).has_value());
  EXPECT_TRUE(ReplayWindow::Create(64, true, k2p32).has_value());
}

TEST(ReplayWindowTest, FreshWindowRejectsZeroAndAcceptsOne) {
  ReplayWindow w = Make(64, false);
  EXPECT_FALSE(w.Check(0));
  EXPECT_TRUE(w.Check(1));
  EXPECT_TRUE(w.Check(1000));
  w.Update(1);
  EXPECT_FALSE(w.Check(1));
  EXPECT_TRUE(w.Check(2));
  EXPECT_EQ(w.right_edge(), 1U);
}

TEST(ReplayWindowTest, WindowEdges) {
  ReplayWindow w = Make(64, false);
  w.Update(100);
  EXPECT_TRUE(w.Check(37));   // T - 63: last slot inside
  EXPECT_FALSE(w.Check(36));  // T - 64: left of the window
  EXPECT_FALSE(w.Check(100));
  EXPECT_TRUE(w.Check(99));
  w.Update(37);
  EXPECT_FALSE(w.Check(37));
  EXPECT_TRUE(w.Seen(37));
  w.Update(101);  // 37 slides out
  EXPECT_FALSE(w.Check(37));
  EXPECT_FALSE(w.Seen(37));
  EXPECT_TRUE(w.Check(38));
  EXPECT_FALSE(w.Check(100));
  EXPECT_FALSE(w.Check(101));
}

TEST(ReplayWindowTest, CheckDoesNotChangeState) {
  ReplayWindow w = Make(128, false);
  w.Update(500);
  for (std::uint64_t s = 1; s < 2000; ++s) (void)w.Check(s);
  EXPECT_EQ(w.right_edge(), 500U);
  EXPECT_TRUE(w.Check(499));
  EXPECT_FALSE(w.Check(500));
}

TEST(ReplayWindowTest, LargeJumpClearsBitmap) {
  for (std::uint32_t size : {1U, 32U, 64U, 128U, 1024U}) {
    ReplayWindow w = Make(size, true);
    for (std::uint64_t s = 1; s <= size; ++s) w.Update(s);
    w.Update(size + size);  // shift exactly W
    for (std::uint64_t s = size + 1; s < size + size; ++s) EXPECT_TRUE(w.Check(s)) << size;
    w.Update(1ULL << 40U);  // very large d
    EXPECT_FALSE(w.Check(1ULL << 40U));
    EXPECT_EQ(w.Check((1ULL << 40U) - 1), size > 1);  // W = 1 holds only T itself
    EXPECT_EQ(w.right_edge(), 1ULL << 40U);
  }
}

TEST(ReplayWindowTest, DisabledWindowAcceptsEverything) {
  ReplayWindow w = Make(0, false);
  w.Update(5);
  EXPECT_TRUE(w.Check(5));
  EXPECT_TRUE(w.Check(0));
  EXPECT_TRUE(w.Check(1));
  EXPECT_EQ(w.right_edge(), 0U);
}

TEST(ReplayWindowTest, RestoredRightEdgeFailsClosed) {
  ReplayWindow w = Make(64, false, 1000);
  EXPECT_EQ(w.right_edge(), 1000U);
  for (std::uint64_t s = 900; s <= 1000; ++s) EXPECT_FALSE(w.Check(s)) << s;
  EXPECT_TRUE(w.Check(1001));
  ReplayWindow small = Make(64, false, 10);
  for (std::uint64_t s = 0; s <= 10; ++s) EXPECT_FALSE(small.Check(s)) << s;
  EXPECT_TRUE(small.Check(11));
  ReplayWindow esn = Make(1024, true, k2p32 + 3);
  EXPECT_FALSE(esn.Check(k2p32 - 1));
  EXPECT_TRUE(esn.Check(k2p32 + 4));
}

TEST(ReplayWindowTest, InferEsnRfcCases) {
  // Case A: window inside one subspace.
  ReplayWindow a = Make(64, true, 5 * k2p32 + 1000);
  EXPECT_EQ(a.InferEsn(1000), 5 * k2p32 + 1000);
  EXPECT_EQ(a.InferEsn(937), 5 * k2p32 + 937);  // bottom of the window
  EXPECT_EQ(a.InferEsn(936), 6 * k2p32 + 936);  // below the window: next subspace
  EXPECT_EQ(a.InferEsn(5000), 5 * k2p32 + 5000);
  // Case B: window straddles 2^32: T = 2^32 + 5.
  ReplayWindow b = Make(64, true, k2p32 + 5);
  EXPECT_EQ(b.InferEsn(0xFFFFFFF0U), 0xFFFFFFF0U);  // previous subspace
  EXPECT_EQ(b.InferEsn(0xFFFFFFC6U), 0xFFFFFFC6U);  // bottom: T - 63
  EXPECT_EQ(b.InferEsn(0xFFFFFFC5U), k2p32 + 0xFFFFFFC5U);
  EXPECT_EQ(b.InferEsn(3), k2p32 + 3);
  EXPECT_EQ(b.InferEsn(0), k2p32);
  // Case B at Th = 0: no subspace below 0.
  ReplayWindow c = Make(64, true, 10);
  EXPECT_EQ(c.InferEsn(0xFFFFFFF0U), 0xFFFFFFF0U);
  EXPECT_EQ(c.InferEsn(5), 5U);
  // Just before the boundary: T = 2^32 - 1.
  ReplayWindow d = Make(64, true, k2p32 - 1);
  EXPECT_EQ(d.InferEsn(0), k2p32);
  EXPECT_EQ(d.InferEsn(1), k2p32 + 1);
  EXPECT_EQ(d.InferEsn(0xFFFFFFFFU), k2p32 - 1);
  EXPECT_EQ(d.InferEsn(0xFFFFFFC0U), k2p32 - 64);
  EXPECT_EQ(d.InferEsn(0xFFFFFFBFU), k2p32 + 0xFFFFFFBFU);
  // Without ESN the value is returned as is.
  ReplayWindow n = Make(64, false, 100);
  EXPECT_EQ(n.InferEsn(7), 7U);
}

TEST(ReplayWindowTest, InferEsnMatchesDefinitionAroundBoundaries) {
  const std::uint64_t edges[] = {1,          63,         64,         1000,         k2p32 - 1025,
                                 k2p32 - 64, k2p32 - 2,  k2p32 - 1,  k2p32,        k2p32 + 1,
                                 k2p32 + 62, k2p32 + 63, k2p32 + 64, k2p32 + 1023, 3 * k2p32 + 7};
  const std::uint32_t lows[] = {0U,          1U,          2U,          62U,         63U,
                                64U,         1023U,       1024U,       0x7FFFFFFFU, 0x80000000U,
                                0xFFFFFBFFU, 0xFFFFFC00U, 0xFFFFFFC0U, 0xFFFFFFFEU, 0xFFFFFFFFU};
  for (std::uint32_t size : {1U, 32U, 64U, 1024U}) {
    for (std::uint64_t t : edges) {
      ReplayWindow w = Make(size, true, t);
      for (std::uint32_t low : lows) {
        for (std::int64_t delta = -2; delta <= 2; ++delta) {
          const auto s = static_cast<std::uint32_t>(low + static_cast<std::uint32_t>(delta));
          EXPECT_EQ(w.InferEsn(s), RefInfer(t, size, s))
              << "W=" << size << " T=" << t << " s=" << s;
          const auto tl = static_cast<std::uint32_t>(t);
          const auto st = static_cast<std::uint32_t>(tl + static_cast<std::uint32_t>(delta));
          EXPECT_EQ(w.InferEsn(st), RefInfer(t, size, st)) << "W=" << size << " T=" << t;
        }
      }
    }
  }
}

TEST(ReplayWindowTest, RandomizedAgainstSetReference) {
  std::mt19937_64 rng(espo::testing::TestSeed());
  const int rounds = 20 * espo::testing::SoakFactor();
  for (int round = 0; round < rounds; ++round) {
    const std::uint32_t sizes[] = {1, 2, 32, 64, 128, 256, 1024};
    const std::uint32_t size = sizes[rng() % 7];
    const bool esn = (round % 2) == 1;
    const std::uint64_t start = esn ? k2p32 - 3000 : 1;
    ReplayWindow w = Make(size, esn, 0);
    RefWindow ref{size, 0, {}};
    std::uint64_t top = start;
    for (int i = 0; i < 3000; ++i) {
      std::uint64_t s = 0;
      switch (rng() % 6) {
        case 0:
        case 1:
          s = top + 1 + rng() % 3;
          top = s;
          break;  // new, small gaps
        case 2:
          s = top > 2 * size ? top - rng() % (2 * size + 2) : 1;
          break;  // near the edge
        case 3:
          s = top + 1 + rng() % (3 * size + 5);
          top = s;
          break;  // jump
        case 4:
          s = top > 5000 ? top - rng() % 5000 : top;
          break;  // old
        default:
          s = top - rng() % (size + 1);
          break;  // inside
      }
      ASSERT_EQ(w.Check(s), ref.Check(s)) << "round " << round << " i " << i << " s " << s;
      if (ref.Check(s) && rng() % 8 != 0) {  // 1 in 8 "fails the ICV": no update
        w.Update(s);
        ref.Update(s);
      }
      ASSERT_EQ(w.right_edge(), ref.t);
    }
  }
}

}  // namespace
}  // namespace espo::driver
