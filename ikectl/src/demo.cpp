// SPDX-License-Identifier: Apache-2.0
//
// `ikectl demo`: the scenario (see demo.hpp). The pattern follows the SDK tests' TwoEnds /
// Traffic helpers (tests/unit/sdk_manager_util.hpp), written out here for a CLI.
//
// Wireshark keys: LoopbackIke derives every Child SA key with KEYMAT from its own SK_d and the
// exchange nonces, all drawn from the Rng it is given and never exposed. The demo hands it a
// RecordingRng and tags the draws (SK_d, CreateChildSa, StartRekey's Ni; an untagged group of
// four words is the Nr of the next request in FIFO order), then derives the same keys with
// sdk::DeriveChildSaKeys. Every reconstructed key is checked by decrypting the first captured
// packet of its SPI with driver::EspDecapsulate.
#include "espo/ikectl/demo.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "espo/driver/engine.hpp"
#include "espo/driver/esp.hpp"
#include "espo/driver/ip_packet.hpp"
#include "espo/driver/sa_file.hpp"
#include "espo/ikectl/pcap_file.hpp"
#include "espo/sdk/clock.hpp"
#include "espo/sdk/keymat.hpp"
#include "espo/sdk/lifetime_policy.hpp"
#include "espo/sdk/random.hpp"
#include "espo/sdk/rekey_scheduler.hpp"
#include "espo/sdk/sa_manager.hpp"
#if __has_include("espo/sim/sim_device.hpp")
#include "espo/sim/sim_device.hpp"
#define ESPO_DEMO_HAVE_SIM 1
#endif

namespace espo::ikectl {
namespace {

using driver::PacketStatus;
using sdk::SaId;

constexpr std::chrono::milliseconds kRound{10};   // simulated time per round
constexpr std::chrono::milliseconds kDrain{250};  // old inbound SA after a switch
constexpr std::uint64_t kDefaultLifetime = 28;    // L, hard packets per SA
// Traffic per SA and direction, in lifetimes L: burst 1.0 (every SA rekeys, soft points
// coincide), steady 0.3, pressure 0.5, release 0.1.
constexpr double kBurst = 1.0;
constexpr double kSteady = 0.3;
constexpr double kPressure = 0.5;
constexpr double kRelease = 0.1;
constexpr double kTrafficPerSa = kBurst + kSteady + kPressure + kRelease;
constexpr std::uint32_t kMaxConcurrent = 64;  // pacing: own exchanges in flight
constexpr double kRekeyRate = 4000.0;         // pacing: token bucket per second
constexpr double kRekeyBurst = 40.0;
constexpr std::uint64_t kFillerBase = 1000000;       // selectors of the filler tunnels
constexpr std::uint32_t kFillersBeyondHeadroom = 8;  // new SAs that find only the headroom
constexpr std::int64_t kTagSkd = -2;
constexpr std::int64_t kTagNone = -1;
constexpr std::int64_t kPcapEpoch = 1700000000;  // pcap timestamps: this + simulated

std::uint64_t Mix(std::uint64_t x) {  // splitmix64
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27U)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31U);
}

// The IKE peer's Rng: every word is kept with the tag current when it was drawn.
class RecordingRng final : public sdk::Rng {
 public:
  explicit RecordingRng(std::uint64_t seed) : inner_(seed) {}
  std::uint64_t NextU64() override {
    const std::uint64_t w = inner_.NextU64();
    words_.push_back(w);
    tags_.push_back(tag_);
    return w;
  }
  std::int64_t tag() const { return tag_; }
  void set_tag(std::int64_t tag) { tag_ = tag; }
  const std::vector<std::uint64_t>& words() const { return words_; }
  const std::vector<std::int64_t>& tags() const { return tags_; }

 private:
  sdk::SeededRng inner_;
  std::int64_t tag_ = kTagSkd;
  std::vector<std::uint64_t> words_;
  std::vector<std::int64_t> tags_;
};

