// SPDX-License-Identifier: Apache-2.0
//
// ESP inbound negative tests: every drop reason, crafted trailers (with an independent AAD/nonce
// construction), bit flips at every position, forged sequence numbers, and a randomized run
// against a set-based replay reference.
#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "esp_test_util.hpp"
#include "test_seed.hpp"

#include "espo/driver/esp.hpp"
#include "espo/driver/gcm_reference.hpp"
#include "espo/driver/ip_packet.hpp"
#include "espo/driver/replay_window.hpp"

namespace espo::driver {
namespace {

using espo::testing::InnerSpec;
using espo::testing::MakeInner;
using espo::testing::MakeSa;
using espo::testing::MakeTransportInner;
using espo::testing::SaSpec;

constexpr std::uint64_t k2p32 = 1ULL << 32U;

ReplayWindow WindowFor(const SaConfig& sa) {
  return *ReplayWindow::Create(sa.replay_window, sa.esn, sa.replay_seq);
}

// Builds outer IPv4/IPv6 header + ESP for an arbitrary decrypted span (payload .. Next Header),
// written from RFC 4106/4543 directly rather than through esp.cpp.
Bytes Craft(const SaConfig& sa, std::uint64_t seq, const Bytes& span, std::uint8_t outer_tc = 0) {
  Bytes aad(4);
  StoreBe32(aad, sa.spi);
  if (sa.esn) {
    aad.resize(8);
    StoreBe32(MutableByteSpan(aad).subspan(4), static_cast<std::uint32_t>(seq >> 32U));
  }
  aad.resize(aad.size() + 4);
  StoreBe32(MutableByteSpan(aad).last(4), static_cast<std::uint32_t>(seq));
  Bytes iv(8);
  StoreBe64(iv, seq ^ 0x5A5A5A5A5A5A5A5AULL);  // receivers must take the IV from the packet
  Bytes nonce(sa.key.salt().begin(), sa.key.salt().end());
  nonce.insert(nonce.end(), iv.begin(), iv.end());
  Bytes body;
  if (sa.alg == Algorithm::kGmac) {
    Bytes auth = aad;
    auth.insert(auth.end(), iv.begin(), iv.end());
    auth.insert(auth.end(), span.begin(), span.end());
    auto sealed = *GcmSeal(sa.key.key(), nonce, auth, {});
    body = span;
    body.insert(body.end(), sealed.tag.begin(), sealed.tag.end());
  } else {
    auto sealed = *GcmSeal(sa.key.key(), nonce, aad, span);
    body = sealed.ciphertext;
    body.insert(body.end(), sealed.tag.begin(), sealed.tag.begin() + sa.icv_bytes);
  }
  OuterHeaderParams o;
  o.src = sa.src;
  o.dst = sa.dst;
  o.traffic_class = outer_tc;
  o.payload_bytes = 16 + body.size();
  Bytes pkt = *BuildOuterHeader(o);
  const std::size_t esp = pkt.size();
  pkt.resize(esp + 8);
  StoreBe32(MutableByteSpan(pkt).subspan(esp), sa.spi);
  StoreBe32(MutableByteSpan(pkt).subspan(esp + 4), static_cast<std::uint32_t>(seq));
  pkt.insert(pkt.end(), iv.begin(), iv.end());
  pkt.insert(pkt.end(), body.begin(), body.end());
  return pkt;
}

Bytes Span(const Bytes& payload, std::size_t pad, std::uint8_t nh) {
  Bytes s = payload;
  for (std::size_t i = 1; i <= pad; ++i) s.push_back(static_cast<std::uint8_t>(i));
  s.push_back(static_cast<std::uint8_t>(pad));
  s.push_back(nh);
  return s;
}

void ExpectDrop(const EspInboundResult& r, DropReason reason, const std::string& what) {
  EXPECT_EQ(r.verdict, InboundVerdict::kDrop) << what << ": " << r.detail;
  EXPECT_EQ(r.drop, reason) << what << ": got " << ToString(r.drop) << " (" << r.detail << ")";
  EXPECT_TRUE(r.packet.empty()) << what;
}

TEST(EspNegativeTest, DropReasonNames) {
  EXPECT_EQ(ToString(DropReason::kAuth), "auth");
  EXPECT_EQ(ToString(DropReason::kReplay), "replay");
  EXPECT_EQ(ToString(DropReason::kNoSa), "no_sa");
  EXPECT_EQ(ToString(DropReason::kMalformed), "malformed");
  EXPECT_EQ(ToString(DropReason::kLifetime), "lifetime");
}

TEST(EspNegativeTest, AuthReplayNoSa) {
  SaSpec spec;
  const SaConfig out = MakeSa(spec, Direction::kOut);
  const SaConfig in = MakeSa(spec, Direction::kIn);
  const Bytes inner = MakeInner(InnerSpec{});
  ReplayWindow w = WindowFor(in);
  Bytes pkt = *EspEncapsulate(out, 100, inner);
  Bytes bad = pkt;
  bad.back() ^= 0x80;
  ExpectDrop(EspDecapsulate(in, w, bad), DropReason::kAuth, "flipped ICV");
  SaSpec other_key = spec;
  other_key.key_seed = 9;
  ExpectDrop(EspDecapsulate(MakeSa(other_key, Direction::kIn), w, pkt), DropReason::kAuth,
             "wrong key");
  EXPECT_EQ(w.right_edge(), 0U);
  ASSERT_TRUE(EspDecapsulate(in, w, pkt).accepted());
  ExpectDrop(EspDecapsulate(in, w, pkt), DropReason::kReplay, "duplicate");
  ASSERT_TRUE(EspDecapsulate(in, w, *EspEncapsulate(out, 37, inner)).accepted());  // T - 63
  ExpectDrop(EspDecapsulate(in, w, *EspEncapsulate(out, 36, inner)), DropReason::kReplay,
             "too old");
  SaSpec wrong_spi = spec;
  wrong_spi.spi = 0x1001;
  ExpectDrop(EspDecapsulate(MakeSa(wrong_spi, Direction::kIn), w, pkt), DropReason::kNoSa, "spi");
  SaConfig wrong_dst = MakeSa(spec, Direction::kIn);
  wrong_dst.dst = espo::testing::V4(198, 51, 100, 3);
  ExpectDrop(EspDecapsulate(wrong_dst, w, pkt), DropReason::kNoSa, "destination");
  SaSpec udp = spec;
  udp.udp = true;
  ExpectDrop(EspDecapsulate(MakeSa(udp, Direction::kIn), w, pkt), DropReason::kNoSa, "encap");
  ExpectDrop(EspDecapsulate(out, w, pkt), DropReason::kNoSa, "outbound SA");
}

TEST(EspNegativeTest, MalformedOuterPackets) {
  SaSpec spec;
  const SaConfig out = MakeSa(spec, Direction::kOut);
  const SaConfig in = MakeSa(spec, Direction::kIn);
  const Bytes pkt = *EspEncapsulate(out, 5, MakeInner(InnerSpec{}));
  // Every truncation (with the IP length field fixed up, or not) is dropped, never accepted.
  for (std::size_t n = 0; n < pkt.size(); ++n) {
    ReplayWindow w = WindowFor(in);
    Bytes cut(pkt.begin(), pkt.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(EspDecapsulate(in, w, cut).verdict, InboundVerdict::kDrop) << n;
    if (n >= 20) {
      StoreBe16(MutableByteSpan(cut).subspan(2), static_cast<std::uint16_t>(n));
      SetIpv4HeaderChecksum(MutableByteSpan(cut).first(20));
      const EspInboundResult r = EspDecapsulate(in, w, cut);
      EXPECT_EQ(r.verdict, InboundVerdict::kDrop) << n;
      if (n < 20 + 8 + 8 + 2 + 16) {
        EXPECT_EQ(r.drop, DropReason::kMalformed) << n;
      }
      EXPECT_EQ(w.right_edge(), 0U);
    }
  }
  ReplayWindow w = WindowFor(in);
  Bytes frag = pkt;
  StoreBe16(MutableByteSpan(frag).subspan(6), 0x2000);
  SetIpv4HeaderChecksum(MutableByteSpan(frag).first(20));
  ExpectDrop(EspDecapsulate(in, w, frag), DropReason::kMalformed, "fragment");
  Bytes checksum = pkt;
  checksum[10] ^= 1;
  ExpectDrop(EspDecapsulate(in, w, checksum), DropReason::kMalformed, "ip checksum");
  Bytes tcp = pkt;
  tcp[9] = kIpProtoTcp;
  SetIpv4HeaderChecksum(MutableByteSpan(tcp).first(20));
  ExpectDrop(EspDecapsulate(in, w, tcp), DropReason::kMalformed, "protocol");
  Bytes spi0 = pkt;
  std::fill_n(spi0.begin() + 20, 4, 0);
  ExpectDrop(EspDecapsulate(in, w, spi0), DropReason::kMalformed, "spi 0");
  EXPECT_TRUE(EspDecapsulate(in, w, pkt).accepted());
}

TEST(EspNegativeTest, UdpClassification) {
  SaSpec spec;
  spec.udp = true;
  spec.outer_v6 = true;
  const SaConfig out = MakeSa(spec, Direction::kOut);
  const SaConfig in = MakeSa(spec, Direction::kIn);
  const Bytes pkt = *EspEncapsulate(out, 5, MakeInner(InnerSpec{}));
  auto info = ParseEspPacket(pkt);
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->kind, PacketKind::kEsp);
  EXPECT_TRUE(info->udp_encap);
  EXPECT_EQ(info->esp_offset, 48U);
  EXPECT_EQ(info->spi, spec.spi);
  EXPECT_EQ(info->seq_low, 5U);
  EXPECT_EQ(info->ip_version, 6);
  // Replace the UDP payload with IKE (non-ESP marker) and with a keepalive.
  auto with_payload = [&](const Bytes& payload) {
    Bytes p = pkt;
    p.resize(48 + payload.size());
    std::copy(payload.begin(), payload.end(), p.begin() + 48);
    StoreBe16(MutableByteSpan(p).subspan(4), static_cast<std::uint16_t>(8 + payload.size()));
    StoreBe16(MutableByteSpan(p).subspan(44), static_cast<std::uint16_t>(8 + payload.size()));
    StoreBe16(MutableByteSpan(p).subspan(46), 0);
    StoreBe16(MutableByteSpan(p).subspan(46), UdpChecksum(in.src, in.dst, ByteSpan(p).subspan(40)));
    return p;
  };
  const Bytes ike = with_payload({0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88});
  info = ParseEspPacket(ike);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->kind, PacketKind::kNotEsp);
  EXPECT_EQ(info->not_esp, NotEspKind::kIke);
  const Bytes keepalive = with_payload({0xFF});
  info = ParseEspPacket(keepalive);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->not_esp, NotEspKind::kNatKeepalive);
  ReplayWindow w = WindowFor(in);
  EXPECT_EQ(EspDecapsulate(in, w, ike).verdict, InboundVerdict::kNotEsp);
  EXPECT_EQ(EspDecapsulate(in, w, keepalive).verdict, InboundVerdict::kNotEsp);
  EXPECT_FALSE(ParseEspPacket(with_payload({0x01, 0x02})).has_value());  // too short for ESP
  // Another port: not ESP unless any_udp_port is set (a NAT changed the port).
  Bytes moved = pkt;
  StoreBe16(MutableByteSpan(moved).subspan(42), 4501);
  StoreBe16(MutableByteSpan(moved).subspan(46), 0);  // zero checksum: accepted, not verified
  info = ParseEspPacket(moved);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->not_esp, NotEspKind::kOtherUdp);
  info = ParseEspPacket(moved, EspParseOptions{4500, true});
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->kind, PacketKind::kEsp);
  Bytes bad_checksum = pkt;
  bad_checksum[47] ^= 1;
  EXPECT_FALSE(ParseEspPacket(bad_checksum).has_value());
  // A NAT changed the peer's source port: accepted and reported.
  Bytes sport = pkt;
  StoreBe16(MutableByteSpan(sport).subspan(40), 1234);
  StoreBe16(MutableByteSpan(sport).subspan(46), 0);
  const EspInboundResult r = EspDecapsulate(in, w, sport);
  EXPECT_TRUE(r.accepted()) << r.detail;
  EXPECT_TRUE(r.encap_port_changed);
}

