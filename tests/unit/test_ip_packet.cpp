// SPDX-License-Identifier: Apache-2.0
//
// IP helpers: header parsing, checksums, outer/UDP headers, IPv6 chains, RFC 6040 table.
#include <cstdint>

#include <gtest/gtest.h>

#include "esp_test_util.hpp"

#include "espo/driver/ip_packet.hpp"

namespace espo::driver {
namespace {

using espo::testing::InnerSpec;
using espo::testing::MakeInner;
using espo::testing::V4;
using espo::testing::V6;

TEST(IpPacketTest, Ipv4ChecksumKnownHeader) {
  // The classic example header (checksum b861).
  Bytes h = *FromHex("450000730000400040110000c0a80001c0a800c7");
  EXPECT_EQ(Ipv4HeaderChecksum(h), 0xb861);
  EXPECT_FALSE(VerifyIpv4HeaderChecksum(h));
  SetIpv4HeaderChecksum(h);
  EXPECT_EQ(LoadBe16(ByteSpan(h).subspan(10)), 0xb861);
  EXPECT_TRUE(VerifyIpv4HeaderChecksum(h));
  h[8] ^= 1;
  EXPECT_FALSE(VerifyIpv4HeaderChecksum(h));
}

TEST(IpPacketTest, ParseIpv4) {
  InnerSpec s;
  s.payload_bytes = 30;
  s.traffic_class = 0xB9;
  s.df = true;
  const Bytes p = MakeInner(s);
  auto info = ParseIpHeader(p);
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->version, 4);
  EXPECT_EQ(info->header_bytes, 20U);
  EXPECT_EQ(info->total_bytes, 50U);
  EXPECT_EQ(info->protocol, kIpProtoUdp);
  EXPECT_EQ(info->dscp(), 0xB9 >> 2);
  EXPECT_EQ(info->ecn(), 1);
  EXPECT_EQ(info->ttl, 17);
  EXPECT_TRUE(info->df);
  EXPECT_FALSE(info->ipv4_fragment);
  EXPECT_EQ(info->ipv4_id, 0x1234);
  EXPECT_EQ(info->src, V4(10, 0, 0, 1));
  EXPECT_EQ(info->dst, V4(10, 0, 1, 2));
  EXPECT_TRUE(VerifyIpv4HeaderChecksum(ByteSpan(p).first(20)));
}

TEST(IpPacketTest, ParseIpv4Errors) {
  const Bytes good = MakeInner(InnerSpec{});
  EXPECT_FALSE(ParseIpHeader({}).has_value());
  EXPECT_FALSE(ParseIpHeader(ByteSpan(good).first(19)).has_value());
  Bytes bad = good;
  bad[0] = 0x44;  // IHL 4
  EXPECT_FALSE(ParseIpHeader(bad).has_value());
  bad = good;
  bad[0] = 0x55;  // version 5
  EXPECT_FALSE(ParseIpHeader(bad).has_value());
  bad = good;
  StoreBe16(MutableByteSpan(bad).subspan(2), static_cast<std::uint16_t>(good.size() + 1));
  EXPECT_FALSE(ParseIpHeader(bad).has_value());
  StoreBe16(MutableByteSpan(bad).subspan(2), 19);
  EXPECT_FALSE(ParseIpHeader(bad).has_value());
  InnerSpec small_spec;
  small_spec.payload_bytes = 20;
  bad = MakeInner(small_spec);
  bad[0] = 0x4F;  // IHL 15: a 60-byte header in a 40-byte packet
  EXPECT_FALSE(ParseIpHeader(bad).has_value());
  bad = good;
  bad.push_back(0);  // link padding after the packet is allowed
  ASSERT_TRUE(ParseIpHeader(bad).has_value());
  EXPECT_EQ(ParseIpHeader(bad)->total_bytes, good.size());
  bad = good;
  StoreBe16(MutableByteSpan(bad).subspan(6), 0x2000);  // MF
  EXPECT_TRUE(ParseIpHeader(bad)->ipv4_fragment);
  StoreBe16(MutableByteSpan(bad).subspan(6), 0x0001);  // offset 8
  EXPECT_TRUE(ParseIpHeader(bad)->ipv4_fragment);
}

TEST(IpPacketTest, ParseIpv6) {
  InnerSpec s;
  s.v6 = true;
  s.payload_bytes = 24;
  s.traffic_class = 0xAB;
  const Bytes p = MakeInner(s);
  auto info = ParseIpHeader(p);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->version, 6);
  EXPECT_EQ(info->total_bytes, 64U);
  EXPECT_EQ(info->traffic_class, 0xAB);
  EXPECT_EQ(info->flow_label, 0x12345U);
  EXPECT_EQ(info->ttl, 33);
  EXPECT_EQ(info->src, V6(10, 7));
  EXPECT_FALSE(ParseIpHeader(ByteSpan(p).first(39)).has_value());
  EXPECT_FALSE(ParseIpHeader(ByteSpan(p).first(63)).has_value());
}