// An inner IPv4/UDP packet of stream (direction, selector) number `counter`; mixed sizes
// (IMIX-like 7:4:1 small / 576 / 1400 bytes), content a function of (seed, stream, counter) so
// the receiver can rebuild and compare it.
Bytes MakeInner(std::uint64_t seed, bool a_to_b, std::uint32_t sel, std::uint32_t counter) {
  const std::uint64_t h = Mix(seed ^ (a_to_b ? 0x5AULL << 56U : 0xA5ULL << 56U) ^
                              (std::uint64_t{sel} << 24U) ^ counter);
  const std::uint64_t cls = h % 12;
  const std::size_t len = cls < 7 ? 64 + (h >> 8U) % 64 : cls < 11 ? 576 : 1400;
  Bytes p(len);
  MutableByteSpan s(p);
  p[0] = 0x45;
  StoreBe16(s.subspan(2), static_cast<std::uint16_t>(len));
  StoreBe16(s.subspan(4), static_cast<std::uint16_t>(counter));
  StoreBe16(s.subspan(6), 0x4000);  // DF
  p[8] = 64;
  p[9] = driver::kIpProtoUdp;
  const std::array<std::uint8_t, 4> site_a{10, 1, static_cast<std::uint8_t>(sel >> 8U),
                                           static_cast<std::uint8_t>(sel)};
  std::array<std::uint8_t, 4> site_b = site_a;
  site_b[1] = 2;
  std::copy(a_to_b ? site_a.begin() : site_b.begin(), a_to_b ? site_a.end() : site_b.end(),
            p.begin() + 12);
  std::copy(a_to_b ? site_b.begin() : site_a.begin(), a_to_b ? site_b.end() : site_a.end(),
            p.begin() + 16);
  driver::SetIpv4HeaderChecksum(s.first(20));
  StoreBe16(s.subspan(20), static_cast<std::uint16_t>(4000 + (sel & 0x3FFFU)));
  StoreBe16(s.subspan(22), 9);  // discard
  StoreBe16(s.subspan(24), static_cast<std::uint16_t>(len - 20));
  p[28] = 'E';
  p[29] = 'S';
  p[30] = 'P';
  p[31] = 'O';
  StoreBe32(s.subspan(32), sel);
  StoreBe32(s.subspan(36), counter);
  p[40] = a_to_b ? 0xAB : 0xBA;
  for (std::size_t i = 41; i < len; ++i) {
    p[i] = static_cast<std::uint8_t>((h >> (8U * (i % 8U))) + i);
  }
  return p;
}

struct Stream {
  std::uint32_t next_send = 0;
  std::uint32_t next_recv = 0;
};

class Demo;

// Forwards to LoopbackIke's side and lets the demo see rekey starts (for the key log) and every
// SA event (for the event counts).
class TapHandler final : public sdk::RekeyHandler {
 public:
  TapHandler(Demo& demo, bool is_a, sdk::RekeyHandler& inner)
      : demo_(demo), is_a_(is_a), inner_(inner) {}
  void StartRekey(const sdk::RekeyRequest& request) override;
  void SendDelete(SaId sa, std::uint32_t inbound_spi) override {
    inner_.SendDelete(sa, inbound_spi);
  }
  void OnEvent(const sdk::SaEvent& event) override {
    std::string kind(sdk::ToString(event.kind));
    if (event.kind == sdk::SaEventKind::kStateChange) kind += ":" + std::string(ToString(event.to));
    ++events[kind];
    inner_.OnEvent(event);
  }
  sdk::RekeyHandler& inner() { return inner_; }
  std::map<std::string, std::uint64_t> events;

 private:
  Demo& demo_;
  bool is_a_;
  sdk::RekeyHandler& inner_;
};

struct Gateway {
  std::string name;
  std::unique_ptr<driver::Engine> engine;
#ifdef ESPO_DEMO_HAVE_SIM
  sim::SimDevice* sim = nullptr;
#endif
  std::unique_ptr<sdk::SeededRng> rng;
  std::unique_ptr<sdk::SaManager> mgr;
  std::optional<sdk::LifetimePolicy> policy;
  std::unique_ptr<TapHandler> tap;
  std::unique_ptr<sdk::RekeyScheduler> sched;
  std::uint64_t cycles_open = 0;
  std::uint64_t cycles_datapath = 0;
  std::uint64_t hw_packets = 0;
  std::uint64_t hw_bytes = 0;
  std::uint64_t sw_packets = 0;
  std::uint32_t peak_in = 0;
  std::uint32_t peak_out = 0;
  double sum_in = 0.0;
  double sum_out = 0.0;
  std::uint64_t samples = 0;

  std::uint64_t Cycles() const {
#ifdef ESPO_DEMO_HAVE_SIM
    if (sim != nullptr) return sim->cycles();
#endif
    return 0;
  }
};

struct Exchange {  // one CREATE_CHILD_SA rekey exchange, as the key log sees it
  bool initiator_is_a = true;
  SaId initiator_new = sdk::kNoSa;
  std::uint32_t initiator_new_spi = 0;
};

struct Captured {  // first A->B packet of an SPI, to verify its reconstructed key
  SaId a_sa = sdk::kNoSa;
  Bytes packet;
};

class Demo {
 public:
  Demo(const DemoParams& params, std::function<void(const DemoProgress&)> progress)
      : p_(params),
        progress_(std::move(progress)),
        ike_rng_(Mix(params.seed ^ 0x1CEU)),
        ike_(ike_rng_),
        traffic_rng_(Mix(params.seed ^ 0x7AFF1CU)) {
    ike_rng_.set_tag(kTagNone);
  }

  Result<DemoReport> Run();
  void OnStartRekey(bool is_a, sdk::RekeyHandler& inner, const sdk::RekeyRequest& request) {
    const std::int64_t saved = ike_rng_.tag();
    ike_rng_.set_tag(static_cast<std::int64_t>(exchanges_.size()) * 2 + 1);
    exchanges_.push_back(Exchange{is_a, request.new_sa, request.new_inbound_spi});
    inner.StartRekey(request);
    ike_rng_.set_tag(saved);
  }