TEST(EspNegativeTest, CraftedTrailersAndInnerPackets) {
  for (Algorithm alg : {Algorithm::kGcm, Algorithm::kGmac}) {
    SaSpec spec;
    spec.alg = alg;
    spec.esn = true;
    const SaConfig in = MakeSa(spec, Direction::kIn);
    const Bytes inner = MakeInner(InnerSpec{});  // 60 bytes
    const std::string tag = alg == Algorithm::kGmac ? "gmac " : "gcm ";
    auto run = [&](std::uint64_t seq, const Bytes& span, std::uint8_t tc = 0) {
      ReplayWindow w = WindowFor(in);
      EspInboundResult r = EspDecapsulate(in, w, Craft(in, seq, span, tc));
      if (r.verdict == InboundVerdict::kDrop) {
        EXPECT_EQ(w.right_edge(), 0U) << "window moved";
      }
      return r;
    };
    EXPECT_TRUE(run(1, Span(inner, 2, 4)).accepted()) << tag;
    Bytes bad_pad = Span(inner, 2, 4);
    bad_pad[inner.size() + 1] = 3;  // 1, 3 instead of 1, 2
    ExpectDrop(run(1, bad_pad), DropReason::kMalformed, tag + "pad byte");
    Bytes long_pad = Span(inner, 2, 4);
    long_pad[long_pad.size() - 2] = 255;
    ExpectDrop(run(1, long_pad), DropReason::kMalformed, tag + "pad length > span");
    ExpectDrop(run(1, Span(inner, 2, kIpProtoTcp)), DropReason::kMalformed, tag + "nh 6");
    ExpectDrop(run(1, Span(inner, 2, kIpProtoIpv6)), DropReason::kMalformed, tag + "nh/version");
    Bytes longer = inner;
    StoreBe16(MutableByteSpan(longer).subspan(2), 61);  // claims one byte more than present
    ExpectDrop(run(1, Span(longer, 2, 4)), DropReason::kMalformed, tag + "inner length");
    ExpectDrop(run(1, Span(Bytes{0x45, 0, 0}, 3, 4)), DropReason::kMalformed, tag + "inner short");
    // TFC padding after the inner packet is removed; a misaligned span is accepted (SPEC 1.3).
    Bytes tfc = inner;
    tfc.insert(tfc.end(), 13, 0xEE);
    EspInboundResult r = run(1, Span(tfc, 0, 4));
    ASSERT_TRUE(r.accepted()) << tag << r.detail;
    EXPECT_EQ(r.packet, inner);
    EXPECT_EQ(r.counted_bytes, tfc.size() + 2);
    r = run(1, Span(inner, 7, 4));  // more padding than needed, still 1..7
    ASSERT_TRUE(r.accepted()) << tag << r.detail;
    EXPECT_EQ(r.packet, inner);
    // Dummy packet (Next Header 59): authentic, moves the window, releases nothing.
    ReplayWindow w = WindowFor(in);
    r = EspDecapsulate(in, w, Craft(in, 9, Span(Bytes(20, 0xAB), 2, kNextHeaderDummy)));
    EXPECT_EQ(r.verdict, InboundVerdict::kDiscardDummy) << tag << r.detail;
    EXPECT_TRUE(r.packet.empty());
    EXPECT_EQ(w.right_edge(), 9U);
    // ESN: the AAD carries the high half; a packet built with the wrong high half fails auth.
    ReplayWindow edge = *ReplayWindow::Create(64, true);
    EXPECT_TRUE(EspDecapsulate(in, edge, Craft(in, k2p32 - 30, Span(inner, 2, 4))).accepted());
    EXPECT_TRUE(EspDecapsulate(in, edge, Craft(in, k2p32 + 11, Span(inner, 2, 4))).accepted());
    EXPECT_TRUE(EspDecapsulate(in, edge, Craft(in, k2p32 - 20, Span(inner, 2, 4))).accepted());
    ExpectDrop(EspDecapsulate(in, edge, Craft(in, 2 * k2p32 + 12, Span(inner, 2, 4))),
               DropReason::kAuth, tag + "wrong seq_hi");
    EXPECT_EQ(edge.right_edge(), k2p32 + 11);
  }
}

