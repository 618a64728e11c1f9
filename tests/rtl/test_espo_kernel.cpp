// SPDX-License-Identifier: Apache-2.0
//
// espo kernel ESP datapath through SimDevice + Engine, compared packet by packet, counter by
// counter, event by event with ModelDevice, and checked against the software ESP oracle
// (EspDecapsulate / EspEncapsulate, OpenSSL).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernel_test_util.hpp"
#include "test_seed.hpp"

#include "espo/driver/esp.hpp"
#include "espo/driver/replay_window.hpp"

namespace espo::testing {
namespace {

std::vector<SaShape> Shapes() {
  std::vector<SaShape> v;
  for (int i = 0; i < 12; ++i) {
    SaShape s;
    s.key256 = (i & 1) != 0;
    s.transport = (i % 3) == 1;
    s.v6 = (i % 4) >= 2;
    s.icv = static_cast<std::uint8_t>(8 + 4 * (i % 3));
    s.esn = (i % 5) == 3;
    s.udp = (i % 6) == 4 || i == 9;
    v.push_back(s);
  }
  SaShape gmac;
  gmac.gmac = true;
  v.push_back(gmac);
  gmac.key256 = true;
  gmac.transport = true;
  gmac.v6 = true;
  gmac.esn = true;
  v.push_back(gmac);
  SaShape udp6;
  udp6.v6 = true;
  udp6.udp = true;
  v.push_back(udp6);
  return v;
}

// Outbound packets: RTL == model, and the software ESP decapsulates them to the input.
TEST(KernelEspTest, OutboundMatchesModelAndDecapsulatesWithSoftwareEsp) {
  std::mt19937_64 rng(TestSeed());
  Pair p = OpenPair();
  ASSERT_TRUE(p.sim && p.model);
  std::uint32_t slot = 0;
  for (const SaShape& s : Shapes()) {
    SCOPED_TRACE(Describe(s));
    const Bytes km = MakeKeymat(rng, s.key256);
    const std::uint32_t spi = 0x5000 + slot;
    SaConfig out = MakeSa(rng, s, Direction::kOut, spi, km);
    SaConfig in = MakeSa(rng, s, Direction::kIn, spi, km);
    InstallBoth(p, slot, out);
    auto window = driver::ReplayWindow::Create(in.replay_window, in.esn, 0);
    ASSERT_TRUE(window.has_value());
    std::vector<PacketIn> pkts;
    const std::size_t sizes[] = {0, 1, 2, 3, 13, 16, 17, 100, 255, 1000, 1400};
    for (std::size_t n : sizes) {
      const bool v6_inner = s.transport ? s.v6 : (rng() & 1) != 0;
      Bytes inner = MakeInner(rng, v6_inner, n);
      if (s.transport) UseSaAddresses(inner, out);
      pkts.push_back(PacketIn{Direction::kOut, static_cast<std::uint16_t>(slot),
                              static_cast<std::uint32_t>(rng()), inner});
    }
    auto res = RunBoth(p, pkts, Describe(s));
    ASSERT_EQ(res.size(), pkts.size());
    for (std::size_t i = 0; i < res.size(); ++i) {
      ASSERT_EQ(res[i].status, PacketStatus::kOk) << "packet " << i;
      EXPECT_EQ(res[i].seq_lo, i + 1);
      auto dec = driver::EspDecapsulate(in, *window, res[i].data);
      ASSERT_TRUE(dec.accepted()) << "packet " << i << ": " << dec.detail;
      EXPECT_EQ(ToHex(dec.packet), ToHex(pkts[i].data)) << "packet " << i;
    }
    ExpectSameSlot(*p.sim, *p.model, Direction::kOut, slot);
    ++slot;
  }
  ExpectSameCounters(*p.sim, *p.model);
}

// Inbound packets produced by the software ESP are released byte-identical.
TEST(KernelEspTest, InboundReleasesSoftwareEspPacketsByteIdentical) {
  std::mt19937_64 rng(TestSeed());
  Pair p = OpenPair();
  ASSERT_TRUE(p.sim && p.model);
  std::uint32_t n = 0;
  for (SaShape s : Shapes()) {
    SCOPED_TRACE(Describe(s));
    const Bytes km = MakeKeymat(rng, s.key256);
    const std::uint32_t spi = 0x7000 + n;
    const std::uint32_t slot = spi & 63U;
    SaConfig out = MakeSa(rng, s, Direction::kOut, spi, km);
    SaConfig in = MakeSa(rng, s, Direction::kIn, spi, km);
    InstallBoth(p, slot, in);
    std::vector<PacketIn> pkts;
    std::vector<Bytes> plain;
    for (std::uint64_t seq = 1; seq <= 8; ++seq) {
      const bool v6_inner = s.transport ? s.v6 : (rng() & 1) != 0;
      Bytes inner = MakeInner(rng, v6_inner, rng() % 700);
      if (s.transport) UseSaAddresses(inner, out);
      auto esp = driver::EspEncapsulate(out, seq, inner);
      ASSERT_TRUE(esp.has_value()) << esp.error().message;
      pkts.push_back(
          PacketIn{Direction::kIn, driver::kNoSlot, static_cast<std::uint32_t>(seq), *esp});
      plain.push_back(inner);
    }
    auto res = RunBoth(p, pkts, Describe(s));
    ASSERT_EQ(res.size(), pkts.size());
    for (std::size_t i = 0; i < res.size(); ++i) {
      ASSERT_EQ(res[i].status, PacketStatus::kOk) << "packet " << i;
      EXPECT_EQ(ToHex(res[i].data), ToHex(plain[i])) << "packet " << i;
    }
    ExpectSameSlot(*p.sim, *p.model, Direction::kIn, slot);
    ++n;
  }
  ExpectSameCounters(*p.sim, *p.model);
}

// Every drop reason, each with its counter; replayed and too-old packets are dropped.
TEST(KernelEspTest, DropsByReasonLikeTheModel) {
  std::mt19937_64 rng(TestSeed());
  Pair p = OpenPair();
  ASSERT_TRUE(p.sim && p.model);
  SaShape s;
  s.window = 32;
  const Bytes km = MakeKeymat(rng, false);
  SaConfig out = MakeSa(rng, s, Direction::kOut, 0x4001, km);
  SaConfig in = MakeSa(rng, s, Direction::kIn, 0x4001, km);
  InstallBoth(p, 1, in);
  auto enc = [&](std::uint64_t seq) {
    auto e = driver::EspEncapsulate(out, seq, MakeIpv4(rng, 64));
    EXPECT_TRUE(e.has_value());
    return e ? *e : Bytes{};
  };
  std::vector<PacketIn> pkts;
  auto add = [&](Bytes b) {
    pkts.push_back(PacketIn{Direction::kIn, driver::kNoSlot,
                            static_cast<std::uint32_t>(pkts.size()), std::move(b)});
  };
  add(enc(100));  // ok
  add(enc(100));  // replay (duplicate)
  add(enc(60));   // replay (too old: 100 - 60 >= 32)
  add(enc(90));   // ok (inside the window)
  Bytes bad_icv = enc(101);
  bad_icv.back() ^= 1U;
  add(bad_icv);  // auth
  Bytes bad_spi = enc(102);
  bad_spi[20 + 3] ^= 0x40U;  // SPI -> no slot with that SPI
  add(bad_spi);              // no_sa
  Bytes bad_dst = enc(103);
  bad_dst[19] ^= 1U;
  driver::SetIpv4HeaderChecksum(MutableByteSpan(bad_dst).first(20));
  add(bad_dst);  // no_sa (destination)
  Bytes bad_ck = enc(104);
  bad_ck[8] ^= 1U;  // TTL without checksum fix
  add(bad_ck);      // malformed
  Bytes trunc = enc(105);
  trunc.resize(20 + 8 + 8 + 2);
  StoreBe16(MutableByteSpan(trunc).subspan(2), static_cast<std::uint16_t>(trunc.size()));
  driver::SetIpv4HeaderChecksum(MutableByteSpan(trunc).first(20));
  add(trunc);                 // malformed (shorter than header + IV + trailer + ICV)
  add(Bytes{0x55, 1, 2, 3});  // malformed (not IP)
  add(MakeIpv4(rng, 30, 6));  // malformed (TCP, not ESP)
  // NOT_ESP: UDP 4500 with a non-ESP marker, and a keepalive
  Bytes ike = MakeIpv4(rng, 8 + 20, 17);
  StoreBe16(MutableByteSpan(ike).subspan(20), 4500);
  StoreBe16(MutableByteSpan(ike).subspan(22), 4500);
  StoreBe16(MutableByteSpan(ike).subspan(24), 28);
  StoreBe16(MutableByteSpan(ike).subspan(26), 0);
  for (int i = 28; i < 32; ++i) ike[i] = 0;
  add(ike);
  Bytes ka = MakeIpv4(rng, 9, 17);
  StoreBe16(MutableByteSpan(ka).subspan(20), 4500);
  StoreBe16(MutableByteSpan(ka).subspan(22), 4500);
  StoreBe16(MutableByteSpan(ka).subspan(24), 9);
  StoreBe16(MutableByteSpan(ka).subspan(26), 0);
  ka[28] = 0xFF;
  add(ka);
  // outbound: free slot, out-of-range slot, malformed, too big
  pkts.push_back(PacketIn{Direction::kOut, 9, 1, MakeIpv4(rng, 10)});
  pkts.push_back(PacketIn{Direction::kOut, 200, 2, MakeIpv4(rng, 10)});
  auto res = RunBoth(p, pkts, "drops");
  ASSERT_EQ(res.size(), pkts.size());
  const PacketStatus want[] = {
      PacketStatus::kOk,        PacketStatus::kReplay,    PacketStatus::kReplay,
      PacketStatus::kOk,        PacketStatus::kAuth,      PacketStatus::kNoSa,
      PacketStatus::kNoSa,      PacketStatus::kMalformed, PacketStatus::kMalformed,
      PacketStatus::kMalformed, PacketStatus::kMalformed, PacketStatus::kNotEsp,
      PacketStatus::kNotEsp,    PacketStatus::kNoSa,      PacketStatus::kNoSa};
  for (std::size_t i = 0; i < res.size(); ++i) {
    EXPECT_EQ(driver::ToString(res[i].status), driver::ToString(want[i])) << "packet " << i;
  }
  // outbound malformed / too big / lifetime on an installed slot
  SaConfig o2 = MakeSa(rng, s, Direction::kOut, 0x4002, km);
  o2.limits.hard_packets = 1;
  InstallBoth(p, 2, o2);
  std::vector<PacketIn> o;
  o.push_back(PacketIn{Direction::kOut, 2, 1, Bytes{0x45, 0, 0}});         // malformed
  o.push_back(PacketIn{Direction::kOut, 2, 2, MakeIpv4(rng, 9600 - 20)});  // too big
  o.push_back(PacketIn{Direction::kOut, 2, 3, MakeIpv4(rng, 10)});         // ok, hard expiry
  o.push_back(PacketIn{Direction::kOut, 2, 4, MakeIpv4(rng, 10)});         // lifetime
  auto r2 = RunBoth(p, o, "outbound drops");
  ASSERT_EQ(r2.size(), 4U);
  EXPECT_EQ(r2[0].status, PacketStatus::kMalformed);
  EXPECT_EQ(r2[1].status, PacketStatus::kTooBig);
  EXPECT_EQ(r2[2].status, PacketStatus::kOk);
  EXPECT_EQ(r2[3].status, PacketStatus::kLifetime);
  ExpectSameCounters(*p.sim, *p.model);
  ExpectSameSlot(*p.sim, *p.model, Direction::kIn, 1);
  ExpectSameSlot(*p.sim, *p.model, Direction::kOut, 2);
}

// A flipped bit anywhere in the ESP part (SPI .. ICV) or in the IPv4 header never releases.
TEST(KernelEspTest, FlippedBitNeverReleasesPlaintext) {
  std::mt19937_64 rng(TestSeed());
  Pair p = OpenPair();
  ASSERT_TRUE(p.sim && p.model);
  for (int variant = 0; variant < 2; ++variant) {
    SaShape s;
    s.gmac = variant == 1;
    s.window = 1024;
    const Bytes km = MakeKeymat(rng, variant == 1);
    const std::uint32_t spi = 0x6000 + 3 + variant;
    SaConfig out = MakeSa(rng, s, Direction::kOut, spi, km);
    SaConfig in = MakeSa(rng, s, Direction::kIn, spi, km);
    InstallBoth(p, spi & 63U, in);
    std::vector<PacketIn> pkts;
    for (std::uint64_t seq = 1; seq <= static_cast<std::uint64_t>(60 * SoakFactor()); ++seq) {
      auto e = driver::EspEncapsulate(out, seq, MakeIpv4(rng, rng() % 200));
      ASSERT_TRUE(e.has_value());
      Bytes b = *e;
      const std::size_t bit = rng() % (8 * b.size());
      b[bit / 8] ^= static_cast<std::uint8_t>(1U << (bit % 8));
      pkts.push_back(PacketIn{Direction::kIn, driver::kNoSlot, static_cast<std::uint32_t>(bit), b});
    }
    auto res = RunBoth(p, pkts, "flips");
    for (std::size_t i = 0; i < res.size(); ++i) {
      EXPECT_NE(res[i].status, PacketStatus::kOk) << "bit " << res[i].cookie;
      EXPECT_TRUE(res[i].data.empty()) << "bit " << res[i].cookie;
    }
  }
  ExpectSameCounters(*p.sim, *p.model);
}

// ESN: outbound crossing 2^32 and inbound inference across the boundary; non-ESN overflow.
TEST(KernelEspTest, EsnCrossesTwoToThe32AndSequenceOverflowExpires) {
  std::mt19937_64 rng(TestSeed());
  Pair p = OpenPair();
  ASSERT_TRUE(p.sim && p.model);
  SaShape s;
  s.esn = true;
  s.seq = (1ULL << 32U) - 3;
  const Bytes km = MakeKeymat(rng, true);
  SaConfig out = MakeSa(rng, s, Direction::kOut, 0x9002, km);
  SaConfig in = MakeSa(rng, s, Direction::kIn, 0x9002, km);
  InstallBoth(p, 0, out);
  InstallBoth(p, 2, in);
  std::vector<PacketIn> pkts;
  for (int i = 0; i < 6; ++i) pkts.push_back(PacketIn{Direction::kOut, 0, 0, MakeIpv4(rng, 50)});
  auto res = RunBoth(p, pkts, "esn out");
  ASSERT_EQ(res.size(), 6U);
  std::vector<PacketIn> back;
  for (const auto& r : res) {
    ASSERT_EQ(r.status, PacketStatus::kOk);
    back.push_back(PacketIn{Direction::kIn, driver::kNoSlot, 0, r.data});
  }
  back.push_back(back[1]);  // replay across the boundary
  auto res2 = RunBoth(p, back, "esn in");
  ASSERT_EQ(res2.size(), 7U);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(res2[i].status, PacketStatus::kOk) << i;
    EXPECT_EQ(ToHex(res2[i].data), ToHex(pkts[i].data)) << i;
  }
  EXPECT_EQ(res2[6].status, PacketStatus::kReplay);
  ExpectSameSlot(*p.sim, *p.model, Direction::kOut, 0);
  ExpectSameSlot(*p.sim, *p.model, Direction::kIn, 2);
  // non-ESN: the last number 2^32 - 1 is sent, then SEQ_OVERFLOW and lifetime drops
  SaShape n;
  n.seq = (1ULL << 32U) - 3;
  SaConfig o2 = MakeSa(rng, n, Direction::kOut, 0x9003, km);
  InstallBoth(p, 3, o2);
  std::vector<PacketIn> q;
  for (int i = 0; i < 4; ++i) q.push_back(PacketIn{Direction::kOut, 3, 0, MakeIpv4(rng, 20)});
  auto r3 = RunBoth(p, q, "overflow");
  ASSERT_EQ(r3.size(), 4U);
  EXPECT_EQ(r3[1].seq_lo, 0xFFFFFFFFU);
  EXPECT_EQ(r3[2].status, PacketStatus::kLifetime);
  ExpectSameSlot(*p.sim, *p.model, Direction::kOut, 3);
  ExpectSameCounters(*p.sim, *p.model);
}

// Soft/hard limits in packets and bytes, SET_LIMITS, hard-expired slots pass nothing.
TEST(KernelEspTest, LifetimesPostEventsLikeTheModel) {
  std::mt19937_64 rng(TestSeed());
  Pair p = OpenPair();
  ASSERT_TRUE(p.sim && p.model);
  SaShape s;
  const Bytes km = MakeKeymat(rng, false);
  SaConfig a = MakeSa(rng, s, Direction::kOut, 0xA001, km);
  a.limits.soft_packets = 3;
  a.limits.hard_packets = 5;
  SaConfig b = MakeSa(rng, s, Direction::kOut, 0xA002, km);
  b.limits.soft_bytes = 300;
  b.limits.hard_bytes = 1000;
  SaConfig in = MakeSa(rng, s, Direction::kIn, 0xA003, km);
  in.limits.soft_packets = 2;
  in.limits.hard_bytes = 500;
  InstallBoth(p, 1, a);
  InstallBoth(p, 2, b);
  InstallBoth(p, 3, in);
  SaConfig out_for_in = MakeSa(rng, s, Direction::kOut, 0xA003, km);
  std::vector<PacketIn> pk;
  for (int i = 0; i < 7; ++i) {
    pk.push_back(PacketIn{Direction::kOut, 1, 0, MakeIpv4(rng, 10)});
    pk.push_back(PacketIn{Direction::kOut, 2, 0, MakeIpv4(rng, 90)});
    auto e =
        driver::EspEncapsulate(out_for_in, static_cast<std::uint64_t>(i + 1), MakeIpv4(rng, 100));
    ASSERT_TRUE(e.has_value());
    pk.push_back(PacketIn{Direction::kIn, driver::kNoSlot, 0, *e});
  }
  RunBoth(p, pk, "lifetimes");
  for (std::uint32_t slot = 1; slot <= 2; ++slot)
    ExpectSameSlot(*p.sim, *p.model, Direction::kOut, slot);
  ExpectSameSlot(*p.sim, *p.model, Direction::kIn, 3);
  ExpectSameCounters(*p.sim, *p.model);
  // SET_LIMITS below the current count fires on the next packet
  SaConfig c = MakeSa(rng, s, Direction::kOut, 0xA004, km);
  InstallBoth(p, 4, c);
  std::vector<PacketIn> q(3, PacketIn{Direction::kOut, 4, 0, MakeIpv4(rng, 10)});
  RunBoth(p, q, "before limits");
  driver::SaLimits lim;
  lim.soft_packets = 2;
  lim.hard_packets = 4;
  ASSERT_TRUE(p.sim->UpdateLimits(Direction::kOut, 4, lim).has_value());
  ASSERT_TRUE(p.model->UpdateLimits(Direction::kOut, 4, lim).has_value());
  RunBoth(p, q, "after limits");
  ExpectSameSlot(*p.sim, *p.model, Direction::kOut, 4);
  ExpectSameCounters(*p.sim, *p.model);
}

// Randomized mixed traffic over random SAs: RTL == model in every result, counter and event.
TEST(KernelEspTest, RandomizedTrafficMatchesModel) {
  const std::uint64_t seed = TestSeed();
  SCOPED_TRACE("ESPO_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  Pair p = OpenPair();
  ASSERT_TRUE(p.sim && p.model);
  std::vector<SaConfig> outs;
  std::vector<SaShape> shapes;
  for (std::uint32_t i = 0; i < 8; ++i) {
    SaShape s;
    s.key256 = (rng() & 1) != 0;
    s.gmac = (rng() % 4) == 0;
    s.transport = (rng() % 3) == 0;
    s.v6 = (rng() & 1) != 0;
    s.esn = (rng() % 3) == 0;
    s.udp = (rng() % 3) == 0;
    s.icv = s.gmac ? 16 : static_cast<std::uint8_t>(8 + 4 * (rng() % 3));
    s.window = 1U << (5 + rng() % 6);
    const Bytes km = MakeKeymat(rng, s.key256);
    const std::uint32_t spi = 0x10000 + 64 * i + 8 + i;
    SaConfig out = MakeSa(rng, s, Direction::kOut, spi, km);
    out.limits.soft_packets = rng() % 2 ? 0 : 5 + rng() % 20;
    out.limits.hard_bytes = rng() % 2 ? 0 : 4000 + rng() % 20000;
    SaConfig in = MakeSa(rng, s, Direction::kIn, spi, km);
    in.limits.hard_packets = rng() % 2 ? 0 : 10 + rng() % 30;
    InstallBoth(p, i, out);
    InstallBoth(p, spi & 63U, in);
    outs.push_back(std::move(out));
    shapes.push_back(s);
  }
  const int rounds = 3 * SoakFactor();
  for (int r = 0; r < rounds; ++r) {
    std::vector<PacketIn> o;
    for (int k = 0; k < 24; ++k) {
      const std::uint32_t i = rng() % outs.size();
      const bool v6_inner = shapes[i].transport ? shapes[i].v6 : (rng() & 1) != 0;
      Bytes inner = MakeInner(rng, v6_inner, rng() % 600);
      if (shapes[i].transport) UseSaAddresses(inner, outs[i]);
      o.push_back(PacketIn{Direction::kOut, static_cast<std::uint16_t>(i),
                           static_cast<std::uint32_t>(rng()), inner});
    }
    auto res = RunBoth(p, o, "random out round " + std::to_string(r));
    // loop back (shuffled, some duplicated, some corrupted)
    std::vector<PacketIn> in;
    for (const auto& x : res) {
      if (x.status != PacketStatus::kOk) continue;
      Bytes b = x.data;
      const unsigned pick = rng() % 8;
      if (pick == 0 && b.size() > 40) b[b.size() - 1 - rng() % 20] ^= 0x10U;
      in.push_back(PacketIn{Direction::kIn, driver::kNoSlot, static_cast<std::uint32_t>(rng()), b});
      if (pick == 1) in.push_back(in.back());
    }
    std::shuffle(in.begin(), in.end(), rng);
    RunBoth(p, in, "random in round " + std::to_string(r));
    ExpectSameCounters(*p.sim, *p.model);
  }
  for (std::uint32_t i = 0; i < outs.size(); ++i) {
    ExpectSameSlot(*p.sim, *p.model, Direction::kOut, i);
    ExpectSameSlot(*p.sim, *p.model, Direction::kIn, outs[i].spi & 63U);
  }
}

}  // namespace
}  // namespace espo::testing