 private:
  Status Open(Gateway& g, bool is_a);
  static sdk::ChildSaSpec Spec(std::uint64_t selector);
  Result<std::pair<SaId, SaId>> Create(std::uint64_t selector);
  Status Round(const std::vector<std::uint32_t>& ab, const std::vector<std::uint32_t>& ba);
  Status Send(Gateway& g, const std::vector<std::uint32_t>& sels, bool a_to_b,
              std::vector<Bytes>& esp);
  Status Deliver(Gateway& g, std::vector<Bytes>& esp, bool a_to_b);
  enum class Pick : std::uint8_t { kRoundRobin, kRandom, kIdle };
  Status Phase(const std::string& name, std::uint64_t rounds, Pick pick);
  void BeginPhase(const std::string& name);
  void EndPhase(std::uint64_t rounds);
  void Sample();
  void Progress(bool force);
  Status Fill();
  Status Release();
  Status WriteCaptureFiles();
  void Finish();

  DemoParams p_;
  std::function<void(const DemoProgress&)> progress_;
  sdk::FakeClock clock_;
  RecordingRng ike_rng_;
  sdk::LoopbackIke ike_;
  Gateway a_;
  Gateway b_;
  sdk::SeededRng traffic_rng_;
  DemoReport report_;
  std::uint32_t batch_ = 0;
  std::uint64_t planned_packets_ = 1;
  std::uint64_t rr_ = 0;
  std::vector<Stream> streams_ab_;
  std::vector<Stream> streams_ba_;
  std::vector<SaId> initial_a_;
  std::vector<std::pair<SaId, SaId>> fillers_;
  std::unordered_set<std::uint64_t> used_seq_;
  std::uint64_t gaps_ = 0;
  // key log
  std::vector<Exchange> exchanges_;
  std::vector<SaId> creates_;  // A's SaId per CreateChildSa, in call order
  std::map<std::uint32_t, Captured> captured_;
  std::optional<PcapWriter> pcap_;
  // phase bookkeeping
  PhaseReport phase_;
  std::chrono::steady_clock::time_point phase_start_;
  std::chrono::steady_clock::time_point last_progress_;
};

void TapHandler::StartRekey(const sdk::RekeyRequest& request) {
  demo_.OnStartRekey(is_a_, inner_, request);
}

std::uint64_t Sum(const Gateway& a, const Gateway& b, std::uint64_t sdk::RekeyStats::*field) {
  return a.sched->stats().*field + b.sched->stats().*field;
}

Status Demo::Open(Gateway& g, bool is_a) {
  g.name = is_a ? "A" : "B";
  driver::DeviceSpec spec;
  spec.kind = p_.device;
  spec.sa_slots = p_.slots;
  ESPO_ASSIGN_OR_RETURN(std::unique_ptr<driver::Device> device, driver::OpenDevice(spec));
  ESPO_ASSIGN_OR_RETURN(g.engine, driver::Engine::Open(std::move(device)));
#ifdef ESPO_DEMO_HAVE_SIM
  g.sim = dynamic_cast<sim::SimDevice*>(&g.engine->device());
#endif
  g.cycles_open = g.Cycles();
  g.rng = std::make_unique<sdk::SeededRng>(Mix(p_.seed * 2 + (is_a ? 1 : 2)));
  sdk::SaManagerOptions mo;
  mo.drain_interval = kDrain;
  mo.headroom_in = p_.headroom;
  mo.headroom_out = p_.headroom;
  ESPO_ASSIGN_OR_RETURN(g.mgr, sdk::SaManager::Create(*g.engine, clock_, *g.rng, mo));
  sdk::LifetimePolicyConfig lc;
  lc.kind = sdk::LifetimePolicyKind::kCountBased;
  lc.count_based.hard_packets = report_.lifetime_packets;
  ESPO_ASSIGN_OR_RETURN(sdk::LifetimePolicy policy,
                        sdk::LifetimePolicy::Create(lc, clock_, *g.rng));
  g.policy.emplace(policy);
  g.tap = std::make_unique<TapHandler>(*this, is_a, is_a ? ike_.handler_a() : ike_.handler_b());
  sdk::RekeyOptions ro;
  ro.max_concurrent = kMaxConcurrent;
  ro.rate_per_second = kRekeyRate;  // 40 rekey starts per 10 ms round
  ro.burst = kRekeyBurst;
  // Count Based SA Extension: A's rekey value is larger, A rekeys at X_i, B only at X_r.
  // With --tie both values are equal: both ends rekey at X_i and collisions are resolved by nonces.
  ro.designation = p_.tie ? sdk::RekeyDesignation::kTie
                   : is_a ? sdk::RekeyDesignation::kRekeyer
                          : sdk::RekeyDesignation::kOther;
  ESPO_ASSIGN_OR_RETURN(g.sched, sdk::RekeyScheduler::Create(*g.mgr, *g.policy, *g.tap, ro));
  return Ok();
}

