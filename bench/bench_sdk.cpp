// SPDX-License-Identifier: Apache-2.0
//
// bench_sdk: SDK decisions per second on ModelDevice (issue #7 goal: >= 1 M ops/s).
//   - install:        SaManager::Allocate + InstallPair (both directions into slots)
//   - rekey (manager): the make-before-break sequence on one end: Allocate(kRekey), InstallInbound,
//                      PrepareOutbound, ActivateOutbound (outbound switch), Retire(old), and the
//                      drain end in Poll() (old inbound removed)
//   - remove:         SaManager::Remove (both directions, SPI quarantined)
//   (each timed round of the three ends with CollectEvents(), as a daemon drains them)
//   - rekey (2 ends):  RekeyScheduler at both ends joined by an in-process wire (no KEYMAT: keys
//                      are precomputed): RequestRekey, Poll (StartRekey), OnRekeyRequest,
//                      OnRekeyResponse, OnDelete, and the drain ends at both ends
// One op = one SA installed / rekeyed / removed; wall clock over a whole round of N SAs.
// Usage: bench_sdk [--csv] [--quick]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "espo/driver/engine.hpp"
#include "espo/driver/key_material.hpp"
#include "espo/driver/model_device.hpp"
#include "espo/sdk/clock.hpp"
#include "espo/sdk/lifetime_policy.hpp"
#include "espo/sdk/random.hpp"
#include "espo/sdk/rekey_scheduler.hpp"
#include "espo/sdk/sa_manager.hpp"

namespace espo::sdk {
namespace {

using WallClock = std::chrono::steady_clock;

constexpr std::uint32_t kSlots = 32768;

struct Row {
  std::string op;
  std::uint64_t ops = 0;
  double seconds = 0;
};

double Since(WallClock::time_point t0) {
  return std::chrono::duration<double>(WallClock::now() - t0).count();
}

driver::KeyMaterial Key(std::uint8_t seed) {
  Bytes raw(20);
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::uint8_t>(seed + i * 7);
  return std::move(*driver::KeyMaterial::FromBytes(raw));
}

ChildSaSpec Spec(std::uint64_t selector) {
  ChildSaSpec spec;
  spec.selector = selector;
  spec.local = *driver::IpAddress::Parse("192.0.2.1");
  spec.peer = *driver::IpAddress::Parse("198.51.100.7");
  return spec;
}

void Fail(const char* what, const Error& e) {
  std::fprintf(stderr, "bench_sdk: %s: %s\n", what, e.message.c_str());
}

std::unique_ptr<driver::Engine> OpenEngine() {
  driver::ModelOptions opt;
  opt.sa_slots = kSlots;
  auto dev = driver::OpenModelDevice(opt);
  if (!dev) {
    Fail("model device", dev.error());
    return nullptr;
  }
  auto engine = driver::Engine::Open(std::move(*dev));
  if (!engine) {
    Fail("engine", engine.error());
    return nullptr;
  }
  return std::move(*engine);
}

// One end's SaManager: install N, rekey them all `rounds` times, remove them.
bool BenchManager(std::uint32_t n, int rounds, std::vector<Row>& rows) {
  auto engine = OpenEngine();
  if (!engine) return false;
  FakeClock clock;
  SeededRng rng(7);
  SaManagerOptions mo;
  mo.software_fallback = false;
  mo.spi_quarantine = std::chrono::seconds(30);
  mo.drain_interval = std::chrono::seconds(2);
  auto mgr = SaManager::Create(*engine, clock, rng, mo);
  if (!mgr) {
    Fail("sa manager", mgr.error());
    return false;
  }
  SaManager& m = **mgr;
  const driver::KeyMaterial kin = Key(1);
  const driver::KeyMaterial kout = Key(2);
  std::vector<SaId> ids(n);
  std::uint32_t peer_spi = 0x10000;

  auto t0 = WallClock::now();
  for (std::uint32_t s = 0; s < n; ++s) {
    auto id = m.Allocate(Spec(s), SlotClass::kNew);
    if (!id) return Fail("allocate", id.error()), false;
    if (auto st =
            m.InstallPair(*id, peer_spi++, kin.Clone(), kout.Clone(), {}, {}, SlotClass::kNew);
        !st) {
      return Fail("install", st.error()), false;
    }
    ids[s] = *id;
  }
  // Events are collected as a daemon would (otherwise the state changes pile up in memory).
  if (auto ev = m.CollectEvents(); !ev) return Fail("events", ev.error()), false;
  rows.push_back({"install (Allocate+InstallPair)", n, Since(t0)});

  double rekey_s = 0;
  for (int r = 0; r < rounds; ++r) {
    t0 = WallClock::now();
    for (std::uint32_t s = 0; s < n; ++s) {
      const SaId old = ids[s];
      auto id = m.Allocate(Spec(s), SlotClass::kRekey);
      if (!id) return Fail("rekey allocate", id.error()), false;
      if (auto st = m.InstallInbound(*id, kin.Clone(), {}); !st) {
        return Fail("rekey inbound", st.error()), false;
      }
      if (auto st = m.PrepareOutbound(*id, peer_spi++, kout.Clone(), {}); !st) {
        return Fail("rekey prepare", st.error()), false;
      }
      if (auto st = m.ActivateOutbound(*id, SlotClass::kRekey); !st) {
        return Fail("rekey activate", st.error()), false;
      }
      if (auto st = m.Retire(old); !st) return Fail("retire", st.error()), false;
      ids[s] = *id;
    }
    clock.Advance(std::chrono::seconds(3));  // past the drain interval
    if (auto st = m.Poll(); !st) return Fail("poll", st.error()), false;
    if (auto ev = m.CollectEvents(); !ev) return Fail("events", ev.error()), false;
    rekey_s += Since(t0);
    clock.Advance(std::chrono::seconds(30));  // SPI quarantines end (not timed)
    (void)m.Poll();
    (void)m.CollectEvents();
  }
  rows.push_back({"rekey (SaManager make-before-break)", std::uint64_t{n} * rounds, rekey_s});

  t0 = WallClock::now();
  for (const SaId id : ids) {
    if (auto st = m.Remove(id); !st) return Fail("remove", st.error()), false;
  }
  if (auto ev = m.CollectEvents(); !ev) return Fail("events", ev.error()), false;
  rows.push_back({"remove (Remove)", n, Since(t0)});
  return m.stats().live_sas == 0;
}

// Two ends (A initiates every rekey) with RekeyScheduler, joined by a FIFO wire.
class Wire {
 public:
  enum class Type : std::uint8_t { kRequest, kResponse, kDelete };
  struct Msg {
    Type type = Type::kRequest;
    bool to_b = true;
    std::uint32_t rekey_spi = 0;
    std::uint32_t spi = 0;
    SaId initiator_new = kNoSa;
  };
  class Side final : public RekeyHandler {
   public:
    Side(Wire& wire, bool is_a) : wire_(wire), is_a_(is_a) {}
    void StartRekey(const RekeyRequest& req) override {
      wire_.q.push_back(Msg{Type::kRequest, is_a_, req.rekey_spi, req.new_inbound_spi, req.new_sa});
    }
    void SendDelete(SaId /*sa*/, std::uint32_t spi) override {
      wire_.q.push_back(Msg{Type::kDelete, is_a_, 0, spi, kNoSa});
    }