TEST(EspNegativeTest, Rfc6040OnDecapsulation) {
  SaSpec spec;
  const SaConfig in = MakeSa(spec, Direction::kIn);
  for (std::uint8_t inner_ecn = 0; inner_ecn < 4; ++inner_ecn) {
    for (std::uint8_t outer_ecn = 0; outer_ecn < 4; ++outer_ecn) {
      InnerSpec is;
      is.traffic_class = static_cast<std::uint8_t>(0xB8 | inner_ecn);
      const Bytes inner = MakeInner(is);
      ReplayWindow w = WindowFor(in);
      const auto expect = DecapsulatedEcn(inner_ecn, outer_ecn);
      const EspInboundResult r = EspDecapsulate(
          in, w, Craft(in, 1, Span(inner, 2, 4), static_cast<std::uint8_t>(0xB8 | outer_ecn)));
      if (!expect) {
        ExpectDrop(r, DropReason::kMalformed, "CE over Not-ECT");
        continue;
      }
      ASSERT_TRUE(r.accepted()) << r.detail;
      EXPECT_EQ(r.packet[1], 0xB8 | *expect);
      EXPECT_TRUE(VerifyIpv4HeaderChecksum(ByteSpan(r.packet).first(20)));
      Bytes expected = inner;
      expected[1] = r.packet[1];
      expected[10] = r.packet[10];
      expected[11] = r.packet[11];
      EXPECT_EQ(r.packet, expected);
      if (*expect == inner_ecn) {
        EXPECT_EQ(r.packet, inner);  // byte-identical when unchanged
      }
    }
  }
}