sdk::ChildSaSpec Demo::Spec(std::uint64_t selector) {
  sdk::ChildSaSpec s;
  s.selector = selector;
  s.local = driver::IpAddress::Parse("192.0.2.1").value_or(driver::IpAddress{});
  s.peer = driver::IpAddress::Parse("198.51.100.2").value_or(driver::IpAddress{});
  s.replay_window = 64;
  s.key_bytes = 16;
  return s;
}

Result<std::pair<SaId, SaId>> Demo::Create(std::uint64_t selector) {
  const std::int64_t saved = ike_rng_.tag();
  ike_rng_.set_tag(static_cast<std::int64_t>(creates_.size()) * 2);
  auto ids = ike_.CreateChildSa(Spec(selector));
  ike_rng_.set_tag(saved);
  creates_.push_back(ids ? ids->first : sdk::kNoSa);
  return ids;
}

Status Demo::Send(Gateway& g, const std::vector<std::uint32_t>& sels, bool a_to_b,
                  std::vector<Bytes>& esp) {
  if (sels.empty()) return Ok();
  std::vector<Stream>& streams = a_to_b ? streams_ab_ : streams_ba_;
  std::vector<sdk::TxPacket> tx;
  tx.reserve(sels.size());
  for (const std::uint32_t sel : sels) {
    const std::uint32_t counter = streams[sel - 1].next_send++;
    tx.push_back(sdk::TxPacket{sel, MakeInner(p_.seed, a_to_b, sel, counter)});
    report_.traffic.inner_bytes += tx.back().data.size();
  }
  report_.traffic.sent += tx.size();
  (a_to_b ? report_.traffic.sent_ab : report_.traffic.sent_ba) += tx.size();
  phase_.packets += tx.size();
  const std::uint64_t c0 = g.Cycles();
  ESPO_ASSIGN_OR_RETURN(std::vector<sdk::PacketResult> res, g.mgr->Transmit(tx));
  g.cycles_datapath += g.Cycles() - c0;
  for (std::size_t i = 0; i < res.size(); ++i) {
    sdk::PacketResult& r = res[i];
    if (r.status != PacketStatus::kOk) {
      ++report_.traffic.tx_drops;
      continue;
    }
    if (r.software) {
      ++g.sw_packets;
      ++report_.traffic.software_tx;
      ++phase_.sw_packets;
    } else {
      ++g.hw_packets;
      g.hw_bytes += tx[i].data.size();
    }
    auto info = driver::ParseEspPacket(r.data);
    if (!info) return MakeError(Errc::kInternal, "gateway " + g.name + " sent a non-ESP packet");
    const std::uint64_t key =
        (r.sa << 33U) | (a_to_b ? std::uint64_t{1} << 32U : 0U) | info->seq_low;
    if (!used_seq_.insert(key).second) ++report_.traffic.reused_seq;
    if (a_to_b && (pcap_ || !p_.wireshark.empty())) {
      if (pcap_) {
        const auto t =
            std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.Now().time_since_epoch());
        PcapRecord rec;
        rec.ts_sec = kPcapEpoch + t.count() / 1000000000;
        rec.ts_nsec = static_cast<std::uint32_t>(t.count() % 1000000000);
        rec.ip = r.data;
        rec.ip_version = 4;
        rec.orig_len = static_cast<std::uint32_t>(r.data.size());
        ESPO_RETURN_IF_ERROR(pcap_->Write(rec));
        ++report_.pcap_packets;
      }
      if (!captured_.contains(info->spi)) captured_[info->spi] = Captured{r.sa, r.data};
    }
    esp.push_back(std::move(r.data));
  }
  return Ok();
}

Status Demo::Deliver(Gateway& g, std::vector<Bytes>& esp, bool a_to_b) {
  if (esp.empty()) return Ok();
  std::vector<Stream>& streams = a_to_b ? streams_ab_ : streams_ba_;
  const std::uint64_t c0 = g.Cycles();
  ESPO_ASSIGN_OR_RETURN(std::vector<sdk::PacketResult> res, g.mgr->Receive(esp));
  g.cycles_datapath += g.Cycles() - c0;
  esp.clear();
  for (sdk::PacketResult& r : res) {
    if (r.status != PacketStatus::kOk) {
      ++report_.traffic.rx_drops;
      continue;
    }
    if (r.software) {
      ++g.sw_packets;
      ++report_.traffic.software_rx;
      ++phase_.sw_packets;
    } else {
      ++g.hw_packets;
      g.hw_bytes += r.data.size();
    }
    const ByteSpan d(r.data);
    if (d.size() < 41 || d[28] != 'E' || d[31] != 'O') {
      ++report_.traffic.corrupted;
      continue;
    }
    const std::uint32_t sel = LoadBe32(d.subspan(32));
    const std::uint32_t counter = LoadBe32(d.subspan(36));
    if (sel == 0 || sel > streams.size() || r.data != MakeInner(p_.seed, a_to_b, sel, counter)) {
      ++report_.traffic.corrupted;
      continue;
    }
    Stream& s = streams[sel - 1];
    ++report_.traffic.delivered;
    if (counter < s.next_recv) {
      ++report_.traffic.reordered;
      continue;
    }
    gaps_ += counter - s.next_recv;
    s.next_recv = counter + 1;
  }
  return Ok();
}

