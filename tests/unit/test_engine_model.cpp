// SPDX-License-Identifier: Apache-2.0
//
// Engine over ModelDevice: capabilities, all-or-nothing SA programming (also under injected
// device failures), write-only keys, packets through both directions against the software ESP
// oracle, every drop reason, lifetimes and events, event FIFO overflow, counters.
#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "esp_test_util.hpp"
#include "test_seed.hpp"

#include "espo/driver/counting_device.hpp"
#include "espo/driver/engine.hpp"
#include "espo/driver/esp.hpp"
#include "espo/driver/model_device.hpp"
#include "espo/regmap/espo_regs.hpp"

namespace espo::driver {
namespace {

namespace rm = ::espo::regmap;
using ::espo::testing::InnerSpec;
using ::espo::testing::MakeInner;
using ::espo::testing::MakeSa;
using ::espo::testing::SaSpec;

// Decorator that fails the N-th register write (0 = never) or every read of one offset.
class FaultyDevice final : public Device {
 public:
  explicit FaultyDevice(std::unique_ptr<Device> inner) : inner_(std::move(inner)) {}
  std::string_view kind() const override { return "faulty"; }
  Result<std::uint32_t> ReadReg(std::uint32_t offset) override {
    if (offset == id_override_offset_) return id_override_value_;
    return inner_->ReadReg(offset);
  }
  Status WriteReg(std::uint32_t offset, std::uint32_t value) override {
    ++writes_;
    if (fail_write_ != 0 && writes_ == fail_write_) {
      return MakeError(Errc::kDevice, "injected write failure");
    }
    return inner_->WriteReg(offset, value);
  }
  Result<DmaBuffer> AllocBuffer(std::size_t bytes) override { return inner_->AllocBuffer(bytes); }
  Status WriteBuffer(const DmaBuffer& b, std::size_t o, ByteSpan d) override {
    return inner_->WriteBuffer(b, o, d);
  }
  Status ReadBuffer(const DmaBuffer& b, std::size_t o, MutableByteSpan d) override {
    return inner_->ReadBuffer(b, o, d);
  }
  void FreeBuffer(const DmaBuffer& b) override { inner_->FreeBuffer(b); }
  Status RunBatch(std::chrono::milliseconds t) override { return inner_->RunBatch(t); }

  void FailWriteAfter(std::uint64_t n) { fail_write_ = writes_ + n; }
  void OverrideRead(std::uint32_t offset, std::uint32_t value) {
    id_override_offset_ = offset;
    id_override_value_ = value;
  }