struct FlipCase {
  SaSpec sa;
  InnerSpec inner;
};

TEST(EspNegativeTest, BitFlipAtEveryPositionNeverReleasesAlteredPlaintext) {
  std::vector<FlipCase> cases(5);
  cases[0].sa.udp = true;
  cases[1].sa.outer_v6 = true;
  cases[1].sa.icv_bytes = 8;
  cases[1].sa.esn = true;
  cases[1].inner.v6 = true;
  cases[2].sa.mode = Mode::kTransport;
  cases[3].sa.mode = Mode::kTransport;
  cases[3].sa.outer_v6 = true;
  cases[3].sa.udp = true;
  cases[3].inner.v6_ext_headers = true;
  cases[4].sa.alg = Algorithm::kGmac;
  cases[4].sa.key_bytes = 32;
  int flips = 0;
  for (FlipCase& c : cases) {
    c.inner.payload_bytes = 13;
    c.sa.replay_seq = 40;
    const SaConfig out = MakeSa(c.sa, Direction::kOut);
    const SaConfig in = MakeSa(c.sa, Direction::kIn);
    const Bytes inner =
        c.sa.mode == Mode::kTransport ? MakeTransportInner(out, c.inner) : MakeInner(c.inner);
    const Bytes pkt = *EspEncapsulate(out, 42, inner);
    const std::size_t esp = ParseEspPacket(pkt)->esp_offset;
    const std::size_t header = c.sa.mode == Mode::kTransport
                                   ? (c.inner.v6_ext_headers ? 56 : (c.sa.outer_v6 ? 40 : 20))
                                   : 0;
    for (std::size_t pos = 0; pos < pkt.size(); ++pos) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes mutated = pkt;
        mutated[pos] ^= static_cast<std::uint8_t>(1U << bit);
        ReplayWindow w = WindowFor(in);
        const EspInboundResult r = EspDecapsulate(in, w, mutated);
        ++flips;
        if (pos >= esp) {
          // A drop, or kNotEsp when the flip turned the SPI into the non-ESP marker (UDP).
          EXPECT_TRUE(r.verdict == InboundVerdict::kDrop || r.verdict == InboundVerdict::kNotEsp)
              << "ESP byte " << pos << " bit " << bit;
        }
        if (r.verdict != InboundVerdict::kAccept) {
          EXPECT_TRUE(r.packet.empty());
          EXPECT_EQ(w.right_edge(), 40U) << "window moved by a dropped packet";
          continue;
        }
        // Only unprotected outer fields were hit: the protected bytes come out unchanged.
        ASSERT_EQ(r.packet.size(), inner.size()) << pos;
        if (c.sa.mode == Mode::kTunnel) {
          Bytes expected = inner;  // up to an RFC 6040 ECN change of the inner header
          const bool v4 = (inner[0] >> 4U) == 4;
          const std::size_t n = v4 ? 2 : 2;
          for (std::size_t i = 0; i < n; ++i) expected[i] = r.packet[i];
          if (v4) {
            expected[10] = r.packet[10];
            expected[11] = r.packet[11];
          }
          EXPECT_EQ(r.packet, expected) << "outer byte " << pos << " bit " << bit;
          EXPECT_EQ(r.packet[0] >> 4U, inner[0] >> 4U);
        } else {
          EXPECT_TRUE(std::equal(r.packet.begin() + static_cast<std::ptrdiff_t>(header),
                                 r.packet.end(),
                                 inner.begin() + static_cast<std::ptrdiff_t>(header)))
              << "transport payload changed by outer byte " << pos;
        }
      }
    }
    ReplayWindow w = WindowFor(in);
    EXPECT_TRUE(EspDecapsulate(in, w, pkt).accepted());
  }
  EXPECT_GT(flips, 3000);
}