void Demo::Sample() {
  for (Gateway* g : {&a_, &b_}) {
    const sdk::SaManagerStats st = g->mgr->stats();
    const std::uint32_t in = st.in_slots - st.in_free;
    const std::uint32_t out = st.out_slots - st.out_free;
    g->peak_in = std::max(g->peak_in, in);
    g->peak_out = std::max(g->peak_out, out);
    g->sum_in += in;
    g->sum_out += out;
    ++g->samples;
    phase_.peak_in_slots = std::max(phase_.peak_in_slots, in);
  }
}

void Demo::Progress(bool force) {
  if (!progress_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_progress_ < std::chrono::milliseconds(200)) return;
  last_progress_ = now;
  DemoProgress pr;
  pr.fraction = std::min(
      1.0, static_cast<double>(report_.traffic.sent) / static_cast<double>(planned_packets_));
  pr.phase = phase_.name;
  pr.packets = report_.traffic.sent;
  pr.rekeys = Sum(a_, b_, &sdk::RekeyStats::rekeys_completed);
  progress_(pr);
}

// One round: both gateways transmit a batch (in flight), poll (soft events -> rekeys), the IKE
// messages queued before this round travel one hop, then the ESP packets arrive. So packets
// encrypted under an old SA arrive after the switch, while the old inbound SA drains.
Status Demo::Round(const std::vector<std::uint32_t>& ab, const std::vector<std::uint32_t>& ba) {
  const std::size_t hops = ike_.pending();
  std::vector<Bytes> esp_ab;
  std::vector<Bytes> esp_ba;
  // Poll after every engine call: one call never posts more events than the FIFO holds
  // (batch <= event_depth, one limit event per packet at most).
  ESPO_RETURN_IF_ERROR(Send(a_, ab, true, esp_ab));
  ESPO_RETURN_IF_ERROR(a_.sched->Poll());
  ESPO_RETURN_IF_ERROR(Send(b_, ba, false, esp_ba));
  ESPO_RETURN_IF_ERROR(b_.sched->Poll());
  for (std::size_t i = 0; i < hops; ++i) {
    ESPO_ASSIGN_OR_RETURN(const bool delivered, ike_.DeliverOne());
    if (!delivered) break;
  }
  ESPO_RETURN_IF_ERROR(Deliver(b_, esp_ab, true));
  ESPO_RETURN_IF_ERROR(b_.sched->Poll());
  ESPO_RETURN_IF_ERROR(Deliver(a_, esp_ba, false));
  ESPO_RETURN_IF_ERROR(a_.sched->Poll());
  clock_.Advance(kRound);
  Sample();
  Progress(false);
  return Ok();
}

void Demo::BeginPhase(const std::string& name) {
  phase_ = PhaseReport{};
  phase_.name = name;
  phase_.soft_events = Sum(a_, b_, &sdk::RekeyStats::soft_events);
  phase_.rekeys = Sum(a_, b_, &sdk::RekeyStats::rekeys_completed);
  phase_.collisions = Sum(a_, b_, &sdk::RekeyStats::collisions);
  phase_.fallbacks = a_.mgr->stats().fallbacks + b_.mgr->stats().fallbacks;
  phase_.migrations = a_.mgr->stats().migrations + b_.mgr->stats().migrations;
  phase_start_ = std::chrono::steady_clock::now();
}

void Demo::EndPhase(std::uint64_t rounds) {
  phase_.rounds = rounds;
  phase_.soft_events = Sum(a_, b_, &sdk::RekeyStats::soft_events) - phase_.soft_events;
  phase_.rekeys = Sum(a_, b_, &sdk::RekeyStats::rekeys_completed) - phase_.rekeys;
  phase_.collisions = Sum(a_, b_, &sdk::RekeyStats::collisions) - phase_.collisions;
  phase_.fallbacks = a_.mgr->stats().fallbacks + b_.mgr->stats().fallbacks - phase_.fallbacks;
  phase_.migrations = a_.mgr->stats().migrations + b_.mgr->stats().migrations - phase_.migrations;
  phase_.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - phase_start_).count();
  report_.phases.push_back(phase_);
}

// `rounds` rounds of traffic: round-robin over all selectors (every SA at the same pace, so the
// soft points of SAs installed together coincide), uniformly random selectors, or none.
Status Demo::Phase(const std::string& name, std::uint64_t rounds, Pick pick) {
  BeginPhase(name);
  const auto n = static_cast<std::uint32_t>(streams_ab_.size());
  std::vector<std::uint32_t> ab;
  std::vector<std::uint32_t> ba;
  for (std::uint64_t r = 0; r < rounds; ++r) {
    ab.clear();
    ba.clear();
    for (std::uint32_t j = 0; j < batch_ && n > 0 && pick != Pick::kIdle; ++j) {
      if (pick == Pick::kRandom) {
        ab.push_back(static_cast<std::uint32_t>(traffic_rng_.Uniform(1, n)));
        ba.push_back(static_cast<std::uint32_t>(traffic_rng_.Uniform(1, n)));
      } else {
        const auto sel = static_cast<std::uint32_t>(rr_++ % n) + 1;
        ab.push_back(sel);
        ba.push_back(sel);
      }
    }
    ESPO_RETURN_IF_ERROR(Round(ab, ba));
  }
  EndPhase(rounds);
  return Ok();
}