TEST(IpPacketTest, BuildOuterIpv4) {
  OuterHeaderParams o;
  o.src = V4(1, 2, 3, 4);
  o.dst = V4(5, 6, 7, 8);
  o.traffic_class = 0x2E;
  o.df = true;
  o.ipv4_id = 0xBEEF;
  o.payload_bytes = 100;
  auto h = BuildOuterHeader(o);
  ASSERT_TRUE(h.has_value());
  ASSERT_EQ(h->size(), 20U);
  EXPECT_TRUE(VerifyIpv4HeaderChecksum(*h));
  auto info = ParseIpHeader(*h);
  EXPECT_FALSE(info.has_value());  // total length 120 exceeds the 20-byte buffer
  Bytes full = *h;
  full.resize(120);
  info = ParseIpHeader(full);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->traffic_class, 0x2E);
  EXPECT_TRUE(info->df);
  EXPECT_EQ(info->ttl, 64);
  EXPECT_EQ(info->protocol, kIpProtoEsp);
  EXPECT_EQ(info->ipv4_id, 0xBEEF);
  o.payload_bytes = 65516;
  EXPECT_FALSE(BuildOuterHeader(o).has_value());
  o.dst = V6(1);
  EXPECT_FALSE(BuildOuterHeader(o).has_value());
}

TEST(IpPacketTest, BuildOuterIpv6) {
  OuterHeaderParams o;
  o.src = V6(1);
  o.dst = V6(2);
  o.traffic_class = 0xE3;
  o.protocol = kIpProtoUdp;
  o.payload_bytes = 60;
  auto h = BuildOuterHeader(o);
  ASSERT_TRUE(h.has_value());
  ASSERT_EQ(h->size(), 40U);
  Bytes full = *h;
  full.resize(100);
  auto info = ParseIpHeader(full);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->traffic_class, 0xE3);
  EXPECT_EQ(info->flow_label, 0U);
  EXPECT_EQ(info->ttl, 64);
  EXPECT_EQ(info->protocol, kIpProtoUdp);
  EXPECT_EQ(info->dst, V6(2));
}

TEST(IpPacketTest, UdpChecksumVerifiesToAllOnes) {
  for (bool v6 : {false, true}) {
    for (std::size_t n : {0U, 1U, 7U, 100U}) {
      Bytes seg(8 + n);
      WriteUdpHeader(seg, 4500, 4501, static_cast<std::uint16_t>(seg.size()));
      for (std::size_t i = 0; i < n; ++i) seg[8 + i] = static_cast<std::uint8_t>(i * 3 + 1);
      const IpAddress src = v6 ? V6(1) : V4(1, 2, 3, 4);
      const IpAddress dst = v6 ? V6(2) : V4(5, 6, 7, 8);
      const std::uint16_t c = UdpChecksum(src, dst, seg);
      EXPECT_NE(c, 0);
      StoreBe16(MutableByteSpan(seg).subspan(6), c);
      // Receiver's check: the sum over pseudo header and segment (checksum included) is 0xFFFF.
      std::uint32_t sum = OnesComplementSum(src.span());
      sum = OnesComplementSum(dst.span(), sum);
      sum = OnesComplementSum(seg, sum + kIpProtoUdp + static_cast<std::uint32_t>(seg.size()));
      while ((sum >> 16U) != 0) sum = (sum & 0xFFFFU) + (sum >> 16U);
      EXPECT_EQ(sum, 0xFFFFU) << v6 << " " << n;
      EXPECT_EQ(UdpChecksum(src, dst, seg), c);  // the stored field is ignored
    }
  }
}

