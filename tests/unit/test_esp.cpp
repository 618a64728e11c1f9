// SPDX-License-Identifier: Apache-2.0
//
// ESP processing: RFC 4106 vectors through the real AAD/nonce construction, round trips over the
// whole parameter matrix, wire format checks, and negative tests for every drop reason.
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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
  auto w = ReplayWindow::Create(sa.replay_window, sa.esn, sa.replay_seq);
  EXPECT_TRUE(w.has_value());
  return *w;
}

Bytes Encap(const SaConfig& sa, std::uint64_t seq, ByteSpan inner, std::uint16_t id = 7) {
  auto r = EspEncapsulate(sa, seq, inner, OutboundOptions{id});
  EXPECT_TRUE(r.has_value()) << r.error().message;
  return r ? *r : Bytes{};
}

// --- RFC 4106 vectors -------------------------------------------------------------------------

TEST(EspTest, Rfc4106VectorsMatchAadAndNonceConstruction) {
  std::ifstream in(std::string(ESPO_SHARED_DATA) + "/rfc4106_vectors.json");
  ASSERT_TRUE(in.good()) << "cannot open rfc4106_vectors.json under " << ESPO_SHARED_DATA;
  const nlohmann::json doc = nlohmann::json::parse(in);
  int checked = 0;
  int through_decap = 0;
  for (const auto& v : doc.at("vectors")) {
    const std::string name = v.at("name");
    const Bytes key = *FromHex(v.at("key").get<std::string>());
    const Bytes salt = *FromHex(v.at("salt").get<std::string>());
    const Bytes iv = *FromHex(v.at("iv").get<std::string>());
    const Bytes aad = *FromHex(v.at("aad").get<std::string>());
    const Bytes pt = *FromHex(v.at("pt").get<std::string>());
    const Bytes ct = *FromHex(v.at("ct").get<std::string>());
    const Bytes tag = *FromHex(v.at("tag").get<std::string>());
    ASSERT_TRUE(aad.size() == 8 || aad.size() == 12) << name;
    const bool esn = aad.size() == 12;
    const std::uint32_t spi = LoadBe32(aad);
    const std::uint64_t seq =
        esn ? LoadBe64(ByteSpan(aad).subspan(4)) : LoadBe32(ByteSpan(aad).subspan(4));
    // Our AAD and nonce from (SPI, 64-bit seq, ESN) and (salt, IV) reproduce the vector's.
    EXPECT_EQ(EspAad(spi, seq, esn), aad) << name;
    const auto nonce = EspNonce(salt, iv);
    Bytes expected_nonce = salt;
    expected_nonce.insert(expected_nonce.end(), iv.begin(), iv.end());
    EXPECT_EQ(Bytes(nonce.begin(), nonce.end()), expected_nonce) << name;
    const bool gmac = v.at("mode") == "rfc4543";
    Bytes auth = EspAad(spi, seq, esn);
    if (gmac) {
      auth.insert(auth.end(), iv.begin(), iv.end());
      auth.insert(auth.end(), pt.begin(), pt.end());
    }
    auto sealed = GcmSeal(key, nonce, auth, gmac ? Bytes{} : pt);
    ASSERT_TRUE(sealed.has_value());
    EXPECT_EQ(Bytes(sealed->tag.begin(), sealed->tag.end()), tag) << name;
    if (!gmac) {
      EXPECT_EQ(sealed->ciphertext, ct) << name;
    }
    ++checked;

    // The same bytes as an ESP packet through EspDecapsulate: the ICV must verify (the drop, if
    // any, comes from the trailer checks, never auth). SPI 0 cannot be an ESP packet.
    if (spi == 0 || gmac || !v.value("valid", true)) continue;
    SaSpec spec;
    spec.mode = Mode::kTransport;
    spec.esn = esn;
    spec.spi = spi;
    spec.window = esn ? 64 : 0;
    spec.replay_seq = esn && seq > 1 ? seq - 1 : 0;
    SaConfig sa = MakeSa(spec, Direction::kIn);
    Bytes kms = key;
    kms.insert(kms.end(), salt.begin(), salt.end());
    sa.key = *KeyMaterial::FromBytes(kms);
    OuterHeaderParams o;
    o.src = sa.src;
    o.dst = sa.dst;
    o.payload_bytes = 16 + ct.size() + 16;
    Bytes pkt = *BuildOuterHeader(o);
    pkt.resize(pkt.size() + 8);
    StoreBe32(MutableByteSpan(pkt).subspan(20), spi);
    StoreBe32(MutableByteSpan(pkt).subspan(24), static_cast<std::uint32_t>(seq));
    pkt.insert(pkt.end(), iv.begin(), iv.end());
    pkt.insert(pkt.end(), ct.begin(), ct.end());
    pkt.insert(pkt.end(), tag.begin(), tag.end());
    ReplayWindow w = WindowFor(sa);
    const EspInboundResult r = EspDecapsulate(sa, w, pkt);
    EXPECT_FALSE(r.verdict == InboundVerdict::kDrop && r.drop == DropReason::kAuth)
        << name << ": " << r.detail;
    EXPECT_FALSE(r.verdict == InboundVerdict::kDrop && r.drop == DropReason::kReplay) << name;
    if (r.accepted()) {
      const std::size_t pad = pt[pt.size() - 2];
      ASSERT_EQ(r.packet.size(), 20 + pt.size() - 2 - pad);
      EXPECT_TRUE(std::equal(r.packet.begin() + 20, r.packet.end(), pt.begin())) << name;
      EXPECT_EQ(r.packet[9], pt.back()) << name;
    }
    // Flip one tag bit: now it must be auth.
    pkt.back() ^= 0x01;
    ReplayWindow w2 = WindowFor(sa);
    const EspInboundResult bad = EspDecapsulate(sa, w2, pkt);
    EXPECT_EQ(bad.verdict, InboundVerdict::kDrop) << name;
    EXPECT_EQ(bad.drop, DropReason::kAuth) << name;
    ++through_decap;
  }
  EXPECT_EQ(checked, 7);
  EXPECT_GE(through_decap, 3);
}