 private:
  std::unique_ptr<Device> inner_;
  std::uint64_t writes_ = 0;
  std::uint64_t fail_write_ = 0;
  std::uint32_t id_override_offset_ = 0xFFFFFFFFU;
  std::uint32_t id_override_value_ = 0;
};

std::unique_ptr<Engine> OpenModel(std::uint32_t slots = 64, std::uint32_t events = 256) {
  ModelOptions opt;
  opt.sa_slots = slots;
  opt.event_depth = events;
  auto dev = OpenModelDevice(opt);
  EXPECT_TRUE(dev.has_value());
  auto engine = Engine::Open(std::move(*dev));
  EXPECT_TRUE(engine.has_value()) << (engine ? "" : engine.error().message);
  return std::move(*engine);
}

Bytes Inner(std::size_t payload_bytes = 40) {
  InnerSpec spec;
  spec.payload_bytes = payload_bytes;
  return MakeInner(spec);
}

SaSpec Spec(std::uint32_t spi) {
  SaSpec s;
  s.spi = spi;
  return s;
}

PacketIn Out(std::uint16_t slot, Bytes data, std::uint32_t cookie = 0) {
  return PacketIn{Direction::kOut, slot, cookie, std::move(data)};
}
PacketIn In(Bytes data, std::uint32_t cookie = 0) {
  return PacketIn{Direction::kIn, kNoSlot, cookie, std::move(data)};
}

TEST(EngineModelTest, ReadsCapabilitiesAtOpen) {
  auto engine = OpenModel(128);
  const Capabilities& c = engine->caps();
  EXPECT_EQ(c.version_major, rm::kRegmapVersionMajor);
  EXPECT_EQ(c.regmap_hash, rm::kRegmapHash);
  EXPECT_EQ(c.out_slots, 128U);
  EXPECT_EQ(c.in_slots, 128U);
  EXPECT_EQ(c.replay_bits, 1024U);
  EXPECT_TRUE(c.aes128 && c.aes256 && c.gcm && c.gmac && c.esn && c.natt && c.ipv6);
}

TEST(EngineModelTest, RefusesAnotherIdOrHash) {
  for (const std::uint32_t offset : {rm::kIdOffset, rm::kRegmapHashOffset, rm::kVersionOffset}) {
    auto faulty = std::make_unique<FaultyDevice>(std::move(*OpenModelDevice()));
    faulty->OverrideRead(offset, 0x12345678U);
    auto engine = Engine::Open(std::move(faulty));
    ASSERT_FALSE(engine.has_value()) << "offset " << offset;
    EXPECT_EQ(engine.error().code, Errc::kDevice);
    EXPECT_FALSE(engine.error().message.empty());
  }
}

TEST(EngineModelTest, InstallIsAllOrNothing) {
  auto engine = OpenModel();
  SaConfig bad = MakeSa(Spec(0x1001), Direction::kOut);
  bad.icv_bytes = 10;
  auto st = engine->Install(1, bad);
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().message.find("icv"), std::string::npos) << st.error().message;
  EXPECT_EQ(engine->ReadSlot(Direction::kOut, 1)->state, SlotState::kFree);

  // Inbound slot must be the SPI's low bits.
  SaConfig in = MakeSa(Spec(0x1005), Direction::kIn);
  EXPECT_FALSE(engine->Install(6, in).has_value());
  ASSERT_TRUE(engine->Install(5, in).has_value());
  // A second install on a busy slot fails and leaves the first SA in place.
  SaConfig other = MakeSa(Spec(0x2005), Direction::kIn);
  auto busy = engine->Install(5, other);
  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().code, Errc::kExists);
  EXPECT_EQ(engine->ReadSlot(Direction::kIn, 5)->spi, 0x1005U);
  // Removing a free slot is an error; removing clears the slot.
  EXPECT_EQ(engine->Remove(Direction::kIn, 7).error().code, Errc::kNotFound);
  ASSERT_TRUE(engine->Remove(Direction::kIn, 5).has_value());
  EXPECT_EQ(engine->ReadSlot(Direction::kIn, 5)->state, SlotState::kFree);
  EXPECT_EQ(engine->ReadSlot(Direction::kIn, 5)->spi, 0U);
}

TEST(EngineModelTest, FailedDeviceWriteLeavesTableConsistent) {
  // Fail each register write of an install in turn: the slot is either untouched (failure
  // before COMMIT) or fully installed; never half.
  for (std::uint64_t n = 1; n <= 40; ++n) {
    auto faulty_owner = std::make_unique<FaultyDevice>(std::move(*OpenModelDevice()));
    FaultyDevice* faulty = faulty_owner.get();
    auto engine = std::move(*Engine::Open(std::move(faulty_owner)));
    faulty->FailWriteAfter(n);
    SaConfig sa = MakeSa(Spec(0x3003), Direction::kOut);
    sa.oseq = 99;
    const bool ok = engine->Install(3, sa).has_value();
    faulty->FailWriteAfter(1000000);
    auto slot = engine->ReadSlot(Direction::kOut, 3);
    ASSERT_TRUE(slot.has_value());
    if (ok) {
      EXPECT_EQ(slot->state, SlotState::kActive);
      EXPECT_EQ(slot->seq, 99U);
    } else {
      EXPECT_EQ(slot->state, SlotState::kFree) << "write " << n;
    }
  }
}

