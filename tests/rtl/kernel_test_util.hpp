// SPDX-License-Identifier: Apache-2.0
//
// Helpers for the espo kernel tests: an Engine on the verilated kernel (SimDevice) next to an
// Engine on the reference model (ModelDevice) with the same capabilities, IP packet builders and
// SA builders. Every operation is applied to both and the results compared.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "espo/driver/bytes.hpp"
#include "espo/driver/engine.hpp"
#include "espo/driver/ip_packet.hpp"
#include "espo/driver/model_device.hpp"
#include "espo/driver/sa_config.hpp"
#include "espo/sim/sim_device.hpp"

namespace espo::testing {

using driver::Direction;
using driver::Engine;
using driver::PacketIn;
using driver::PacketOut;
using driver::PacketStatus;
using driver::SaConfig;

inline std::unique_ptr<Engine> OpenSimEngine(std::uint32_t slots = 64) {
  auto dev = sim::OpenSimDevice(slots);
  EXPECT_TRUE(dev.has_value()) << (dev ? "" : dev.error().message);
  if (!dev) return nullptr;
  auto eng = Engine::Open(std::move(*dev));
  EXPECT_TRUE(eng.has_value()) << (eng ? "" : eng.error().message);
  return eng ? std::move(*eng) : nullptr;
}

inline std::unique_ptr<Engine> OpenModelEngine(const driver::Capabilities& caps) {
  driver::ModelOptions opt;
  opt.sa_slots = caps.out_slots;
  opt.event_depth = caps.event_depth;
  opt.max_packet = caps.max_packet;
  auto dev = driver::OpenModelDevice(opt);
  EXPECT_TRUE(dev.has_value());
  if (!dev) return nullptr;
  auto eng = Engine::Open(std::move(*dev));
  EXPECT_TRUE(eng.has_value()) << (eng ? "" : eng.error().message);
  return eng ? std::move(*eng) : nullptr;
}

inline Bytes RandomBytes(std::mt19937_64& rng, std::size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

// An IPv4 packet with `payload` bytes of random payload.
inline Bytes MakeIpv4(std::mt19937_64& rng, std::size_t payload, std::uint8_t proto = 17,
                      std::uint8_t tos = 0, bool df = false) {
  Bytes p(20 + payload);
  p[0] = 0x45;
  p[1] = tos;
  StoreBe16(MutableByteSpan(p).subspan(2), static_cast<std::uint16_t>(p.size()));
  StoreBe16(MutableByteSpan(p).subspan(4), static_cast<std::uint16_t>(rng()));
  p[6] = df ? 0x40 : 0x00;
  p[8] = 63;
  p[9] = proto;
  for (int i = 12; i < 20; ++i) p[i] = static_cast<std::uint8_t>(rng());
  for (std::size_t i = 20; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(rng());
  driver::SetIpv4HeaderChecksum(MutableByteSpan(p).first(20));
  return p;
}

inline Bytes MakeIpv6(std::mt19937_64& rng, std::size_t payload, std::uint8_t nh = 17,
                      std::uint8_t tc = 0) {
  Bytes p(40 + payload);
  p[0] = static_cast<std::uint8_t>(0x60 | (tc >> 4U));
  p[1] = static_cast<std::uint8_t>(tc << 4U);
  StoreBe16(MutableByteSpan(p).subspan(4), static_cast<std::uint16_t>(payload));
  p[6] = nh;
  p[7] = 61;
  for (std::size_t i = 8; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(rng());
  return p;
}

struct SaShape {
  bool key256 = false;
  bool gmac = false;
  bool transport = false;
  bool v6 = false;  // outer (tunnel) / packet (transport) family
  bool esn = false;
  bool udp = false;
  std::uint8_t icv = 16;
  std::uint64_t seq = 0;
  std::uint32_t window = 64;
};

inline std::string Describe(const SaShape& s) {
  return std::string(s.key256 ? "aes256" : "aes128") + (s.gmac ? " gmac" : " gcm") +
         (s.transport ? " transport" : " tunnel") + (s.v6 ? " v6" : " v4") + (s.esn ? " esn" : "") +
         (s.udp ? " udp" : "") + " icv" + std::to_string(s.icv) + " seq" + std::to_string(s.seq);
}

// A pair of SAs (out and in) with the same key and SPI, so the in SA decapsulates the out SA's
// packets (loopback).
inline SaConfig MakeSa(std::mt19937_64& rng, const SaShape& s, Direction dir, std::uint32_t spi,
                       const Bytes& keymat) {
  SaConfig sa;
  sa.spi = spi;
  sa.dir = dir;
  sa.mode = s.transport ? driver::Mode::kTransport : driver::Mode::kTunnel;
  sa.alg = s.gmac ? driver::Algorithm::kGmac : driver::Algorithm::kGcm;
  auto km = driver::KeyMaterial::FromBytes(keymat);
  EXPECT_TRUE(km.has_value());
  if (km) sa.key = std::move(*km);
  sa.icv_bytes = s.icv;
  sa.esn = s.esn;
  sa.src.v6 = sa.dst.v6 = s.v6;
  sa.src.bytes = {10, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  sa.dst.bytes = {10, 0, 0, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
  if (s.v6) {
    sa.src.bytes[0] = 0x20;
    sa.dst.bytes[0] = 0x20;
  }
  (void)rng;
  if (dir == Direction::kOut) {
    sa.oseq = s.seq;
  } else {
    sa.replay_seq = s.seq;
  }
  sa.replay_window = s.window;
  if (s.udp) sa.encap = driver::UdpEncap{4500, 4500};
  return sa;
}

inline Bytes MakeKeymat(std::mt19937_64& rng, bool key256) {
  return RandomBytes(rng, (key256 ? 32U : 16U) + 4U);
}

// For transport mode: rewrite an inner packet's addresses to the SA's (not required, cosmetic).
inline Bytes MakeInner(std::mt19937_64& rng, bool v6, std::size_t payload) {
  return v6 ? MakeIpv6(rng, payload, 17, static_cast<std::uint8_t>(rng() & 0xFC))
            : MakeIpv4(rng, payload, 17, static_cast<std::uint8_t>(rng() & 0xFC), (rng() & 1) != 0);
}

// Transport mode carries the SA's own addresses: rewrite the packet's source/destination.
inline void UseSaAddresses(Bytes& p, const SaConfig& sa) {
  if ((p[0] >> 4U) == 4) {
    std::copy_n(sa.src.bytes.begin(), 4, p.begin() + 12);
    std::copy_n(sa.dst.bytes.begin(), 4, p.begin() + 16);
    driver::SetIpv4HeaderChecksum(MutableByteSpan(p).first(20));
  } else {
    std::copy_n(sa.src.bytes.begin(), 16, p.begin() + 8);
    std::copy_n(sa.dst.bytes.begin(), 16, p.begin() + 24);
  }
}

inline void ExpectSameResults(const std::vector<PacketOut>& sim,
                              const std::vector<PacketOut>& model, const std::string& what) {
  ASSERT_EQ(sim.size(), model.size()) << what;
  for (std::size_t i = 0; i < sim.size(); ++i) {
    SCOPED_TRACE(what + " packet " + std::to_string(i));
    EXPECT_EQ(driver::ToString(sim[i].status), driver::ToString(model[i].status));
    EXPECT_EQ(sim[i].slot, model[i].slot);
    EXPECT_EQ(sim[i].cookie, model[i].cookie);
    EXPECT_EQ(sim[i].seq_lo, model[i].seq_lo);
    EXPECT_EQ(ToHex(sim[i].data), ToHex(model[i].data));
  }
}

// The same SAs and packets through the RTL (SimDevice, 64 slots) and the model.
struct Pair {
  std::unique_ptr<Engine> sim;
  std::unique_ptr<Engine> model;
};

inline Pair OpenPair() {
  Pair p;
  p.sim = OpenSimEngine(64);
  if (p.sim) p.model = OpenModelEngine(p.sim->caps());
  return p;
}

inline void InstallBoth(Pair& p, std::uint32_t slot, const SaConfig& sa) {
  auto a = p.sim->Install(slot, sa);
  auto b = p.model->Install(slot, sa);
  ASSERT_TRUE(a.has_value()) << a.error().message;
  ASSERT_TRUE(b.has_value()) << b.error().message;
}

// Runs `in` through both and expects the same results; returns the RTL's.
inline std::vector<PacketOut> RunBoth(Pair& p, const std::vector<PacketIn>& in,
                                      const std::string& what) {
  auto a = p.sim->Process(in);
  auto b = p.model->Process(in);
  EXPECT_TRUE(a.has_value()) << (a ? "" : a.error().message);
  EXPECT_TRUE(b.has_value()) << (b ? "" : b.error().message);
  if (!a || !b) return {};
  ExpectSameResults(*a, *b, what);
  return *a;
}

inline void ExpectSameCounters(Engine& sim, Engine& model) {
  auto a = sim.ReadCounters();
  auto b = model.ReadCounters();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->drop_auth, b->drop_auth);
  EXPECT_EQ(a->drop_replay, b->drop_replay);
  EXPECT_EQ(a->drop_no_sa, b->drop_no_sa);
  EXPECT_EQ(a->drop_malformed, b->drop_malformed);
  EXPECT_EQ(a->drop_lifetime, b->drop_lifetime);
  EXPECT_EQ(a->released_out, b->released_out);
  EXPECT_EQ(a->released_in, b->released_in);
  EXPECT_EQ(a->events_lost, b->events_lost);
  auto ea = sim.DrainEvents();
  auto eb = model.DrainEvents();
  ASSERT_TRUE(ea && eb);
  ASSERT_EQ(ea->size(), eb->size());
  for (std::size_t i = 0; i < ea->size(); ++i) {
    EXPECT_TRUE((*ea)[i] == (*eb)[i])
        << "event " << i << ": sim kind " << static_cast<int>((*ea)[i].kind) << " slot "
        << (*ea)[i].slot << " pkts " << (*ea)[i].packets << " / model kind "
        << static_cast<int>((*eb)[i].kind) << " slot " << (*eb)[i].slot << " pkts "
        << (*eb)[i].packets;
  }
}

inline void ExpectSameSlot(Engine& sim, Engine& model, Direction dir, std::uint32_t slot) {
  auto a = sim.ReadSlot(dir, slot);
  auto b = model.ReadSlot(dir, slot);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(static_cast<int>(a->state), static_cast<int>(b->state)) << "slot " << slot;
  EXPECT_EQ(a->seq_overflow, b->seq_overflow);
  EXPECT_EQ(a->spi, b->spi);
  EXPECT_EQ(a->packets, b->packets);
  EXPECT_EQ(a->bytes, b->bytes);
  EXPECT_EQ(a->seq, b->seq);
}

}  // namespace espo::testing
