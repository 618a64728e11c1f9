// SPDX-License-Identifier: Apache-2.0
//
// Cosimulation: one randomized workload (cosim_workload.hpp) through Engine on ModelDevice (the
// executable specification) and on SimDevice (the RTL under Verilator), compared packet for
// packet, slot for slot, event for event and counter for counter. A mismatch prints the first
// differing packet and the SA involved. ESPO_SEED replays; ESPO_SOAK scales the workload.
#include <cstdint>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cosim_workload.hpp"
#include "test_seed.hpp"

#include "espo/driver/engine.hpp"
#include "espo/driver/esp.hpp"

namespace espo::driver {
namespace {

using ::espo::testing::CosimWorkload;

constexpr std::uint32_t kSlots = 64;

std::unique_ptr<Engine> Open(DeviceKind kind) {
  DeviceSpec spec;
  spec.kind = kind;
  spec.sa_slots = kSlots;
  auto device = OpenDevice(spec);
  EXPECT_TRUE(device.has_value()) << (device ? "" : device.error().message);
  if (!device) return nullptr;
  auto engine = Engine::Open(std::move(*device));
  EXPECT_TRUE(engine.has_value()) << (engine ? "" : engine.error().message);
  return engine ? std::move(*engine) : nullptr;
}

std::string Show(const PacketOut& p) {
  std::ostringstream os;
  os << "status " << ToString(p.status) << " slot " << p.slot << " seq_lo " << p.seq_lo
     << " length " << p.data.size();
  return os.str();
}

std::string FirstDiff(const Bytes& a, const Bytes& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      return "first differing byte " + std::to_string(i) + ": model 0x" +
             ToHex(ByteSpan(&a[i], 1)) + " sim 0x" + ToHex(ByteSpan(&b[i], 1));
    }
  }
  return "lengths differ";
}

const ::espo::testing::CosimSa* SaOf(const CosimWorkload& w, const PacketIn& in) {
  for (const auto& s : w.sas) {
    if (in.dir == Direction::kOut && s.out_slot == in.slot) return &s;
  }
  if (in.dir == Direction::kIn && in.data.size() >= 28) {
    for (const auto& s : w.sas) {
      // Best effort: the SA whose inbound SPI appears in the packet.
      for (std::size_t at = 20; at + 4 <= std::min<std::size_t>(in.data.size(), 72); ++at) {
        if (LoadBe32(ByteSpan(in.data).subspan(at)) == s.in.spi) return &s;
      }
    }
  }
  return nullptr;
}

TEST(CosimTest, ModelAndRtlAgreeOnRandomWorkload) {
  const std::uint64_t seed = ::espo::testing::TestSeed();
  SCOPED_TRACE("replay with ESPO_SEED=" + std::to_string(seed));
  const int soak = ::espo::testing::SoakFactor();
  const CosimWorkload w = ::espo::testing::MakeCosimWorkload(seed, kSlots, 24, 12 * soak, 250);

  auto model = Open(DeviceKind::kModel);
  auto rtl = Open(DeviceKind::kSim);
  ASSERT_TRUE(model && rtl);

  for (const auto& s : w.sas) {
    for (Engine* e : {model.get(), rtl.get()}) {
      auto out = e->Install(s.out_slot, s.out);
      ASSERT_TRUE(out.has_value()) << e->device().kind() << ": " << out.error().message << "\n"
                                   << s.Describe();
      auto in = e->Install(e->InboundSlotFor(s.in.spi), s.in);
      ASSERT_TRUE(in.has_value()) << e->device().kind() << ": " << in.error().message << "\n"
                                  << s.Describe();
    }
  }

  std::size_t packets = 0;
  std::size_t compared_events = 0;
  for (std::size_t b = 0; b < w.batches.size(); ++b) {
    const auto& batch = w.batches[b];
    auto want = model->Process(batch);
    auto got = rtl->Process(batch);
    ASSERT_TRUE(want.has_value()) << want.error().message;
    ASSERT_TRUE(got.has_value()) << "sim: " << got.error().message;
    ASSERT_EQ(want->size(), got->size());
    for (std::size_t i = 0; i < want->size(); ++i) {
      const PacketOut& m = (*want)[i];
      const PacketOut& r = (*got)[i];
      const bool same = m.status == r.status && m.slot == r.slot && m.cookie == r.cookie &&
                        m.seq_lo == r.seq_lo && m.data == r.data;
      if (!same) {
        const auto* sa = SaOf(w, batch[i]);
        FAIL() << "batch " << b << " packet " << i << " (cookie " << batch[i].cookie << ", "
               << ToString(batch[i].dir) << ", " << batch[i].data.size() << " bytes in)\n"
               << "  model: " << Show(m) << "\n  sim:   " << Show(r) << "\n  "
               << (m.data != r.data ? FirstDiff(m.data, r.data) : std::string("data equal"))
               << "\n  SA: " << (sa != nullptr ? sa->Describe() : std::string("(none)"))
               << "\n  input: " << ToHex(batch[i].data);
      }
    }
    packets += want->size();
    auto me = model->DrainEvents();
    auto re = rtl->DrainEvents();
    ASSERT_TRUE(me.has_value() && re.has_value());
    ASSERT_EQ(me->size(), re->size()) << "batch " << b << ": event counts differ";
    for (std::size_t i = 0; i < me->size(); ++i) {
      const Event& x = (*me)[i];
      const Event& y = (*re)[i];
      EXPECT_EQ(x, y) << "batch " << b << " event " << i << ": model " << ToString(x.kind) << " "
                      << ToString(x.dir) << " slot " << x.slot << " pkts " << x.packets << " bytes "
                      << x.bytes << " / sim " << ToString(y.kind) << " " << ToString(y.dir)
                      << " slot " << y.slot << " pkts " << y.packets << " bytes " << y.bytes;
    }
    compared_events += me->size();
  }

  for (const Direction dir : {Direction::kOut, Direction::kIn}) {
    for (std::uint32_t slot = 0; slot < kSlots; ++slot) {
      auto m = model->ReadSlot(dir, slot);
      auto r = rtl->ReadSlot(dir, slot);
      ASSERT_TRUE(m.has_value() && r.has_value());
      EXPECT_EQ(m->state, r->state) << ToString(dir) << " slot " << slot;
      EXPECT_EQ(m->spi, r->spi) << ToString(dir) << " slot " << slot;
      EXPECT_EQ(m->packets, r->packets) << ToString(dir) << " slot " << slot;
      EXPECT_EQ(m->bytes, r->bytes) << ToString(dir) << " slot " << slot;
      EXPECT_EQ(m->seq, r->seq) << ToString(dir) << " slot " << slot;
      EXPECT_EQ(m->seq_overflow, r->seq_overflow) << ToString(dir) << " slot " << slot;
    }
  }
  auto mc = model->ReadCounters();
  auto rc = rtl->ReadCounters();
  ASSERT_TRUE(mc.has_value() && rc.has_value());
  EXPECT_EQ(mc->drop_auth, rc->drop_auth);
  EXPECT_EQ(mc->drop_replay, rc->drop_replay);
  EXPECT_EQ(mc->drop_no_sa, rc->drop_no_sa);
  EXPECT_EQ(mc->drop_malformed, rc->drop_malformed);
  EXPECT_EQ(mc->drop_lifetime, rc->drop_lifetime);
  EXPECT_EQ(mc->released_out, rc->released_out);
  EXPECT_EQ(mc->released_in, rc->released_in);
  EXPECT_EQ(mc->events_lost, rc->events_lost);
  // The workload must exercise what it claims to: every drop reason and some events.
  EXPECT_GT(mc->drop_auth, 0U);
  EXPECT_GT(mc->drop_replay, 0U);
  EXPECT_GT(mc->drop_no_sa, 0U);
  EXPECT_GT(mc->drop_malformed, 0U);
  EXPECT_GT(mc->drop_lifetime, 0U);
  EXPECT_GT(compared_events, 0U);
  std::cout << "[  COSIM   ] " << packets << " packets, " << compared_events
            << " events compared; drops auth " << mc->drop_auth << " replay " << mc->drop_replay
            << " no_sa " << mc->drop_no_sa << " malformed " << mc->drop_malformed << " lifetime "
            << mc->drop_lifetime << "\n";
}

}  // namespace
}  // namespace espo::driver