// --- Round trips ------------------------------------------------------------------------------

struct Case {
  SaSpec sa;
  InnerSpec inner;
};

std::string Describe(const Case& c) {
  return std::string(c.sa.mode == Mode::kTunnel ? "tunnel" : "transport") + " outer" +
         (c.sa.outer_v6 ? "6" : "4") + " inner" + (c.inner.v6 ? "6" : "4") + " aes" +
         std::to_string(c.sa.key_bytes * 8) + " icv" + std::to_string(c.sa.icv_bytes) +
         (c.sa.esn ? " esn" : "") + (c.sa.udp ? " udp" : "") +
         (c.sa.alg == Algorithm::kGmac ? " gmac" : " gcm") + (c.inner.v6_ext_headers ? " ext" : "");
}

std::vector<Case> Matrix() {
  std::vector<Case> cases;
  for (Mode mode : {Mode::kTunnel, Mode::kTransport}) {
    for (bool outer_v6 : {false, true}) {
      for (bool inner_v6 : {false, true}) {
        if (mode == Mode::kTransport && inner_v6 != outer_v6) continue;
        for (std::size_t key : {16U, 32U}) {
          for (std::uint8_t icv : {8, 12, 16}) {
            for (bool esn : {false, true}) {
              for (bool udp : {false, true}) {
                for (Algorithm alg : {Algorithm::kGcm, Algorithm::kGmac}) {
                  if (alg == Algorithm::kGmac && icv != 16) continue;
                  Case c;
                  c.sa.mode = mode;
                  c.sa.outer_v6 = outer_v6;
                  c.sa.key_bytes = key;
                  c.sa.icv_bytes = icv;
                  c.sa.esn = esn;
                  c.sa.udp = udp;
                  c.sa.alg = alg;
                  c.inner.v6 = inner_v6;
                  c.inner.v6_ext_headers = inner_v6 && mode == Mode::kTransport && icv == 12;
                  cases.push_back(c);
                }
              }
            }
          }
        }
      }
    }
  }
  return cases;
}