// Filler tunnels (no traffic) take the free slots down to the headroom, plus a few more that the
// headroom refuses (SlotClass::kNew): those go to SoftwareEsp.
Status Demo::Fill() {
  std::uint32_t free = p_.slots;
  for (Gateway* g : {&a_, &b_}) {
    const sdk::SaManagerStats st = g->mgr->stats();
    free = std::min({free, st.in_free, st.out_free});
  }
  const std::uint32_t n = (free > p_.headroom ? free - p_.headroom : 0) + kFillersBeyondHeadroom;
  const std::uint64_t sw0 = a_.mgr->stats().software_out;
  for (std::uint32_t i = 0; i < n; ++i) {
    ESPO_ASSIGN_OR_RETURN(auto ids, Create(kFillerBase + i));
    fillers_.push_back(ids);
  }
  report_.fillers = n;
  report_.fillers_software = static_cast<std::uint32_t>(a_.mgr->stats().software_out - sw0);
  return Ok();
}

// Deletes the fillers (A sends Delete, B removes its copy): slots return, software SAs migrate.
Status Demo::Release() {
  for (const auto& [fa, fb] : fillers_) {
    if (a_.mgr->StateOf(fa) == sdk::SaState::kGone) continue;
    ESPO_RETURN_IF_ERROR(a_.sched->DeleteChildSa(fa));
  }
  fillers_.clear();
  return Ok();
}

Result<DemoReport> Demo::Run() {
  const auto t0 = std::chrono::steady_clock::now();
  last_progress_ = t0;
  if (p_.sas == 0 || p_.sas > 65535) {
    return MakeError(Errc::kInvalidArgument,
                     "--sas: expected 1..65535, got " + std::to_string(p_.sas));
  }
  if (p_.slots == 0 || (p_.slots & (p_.slots - 1)) != 0) {
    return MakeError(Errc::kInvalidArgument, "--slots: expected a power of two");
  }
  if (std::uint64_t{p_.sas} + p_.headroom + 4 > p_.slots) {
    return MakeError(Errc::kInvalidArgument, "--sas " + std::to_string(p_.sas) + " + headroom " +
                                                 std::to_string(p_.headroom) + " do not fit " +
                                                 std::to_string(p_.slots) +
                                                 " slots (rekeys need room too)");
  }
  report_.params = p_;
  report_.device_kind = std::string(driver::ToString(p_.device));
  if (p_.packets == 0) p_.packets = DefaultDemoPackets(p_.sas);
  report_.params.packets = p_.packets;
  const double per_lifetime = 2.0 * kTrafficPerSa * p_.sas;
  report_.lifetime_packets = std::max<std::uint64_t>(
      20, static_cast<std::uint64_t>(static_cast<double>(p_.packets) / per_lifetime));

  ESPO_RETURN_IF_ERROR(Open(a_, true));
  ESPO_RETURN_IF_ERROR(Open(b_, false));
  ike_.Connect(*a_.sched, *b_.sched);
  // Packets per direction per round: at most the event FIFO depth (no event can be lost between
  // two polls) and a quarter of the SAs (each SA has rounds to spare between soft and hard).
  batch_ = std::clamp<std::uint32_t>(p_.sas / 4, 1, 64);
  batch_ = std::min(batch_, std::max<std::uint32_t>(1, a_.engine->caps().event_depth));
  report_.batch = batch_;
  report_.max_concurrent = kMaxConcurrent;
  report_.rekey_rate = kRekeyRate;
  report_.rekey_burst = kRekeyBurst;
  const auto l = static_cast<double>(report_.lifetime_packets);
  auto rounds_for = [&](double lifetimes) {
    return static_cast<std::uint64_t>(std::ceil(lifetimes * l * p_.sas / batch_));
  };
  const std::uint64_t r_burst = rounds_for(kBurst);
  const std::uint64_t r_steady = rounds_for(kSteady);
  const std::uint64_t r_pressure = rounds_for(kPressure);
  const std::uint64_t r_release = rounds_for(kRelease);
  planned_packets_ = 2ULL * batch_ * (r_burst + r_steady + r_pressure + r_release);
  const std::uint64_t r_settle = kDrain / kRound + 5;

  streams_ab_.assign(p_.sas, Stream{});
  streams_ba_.assign(p_.sas, Stream{});
  if (!p_.pcap.empty()) {
    ESPO_ASSIGN_OR_RETURN(PcapWriter w,
                          PcapWriter::Open(p_.pcap, LinkType::kRaw, TsPrecision::kNano));
    pcap_.emplace(std::move(w));
  }

  BeginPhase("install");
  for (std::uint32_t s = 1; s <= p_.sas; ++s) {
    ESPO_ASSIGN_OR_RETURN(auto ids, Create(s));
    initial_a_.push_back(ids.first);
  }
  Sample();
  EndPhase(0);
  report_.install_seconds = report_.phases.back().wall_seconds;
  Progress(true);
  ESPO_RETURN_IF_ERROR(Phase("burst", r_burst, Pick::kRoundRobin));
  ESPO_RETURN_IF_ERROR(Phase("steady", r_steady, Pick::kRandom));
  ESPO_RETURN_IF_ERROR(Phase("drain", r_settle, Pick::kIdle));  // draining slots return
  BeginPhase("fill");
  ESPO_RETURN_IF_ERROR(Fill());
  Sample();
  EndPhase(0);
  ESPO_RETURN_IF_ERROR(Phase("pressure", r_pressure, Pick::kRoundRobin));
  ESPO_RETURN_IF_ERROR(Release());
  ESPO_RETURN_IF_ERROR(Phase("release", r_release, Pick::kRandom));
  // Settle: no traffic, drains and exchanges finish, everything in flight arrives.
  ESPO_RETURN_IF_ERROR(Phase("settle", r_settle * 2, Pick::kIdle));
  ESPO_RETURN_IF_ERROR(ike_.DeliverAll());
  ESPO_RETURN_IF_ERROR(a_.sched->Poll());
  ESPO_RETURN_IF_ERROR(b_.sched->Poll());
  Progress(true);

  if (pcap_) ESPO_RETURN_IF_ERROR(pcap_->Flush());
  ESPO_RETURN_IF_ERROR(WriteCaptureFiles());
  Finish();
  report_.simulated_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
          .count());
  report_.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report_;
}