TEST(EspNegativeTest, ForgedHugeSequenceDoesNotMoveWindow) {
  for (bool esn : {false, true}) {
    SaSpec spec;
    spec.esn = esn;
    const SaConfig out = MakeSa(spec, Direction::kOut);
    const SaConfig in = MakeSa(spec, Direction::kIn);
    const Bytes inner = MakeInner(InnerSpec{});
    ReplayWindow w = WindowFor(in);
    ASSERT_TRUE(EspDecapsulate(in, w, *EspEncapsulate(out, 10, inner)).accepted());
    Bytes forged = *EspEncapsulate(out, 11, inner);
    StoreBe32(MutableByteSpan(forged).subspan(24), 0x7FFFFFF0U);  // seq_low rewritten
    ExpectDrop(EspDecapsulate(in, w, forged), DropReason::kAuth, "forged seq");
    EXPECT_EQ(w.right_edge(), 10U);
    // Authentic but malformed: does not move the window either.
    ExpectDrop(EspDecapsulate(in, w, Craft(in, 1000, Span(inner, 2, kIpProtoTcp))),
               DropReason::kMalformed, "authentic malformed");
    EXPECT_EQ(w.right_edge(), 10U);
    EXPECT_TRUE(EspDecapsulate(in, w, *EspEncapsulate(out, 5, inner)).accepted());
    EXPECT_TRUE(EspDecapsulate(in, w, *EspEncapsulate(out, 11, inner)).accepted());
  }
}