TEST(EspTest, RoundTripMatrix) {
  int runs = 0;
  for (const Case& c : Matrix()) {
    SCOPED_TRACE(Describe(c));
    SaSpec in_spec = c.sa;
    // ESN: start just below 2^32 so the run crosses it; without ESN near the top of the space.
    const std::uint64_t first = c.sa.esn ? k2p32 - 2 : k2p32 - 6;
    in_spec.replay_seq = first - 1;
    const SaConfig out = MakeSa(c.sa, Direction::kOut);
    const SaConfig in = MakeSa(in_spec, Direction::kIn);
    ReplayWindow window = WindowFor(in);
    for (std::uint64_t k = 0; k < 5; ++k) {
      const std::uint64_t seq = first + k;
      InnerSpec is = c.inner;
      is.payload_bytes = 21 + k * 7;                                 // all four paddings
      is.traffic_class = static_cast<std::uint8_t>(0x28 | (k % 3));  // never CE in the inner
      is.fill = static_cast<std::uint8_t>(k);
      const Bytes inner =
          c.sa.mode == Mode::kTransport ? MakeTransportInner(out, is) : MakeInner(is);
      const Bytes pkt = Encap(out, seq, inner);
      ASSERT_FALSE(pkt.empty());
      const EspInboundResult r = EspDecapsulate(in, window, pkt);
      ASSERT_TRUE(r.accepted()) << "seq " << seq << ": " << ToString(r.drop) << " " << r.detail;
      EXPECT_EQ(r.packet, inner);  // byte-identical (tunnel) / restored original (transport)
      EXPECT_EQ(r.seq, seq);
      const std::size_t payload =
          c.sa.mode == Mode::kTunnel
              ? inner.size()
              : inner.size() - (c.inner.v6 ? (c.inner.v6_ext_headers ? 56U : 40U) : 20U);
      EXPECT_EQ(r.counted_bytes, EspCountedBytes(payload));
      EXPECT_EQ(r.counted_bytes % 4, 0U);
      EXPECT_EQ(window.right_edge(), seq);
      // The same packet again is a replay.
      const EspInboundResult again = EspDecapsulate(in, window, pkt);
      EXPECT_EQ(again.verdict, InboundVerdict::kDrop);
      EXPECT_EQ(again.drop, DropReason::kReplay);
      ++runs;
    }
  }
  EXPECT_GT(runs, 500);
}

TEST(EspTest, TunnelWireFormat) {
  for (bool inner_v6 : {false, true}) {
    for (bool udp : {false, true}) {
      SaSpec spec;
      spec.udp = udp;
      spec.udp_sport = 4501;
      spec.icv_bytes = 12;
      spec.esn = true;
      const SaConfig out = MakeSa(spec, Direction::kOut);
      InnerSpec is;
      is.v6 = inner_v6;
      is.payload_bytes = 100;   // IPv4: 120 + 2 -> pad 2; IPv6: 140 + 2 -> pad 2
      is.traffic_class = 0xBA;  // DSCP 46, ECN ECT(0)
      is.df = false;
      const Bytes inner = MakeInner(is);
      const std::uint64_t seq = 0x0000000500000009ULL;
      const Bytes pkt = Encap(out, seq, inner, 0xABCD);
      auto ip = ParseIpHeader(pkt);
      ASSERT_TRUE(ip.has_value());
      EXPECT_EQ(ip->version, 4);
      EXPECT_EQ(ip->total_bytes, pkt.size());
      EXPECT_EQ(ip->ttl, 64);
      EXPECT_EQ(ip->traffic_class, 0xBA);
      EXPECT_EQ(ip->ipv4_id, 0xABCD);
      EXPECT_EQ(ip->df, inner_v6);  // copied (clear) for IPv4 inner, set for IPv6 inner
      EXPECT_EQ(ip->protocol, udp ? kIpProtoUdp : kIpProtoEsp);
      EXPECT_TRUE(VerifyIpv4HeaderChecksum(ByteSpan(pkt).first(20)));
      std::size_t esp = 20;
      if (udp) {
        EXPECT_EQ(LoadBe16(ByteSpan(pkt).subspan(20)), 4501);
        EXPECT_EQ(LoadBe16(ByteSpan(pkt).subspan(22)), 4500);
        EXPECT_EQ(LoadBe16(ByteSpan(pkt).subspan(24)), pkt.size() - 20);
        EXPECT_EQ(LoadBe16(ByteSpan(pkt).subspan(26)), 0);  // IPv4: checksum 0
        esp = 28;
      }
      EXPECT_EQ(LoadBe32(ByteSpan(pkt).subspan(esp)), 0x1000U);
      EXPECT_EQ(LoadBe32(ByteSpan(pkt).subspan(esp + 4)), 9U);
      EXPECT_EQ(LoadBe64(ByteSpan(pkt).subspan(esp + 8)), seq);  // IV = counter
      EXPECT_EQ(pkt.size() - esp, 16 + inner.size() + 2 + 2 + 12);
    }
  }
}