// Rebuilds the A->B keys from the recorded IKE draws (see the file comment), verifies each on
// its first captured packet and writes the esp_sa file.
Status Demo::WriteCaptureFiles() {
  if (p_.wireshark.empty()) return Ok();
  const auto& words = ike_rng_.words();
  const auto& tags = ike_rng_.tags();
  Bytes sk_d;
  std::map<std::int64_t, std::vector<std::uint64_t>> tagged;
  std::vector<std::uint64_t> untagged;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (tags[i] == kTagSkd) {
      sk_d.push_back(static_cast<std::uint8_t>(words[i]));
    } else if (tags[i] == kTagNone) {
      untagged.push_back(words[i]);
    } else {
      tagged[tags[i]].push_back(words[i]);
    }
  }
  auto nonce = [](const std::vector<std::uint64_t>& w, std::size_t at) {
    Bytes n;
    for (std::size_t k = at; k < at + 4 && k < w.size(); ++k) {
      std::uint64_t x = w[k];
      for (int b = 0; b < 8; ++b, x >>= 8U) n.push_back(static_cast<std::uint8_t>(x));
    }
    return n;
  };
  std::map<SaId, driver::KeyMaterial> by_a_sa;          // A initiated: A's new SA
  std::map<std::uint32_t, driver::KeyMaterial> by_spi;  // B initiated: B's new inbound SPI
  for (std::size_t c = 0; c < creates_.size(); ++c) {
    const auto& w = tagged[static_cast<std::int64_t>(c) * 2];
    if (w.size() != 8 || creates_[c] == sdk::kNoSa) continue;
    ESPO_ASSIGN_OR_RETURN(sdk::ChildSaKeys k,
                          sdk::DeriveChildSaKeys(sdk::PrfAlgorithm::kHmacSha256, sk_d, nonce(w, 0),
                                                 nonce(w, 4), std::nullopt, 16));
    by_a_sa[creates_[c]] = std::move(k.initiator_to_responder);
  }
  for (std::size_t r = 0; r < exchanges_.size() && 4 * r + 4 <= untagged.size(); ++r) {
    const auto& w = tagged[static_cast<std::int64_t>(r) * 2 + 1];
    if (w.size() != 4) continue;
    ESPO_ASSIGN_OR_RETURN(sdk::ChildSaKeys k,
                          sdk::DeriveChildSaKeys(sdk::PrfAlgorithm::kHmacSha256, sk_d, nonce(w, 0),
                                                 nonce(untagged, 4 * r), std::nullopt, 16));
    const Exchange& ex = exchanges_[r];
    if (ex.initiator_is_a) {
      by_a_sa[ex.initiator_new] = std::move(k.initiator_to_responder);
    } else {
      by_spi[ex.initiator_new_spi] = std::move(k.responder_to_initiator);
    }
  }
  std::vector<driver::SaConfig> sas;
  const sdk::ChildSaSpec spec = Spec(0);
  for (const auto& [spi, cap] : captured_) {
    driver::SaConfig sa;
    sa.spi = spi;
    sa.dir = driver::Direction::kIn;
    sa.src = spec.local;
    sa.dst = spec.peer;
    sa.replay_window = 64;
    if (auto it = by_a_sa.find(cap.a_sa); it != by_a_sa.end()) {
      sa.key = it->second.Clone();
    } else if (auto it2 = by_spi.find(spi); it2 != by_spi.end()) {
      sa.key = it2->second.Clone();
    } else {
      continue;
    }
    ESPO_ASSIGN_OR_RETURN(driver::ReplayWindow window, driver::ReplayWindow::Create(64, false));
    if (driver::EspDecapsulate(sa, window, cap.packet).accepted()) ++report_.wireshark_verified;
    sa.dir = driver::Direction::kOut;
    sas.push_back(std::move(sa));
  }
  report_.wireshark_sas = captured_.size();
  const std::string text = driver::FormatWiresharkEspSaFile(sas);
  std::ofstream out(p_.wireshark, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return MakeError(Errc::kIo, p_.wireshark + ": cannot write");
  return Ok();
}

