// SPDX-License-Identifier: Apache-2.0
//
// RekeyScheduler::ResumeRestored: time lifetimes are not in a checkpoint, so after
// SaManager::Restore a managed SA has no time deadline until the scheduler re-arms it from the
// SA's original install time. On a FakeClock: without it the restored SA is never rekeyed by
// time (the gap); with it the rekey starts inside the count-based soft window of the original
// install; an SA whose hard time passed during the outage is removed on the first Poll; adopted
// and unknown SAs are refused.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "esp_test_util.hpp"
#include "sdk_manager_util.hpp"
#include "test_seed.hpp"

#include "espo/sdk/checkpoint.hpp"

namespace espo::sdk {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

std::uint64_t Seed() {
  static const std::uint64_t seed = espo::testing::TestSeed();
  return seed;
}

driver::KeyMaterial Key(std::uint8_t seed) {
  std::vector<std::uint8_t> k(20);
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + i * 3U);
  return std::move(*driver::KeyMaterial::FromBytes(k));
}

class Recorder final : public RekeyHandler {
 public:
  void StartRekey(const RekeyRequest& request) override { requests.push_back(request); }
  void SendDelete(SaId /*sa*/, std::uint32_t /*spi*/) override {}
  std::vector<RekeyRequest> requests;
};

// Count-based, time only: T = 8 h, rekeyer soft point in [0.80 T, 0.85 T].
LifetimePolicyConfig TimeLifetime() {
  LifetimePolicyConfig c;
  c.kind = LifetimePolicyKind::kCountBased;
  c.count_based.hard_time = hours(8);
  return c;
}

// One gateway: engine, manager, policy, scheduler; Crash() replaces all of them (the clock and
// the IKE side survive).
struct Gateway {
  Gateway() { Start(Seed()); }
  void Start(std::uint64_t seed) {
    sched.reset();
    policy.reset();
    mgr.reset();
    engine = testing::OpenEngine(16);
    rng = std::make_unique<SeededRng>(seed);
    auto m = SaManager::Create(*engine, clock, *rng);
    ASSERT_TRUE(m.has_value());
    mgr = std::move(*m);
    auto p = LifetimePolicy::Create(TimeLifetime(), clock, *rng);
    ASSERT_TRUE(p.has_value()) << (p ? "" : p.error().message);
    policy.emplace(*p);
    RekeyOptions ro;
    ro.designation = RekeyDesignation::kRekeyer;
    auto s = RekeyScheduler::Create(*mgr, *policy, ike, ro);
    ASSERT_TRUE(s.has_value());
    sched = std::move(*s);
  }
  SaId CreateSa() {
    auto id = sched->BeginChildSa(testing::SpecFor(1));
    EXPECT_TRUE(id.has_value());
    ChildKeys keys{Key(1), Key(2)};
    auto st = sched->CompleteChildSa(*id, 0x5000, std::move(keys), ExchangeRole::kInitiator);
    EXPECT_TRUE(st.has_value()) << (st ? "" : st.error().message);
    return *id;
  }
  // An SA installed now, then a crash `outage` later: the restored SA's id.
  SaId InstallThenRestoreAfter(Duration outage) {
    CreateSa();
    clock.Advance(outage);
    return CrashAndRestore();
  }
  // Snapshot, crash (fresh device, manager and scheduler), restore with the owner's configs.
  SaId CrashAndRestore() {
    auto snap = mgr->Snapshot();
    EXPECT_TRUE(snap.has_value());
    Start(Seed() + 1);
    auto rep = mgr->Restore(*snap, [](const SaCheckpoint& rec) -> Result<driver::SaConfig> {
      espo::testing::SaSpec s;
      s.spi = rec.spi;
      const auto dir =
          rec.direction == SaDirection::kInbound ? driver::Direction::kIn : driver::Direction::kOut;
      return espo::testing::MakeSa(s, dir);
    });
    EXPECT_TRUE(rep.has_value()) << (rep ? "" : rep.error().message);
    if (!rep || rep->restored.size() != 1) return kNoSa;
    return rep->restored[0];
  }
  // Polls every minute from now until `until`; the time of the first rekey request, if any.
  std::optional<TimePoint> PollUntil(TimePoint until) {
    while (clock.Now() < until) {
      clock.Advance(minutes(1));
      EXPECT_TRUE(sched->Poll().has_value());
      if (!ike.requests.empty()) return clock.Now();
    }
    return std::nullopt;
  }

  FakeClock clock;
  Recorder ike;
  std::unique_ptr<driver::Engine> engine;
  std::unique_ptr<SeededRng> rng;
  std::unique_ptr<SaManager> mgr;
  std::optional<LifetimePolicy> policy;
  std::unique_ptr<RekeyScheduler> sched;
};

TEST(RekeySchedulerResumeTest, WithoutResumeARestoredSaHasNoTimeDeadline) {
  Gateway g;
  const TimePoint t0 = g.clock.Now();
  const SaId id = g.InstallThenRestoreAfter(hours(1));
  ASSERT_NE(id, kNoSa);
  EXPECT_FALSE(g.sched->NextDeadline().has_value());
  EXPECT_FALSE(g.PollUntil(t0 + hours(9)).has_value()) << "rekeyed without a time deadline";
  EXPECT_EQ(g.mgr->StateOf(id), SaState::kActive) << "past its hard time and still active";
}

TEST(RekeySchedulerResumeTest, ResumedSaIsRekeyedInsideTheOriginalSoftWindow) {
  Gateway g;
  const TimePoint t0 = g.clock.Now();
  const SaId id = g.InstallThenRestoreAfter(hours(1));
  ASSERT_NE(id, kNoSa);
  ASSERT_TRUE(g.sched->ResumeRestored(id, t0).has_value());
  ASSERT_TRUE(g.sched->NextDeadline().has_value());
  const std::optional<TimePoint> at = g.PollUntil(t0 + hours(8));
  ASSERT_TRUE(at.has_value()) << "no rekey before the hard time";
  EXPECT_GE(*at, t0 + minutes(384)) << "before 0.80 T";              // 0.80 * 480 min
  EXPECT_LE(*at, t0 + minutes(408) + minutes(1)) << "after 0.85 T";  // 0.85 * 480 min
  EXPECT_EQ(g.ike.requests[0].old_sa, id);
}

TEST(RekeySchedulerResumeTest, HardTimePassedDuringTheOutageRemovesOnTheFirstPoll) {
  Gateway g;
  const TimePoint t0 = g.clock.Now();
  const SaId id = g.InstallThenRestoreAfter(hours(9));  // down for longer than the SA's life
  ASSERT_NE(id, kNoSa);
  ASSERT_TRUE(g.sched->ResumeRestored(id, t0).has_value());
  ASSERT_TRUE(g.sched->Poll().has_value());
  EXPECT_EQ(g.mgr->StateOf(id), SaState::kGone);
  EXPECT_EQ(g.sched->stats().hard_removed, 1U);
}

TEST(RekeySchedulerResumeTest, UnknownAndAdoptedSasAreRefused) {
  Gateway g;
  auto missing = g.sched->ResumeRestored(12345, g.clock.Now());
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  espo::testing::SaSpec s;
  s.spi = 0x9001;
  auto adopted = g.mgr->AdoptSa(espo::testing::MakeSa(s, driver::Direction::kOut));
  ASSERT_TRUE(adopted.has_value());
  auto st = g.sched->ResumeRestored(*adopted, g.clock.Now());
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, Errc::kInvalidArgument);
  EXPECT_FALSE(g.sched->NextDeadline().has_value()) << "armed a deadline for a refused SA";
}

}  // namespace
}  // namespace espo::sdk
