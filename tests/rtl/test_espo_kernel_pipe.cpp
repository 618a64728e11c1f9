// SPDX-License-Identifier: Apache-2.0
//
// espo kernel: IPv6 extension headers (the RTL walks the chain like the model) and the inbound
// pipeline (a packet's front end runs before the previous packet's FIN, so its replay and
// lifetime checks are repeated on the fresh SA state): duplicates in flight are released once,
// and a changed ESN inference re-runs the packet. Compared with ModelDevice throughout.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ipv6_ext.hpp"
#include "kernel_test_util.hpp"
#include "test_seed.hpp"

#include "espo/driver/batch_format.hpp"
#include "espo/driver/esp.hpp"
#include "espo/driver/replay_window.hpp"
#include "espo/regmap/espo_regs.hpp"

namespace espo::testing {
namespace {

// Transport IPv6 with extension headers out (ESP after hop-by-hop / routing / destination
// options before a routing header, long headers included), the results back in (rebuilt
// byte-identical), broken chains malformed; tunnel IPv6 with a chain in the outer header.
TEST(KernelPipeTest, Ipv6ExtensionHeadersMatchModel) {
  std::mt19937_64 rng(TestSeed());
  Pair p = OpenPair();
  ASSERT_TRUE(p.sim && p.model);
  std::uint32_t n = 0;
  for (int shape = 0; shape < 4; ++shape) {
    SaShape s;
    s.v6 = true;
    s.transport = shape != 3;
    s.gmac = shape == 1;
    s.udp = shape == 2;
    s.key256 = shape == 1;
    SCOPED_TRACE(Describe(s));
    const Bytes km = MakeKeymat(rng, s.key256);
    const std::uint32_t spi = 0x9000 + n;
    const std::uint32_t in_slot = spi & 63U;
    const std::uint32_t out_slot = 40 + n;
    SaConfig out = MakeSa(rng, s, Direction::kOut, spi, km);
    SaConfig in = MakeSa(rng, s, Direction::kIn, spi, km);
    InstallBoth(p, out_slot, out);
    InstallBoth(p, in_slot, in);

    std::vector<PacketIn> pkts;
    std::vector<bool> valid;
    for (int i = 0; i < 24; ++i) {
      Bytes inner = MakeInner(rng, true, rng() % 600);
      if (s.transport) UseSaAddresses(inner, out);
      const bool broken = i % 6 == 5;
      inner = InsertIpv6Ext(inner, RandomIpv6Chain(rng, broken), rng, i == 23);
      valid.push_back(!broken && i != 23);
      pkts.push_back(PacketIn{Direction::kOut, static_cast<std::uint16_t>(out_slot),
                              static_cast<std::uint32_t>(i), inner});
    }
    auto res = RunBoth(p, pkts, "out " + Describe(s));
    ASSERT_EQ(res.size(), pkts.size());
    std::vector<PacketIn> back;
    for (std::size_t i = 0; i < res.size(); ++i) {
      if (!s.transport || valid[i]) {
        EXPECT_EQ(res[i].status, PacketStatus::kOk) << "packet " << i;
      }
      if (res[i].status != PacketStatus::kOk) continue;
      Bytes esp = res[i].data;
      if (!s.transport) esp = InsertIpv6Ext(esp, RandomIpv6Chain(rng, i % 7 == 6), rng);
      back.push_back(PacketIn{Direction::kIn, driver::kNoSlot, static_cast<std::uint32_t>(i), esp});
    }
    auto res_in = RunBoth(p, back, "in " + Describe(s));
    ASSERT_EQ(res_in.size(), back.size());
    for (std::size_t i = 0; i < res_in.size(); ++i) {
      const std::size_t k = back[i].cookie;
      if (res_in[i].status == PacketStatus::kOk) {
        EXPECT_EQ(ToHex(res_in[i].data), ToHex(pkts[k].data)) << "packet " << k;
      } else {
        EXPECT_TRUE(!s.transport) << "packet " << k;  // only broken outer chains drop
      }
    }
    ExpectSameSlot(*p.sim, *p.model, Direction::kOut, out_slot);
    ExpectSameSlot(*p.sim, *p.model, Direction::kIn, in_slot);
    ++n;
  }
  ExpectSameCounters(*p.sim, *p.model);
}

// Two packets of one SA with the same sequence number, back to back in one batch (so the
// second's front end reads the SA before the first's FIN): exactly one is released.
TEST(KernelPipeTest, SameSequenceInFlightIsReleasedOnce) {
  std::mt19937_64 rng(TestSeed());
  Pair p = OpenPair();
  ASSERT_TRUE(p.sim && p.model);
  for (int variant = 0; variant < 3; ++variant) {
    SaShape s;
    s.esn = variant == 1;
    s.window = variant == 2 ? 1024 : 64;
    s.seq = variant == 1 ? 0xFFFFFFF0ULL : 0;
    SCOPED_TRACE(Describe(s));
    const Bytes km = MakeKeymat(rng, false);
    const std::uint32_t spi = 0xA000 + static_cast<std::uint32_t>(variant);
    SaConfig out = MakeSa(rng, s, Direction::kOut, spi, km);
    SaConfig in = MakeSa(rng, s, Direction::kIn, spi, km);
    InstallBoth(p, spi & 63U, in);
    const std::uint64_t base = s.seq;
    const std::uint64_t order[] = {1, 1, 2, 2, 2, 3, 1, 5, 4, 5, 4, 6, 6};
    std::vector<PacketIn> pkts;
    std::vector<Bytes> plain(7);  // the same sequence number carries the same packet
    for (std::uint64_t k : order) {
      if (plain[k].empty()) plain[k] = MakeInner(rng, false, k % 2 == 0 ? 1400 : 64 + k);
      auto esp = driver::EspEncapsulate(out, base + k, plain[k]);
      ASSERT_TRUE(esp.has_value()) << esp.error().message;
      pkts.push_back(
          PacketIn{Direction::kIn, driver::kNoSlot, static_cast<std::uint32_t>(k), *esp});
    }
    auto res = RunBoth(p, pkts, Describe(s));
    ASSERT_EQ(res.size(), pkts.size());
    std::vector<int> released(7, 0);
    for (std::size_t i = 0; i < res.size(); ++i) {
      if (res[i].status == PacketStatus::kOk) {
        ++released[pkts[i].cookie];
        EXPECT_EQ(ToHex(res[i].data), ToHex(plain[pkts[i].cookie])) << "packet " << i;
      } else {
        EXPECT_EQ(res[i].status, PacketStatus::kReplay) << "packet " << i;
      }
    }
    for (int k = 1; k <= 6; ++k) EXPECT_EQ(released[k], 1) << "sequence " << k;
    ExpectSameSlot(*p.sim, *p.model, Direction::kIn, spi & 63U);
  }
  ExpectSameCounters(*p.sim, *p.model);
}

// ESN: packet 1 moves the right edge by more than 2^31, so packet 2's high half inferred on
// the state before packet 1 (its front end) differs from the one inferred after (its FIN): the
// engine re-runs packet 2 with the fresh inference, like the model that runs one at a time.
TEST(KernelPipeTest, EsnInferenceChangedByOlderPacketReruns) {
  std::mt19937_64 rng(TestSeed());
  Pair p = OpenPair();
  ASSERT_TRUE(p.sim && p.model);
  for (int variant = 0; variant < 2; ++variant) {
    SaShape s;
    s.esn = true;
    s.window = 32;
    s.seq = 0x1000;
    SCOPED_TRACE("variant " + std::to_string(variant));
    const Bytes km = MakeKeymat(rng, false);
    const std::uint32_t spi = 0xB000 + static_cast<std::uint32_t>(variant);
    SaConfig out = MakeSa(rng, s, Direction::kOut, spi, km);
    SaConfig in = MakeSa(rng, s, Direction::kIn, spi, km);
    InstallBoth(p, spi & 63U, in);
    // variant 0: the sender really is in epoch 1 (released); variant 1: epoch 0 (auth drop)
    const std::uint64_t seqs[] = {0x90000000ULL, variant == 0 ? 0x100002000ULL : 0x2000ULL,
                                  0x90000001ULL};
    std::vector<PacketIn> pkts;
    for (std::uint64_t seq : seqs) {
      auto esp = driver::EspEncapsulate(out, seq, MakeInner(rng, false, 1000));
      ASSERT_TRUE(esp.has_value()) << esp.error().message;
      pkts.push_back(
          PacketIn{Direction::kIn, driver::kNoSlot, static_cast<std::uint32_t>(seq), *esp});
    }
    auto res = RunBoth(p, pkts, "esn rerun");
    ASSERT_EQ(res.size(), 3U);
    EXPECT_EQ(res[0].status, PacketStatus::kOk);
    EXPECT_EQ(res[1].status, variant == 0 ? PacketStatus::kOk : PacketStatus::kAuth);
    ExpectSameSlot(*p.sim, *p.model, Direction::kIn, spi & 63U);
  }
  ExpectSameCounters(*p.sim, *p.model);
}

struct RawResult {
  std::uint32_t status = 0;
  std::uint32_t count = 0;
  std::uint32_t bytes = 0;
  Bytes out;
};

// One batch through the raw registers (the Engine never lets OUT_FULL happen): `in` records
// from index `first`, OUT_SIZE `out_size`.
RawResult RawBatch(Engine& e, const std::vector<PacketIn>& in, std::size_t first,
                   std::uint32_t out_size) {
  namespace rm = regmap;
  driver::Device& d = e.device();
  Bytes buf;
  for (std::size_t i = first; i < in.size(); ++i) {
    const PacketIn& p = in[i];
    const std::size_t at = buf.size();
    buf.resize(at + 16 + (p.data.size() + 15) / 16 * 16, 0);
    driver::RecordHeader h;
    h.length = static_cast<std::uint16_t>(p.data.size());
    h.slot = p.slot;
    h.dir = p.dir == Direction::kIn ? 1 : 0;
    h.cookie = p.cookie;
    driver::EncodeRecordHeader(h, MutableByteSpan(buf).subspan(at, 16));
    std::copy(p.data.begin(), p.data.end(), buf.begin() + static_cast<std::ptrdiff_t>(at + 16));
  }
  RawResult r;
  auto ib = d.AllocBuffer(buf.size());
  auto ob = d.AllocBuffer(out_size);
  EXPECT_TRUE(ib && ob);
  if (!ib || !ob) return r;
  EXPECT_TRUE(d.WriteBuffer(*ib, 0, buf).has_value());
  const auto wr = [&](std::uint32_t off, std::uint32_t v) {
    EXPECT_TRUE(d.WriteReg(off, v).has_value());
  };
  wr(rm::kInAddrLoOffset, static_cast<std::uint32_t>(ib->device_address));
  wr(rm::kInAddrHiOffset, static_cast<std::uint32_t>(ib->device_address >> 32U));
  wr(rm::kInCountOffset, static_cast<std::uint32_t>(in.size() - first));
  wr(rm::kOutAddrLoOffset, static_cast<std::uint32_t>(ob->device_address));
  wr(rm::kOutAddrHiOffset, static_cast<std::uint32_t>(ob->device_address >> 32U));
  wr(rm::kOutSizeOffset, out_size);
  EXPECT_TRUE(d.RunBatch(std::chrono::milliseconds(60000)).has_value());
  r.status = d.ReadReg(rm::kBatchStatusOffset).value_or(0xFFFFFFFFU);
  r.count = d.ReadReg(rm::kOutCountOffset).value_or(0xFFFFFFFFU);
  r.bytes = d.ReadReg(rm::kOutBytesOffset).value_or(0xFFFFFFFFU);
  if (r.bytes <= out_size) {
    r.out.resize(r.bytes);
    EXPECT_TRUE(d.ReadBuffer(*ob, 0, r.out).has_value());
  }
  d.FreeBuffer(*ib);
  d.FreeBuffer(*ob);
  return r;
}

// OUT_FULL with packets in flight (inbound parked, outbound fed): the batch stops at the same
// record as the model (room rule 16 + round16(length + 96)), results and SA state identical,
// and the resubmitted rest continues identically.
TEST(KernelPipeTest, OutFullWithPacketsInFlightMatchesModel) {
  std::mt19937_64 rng(TestSeed());
  Pair p = OpenPair();
  ASSERT_TRUE(p.sim && p.model);
  SaShape s;
  const Bytes km = MakeKeymat(rng, false);
  const std::uint32_t spi = 0xC005;
  SaConfig out = MakeSa(rng, s, Direction::kOut, spi, km);
  SaConfig in = MakeSa(rng, s, Direction::kIn, spi, km);
  InstallBoth(p, spi & 63U, in);
  InstallBoth(p, 7, out);
  std::vector<PacketIn> pkts;
  for (std::uint32_t i = 0; i < 10; ++i) {
    const std::size_t n = i % 3 == 2 ? 40 : 1400 + rng() % 100;
    if (i % 4 == 3) {
      pkts.push_back(PacketIn{Direction::kOut, 7, i, MakeInner(rng, false, n)});
    } else {
      auto esp = driver::EspEncapsulate(out, 1 + i, MakeInner(rng, false, n));
      ASSERT_TRUE(esp.has_value());
      pkts.push_back(PacketIn{Direction::kIn, driver::kNoSlot, i, *esp});
    }
  }
  for (std::uint32_t room : {1900U, 3000U, 4700U, 6000U}) {
    SCOPED_TRACE("OUT_SIZE " + std::to_string(room));
    std::size_t first = 0;
    for (int round = 0; round < 20 && first < pkts.size(); ++round) {
      const RawResult a = RawBatch(*p.sim, pkts, first, room);
      const RawResult b = RawBatch(*p.model, pkts, first, room);
      EXPECT_EQ(a.status, b.status);
      EXPECT_EQ(a.count, b.count);
      EXPECT_EQ(a.bytes, b.bytes);
      EXPECT_EQ(ToHex(a.out), ToHex(b.out));
      ExpectSameSlot(*p.sim, *p.model, Direction::kIn, spi & 63U);
      ExpectSameSlot(*p.sim, *p.model, Direction::kOut, 7);
      if (a.count == 0 || a.count != b.count) break;
      first += a.count;
    }
    EXPECT_EQ(first, pkts.size());  // later rooms: the inbound packets are replays now
  }
  ExpectSameCounters(*p.sim, *p.model);
}

}  // namespace
}  // namespace espo::testing