TEST(IpPacketTest, Ipv6ChainAndInsertPoint) {
  InnerSpec s;
  s.v6 = true;
  s.v6_ext_headers = true;  // HbH, Routing, DestOpts, UDP
  s.payload_bytes = 16;
  const Bytes p = MakeInner(s);
  auto chain = WalkIpv6Chain(p);
  ASSERT_TRUE(chain.has_value()) << chain.error().message;
  ASSERT_EQ(chain->ext.size(), 3U);
  EXPECT_EQ(chain->ext[0].type, kIpProtoHopByHop);
  EXPECT_EQ(chain->ext[1].type, kIpProtoRouting);
  EXPECT_EQ(chain->ext[2].type, kIpProtoDestOpts);
  EXPECT_EQ(chain->upper_offset, 64U);
  EXPECT_EQ(chain->upper_protocol, kIpProtoUdp);
  EXPECT_EQ(chain->next_header_field, 56U);
  EXPECT_FALSE(chain->has_fragment);
  auto point = FindIpv6EspInsertPoint(p);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->offset, 56U);             // after Routing, before the final DestOpts
  EXPECT_EQ(point->next_header_field, 48U);  // the Routing header's Next Header
  EXPECT_EQ(point->next_header, kIpProtoDestOpts);

  // DestOpts before a Routing header stays in front of ESP.
  Bytes q = p;
  q[6] = kIpProtoDestOpts;  // base -> DestOpts -> Routing -> DestOpts -> UDP
  q[40] = kIpProtoRouting;  // first ext becomes DestOpts (same 8-byte layout)
  point = FindIpv6EspInsertPoint(q);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->offset, 56U);
  // No extension headers: after the base header.
  s.v6_ext_headers = false;
  point = FindIpv6EspInsertPoint(MakeInner(s));
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->offset, 40U);
  EXPECT_EQ(point->next_header_field, 6U);
  EXPECT_EQ(point->next_header, kIpProtoUdp);
  // Fragment header is reported; truncated extension header is an error.
  Bytes f = p;
  f[48] = kIpProtoFragment;  // Routing's next becomes Fragment (8 bytes)
  chain = WalkIpv6Chain(f);
  ASSERT_TRUE(chain.has_value());
  EXPECT_TRUE(chain->has_fragment);
  Bytes t = p;
  t[41] = 200;  // HbH length runs past the payload
  EXPECT_FALSE(WalkIpv6Chain(t).has_value());
  EXPECT_FALSE(WalkIpv6Chain(MakeInner(InnerSpec{})).has_value());  // IPv4
}

TEST(IpPacketTest, Rfc6040DecapsulationTable) {
  // rows: inner Not-ECT, ECT(0), ECT(1), CE; columns: outer Not-ECT, ECT(0), ECT(1), CE.
  const std::uint8_t inner[] = {kEcnNotEct, kEcnEct0, kEcnEct1, kEcnCe};
  const std::uint8_t outer[] = {kEcnNotEct, kEcnEct0, kEcnEct1, kEcnCe};
  const int drop = -1;
  const int table[4][4] = {{kEcnNotEct, kEcnNotEct, kEcnNotEct, drop},
                           {kEcnEct0, kEcnEct0, kEcnEct1, kEcnCe},
                           {kEcnEct1, kEcnEct1, kEcnEct1, kEcnCe},
                           {kEcnCe, kEcnCe, kEcnCe, kEcnCe}};
  for (int i = 0; i < 4; ++i) {
    for (int o = 0; o < 4; ++o) {
      const auto got = DecapsulatedEcn(inner[i], outer[o]);
      if (table[i][o] == drop) {
        EXPECT_FALSE(got.has_value()) << i << "," << o;
      } else {
        ASSERT_TRUE(got.has_value()) << i << "," << o;
        EXPECT_EQ(*got, table[i][o]) << i << "," << o;
      }
    }
  }
}

}  // namespace
}  // namespace espo::driver
