// SPDX-License-Identifier: Apache-2.0
#include "cosim_workload.hpp"

#include <algorithm>
#include <sstream>

#include "../rtl/ipv6_ext.hpp"
#include "../unit/esp_test_util.hpp"

#include "espo/driver/esp.hpp"

namespace espo::testing {
namespace {

using driver::Algorithm;
using driver::Direction;
using driver::Mode;
using driver::PacketIn;

template <class T>
T Pick(std::mt19937_64& rng, std::initializer_list<T> values) {
  return *(values.begin() + static_cast<std::ptrdiff_t>(rng() % values.size()));
}
bool Chance(std::mt19937_64& rng, double p) {
  return std::uniform_real_distribution<double>(0, 1)(rng) < p;
}

driver::SaConfig RandomSa(std::mt19937_64& rng, std::uint32_t spi, Direction dir, bool v6,
                          bool transport) {
  driver::SaConfig sa;
  sa.spi = spi;
  sa.dir = dir;
  sa.mode = transport ? Mode::kTransport : Mode::kTunnel;
  sa.src = v6 ? V6(static_cast<std::uint8_t>(rng() % 200 + 1)) : V4(192, 0, 2, 1);
  sa.dst = v6 ? V6(static_cast<std::uint8_t>(rng() % 200 + 1), 9) : V4(198, 51, 100, 7);
  sa.alg = Chance(rng, 0.2) ? Algorithm::kGmac : Algorithm::kGcm;
  Bytes key(Chance(rng, 0.5) ? 36 : 20);
  for (auto& b : key) b = static_cast<std::uint8_t>(rng());
  sa.key = std::move(*driver::KeyMaterial::FromBytes(key));
  sa.icv_bytes = sa.alg == Algorithm::kGmac ? 16 : Pick<std::uint8_t>(rng, {8, 12, 16});
  sa.esn = Chance(rng, 0.3);
  sa.replay_window = sa.esn ? Pick<std::uint32_t>(rng, {32, 64, 1024})
                            : Pick<std::uint32_t>(rng, {0, 32, 64, 128, 1024});
  if (Chance(rng, 0.3)) {
    sa.encap = driver::UdpEncap{Pick<std::uint16_t>(rng, {4500, 33000}), 4500};
  }
  if (Chance(rng, 0.35)) {
    sa.limits.soft_packets = 5 + rng() % 20;
    sa.limits.hard_packets = sa.limits.soft_packets + 1 + rng() % 20;
  }
  if (Chance(rng, 0.15)) {
    sa.limits.soft_bytes = 2000 + rng() % 8000;
    sa.limits.hard_bytes = sa.limits.soft_bytes + 1000 + rng() % 20000;
  }
  return sa;
}

Bytes RandomInner(std::mt19937_64& rng, const driver::SaConfig& sa) {
  InnerSpec spec;
  spec.payload_bytes = Chance(rng, 0.05) ? 8000 + rng() % 1000 : rng() % 1400;
  spec.traffic_class = static_cast<std::uint8_t>(rng());
  spec.df = Chance(rng, 0.5);
  spec.fill = static_cast<std::uint8_t>(rng());
  if (sa.mode == Mode::kTransport) {
    Bytes p = MakeTransportInner(sa, spec);
    // IPv6 extension headers: the ones in front of ESP stay there (hop-by-hop, routing and
    // destination options before a routing header), the rest is encrypted; broken chains drop
    if (sa.dst.v6 && Chance(rng, 0.3)) {
      const bool broken = Chance(rng, 0.15);
      p = InsertIpv6Ext(p, RandomIpv6Chain(rng, broken), rng, Chance(rng, 0.03));
    }
    return p;
  }
  spec.v6 = Chance(rng, 0.4);
  Bytes p = MakeInner(spec);
  if (spec.v6 && Chance(rng, 0.1)) p = InsertIpv6Ext(p, RandomIpv6Chain(rng, false), rng);
  return p;
}

Bytes NonEspUdp(std::mt19937_64& rng, const driver::SaConfig& sa) {
  // UDP to 4500 carrying an IKE message (non-ESP marker) or a NAT keepalive (0xFF).
  Bytes payload = Chance(rng, 0.5) ? Bytes{0xFF} : Bytes{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
  InnerSpec spec;
  spec.v6 = false;
  spec.src = V4(192, 0, 2, 1);
  spec.dst = sa.dst.v6 ? V4(198, 51, 100, 7) : sa.dst;
  spec.payload_bytes = 8 + payload.size();
  Bytes p = MakeInner(spec);
  const std::size_t udp = 20;
  StoreBe16(MutableByteSpan(p).subspan(udp), 4500);
  StoreBe16(MutableByteSpan(p).subspan(udp + 2), 4500);
  StoreBe16(MutableByteSpan(p).subspan(udp + 4), static_cast<std::uint16_t>(8 + payload.size()));
  StoreBe16(MutableByteSpan(p).subspan(udp + 6), 0);
  std::copy(payload.begin(), payload.end(), p.begin() + udp + 8);
  return p;
}

}  // namespace

std::string CosimSa::Describe() const {
  std::ostringstream os;
  const auto one = [&](const driver::SaConfig& sa, std::uint32_t slot) {
    os << ToString(sa.dir) << " slot " << slot << " spi 0x" << std::hex << sa.spi << std::dec << " "
       << ToString(sa.mode) << (sa.dst.v6 ? " v6" : " v4") << " " << ToString(sa.alg) << " aes"
       << 8 * sa.key.key_bytes() << " icv" << int{sa.icv_bytes} << (sa.esn ? " esn" : "")
       << (sa.encap ? " udp" : "") << " win " << sa.replay_window << " oseq " << sa.oseq
       << " replay-seq " << sa.replay_seq << " limits " << sa.limits.soft_packets << "/"
       << sa.limits.hard_packets << "p " << sa.limits.soft_bytes << "/" << sa.limits.hard_bytes
       << "B";
  };
  one(out, out_slot);
  os << "; ";
  one(in, in.spi);
  return os.str();
}

CosimWorkload MakeCosimWorkload(std::uint64_t seed, std::uint32_t slots, std::uint32_t sas,
                                std::uint32_t batches, std::uint32_t packets_per_batch) {
  std::mt19937_64 rng(seed);
  CosimWorkload w;
  std::vector<std::uint32_t> in_slots(slots);
  for (std::uint32_t i = 0; i < slots; ++i) in_slots[i] = i;
  std::shuffle(in_slots.begin(), in_slots.end(), rng);
  for (std::uint32_t i = 0; i < sas; ++i) {
    CosimSa s;
    const bool v6 = Chance(rng, 0.3);
    const bool transport = Chance(rng, 0.3);
    const std::uint32_t in_spi =
        ((1 + static_cast<std::uint32_t>(rng() % 0xFFFF)) * slots) + in_slots[i];
    s.out = RandomSa(rng, 0x1000000U + static_cast<std::uint32_t>(rng() % 0xFFFFFF),
                     Direction::kOut, v6, transport);
    s.out_slot = static_cast<std::uint16_t>(i);
    // Outbound sequence: small, near 2^32 with ESN (crossing), or about to overflow.
    if (s.out.esn) {
      s.out.oseq = 0xFFFFFFFFULL - rng() % 40;
    } else if (Chance(rng, 0.1)) {
      s.out.oseq = 0xFFFFFFFEULL - rng() % 20;
    } else {
      s.out.oseq = rng() % 1000;
    }
    s.in = RandomSa(rng, in_spi, Direction::kIn, v6, transport);
    s.in.replay_seq = s.in.esn ? 0xFFFFFFFFULL - rng() % 30 : (Chance(rng, 0.3) ? rng() % 100 : 0);
    s.peer_out = s.in.Clone();
    s.peer_out.dir = Direction::kOut;
    s.peer_out.replay_seq = 0;
    s.peer_out.replay_window = 64;
    s.peer_seq = s.in.replay_seq;
    w.sas.push_back(std::move(s));
  }

  std::uint32_t cookie = 0;
  for (std::uint32_t b = 0; b < batches; ++b) {
    std::vector<PacketIn> batch;
    std::vector<Bytes> sent;  // recent inbound packets, for replays
    for (std::uint32_t k = 0; k < packets_per_batch; ++k, ++cookie) {
      CosimSa& s = w.sas[rng() % w.sas.size()];
      if (Chance(rng, 0.45)) {  // outbound
        PacketIn p{Direction::kOut, s.out_slot, cookie, RandomInner(rng, s.out)};
        if (Chance(rng, 0.02)) p.slot = static_cast<std::uint16_t>(slots - 1 - rng() % 4);
        if (Chance(rng, 0.02)) p.data.resize(1 + rng() % 30);  // truncated: malformed
        batch.push_back(std::move(p));
        continue;
      }
      const double r = std::uniform_real_distribution<double>(0, 1)(rng);
      Bytes pkt;
      if (r < 0.05 && !sent.empty()) {
        pkt = sent[rng() % sent.size()];  // replay
      } else if (r < 0.07) {
        pkt = NonEspUdp(rng, s.in);
      } else {
        std::uint64_t seq = s.peer_seq + 1;
        if (r < 0.15 && s.peer_seq > 3) seq = s.peer_seq - rng() % 3;  // late / reordered
        if (r > 0.95) seq = s.peer_seq + 1 + rng() % 5;                // gap
        s.peer_seq = std::max(s.peer_seq, seq);
        auto esp = driver::EspEncapsulate(s.peer_out, seq, RandomInner(rng, s.peer_out));
        if (!esp) continue;
        pkt = std::move(*esp);
        sent.push_back(pkt);
        const double t = std::uniform_real_distribution<double>(0, 1)(rng);
        if (t < 0.06) {
          pkt[rng() % pkt.size()] ^= static_cast<std::uint8_t>(1U << (rng() % 8));  // tamper
        } else if (t < 0.08) {
          pkt.resize(pkt.size() / 2);  // truncated
        } else if (t < 0.10) {
          // Unknown SPI: change the SPI's high bits (keeps the slot, fails the compare).
          auto info = driver::ParseEspPacket(pkt);
          if (info && info->kind == driver::PacketKind::kEsp) pkt[info->esp_offset] ^= 0x80U;
        } else if (t < 0.18 && (pkt[0] >> 4U) == 6) {
          // IPv6 extension headers in front of ESP (tunnel outer header or transport)
          pkt = InsertIpv6Ext(pkt, RandomIpv6Chain(rng, Chance(rng, 0.2)), rng);
        }
      }
      batch.push_back(PacketIn{Direction::kIn, driver::kNoSlot, cookie, std::move(pkt)});
    }
    w.batches.push_back(std::move(batch));
  }
  return w;
}

}  // namespace espo::testing