TEST(EngineModelTest, KeyRegistersNeverReadBack) {
  auto engine = OpenModel();
  SaConfig sa = MakeSa(Spec(0x1001), Direction::kOut);
  ASSERT_TRUE(engine->Install(1, sa).has_value());
  Device& d = engine->device();
  for (std::uint32_t i = 0; i < rm::kStageKeyCount; ++i) {
    ASSERT_TRUE(d.WriteReg(rm::StageKeyOffset(i), 0xA5A5A5A5U).has_value());
    EXPECT_EQ(*d.ReadReg(rm::StageKeyOffset(i)), 0U);
  }
  EXPECT_EQ(*d.ReadReg(rm::kStageSaltOffset), 0U);
}

TEST(EngineModelTest, DevicesAcceptWritesExactlyAtWritableRegisters) {
  // Every "rw" register and the write-only ones (SA_COMMIT, STAGE_KEY0..7, STAGE_SALT, EVT_POP)
  // take a write; every other offset, unaligned ones and offsets past the 4 KiB window fail.
  auto writable = [](std::uint32_t offset) {
    const bool key = offset >= rm::kStageKeyOffset &&
                     offset < rm::StageKeyOffset(rm::kStageKeyCount) && offset % 4 == 0;
    return rm::IsReadWriteOffset(offset) || key || offset == rm::kSaCommitOffset ||
           offset == rm::kStageSaltOffset || offset == rm::kEvtPopOffset;
  };
  auto model = OpenModelDevice();
  ASSERT_TRUE(model.has_value());
  auto counting = CountingDevice::Create({});
  ASSERT_TRUE(counting.has_value());
  for (Device* d : {model->get(), static_cast<Device*>(counting->get())}) {
    int accepted = 0;
    for (std::uint32_t offset = 0; offset < 4096 + 64; ++offset) {
      // Value 0: no CTRL.START, and a COMMIT of op 0 is refused by the device, not the bus.
      EXPECT_EQ(d->WriteReg(offset, 0).has_value(), writable(offset))
          << d->kind() << " offset " << offset;
      accepted += writable(offset) ? 1 : 0;
    }
    EXPECT_EQ(d->WriteReg(0xFFFFFFFCU, 0).has_value(), false) << d->kind();
    EXPECT_GT(accepted, 40) << d->kind();
  }
}

TEST(EngineModelTest, WriteRegsStopsAtTheFirstRefusedWrite) {
  // A burst is the same writes as one WriteReg each: the writes before a refused one took
  // effect, the ones after it did not. ModelDevice and CountingDevice override WriteRegs;
  // FaultyDevice uses the Device default.
  auto model = OpenModelDevice();
  ASSERT_TRUE(model.has_value());
  auto counting = CountingDevice::Create({});
  ASSERT_TRUE(counting.has_value());
  FaultyDevice faulty(std::move(*OpenModelDevice()));
  const std::array<RegWrite, 3> burst = {RegWrite{rm::kStageSpiOffset, 0x1234U},
                                         RegWrite{0xFFCU, 1U},  // no register
                                         RegWrite{rm::kStageReplayWindowOffset, 32U}};
  for (Device* d :
       {model->get(), static_cast<Device*>(counting->get()), static_cast<Device*>(&faulty)}) {
    ASSERT_TRUE(d->WriteReg(rm::kStageReplayWindowOffset, 64U).has_value());
    const Status st = d->WriteRegs(burst);
    ASSERT_FALSE(st.has_value()) << d->kind();
    EXPECT_EQ(st.error().code, Errc::kDevice) << d->kind();
    EXPECT_EQ(*d->ReadReg(rm::kStageSpiOffset), 0x1234U) << d->kind();
    EXPECT_EQ(*d->ReadReg(rm::kStageReplayWindowOffset), 64U) << d->kind();
    ASSERT_TRUE(d->WriteRegs(std::span(burst).subspan(2)).has_value()) << d->kind();
    EXPECT_EQ(*d->ReadReg(rm::kStageReplayWindowOffset), 32U) << d->kind();
  }
}