   private:
    Wire& wire_;
    bool is_a_;
  };
  std::deque<Msg> q;
};

struct End {
  std::unique_ptr<driver::Engine> engine;
  std::unique_ptr<SaManager> mgr;
  std::optional<LifetimePolicy> policy;
  std::unique_ptr<RekeyScheduler> sched;
};

bool MakeEnd(End& e, FakeClock& clock, Rng& rng, Rng& policy_rng, RekeyHandler& handler) {
  e.engine = OpenEngine();
  if (!e.engine) return false;
  SaManagerOptions mo;
  mo.software_fallback = false;
  auto mgr = SaManager::Create(*e.engine, clock, rng, mo);
  if (!mgr) return Fail("sa manager", mgr.error()), false;
  e.mgr = std::move(*mgr);
  LifetimePolicyConfig pc;
  pc.kind = LifetimePolicyKind::kCountBased;
  pc.count_based.hard_packets = std::uint64_t{1} << 40U;
  pc.count_based.hard_time = std::chrono::hours(8);
  auto pol = LifetimePolicy::Create(pc, clock, policy_rng);
  if (!pol) return Fail("policy", pol.error()), false;
  e.policy.emplace(std::move(*pol));
  RekeyOptions ro;
  ro.max_concurrent = 0;
  auto sched = RekeyScheduler::Create(*e.mgr, *e.policy, handler, ro);
  if (!sched) return Fail("scheduler", sched.error()), false;
  e.sched = std::move(*sched);
  return true;
}

ChildKeys Keys(const driver::KeyMaterial& in, const driver::KeyMaterial& out) {
  ChildKeys k;
  k.inbound = in.Clone();
  k.outbound = out.Clone();
  return k;
}

bool BenchScheduler(std::uint32_t n, int rounds, std::vector<Row>& rows) {
  FakeClock clock;
  SeededRng rng_a(1);
  SeededRng rng_b(2);
  SeededRng pol_a(3);
  SeededRng pol_b(4);
  Wire wire;
  Wire::Side side_a(wire, true);
  Wire::Side side_b(wire, false);
  End a;
  End b;
  if (!MakeEnd(a, clock, rng_a, pol_a, side_a) || !MakeEnd(b, clock, rng_b, pol_b, side_b)) {
    return false;
  }
  const driver::KeyMaterial k1 = Key(1);
  const driver::KeyMaterial k2 = Key(2);
  std::vector<SaId> ids(n);
  for (std::uint32_t s = 0; s < n; ++s) {
    auto ia = a.sched->BeginChildSa(Spec(s));
    auto ib = b.sched->BeginChildSa(MirrorSpec(Spec(s)));
    if (!ia || !ib) return Fail("begin", (ia ? ib : ia).error()), false;
    const SaInfo info_a = *a.mgr->Info(*ia);
    const SaInfo info_b = *b.mgr->Info(*ib);
    if (auto st = b.sched->CompleteChildSa(*ib, info_a.inbound_spi, Keys(k1, k2),
                                           ExchangeRole::kResponder);
        !st) {
      return Fail("complete b", st.error()), false;
    }
    if (auto st = a.sched->CompleteChildSa(*ia, info_b.inbound_spi, Keys(k2, k1),
                                           ExchangeRole::kInitiator);
        !st) {
      return Fail("complete a", st.error()), false;
    }
    ids[s] = *ia;
  }
  const ExchangeNonces nonces{std::vector<std::uint8_t>(32, 1), std::vector<std::uint8_t>(32, 2)};
  double total = 0;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = WallClock::now();
    for (std::uint32_t s = 0; s < n; ++s) {
      const SaId old = a.mgr->CurrentFor(s);
      if (auto st = a.sched->RequestRekey(old); !st) return Fail("request", st.error()), false;
    }
    if (auto st = a.sched->Poll(); !st) return Fail("poll a", st.error()), false;
    while (!wire.q.empty()) {
      const Wire::Msg m = wire.q.front();
      wire.q.pop_front();
      End& to = m.to_b ? b : a;
      switch (m.type) {
        case Wire::Type::kRequest: {
          auto spi = to.sched->OnRekeyRequest(m.rekey_spi, m.spi, nonces, Keys(k1, k2));
          if (!spi) return Fail("rekey request", spi.error()), false;
          // Direct response (the responder's handler is not involved in answering).
          auto st = a.sched->OnRekeyResponse(m.initiator_new, *spi, nonces, Keys(k2, k1));
          if (!st) return Fail("rekey response", st.error()), false;
          break;
        }
        case Wire::Type::kDelete:
          if (auto st = to.sched->OnDelete(m.spi); !st) return Fail("delete", st.error()), false;
          break;
        case Wire::Type::kResponse:
          break;
      }
    }
    clock.Advance(std::chrono::seconds(3));  // drains end
    if (auto st = a.sched->Poll(); !st) return Fail("poll a", st.error()), false;
    if (auto st = b.sched->Poll(); !st) return Fail("poll b", st.error()), false;
    total += Since(t0);
    clock.Advance(std::chrono::seconds(30));  // quarantines end (not timed)
    (void)a.sched->Poll();
    (void)b.sched->Poll();
  }
  const std::uint64_t done = a.sched->stats().rekeys_completed;
  if (done != std::uint64_t{n} * rounds) {
    std::fprintf(stderr, "bench_sdk: %llu of %llu rekeys completed\n",
                 static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(std::uint64_t{n} * rounds));
    return false;
  }
  rows.push_back({"rekey (RekeyScheduler both ends)", done, total});
  return true;
}

}  // namespace
}  // namespace espo::sdk

