// SPDX-License-Identifier: Apache-2.0
//
// The SDK's internal containers against standard-library references under random operation
// sequences (seed printed): detail::TimeQueue pops exactly what a binary heap ordered by
// (time, push order) pops, and detail::FlatMap holds exactly what a std::map holds.
#include <array>
#include <cstdint>
#include <map>
#include <queue>
#include <random>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "test_seed.hpp"

#include "espo/sdk/clock.hpp"
#include "espo/sdk/flat_map.hpp"
#include "espo/sdk/time_queue.hpp"

namespace espo::sdk {
namespace {

using Ref = std::tuple<std::int64_t, std::uint64_t, std::uint32_t>;  // (ns, push order, payload)

TEST(TimeQueue, PopsInTimeThenPushOrderLikeABinaryHeap) {
  const std::uint64_t seed = espo::testing::TestSeed();
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20 * espo::testing::SoakFactor(); ++round) {
    detail::TimeQueue<std::uint32_t> q;
    std::priority_queue<Ref, std::vector<Ref>, std::greater<>> ref;
    std::uint64_t order = 0;
    std::int64_t now = 0;
    // Deadlines from "now" up to hours ahead (many buckets), with deliberate ties.
    // ... and beyond the ring's ~78 hours (the overflow map).
    const std::int64_t spans[] = {1'000, 1'000'000'000, 3'600'000'000'000, 30'000'000'000'000,
                                  1'000'000'000'000'000};
    for (int op = 0; op < 20000; ++op) {
      if (rng() % 3 != 0 || ref.empty()) {
        const std::int64_t span = spans[rng() % 5];
        const std::int64_t at = now + static_cast<std::int64_t>(rng() % span) / 1000 * 1000;
        const auto payload = static_cast<std::uint32_t>(rng());
        q.push(TimePoint(Duration(at)), payload);
        ref.emplace(at, order++, payload);
      } else {
        ASSERT_FALSE(q.empty());
        const auto [at, seq, payload] = ref.top();
        ASSERT_EQ(q.top().at.time_since_epoch().count(), at) << "op " << op;
        ASSERT_EQ(q.top().payload, payload) << "op " << op;
        q.pop();
        ref.pop();
        now = at;  // time only moves forward, as in the scheduler
      }
      ASSERT_EQ(q.size(), ref.size());
    }
    while (!ref.empty()) {
      ASSERT_EQ(q.top().payload, std::get<2>(ref.top()));
      q.pop();
      ref.pop();
    }
    EXPECT_TRUE(q.empty());
  }
}

TEST(TimeQueue, EarlierPushAfterALaterBucketComesFirst) {
  detail::TimeQueue<int> q;
  q.push(TimePoint(std::chrono::hours(5)), 1);
  q.push(TimePoint(std::chrono::hours(9)), 2);
  q.push(TimePoint(std::chrono::seconds(1)), 3);  // earlier than the near bucket
  q.push(TimePoint(std::chrono::hours(5)), 4);    // tie with 1: pushed later, pops later
  std::vector<int> got;
  while (!q.empty()) {
    got.push_back(q.top().payload);
    q.pop();
  }
  EXPECT_EQ(got, (std::vector<int>{3, 1, 4, 2}));
}

// Random emplace / insert_or_assign / erase / find on a FlatMap and a std::map side by side
// over a small key range (long probe runs, many backward shifts on erase); `value(rng)` draws a
// value (never null for pointer-valued maps).
template <typename K, typename V, typename MakeValue>
void CheckAgainstStdMap(std::uint64_t seed, MakeValue value) {
  std::mt19937_64 rng(seed);
  detail::FlatMap<K, V> m;
  std::map<K, V> ref;
  for (int op = 0; op < 200000; ++op) {
    const auto key = static_cast<K>(rng() % 4096);
    switch (rng() % 4) {
      case 0: {
        const V v = value(rng);
        const bool inserted = m.emplace(key, v).second;
        ASSERT_EQ(inserted, ref.emplace(key, v).second) << "op " << op;
        break;
      }
      case 1: {
        const V v = value(rng);
        m.insert_or_assign(key, v);
        ref[key] = v;
        break;
      }
      case 2:
        ASSERT_EQ(m.erase(key), ref.erase(key)) << "op " << op;
        break;
      default: {
        auto it = m.find(key);
        auto rit = ref.find(key);
        ASSERT_EQ(it == m.end(), rit == ref.end()) << "op " << op;
        if (rit != ref.end()) {
          ASSERT_EQ(it->second, rit->second);
        }
      }
    }
    ASSERT_EQ(m.size(), ref.size());
  }
  std::map<K, V> all;
  for (const auto& [k, v] : m) all.emplace(k, v);
  EXPECT_EQ(all, ref);
}

TEST(FlatMap, MatchesStdMapUnderRandomInsertEraseFind) {
  CheckAgainstStdMap<std::uint64_t, std::uint64_t>(espo::testing::TestSeed(),
                                                   [](std::mt19937_64& rng) { return rng(); });
}

// Pointer-valued maps use null as the free-slot mark (16-byte slots): same contract.
TEST(FlatMap, PointerValuedMapMatchesStdMap) {
  static std::array<int, 64> targets{};
  CheckAgainstStdMap<std::uint32_t, const int*>(
      espo::testing::TestSeed(),
      [](std::mt19937_64& rng) -> const int* { return &targets[rng() % targets.size()]; });
}

}  // namespace
}  // namespace espo::sdk