TEST(EngineModelTest, OutboundPacketsDecryptWithSoftwareEspAndCountFromOseq) {
  auto engine = OpenModel();
  SaSpec spec = Spec(0x1001);
  SaConfig out = MakeSa(spec, Direction::kOut);
  out.oseq = 41;
  ASSERT_TRUE(engine->Install(1, out).has_value());
  std::vector<PacketIn> batch;
  for (std::uint32_t i = 0; i < 600; ++i) {  // more than one device batch
    batch.push_back(Out(1, Inner(20 + i % 300), i));
  }
  auto results = engine->Process(batch);
  ASSERT_TRUE(results.has_value()) << results.error().message;
  ASSERT_EQ(results->size(), batch.size());
  SaConfig peer = MakeSa(spec, Direction::kIn);
  auto window = ReplayWindow::Create(64, false, 0);
  ASSERT_TRUE(window.has_value());
  for (std::size_t i = 0; i < results->size(); ++i) {
    const PacketOut& r = (*results)[i];
    ASSERT_EQ(r.status, PacketStatus::kOk);
    EXPECT_EQ(r.cookie, i);
    EXPECT_EQ(r.seq_lo, 42 + i);
    auto dec = EspDecapsulate(peer, *window, r.data);
    ASSERT_TRUE(dec.accepted()) << dec.detail;
    EXPECT_EQ(dec.packet, batch[i].data);
    EXPECT_EQ(dec.seq, 42 + i);
  }
  auto slot = engine->ReadSlot(Direction::kOut, 1);
  EXPECT_EQ(slot->packets, 600U);
  EXPECT_EQ(slot->seq, 641U);
  auto counters = engine->ReadCounters();
  EXPECT_EQ(counters->released_out, 600U);
}

TEST(EngineModelTest, InboundDropsEveryReasonAndReleasesOnlyVerifiedPackets) {
  auto engine = OpenModel();
  SaSpec spec = Spec(0x1002);
  SaConfig sender = MakeSa(spec, Direction::kOut);
  SaConfig in = MakeSa(spec, Direction::kIn);
  in.limits.hard_packets = 5;
  ASSERT_TRUE(engine->Install(2, in).has_value());
  const Bytes inner = Inner();
  auto esp = [&](std::uint64_t seq) { return *EspEncapsulate(sender, seq, inner); };

  std::vector<PacketIn> batch;
  batch.push_back(In(esp(1), 1));  // ok
  batch.push_back(In(esp(1), 2));  // replay
  Bytes tampered = esp(2);
  tampered[tampered.size() - 1] ^= 0x01U;
  batch.push_back(In(tampered, 3));  // auth
  SaSpec other = Spec(0x1003);
  batch.push_back(In(*EspEncapsulate(MakeSa(other, Direction::kOut), 1, inner), 4));  // no_sa
  batch.push_back(In(Bytes{0x45, 0x00, 0x00}, 5));                                    // malformed
  for (std::uint64_t s = 3; s <= 6; ++s) batch.push_back(In(esp(s), 10 + s));         // 4 ok
  batch.push_back(In(esp(7), 20));  // slot hard-expired after 5 packets: lifetime
  auto results = engine->Process(batch);
  ASSERT_TRUE(results.has_value()) << results.error().message;
  const std::vector<PacketStatus> want = {
      PacketStatus::kOk,        PacketStatus::kReplay,  PacketStatus::kAuth, PacketStatus::kNoSa,
      PacketStatus::kMalformed, PacketStatus::kOk,      PacketStatus::kOk,   PacketStatus::kOk,
      PacketStatus::kOk,        PacketStatus::kLifetime};
  ASSERT_EQ(results->size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*results)[i].status, want[i]) << "packet " << i;
    if (want[i] == PacketStatus::kOk) {
      EXPECT_EQ((*results)[i].data, inner);
    } else {
      EXPECT_TRUE((*results)[i].data.empty()) << "a drop released bytes, packet " << i;
    }
  }
  auto c = engine->ReadCounters();
  EXPECT_EQ(c->drop_auth, 1U);
  EXPECT_EQ(c->drop_replay, 1U);
  EXPECT_EQ(c->drop_no_sa, 1U);
  EXPECT_EQ(c->drop_malformed, 1U);
  EXPECT_EQ(c->drop_lifetime, 1U);
  EXPECT_EQ(c->released_in, 5U);
  auto events = engine->DrainEvents();
  ASSERT_EQ(events->size(), 1U);
  EXPECT_EQ((*events)[0].kind, EventKind::kHard);
  EXPECT_EQ((*events)[0].packets, 5U);
}