void Demo::Finish() {
  TrafficReport& t = report_.traffic;
  std::uint64_t undelivered = 0;
  for (const auto* streams : {&streams_ab_, &streams_ba_}) {
    for (const Stream& s : *streams) undelivered += s.next_send - s.next_recv;
  }
  t.lost = gaps_ + undelivered;
  for (std::uint32_t s = 1; s <= p_.sas; ++s) {
    if (a_.mgr->CurrentFor(s) != initial_a_[s - 1]) ++report_.selectors_rekeyed;
  }
  report_.live_sas_a = a_.mgr->stats().live_sas;
  report_.live_sas_b = b_.mgr->stats().live_sas;
  for (Gateway* g : {&a_, &b_}) {
    GatewayReport gr;
    gr.name = g->name;
    gr.cycles_total = g->Cycles() - g->cycles_open;
    gr.cycles_datapath = g->cycles_datapath;
    gr.hw_packets = g->hw_packets;
    gr.hw_bytes = g->hw_bytes;
    gr.sw_packets = g->sw_packets;
    if (auto c = g->engine->ReadCounters()) {
      gr.drops = {{"auth", c->drop_auth},         {"replay", c->drop_replay},
                  {"no_sa", c->drop_no_sa},       {"malformed", c->drop_malformed},
                  {"lifetime", c->drop_lifetime}, {"events_lost", c->events_lost}};
    }
    const sdk::RekeyStats& rs = g->sched->stats();
    gr.rekey = {{"soft_events", rs.soft_events},
                {"queued", rs.rekeys_queued},
                {"started", rs.rekeys_started},
                {"completed", rs.rekeys_completed},
                {"responded", rs.rekeys_responded},
                {"failed", rs.rekeys_failed},
                {"collisions", rs.collisions},
                {"collisions_lost", rs.collisions_lost},
                {"redundant_deleted", rs.redundant_deleted},
                {"hard_removed", rs.hard_removed},
                {"lost_sas", rs.lost},
                {"max_in_flight", rs.max_in_flight},
                {"paced_waits", rs.paced_waits}};
    gr.events = g->tap->events;
    const sdk::SaManagerStats ms = g->mgr->stats();
    gr.manager = {{"installs", ms.installs},
                  {"removes", ms.removes},
                  {"fallbacks", ms.fallbacks},
                  {"migrations", ms.migrations},
                  {"software_in", ms.software_in},
                  {"software_out", ms.software_out},
                  {"live_sas", ms.live_sas},
                  {"stuck_slots", ms.stuck_slots},
                  {"quarantined_spis", ms.quarantined_spis}};
    const double n = g->samples == 0 ? 1.0 : static_cast<double>(g->samples);
    gr.in = SlotOccupancy{ms.in_slots, g->peak_in, g->sum_in / n, ms.in_slots - ms.in_free};
    gr.out = SlotOccupancy{ms.out_slots, g->peak_out, g->sum_out / n, ms.out_slots - ms.out_free};
    report_.gateways.push_back(std::move(gr));
  }
  const std::uint64_t lost_sas = Sum(a_, b_, &sdk::RekeyStats::lost);
  std::string why;
  auto add = [&why](std::uint64_t n, const std::string& what) {
    if (n == 0) return;
    if (!why.empty()) why += ", ";
    why += std::to_string(n) + " " + what;
  };
  add(t.lost, "packets lost");
  add(t.reordered, "packets reordered");
  add(t.corrupted, "packets corrupted");
  add(t.reused_seq, "sequence numbers reused");
  add(lost_sas, "SAs lost");
  if (!p_.wireshark.empty()) {
    add(report_.wireshark_sas - report_.wireshark_verified, "captured SAs without a verified key");
  }
  report_.passed = why.empty();
  report_.failure = why;
}

}  // namespace

std::uint64_t DefaultDemoPackets(std::uint32_t sas) {
  return static_cast<std::uint64_t>(2.0 * kTrafficPerSa * sas * kDefaultLifetime);
}

Result<DemoReport> RunDemo(const DemoParams& params,
                           const std::function<void(const DemoProgress&)>& progress) {
  auto demo = std::make_unique<Demo>(params, progress);
  return demo->Run();
}

}  // namespace espo::ikectl