TEST(EspTest, GmacCarriesPayloadInClearWithPadding) {
  SaSpec spec;
  spec.alg = Algorithm::kGmac;
  spec.outer_v6 = true;
  spec.udp = true;
  const SaConfig out = MakeSa(spec, Direction::kOut);
  InnerSpec is;
  is.payload_bytes = 23;  // 43 + 2 = 45 -> pad 3
  const Bytes inner = MakeInner(is);
  const Bytes pkt = Encap(out, 3, inner);
  const std::size_t esp = 40 + 8;
  ASSERT_EQ(pkt.size(), esp + 16 + inner.size() + 3 + 2 + 16);
  EXPECT_TRUE(std::equal(inner.begin(), inner.end(), pkt.begin() + esp + 16));
  const std::size_t trailer = esp + 16 + inner.size();
  EXPECT_EQ(pkt[trailer], 1);
  EXPECT_EQ(pkt[trailer + 1], 2);
  EXPECT_EQ(pkt[trailer + 2], 3);
  EXPECT_EQ(pkt[trailer + 3], 3);  // Pad Length
  EXPECT_EQ(pkt[trailer + 4], kIpProtoIpv4);
  // IPv6 UDP checksum is computed (non-zero and valid).
  const std::uint16_t stored = LoadBe16(ByteSpan(pkt).subspan(46));
  EXPECT_NE(stored, 0);
  EXPECT_EQ(UdpChecksum(out.src, out.dst, ByteSpan(pkt).subspan(40)), stored);
}

TEST(EspTest, TransportIpv6InsertsAfterRoutingHeader) {
  SaSpec spec;
  spec.mode = Mode::kTransport;
  spec.outer_v6 = true;
  const SaConfig out = MakeSa(spec, Direction::kOut);
  InnerSpec is;
  is.v6_ext_headers = true;
  const Bytes inner = MakeTransportInner(out, is);
  const Bytes pkt = Encap(out, 1, inner);
  EXPECT_EQ(pkt[6], kIpProtoHopByHop);  // base header unchanged
  EXPECT_EQ(pkt[40], kIpProtoRouting);  // HbH unchanged
  EXPECT_EQ(pkt[48], kIpProtoEsp);      // Routing's Next Header becomes ESP
  EXPECT_EQ(LoadBe32(ByteSpan(pkt).subspan(56)), spec.spi);
  EXPECT_EQ(LoadBe16(ByteSpan(pkt).subspan(4)), pkt.size() - 40);
}

// --- Outbound errors --------------------------------------------------------------------------

TEST(EspTest, EncapsulateRejectsBadInput) {
  SaSpec spec;
  const SaConfig out = MakeSa(spec, Direction::kOut);
  const Bytes inner = MakeInner(InnerSpec{});
  EXPECT_FALSE(EspEncapsulate(out, 0, inner).has_value());              // seq 0
  EXPECT_FALSE(EspEncapsulate(out, k2p32, inner).has_value());          // > 2^32-1 without ESN
  EXPECT_FALSE(EspEncapsulate(out, 1, Bytes{0x12, 0x34}).has_value());  // not IP
  EXPECT_FALSE(EspEncapsulate(out, 1, ByteSpan(inner).first(30)).has_value());  // truncated
  EXPECT_FALSE(EspEncapsulate(MakeSa(spec, Direction::kIn), 1, inner).has_value());
  SaSpec gmac = spec;
  gmac.alg = Algorithm::kGmac;
  gmac.icv_bytes = 8;
  EXPECT_FALSE(EspEncapsulate(MakeSa(gmac, Direction::kOut), 1, inner).has_value());
  SaSpec transport = spec;
  transport.mode = Mode::kTransport;
  const SaConfig tout = MakeSa(transport, Direction::kOut);
  InnerSpec v6;
  v6.v6 = true;
  auto wrong_family = EspEncapsulate(tout, 1, MakeInner(v6));
  ASSERT_FALSE(wrong_family.has_value());
  EXPECT_EQ(wrong_family.error().code, Errc::kParse);
  Bytes frag = MakeTransportInner(tout, InnerSpec{});
  StoreBe16(MutableByteSpan(frag).subspan(6), 0x2000);
  SetIpv4HeaderChecksum(MutableByteSpan(frag).first(20));
  EXPECT_FALSE(EspEncapsulate(tout, 1, frag).has_value());
  EXPECT_TRUE(EspEncapsulate(out, 1, frag).has_value());  // tunnel mode may carry fragments
}

}  // namespace
}  // namespace espo::driver