TEST(EngineModelTest, FlippedBitAnywhereNeverReleasesPlaintext) {
  auto engine = OpenModel();
  SaSpec spec = Spec(0x1004);
  spec.window = 1024;
  ASSERT_TRUE(engine->Install(4, MakeSa(spec, Direction::kIn)).has_value());
  SaConfig sender = MakeSa(spec, Direction::kOut);
  const Bytes inner = Inner(33);
  std::vector<PacketIn> batch;
  std::uint64_t seq = 1;
  const Bytes probe = *EspEncapsulate(sender, 1, inner);
  for (std::size_t byte = 0; byte < probe.size(); ++byte) {
    Bytes p = *EspEncapsulate(sender, ++seq, inner);
    p[byte] ^= static_cast<std::uint8_t>(1U << (byte % 8));
    batch.push_back(In(std::move(p), static_cast<std::uint32_t>(byte)));
  }
  auto results = engine->Process(batch);
  ASSERT_TRUE(results.has_value());
  for (const PacketOut& r : *results) {
    // A flip in the outer IPv4 header fields that the engine does not authenticate (TTL, ID,
    // DSCP) may still pass and then must release exactly the original inner packet.
    if (r.status == PacketStatus::kOk) {
      EXPECT_EQ(r.data, inner) << "byte " << r.cookie;
    } else {
      EXPECT_TRUE(r.data.empty()) << "byte " << r.cookie;
    }
  }
}

TEST(EngineModelTest, SoftAndHardEventsFireExactlyOnceAndHardStopsTraffic) {
  auto engine = OpenModel();
  SaConfig sa = MakeSa(Spec(0x1001), Direction::kOut);
  sa.limits.soft_packets = 3;
  sa.limits.hard_packets = 6;
  ASSERT_TRUE(engine->Install(1, sa).has_value());
  std::vector<PacketIn> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(Out(1, Inner()));
  auto results = engine->Process(batch);
  int ok = 0;
  for (const auto& r : *results) ok += r.status == PacketStatus::kOk ? 1 : 0;
  EXPECT_EQ(ok, 6) << "a packet limit N passes exactly N packets";
  auto events = engine->DrainEvents();
  ASSERT_EQ(events->size(), 2U);
  EXPECT_EQ((*events)[0].kind, EventKind::kSoft);
  EXPECT_EQ((*events)[0].packets, 3U);
  EXPECT_EQ((*events)[1].kind, EventKind::kHard);
  EXPECT_EQ((*events)[1].packets, 6U);
  EXPECT_EQ(engine->ReadSlot(Direction::kOut, 1)->state, SlotState::kHardExpired);
  EXPECT_EQ(engine->ReadCounters()->drop_lifetime, 4U);
}

TEST(EngineModelTest, SequenceNeverWrapsAndOverflowPostsOneEvent) {
  auto engine = OpenModel();
  SaConfig sa = MakeSa(Spec(0x1001), Direction::kOut);
  sa.oseq = 0xFFFFFFFDULL;  // two numbers left: ...FE and ...FF
  ASSERT_TRUE(engine->Install(1, sa).has_value());
  std::vector<PacketIn> batch;
  for (int i = 0; i < 4; ++i) batch.push_back(Out(1, Inner()));
  auto results = engine->Process(batch);
  std::set<std::uint32_t> seqs;
  for (const auto& r : *results) {
    if (r.status == PacketStatus::kOk) {
      EXPECT_TRUE(seqs.insert(r.seq_lo).second);
    }
  }
  EXPECT_EQ(seqs, (std::set<std::uint32_t>{0xFFFFFFFEU, 0xFFFFFFFFU}));
  EXPECT_EQ((*results)[2].status, PacketStatus::kLifetime);
  auto events = engine->DrainEvents();
  ASSERT_EQ(events->size(), 1U);
  EXPECT_EQ((*events)[0].kind, EventKind::kSeqOverflow);
  EXPECT_TRUE(engine->ReadSlot(Direction::kOut, 1)->seq_overflow);
}