TEST(EspNegativeTest, RandomizedReorderAgainstSetReference) {
  std::mt19937_64 rng(espo::testing::TestSeed());
  const int packets = 2500 * espo::testing::SoakFactor();
  for (bool esn : {false, true}) {
    SaSpec spec;
    spec.esn = esn;
    spec.window = 64;
    const std::uint64_t start = esn ? k2p32 - 1200 : 1;
    spec.replay_seq = start - 1;
    spec.udp = esn;
    const SaConfig out = MakeSa(spec, Direction::kOut);
    const SaConfig in = MakeSa(spec, Direction::kIn);
    ReplayWindow w = WindowFor(in);
    std::set<std::uint64_t> accepted;
    std::uint64_t ref_t = start - 1;
    std::uint64_t next = start;
    std::vector<std::uint64_t> held;  // sent but not delivered yet (reordered)
    std::map<std::string, int> stats;
    for (int i = 0; i < packets; ++i) {
      std::uint64_t seq = 0;
      bool forged = false;
      const auto pick = rng() % 10;
      if (pick < 4 || next - start < 10) {
        seq = next++;
        if (rng() % 3 == 0) {
          held.push_back(seq);  // delay it
          seq = next++;
        }
      } else if (pick < 6 && !held.empty()) {
        const std::size_t k = rng() % held.size();
        seq = held[k];
        held.erase(held.begin() + static_cast<std::ptrdiff_t>(k));
      } else if (pick < 8) {
        seq = next - 1 - rng() % std::min<std::uint64_t>(next - start, 150);  // replay/old
      } else if (pick < 9) {
        next += 40 + rng() % 80;  // loss burst, sometimes past the window
        seq = next++;
      } else {
        seq = next + rng() % 100000;  // forged, far right
        forged = true;
      }
      InnerSpec is;
      is.payload_bytes = 8 + rng() % 64;
      is.fill = static_cast<std::uint8_t>(seq);
      const Bytes inner = MakeInner(is);
      Bytes pkt = *EspEncapsulate(out, seq, inner);
      if (forged) pkt[pkt.size() - 1 - rng() % 16] ^= 1;
      const bool ref_ok =
          !forged && seq > 0 && (seq > ref_t || (ref_t - seq < 64 && accepted.count(seq) == 0));
      const EspInboundResult r = EspDecapsulate(in, w, pkt);
      ASSERT_EQ(r.accepted(), ref_ok)
          << "packet " << i << " seq " << seq << " T " << ref_t << ": " << r.detail;
      if (ref_ok) {
        EXPECT_EQ(r.packet, inner);
        accepted.insert(seq);
        ref_t = std::max(ref_t, seq);
        ++stats["accepted"];
      } else if (forged) {
        EXPECT_EQ(r.drop, DropReason::kAuth);
        ++stats["auth"];
      } else {
        // Old packets: replay; with ESN a number too far left infers the next subspace -> auth.
        EXPECT_TRUE(r.drop == DropReason::kReplay || (esn && r.drop == DropReason::kAuth))
            << ToString(r.drop);
        ++stats[std::string(ToString(r.drop))];
      }
      ASSERT_EQ(w.right_edge(), ref_t);
    }
    EXPECT_GT(stats["accepted"], packets / 4);
    EXPECT_GT(stats["replay"], 20);
    EXPECT_GT(stats["replay"] + stats["auth"], packets / 5);
    EXPECT_GT(stats["auth"], 50);
    if (esn) {
      EXPECT_GT(ref_t, k2p32) << "run did not cross 2^32";
    }
  }
}

}  // namespace
}  // namespace espo::driver