namespace espo::driver {
namespace {

// Every SA_COMMIT wipes the staged key and salt (docs/ENGINE_SEMANTICS.md): a second INSTALL
// that does not re-stage the key gets an all-zero key, on the model and on the RTL alike.
TEST(CosimTest, StagedKeyIsWipedByEveryCommit) {
  for (const DeviceKind kind : {DeviceKind::kModel, DeviceKind::kSim}) {
    SCOPED_TRACE(std::string(ToString(kind)));
    auto engine = Open(kind);
    ASSERT_TRUE(engine);
    SaConfig sa;
    sa.spi = 0x1234;
    sa.src = *IpAddress::Parse("192.0.2.1");
    sa.dst = *IpAddress::Parse("198.51.100.7");
    Bytes key(20, 0x5A);
    sa.key = std::move(*KeyMaterial::FromBytes(key));
    ASSERT_TRUE(engine->Install(1, sa).has_value());
    // Commit slot 2 straight from the staging window, without writing the key again.
    Device& d = engine->device();
    ASSERT_TRUE(d.WriteReg(0x100, (1U << 16U) | 2U).has_value());  // SA_COMMIT INSTALL out 2
    std::uint32_t status = 1;
    for (int i = 0; i < 1000 && (status & 1U) != 0; ++i) status = *d.ReadReg(0x104);  // BUSY
    ASSERT_EQ(status, 0U) << "commit did not complete with OK";
    auto slot = engine->ReadSlot(Direction::kOut, 2);
    ASSERT_TRUE(slot.has_value());
    ASSERT_EQ(slot->state, SlotState::kActive);
    Bytes inner = {0x45, 0, 0,  28, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0,
                   0,    1, 10, 0,  0, 2, 0,    1, 0,  2,  0, 8, 0,  0};
    std::vector<PacketIn> batch = {PacketIn{Direction::kOut, 2, 7, inner}};
    auto out = engine->Process(batch);
    ASSERT_TRUE(out.has_value() && out->size() == 1);
    ASSERT_EQ((*out)[0].status, PacketStatus::kOk);
    SaConfig zero = sa.Clone();
    zero.dir = Direction::kIn;
    zero.key = std::move(*KeyMaterial::FromBytes(Bytes(20, 0)));
    auto window = ReplayWindow::Create(64, false, 0);
    auto dec = EspDecapsulate(zero, *window, (*out)[0].data);
    EXPECT_TRUE(dec.accepted()) << "slot 2 did not get an all-zero key: " << dec.detail;
  }
}

}  // namespace
}  // namespace espo::driver