TEST(EngineModelTest, EventFifoOverflowIsCounted) {
  auto engine = OpenModel(64, /*events=*/2);
  for (std::uint16_t slot = 1; slot <= 5; ++slot) {
    SaConfig sa = MakeSa(Spec(0x1000U + slot), Direction::kOut);
    sa.limits.hard_packets = 1;
    ASSERT_TRUE(engine->Install(slot, sa).has_value());
  }
  std::vector<PacketIn> batch;
  for (std::uint16_t slot = 1; slot <= 5; ++slot) batch.push_back(Out(slot, Inner()));
  ASSERT_TRUE(engine->Process(batch).has_value());
  auto events = engine->DrainEvents();
  EXPECT_EQ(events->size(), 2U);
  EXPECT_EQ(engine->ReadCounters()->events_lost, 3U);
}

TEST(EngineModelTest, RandomTrafficNeverReusesSequenceAndMatchesSoftwareReceiver) {
  const std::uint64_t seed = ::espo::testing::TestSeed();
  SCOPED_TRACE("replay with ESPO_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto engine = OpenModel(16);
  constexpr int kSas = 8;
  std::vector<SaConfig> peers;
  std::vector<std::optional<ReplayWindow>> windows;
  for (std::uint16_t i = 0; i < kSas; ++i) {
    SaSpec s = Spec(0x100U + i);
    s.key_bytes = (rng() & 1U) != 0 ? 32 : 16;
    s.icv_bytes = static_cast<std::uint8_t>(8 + 4 * (rng() % 3));
    s.esn = (rng() & 1U) != 0;
    s.udp = (rng() & 1U) != 0;
    s.mode = (rng() & 1U) != 0 ? Mode::kTransport : Mode::kTunnel;
    s.key_seed = static_cast<std::uint8_t>(i + 1);
    SaConfig out = MakeSa(s, Direction::kOut);
    out.oseq = s.esn ? 0xFFFFFF00ULL : 0;
    if (s.mode == Mode::kTransport) {  // transport SAs are between the inner hosts
      out.src = ::espo::testing::V4(10, 0, 0, 1);
      out.dst = ::espo::testing::V4(10, 0, 1, 2);
    }
    auto installed = engine->Install(i, out);
    ASSERT_TRUE(installed.has_value()) << installed.error().message;
    SaConfig in = MakeSa(s, Direction::kIn);
    in.src = out.src;
    in.dst = out.dst;
    windows.push_back(*ReplayWindow::Create(64, s.esn, 0));
    peers.push_back(std::move(in));
  }
  std::vector<std::set<std::uint64_t>> seen(kSas);
  for (int round = 0; round < 10; ++round) {
    std::vector<PacketIn> batch;
    for (int k = 0; k < 100; ++k) {
      const auto slot = static_cast<std::uint16_t>(rng() % kSas);
      batch.push_back(Out(slot, Inner(1 + rng() % 1400), slot));
    }
    auto results = engine->Process(batch);
    ASSERT_TRUE(results.has_value());
    for (std::size_t k = 0; k < results->size(); ++k) {
      const PacketOut& r = (*results)[k];
      ASSERT_EQ(r.status, PacketStatus::kOk);
      auto dec = EspDecapsulate(peers[r.cookie], *windows[r.cookie], r.data);
      ASSERT_TRUE(dec.accepted()) << dec.detail;
      EXPECT_EQ(dec.packet, batch[k].data);
      EXPECT_TRUE(seen[r.cookie].insert(dec.seq).second) << "sequence reused: " << dec.seq;
    }
  }
}

}  // namespace
}  // namespace espo::driver