int main(int argc, char** argv) {
  bool csv = false;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--csv") == 0) {
      csv = true;
    } else if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: bench_sdk [--csv] [--quick]\n");
      return 2;
    }
  }
  const std::uint32_t n = quick ? 2000 : 16000;
  const int rounds = quick ? 2 : 8;
  std::vector<espo::sdk::Row> rows;
  if (!espo::sdk::BenchManager(n, rounds, rows) || !espo::sdk::BenchScheduler(n, rounds, rows)) {
    return 1;
  }
  if (csv) {
    std::printf("operation,ops,seconds,ops_per_second\n");
    for (const auto& r : rows) {
      std::printf("%s,%llu,%.6f,%.0f\n", r.op.c_str(), static_cast<unsigned long long>(r.ops),
                  r.seconds, static_cast<double>(r.ops) / r.seconds);
    }
    return 0;
  }
  std::printf("%-36s %10s %10s %14s\n", "operation (ModelDevice)", "ops", "seconds", "ops/s");
  for (const auto& r : rows) {
    std::printf("%-36s %10llu %10.4f %14.0f\n", r.op.c_str(),
                static_cast<unsigned long long>(r.ops), r.seconds,
                static_cast<double>(r.ops) / r.seconds);
  }
  std::printf("%u SAs per round, %d rekey rounds, tables of %u slots per direction\n", n, rounds,
              espo::sdk::kSlots);
  return 0;
}
