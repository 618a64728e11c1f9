// SPDX-License-Identifier: Apache-2.0
#include "espo/driver/engine.hpp"

#include <algorithm>
#include <array>
#include <span>
#include <string>

#include <openssl/crypto.h>

#include "espo/regmap/espo_regs.hpp"

namespace espo::driver {
namespace {

namespace rm = ::espo::regmap;
constexpr std::chrono::milliseconds kBatchTimeout{10'000};

std::string SlotName(Direction dir, std::uint32_t slot) {
  return std::string(ToString(dir)) + " slot " + std::to_string(slot);
}

std::string CommitCodeText(std::uint32_t code) {
  switch (static_cast<rm::SaCommitStatusCode>(code)) {
    case rm::SaCommitStatusCode::kOk:
      return "ok";
    case rm::SaCommitStatusCode::kBadSlot:
      return "slot index out of range";
    case rm::SaCommitStatusCode::kSlotBusy:
      return "slot already holds an SA";
    case rm::SaCommitStatusCode::kSlotFree:
      return "slot holds no SA";
    case rm::SaCommitStatusCode::kBadParam:
      return "device rejected the SA parameters";
    case rm::SaCommitStatusCode::kBadOp:
      return "device rejected the operation";
  }
  return "unknown status " + std::to_string(code);
}

std::uint32_t Lo(std::uint64_t v) { return static_cast<std::uint32_t>(v); }

std::string SpiHex(std::uint32_t spi) {
  return "0x" + ToHex(std::array<std::uint8_t, 4>{
                    static_cast<std::uint8_t>(spi >> 24U), static_cast<std::uint8_t>(spi >> 16U),
                    static_cast<std::uint8_t>(spi >> 8U), static_cast<std::uint8_t>(spi)});
}
std::uint32_t Hi(std::uint64_t v) { return static_cast<std::uint32_t>(v >> 32U); }

// Staging writes collected in order and issued with one Device::WriteRegs call (the same
// register writes, one virtual call). An install stages at most 3 + 8 + 1 + 2 + 8 + 1 + 8 words.
class WriteBurst {
 public:
  void Add(std::uint32_t offset, std::uint32_t value) { writes_.at(size_++) = {offset, value}; }
  void AddLimits(const SaLimits& l) {
    const std::array<std::uint64_t, 4> v = {l.soft_packets, l.hard_packets, l.soft_bytes,
                                            l.hard_bytes};
    for (std::uint32_t i = 0; i < 4; ++i) {
      Add(rm::StageLimitOffset(2 * i), Lo(v[i]));
      Add(rm::StageLimitOffset(2 * i + 1), Hi(v[i]));
    }
  }
  std::size_t size() const { return size_; }
  std::span<const RegWrite> writes() const { return std::span(writes_).first(size_); }
  // Zeroes writes [first, first + count): the burst holds key words until it is wiped.
  void Wipe(std::size_t first, std::size_t count) {
    const std::span<RegWrite> w = std::span(writes_).subspan(first, count);
    OPENSSL_cleanse(w.data(), w.size_bytes());
  }

 private:
  std::array<RegWrite, 31> writes_{};
  std::size_t size_ = 0;
};

}  // namespace

std::string_view ToString(SlotState state) {
  switch (state) {
    case SlotState::kFree:
      return "free";
    case SlotState::kActive:
      return "active";
    case SlotState::kSoftExpired:
      return "soft-expired";
    case SlotState::kHardExpired:
      return "hard-expired";
  }
  return "unknown";
}

std::string_view ToString(EventKind kind) {
  switch (kind) {
    case EventKind::kSoft:
      return "soft";
    case EventKind::kHard:
      return "hard";
    case EventKind::kSeqOverflow:
      return "seq-overflow";
  }
  return "unknown";
}

std::string_view ToString(PacketStatus status) {
  switch (status) {
    case PacketStatus::kOk:
      return "ok";
    case PacketStatus::kAuth:
      return "auth";
    case PacketStatus::kReplay:
      return "replay";
    case PacketStatus::kNoSa:
      return "no_sa";
    case PacketStatus::kMalformed:
      return "malformed";
    case PacketStatus::kLifetime:
      return "lifetime";
    case PacketStatus::kTooBig:
      return "too_big";
    case PacketStatus::kNotEsp:
      return "not_esp";
  }
  return "unknown";
}

Engine::~Engine() {
  if (in_buf_.size != 0) device_->FreeBuffer(in_buf_);
  if (out_buf_.size != 0) device_->FreeBuffer(out_buf_);
}

Result<std::unique_ptr<Engine>> Engine::Open(std::unique_ptr<Device> device) {
  if (!device) return MakeError(Errc::kInvalidArgument, "engine: no device");
  std::unique_ptr<Engine> engine(new Engine(std::move(device)));  // NOLINT: private constructor
  ESPO_RETURN_IF_ERROR(engine->ReadCapabilities());
  ESPO_RETURN_IF_ERROR(engine->ReadCounters());  // baseline for the free-running counters
  engine->totals_ = {};
  return engine;
}

Status Engine::ReadCapabilities() {
  Device& d = *device_;
  const std::string who = std::string(d.kind()) + " device";
  ESPO_ASSIGN_OR_RETURN(const std::uint32_t id, d.ReadReg(rm::kIdOffset));
  if (id != rm::kIdValue) {
    return MakeError(
        Errc::kDevice,
        who + ": ID register reads 0x" +
            ToHex(std::array<std::uint8_t, 4>{
                static_cast<std::uint8_t>(id >> 24U), static_cast<std::uint8_t>(id >> 16U),
                static_cast<std::uint8_t>(id >> 8U), static_cast<std::uint8_t>(id)}) +
            ", not an espo engine (0x4553504f)");
  }
  ESPO_ASSIGN_OR_RETURN(const std::uint32_t version, d.ReadReg(rm::kVersionOffset));
  caps_.version_major = rm::kVersionMajor.Get(version);
  caps_.version_minor = rm::kVersionMinor.Get(version);
  caps_.version_patch = rm::kVersionPatch.Get(version);
  if (caps_.version_major != rm::kRegmapVersionMajor) {
    return MakeError(Errc::kDevice, who + ": register map major version " +
                                        std::to_string(caps_.version_major) + ", driver supports " +
                                        std::to_string(rm::kRegmapVersionMajor));
  }
  ESPO_ASSIGN_OR_RETURN(caps_.regmap_hash, d.ReadReg(rm::kRegmapHashOffset));
  if (caps_.regmap_hash != rm::kRegmapHash) {
    return MakeError(Errc::kDevice, who +
                                        ": register map hash differs from the driver's "
                                        "(hardware and driver built from different espo.toml)");
  }
  ESPO_ASSIGN_OR_RETURN(caps_.build_id, d.ReadReg(rm::kBuildIdOffset));
  ESPO_ASSIGN_OR_RETURN(const std::uint32_t slots, d.ReadReg(rm::kCapSlotsOffset));
  caps_.out_slots = rm::kCapSlotsOutSlots.Get(slots);
  caps_.in_slots = rm::kCapSlotsInSlots.Get(slots);
  if (caps_.in_slots == 0 || (caps_.in_slots & (caps_.in_slots - 1)) != 0) {
    return MakeError(Errc::kDevice, who + ": inbound slot count " + std::to_string(caps_.in_slots) +
                                        " is not a power of two");
  }
  ESPO_ASSIGN_OR_RETURN(const std::uint32_t dp, d.ReadReg(rm::kCapDatapathOffset));
  caps_.data_bytes = rm::kCapDatapathDataBytes.Get(dp);
  caps_.aes_lanes = rm::kCapDatapathAesLanes.Get(dp);
  caps_.replay_bits = rm::kCapDatapathReplayBits.Get(dp);
  ESPO_ASSIGN_OR_RETURN(caps_.features, d.ReadReg(rm::kCapFeaturesOffset));
  const std::uint32_t f = caps_.features;
  caps_.aes128 = rm::kCapFeaturesAes128.Get(f) != 0;
  caps_.aes256 = rm::kCapFeaturesAes256.Get(f) != 0;
  caps_.gcm = rm::kCapFeaturesGcm.Get(f) != 0;
  caps_.gmac = rm::kCapFeaturesGmac.Get(f) != 0;
  caps_.esn = rm::kCapFeaturesEsn.Get(f) != 0;
  caps_.natt = rm::kCapFeaturesNatt.Get(f) != 0;
  caps_.ipv6 = rm::kCapFeaturesIpv6.Get(f) != 0;
  caps_.tunnel = rm::kCapFeaturesTunnel.Get(f) != 0;
  caps_.transport = rm::kCapFeaturesTransport.Get(f) != 0;
  caps_.icv8 = rm::kCapFeaturesIcv8.Get(f) != 0;
  caps_.icv12 = rm::kCapFeaturesIcv12.Get(f) != 0;
  caps_.icv16 = rm::kCapFeaturesIcv16.Get(f) != 0;
  ESPO_ASSIGN_OR_RETURN(const std::uint32_t lim, d.ReadReg(rm::kCapLimitsOffset));
  caps_.max_packet = rm::kCapLimitsMaxPacket.Get(lim);
  caps_.event_depth = rm::kCapLimitsEventDepth.Get(lim);
  return Ok();
}

template <class What>
Status Engine::Commit(Direction dir, std::uint32_t slot, std::uint32_t op, const What& what) {
  std::uint32_t cmd = rm::kSaCommitSlot.Set(0, slot);
  cmd = rm::kSaCommitOp.Set(cmd, op);
  cmd = rm::kSaCommitDir.Set(cmd, dir == Direction::kIn ? 1U : 0U);
  ESPO_RETURN_IF_ERROR(device_->WriteReg(rm::kSaCommitOffset, cmd));
  std::uint32_t status = 0;
  for (int tries = 0; tries < 1000; ++tries) {
    ESPO_ASSIGN_OR_RETURN(status, device_->ReadReg(rm::kSaCommitStatusOffset));
    if (rm::kSaCommitStatusBusy.Get(status) == 0) break;
  }
  if (rm::kSaCommitStatusBusy.Get(status) != 0) {
    return MakeError(Errc::kDevice, what() + " " + SlotName(dir, slot) + ": commit stayed busy");
  }
  const std::uint32_t code = rm::kSaCommitStatusCode.Get(status);
  if (code != 0) {
    const Errc errc =
        code == static_cast<std::uint32_t>(rm::SaCommitStatusCode::kSlotBusy)   ? Errc::kExists
        : code == static_cast<std::uint32_t>(rm::SaCommitStatusCode::kSlotFree) ? Errc::kNotFound
                                                                                : Errc::kDevice;
    return MakeError(errc, what() + " " + SlotName(dir, slot) + ": " + CommitCodeText(code));
  }
  return Ok();
}

Status Engine::StageLimits(const SaLimits& l) {
  WriteBurst burst;
  burst.AddLimits(l);
  return device_->WriteRegs(burst.writes());
}

Status Engine::Install(std::uint32_t slot, const SaConfig& sa) {
  // Built only when an error is reported: Install is on the SDK's hot path.
  const auto what = [&sa] { return "install SPI " + SpiHex(sa.spi); };
  // Validation ladder before the device is touched (mlx5e_xfrm_validate_state style).
  if (auto valid = Validate(sa); !valid) {
    return MakeError(valid.error().code, what() + ": " + valid.error().message);
  }
  const std::uint32_t slots = sa.dir == Direction::kOut ? caps_.out_slots : caps_.in_slots;
  if (slot >= slots) {
    return MakeError(Errc::kInvalidArgument, what() + ": " + SlotName(sa.dir, slot) +
                                                 " out of range (device has " +
                                                 std::to_string(slots) + ")");
  }
  if (sa.dir == Direction::kIn && slot != InboundSlotFor(sa.spi)) {
    return MakeError(Errc::kInvalidArgument, what() + ": inbound SAs live in slot SPI mod " +
                                                 std::to_string(caps_.in_slots) + " = " +
                                                 std::to_string(InboundSlotFor(sa.spi)) + ", not " +
                                                 std::to_string(slot));
  }
  const bool key256 = sa.key.key_bytes() == 32;
  if ((key256 && !caps_.aes256) || (!key256 && !caps_.aes128)) {
    return MakeError(Errc::kUnsupported, what() + ": device lacks this AES key size");
  }
  if ((sa.alg == Algorithm::kGmac && !caps_.gmac) || (sa.alg == Algorithm::kGcm && !caps_.gcm) ||
      (sa.esn && !caps_.esn) || (sa.encap && !caps_.natt) || (sa.dst.v6 && !caps_.ipv6) ||
      (sa.mode == Mode::kTransport && !caps_.transport) ||
      (sa.mode == Mode::kTunnel && !caps_.tunnel)) {
    return MakeError(Errc::kUnsupported, what() + ": device lacks a feature this SA needs");
  }
  if (sa.dir == Direction::kIn && sa.replay_window > caps_.replay_bits) {
    return MakeError(Errc::kUnsupported,
                     what() + ": replay-window " + std::to_string(sa.replay_window) +
                         " exceeds the device's " + std::to_string(caps_.replay_bits));
  }
  Device& d = *device_;
  std::uint32_t flags = 0;
  flags = rm::kStageFlagsEsn.Set(flags, sa.esn ? 1U : 0U);
  flags = rm::kStageFlagsAlg.Set(flags, sa.alg == Algorithm::kGmac ? 1U : 0U);
  flags = rm::kStageFlagsMode.Set(flags, sa.mode == Mode::kTransport ? 1U : 0U);
  flags = rm::kStageFlagsKey256.Set(flags, key256 ? 1U : 0U);
  flags = rm::kStageFlagsUdpEncap.Set(flags, sa.encap ? 1U : 0U);
  flags = rm::kStageFlagsIpv6.Set(flags, sa.dst.v6 ? 1U : 0U);
  flags = rm::kStageFlagsIcvWords.Set(flags, sa.icv_bytes / 4U);
  // The staging writes, in register-protocol order, as one burst.
  WriteBurst burst;
  burst.Add(rm::kStageSpiOffset, sa.spi);
  burst.Add(rm::kStageFlagsOffset, flags);
  // Outbound SAs carry the window too (ignored by the datapath) so the device validates the
  // same SaConfig the driver did.
  burst.Add(rm::kStageReplayWindowOffset, sa.replay_window);
  const std::size_t key_first = burst.size();
  const ByteSpan key = sa.key.key();
  for (std::uint32_t i = 0; i < key.size() / 4; ++i) {
    burst.Add(rm::StageKeyOffset(i), LoadBe32(key.subspan(std::size_t{4} * i)));
  }
  burst.Add(rm::kStageSaltOffset, LoadBe32(sa.key.salt()));
  const std::size_t key_count = burst.size() - key_first;
  const std::uint64_t seq = sa.dir == Direction::kOut ? sa.oseq : sa.replay_seq;
  burst.Add(rm::kStageSeqLoOffset, Lo(seq));
  burst.Add(rm::kStageSeqHiOffset, Hi(seq));
  for (std::uint32_t i = 0; i < 4; ++i) {
    const bool used = sa.dst.v6 || i == 0;
    burst.Add(rm::StageSrcOffset(i),
              used ? LoadBe32(std::span(sa.src.bytes).subspan(std::size_t{4} * i)) : 0U);
    burst.Add(rm::StageDstOffset(i),
              used ? LoadBe32(std::span(sa.dst.bytes).subspan(std::size_t{4} * i)) : 0U);
  }
  std::uint32_t ports = 0;
  if (sa.encap) {
    ports = rm::kStageUdpPortsDport.Set(rm::kStageUdpPortsSport.Set(0, sa.encap->sport),
                                        sa.encap->dport);
  }
  burst.Add(rm::kStageUdpPortsOffset, ports);
  burst.AddLimits(sa.limits);
  Status staged = d.WriteRegs(burst.writes());
  burst.Wipe(key_first, key_count);
  if (!staged) return tl::unexpected(std::move(staged).error());
  return Commit(sa.dir, slot, static_cast<std::uint32_t>(rm::SaCommitOp::kInstall), what);
}

Status Engine::UpdateLimits(Direction dir, std::uint32_t slot, const SaLimits& limits) {
  if ((limits.soft_packets != 0 && limits.hard_packets != 0 &&
       limits.soft_packets >= limits.hard_packets) ||
      (limits.soft_bytes != 0 && limits.hard_bytes != 0 &&
       limits.soft_bytes >= limits.hard_bytes)) {
    return MakeError(Errc::kInvalidArgument,
                     "update limits " + SlotName(dir, slot) + ": soft limit must be below hard");
  }
  ESPO_RETURN_IF_ERROR(StageLimits(limits));
  return Commit(dir, slot, static_cast<std::uint32_t>(rm::SaCommitOp::kSetLimits),
                [] { return std::string("update limits"); });
}

Status Engine::Remove(Direction dir, std::uint32_t slot) {
  return Commit(dir, slot, static_cast<std::uint32_t>(rm::SaCommitOp::kRemove),
                [] { return std::string("remove"); });
}

Result<SlotStatus> Engine::ReadSlot(Direction dir, std::uint32_t slot) {
  const std::uint32_t slots = dir == Direction::kOut ? caps_.out_slots : caps_.in_slots;
  if (slot >= slots) {
    return MakeError(Errc::kInvalidArgument, "read " + SlotName(dir, slot) + ": out of range");
  }
  Device& d = *device_;
  ESPO_RETURN_IF_ERROR(d.WriteReg(
      rm::kSaReadSelOffset,
      rm::kSaReadSelDir.Set(rm::kSaReadSelSlot.Set(0, slot), dir == Direction::kIn ? 1U : 0U)));
  SlotStatus st;
  ESPO_ASSIGN_OR_RETURN(const std::uint32_t state, d.ReadReg(rm::kSaReadStateOffset));
  st.state = static_cast<SlotState>(rm::kSaReadStateState.Get(state));
  st.seq_overflow = rm::kSaReadStateSeqOverflow.Get(state) != 0;
  ESPO_ASSIGN_OR_RETURN(st.spi, d.ReadReg(rm::kSaReadSpiOffset));
  std::array<std::uint64_t, 3> v{};
  for (std::uint32_t i = 0; i < 3; ++i) {
    ESPO_ASSIGN_OR_RETURN(const std::uint32_t lo, d.ReadReg(rm::SaReadCounterOffset(2 * i)));
    ESPO_ASSIGN_OR_RETURN(const std::uint32_t hi, d.ReadReg(rm::SaReadCounterOffset(2 * i + 1)));
    v[i] = (static_cast<std::uint64_t>(hi) << 32U) | lo;
  }
  st.packets = v[0];
  st.bytes = v[1];
  st.seq = v[2];
  return st;
}

Status Engine::EnsureBuffers(std::size_t in_bytes, std::size_t out_bytes) {
  if (in_buf_.size < in_bytes) {
    if (in_buf_.size != 0) device_->FreeBuffer(in_buf_);
    in_buf_ = {};
    ESPO_ASSIGN_OR_RETURN(in_buf_, device_->AllocBuffer(std::max<std::size_t>(in_bytes, 1 << 16)));
  }
  if (out_buf_.size < out_bytes) {
    if (out_buf_.size != 0) device_->FreeBuffer(out_buf_);
    out_buf_ = {};
    ESPO_ASSIGN_OR_RETURN(out_buf_,
                          device_->AllocBuffer(std::max<std::size_t>(out_bytes, 1 << 16)));
  }
  return Ok();
}

Result<std::size_t> Engine::RunOneBatch(std::span<const PacketIn> packets,
                                        std::vector<PacketOut>& results) {
  Bytes in;
  std::size_t out_need = 0;
  for (const PacketIn& p : packets) {
    if (p.data.empty() || p.data.size() > caps_.max_packet) {
      return MakeError(Errc::kInvalidArgument, "packet cookie " + std::to_string(p.cookie) +
                                                   ": length " + std::to_string(p.data.size()) +
                                                   " outside 1.." +
                                                   std::to_string(caps_.max_packet));
    }
    const std::size_t at = in.size();
    in.resize(at + kRecordHeaderBytes + PadTo16(p.data.size()), 0);
    RecordHeader h{static_cast<std::uint16_t>(p.data.size()),
                   p.dir == Direction::kOut ? p.slot : kNoSlot,
                   static_cast<std::uint8_t>(p.dir == Direction::kIn ? 1 : 0),
                   0,
                   p.cookie,
                   0};
    EncodeRecordHeader(h, std::span(in).subspan(at, kRecordHeaderBytes));
    std::copy(p.data.begin(), p.data.end(), in.begin() + static_cast<std::ptrdiff_t>(at + 16));
    out_need += MaxResultRecordBytes(p.data.size());
  }
  ESPO_RETURN_IF_ERROR(EnsureBuffers(in.size(), out_need));
  Device& d = *device_;
  ESPO_RETURN_IF_ERROR(d.WriteBuffer(in_buf_, 0, in));
  ESPO_RETURN_IF_ERROR(d.WriteReg(rm::kInAddrLoOffset, Lo(in_buf_.device_address)));
  ESPO_RETURN_IF_ERROR(d.WriteReg(rm::kInAddrHiOffset, Hi(in_buf_.device_address)));
  ESPO_RETURN_IF_ERROR(d.WriteReg(rm::kInCountOffset, static_cast<std::uint32_t>(packets.size())));
  ESPO_RETURN_IF_ERROR(d.WriteReg(rm::kOutAddrLoOffset, Lo(out_buf_.device_address)));
  ESPO_RETURN_IF_ERROR(d.WriteReg(rm::kOutAddrHiOffset, Hi(out_buf_.device_address)));
  ESPO_RETURN_IF_ERROR(d.WriteReg(rm::kOutSizeOffset, static_cast<std::uint32_t>(out_buf_.size)));
  ESPO_RETURN_IF_ERROR(d.RunBatch(kBatchTimeout));
  ESPO_ASSIGN_OR_RETURN(const std::uint32_t count, d.ReadReg(rm::kOutCountOffset));
  ESPO_ASSIGN_OR_RETURN(const std::uint32_t bytes, d.ReadReg(rm::kOutBytesOffset));
  ESPO_ASSIGN_OR_RETURN(const std::uint32_t status, d.ReadReg(rm::kBatchStatusOffset));
  const auto code = static_cast<rm::BatchStatusCode>(rm::kBatchStatusCode.Get(status));
  if (code != rm::BatchStatusCode::kOk && code != rm::BatchStatusCode::kOutFull) {
    return MakeError(Errc::kDevice, std::string(d.kind()) + " device: batch stopped at record " +
                                        std::to_string(rm::kBatchStatusRecord.Get(status)) +
                                        (code == rm::BatchStatusCode::kBadRecord ? " (bad record)"
                                                                                 : " (bus error)"));
  }
  if (count > packets.size() || bytes > out_buf_.size) {
    return MakeError(Errc::kDevice,
                     std::string(d.kind()) + " device: result count/bytes out of range");
  }
  Bytes out(bytes);
  ESPO_RETURN_IF_ERROR(d.ReadBuffer(out_buf_, 0, out));
  std::size_t off = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (off + kRecordHeaderBytes > out.size()) {
      return MakeError(Errc::kDevice, "result record " + std::to_string(i) + " truncated");
    }
    const RecordHeader h = DecodeRecordHeader(std::span(out).subspan(off, kRecordHeaderBytes));
    if (off + kRecordHeaderBytes + h.length > out.size() || h.status > 7) {
      return MakeError(Errc::kDevice, "result record " + std::to_string(i) + " malformed");
    }
    PacketOut r;
    r.status = static_cast<PacketStatus>(h.status);
    r.dir = h.dir != 0 ? Direction::kIn : Direction::kOut;
    r.slot = h.slot;
    r.cookie = h.cookie;
    r.seq_lo = h.seq_lo;
    const auto begin = out.begin() + static_cast<std::ptrdiff_t>(off + kRecordHeaderBytes);
    r.data.assign(begin, begin + h.length);
    results.push_back(std::move(r));
    off += kRecordHeaderBytes + PadTo16(h.length);
  }
  return static_cast<std::size_t>(count);
}

Result<std::vector<PacketOut>> Engine::Process(std::span<const PacketIn> packets) {
  std::vector<PacketOut> results;
  results.reserve(packets.size());
  constexpr std::size_t kBatchPackets = 256;
  std::size_t done = 0;
  while (done < packets.size()) {
    const std::size_t n = std::min(kBatchPackets, packets.size() - done);
    ESPO_ASSIGN_OR_RETURN(const std::size_t ran, RunOneBatch(packets.subspan(done, n), results));
    if (ran == 0) return MakeError(Errc::kDevice, "batch made no progress");
    done += ran;
  }
  return results;
}

Result<std::vector<Event>> Engine::DrainEvents() {
  std::vector<Event> events;
  Device& d = *device_;
  for (;;) {
    ESPO_ASSIGN_OR_RETURN(const std::uint32_t st, d.ReadReg(rm::kEvtStatusOffset));
    if (rm::kEvtStatusCount.Get(st) == 0) break;
    std::array<std::uint32_t, rm::kEvtDataCount> w{};
    for (std::uint32_t i = 0; i < rm::kEvtDataCount; ++i) {
      ESPO_ASSIGN_OR_RETURN(w[i], d.ReadReg(rm::EvtDataOffset(i)));
    }
    ESPO_RETURN_IF_ERROR(d.WriteReg(rm::kEvtPopOffset, 1));
    const std::uint32_t kind = rm::kEvtHeadKind.Get(w[0]);
    if (kind < 1 || kind > 3) {
      return MakeError(Errc::kDevice, "event FIFO: unknown kind " + std::to_string(kind));
    }
    events.push_back(Event{static_cast<EventKind>(kind),
                           rm::kEvtHeadDir.Get(w[0]) != 0 ? Direction::kIn : Direction::kOut,
                           rm::kEvtHeadSlot.Get(w[0]), w[1],
                           (static_cast<std::uint64_t>(w[3]) << 32U) | w[2],
                           (static_cast<std::uint64_t>(w[5]) << 32U) | w[4]});
  }
  ESPO_ASSIGN_OR_RETURN(const std::uint32_t lost, d.ReadReg(rm::kEvtOverflowOffset));
  totals_.events_lost += lost;
  return events;
}

Result<EngineCounters> Engine::ReadCounters() {
  std::array<std::uint32_t, 7> raw{};
  for (std::uint32_t i = 0; i < rm::kDropCount; ++i) {
    ESPO_ASSIGN_OR_RETURN(raw[i], device_->ReadReg(rm::DropOffset(i)));
  }
  for (std::uint32_t i = 0; i < rm::kPktCountCount; ++i) {
    ESPO_ASSIGN_OR_RETURN(raw[5 + i], device_->ReadReg(rm::PktCountOffset(i)));
  }
  std::array<std::uint64_t*, 7> dst = {
      &totals_.drop_auth,     &totals_.drop_replay,  &totals_.drop_no_sa, &totals_.drop_malformed,
      &totals_.drop_lifetime, &totals_.released_out, &totals_.released_in};
  for (std::size_t i = 0; i < raw.size(); ++i) {
    *dst[i] += static_cast<std::uint32_t>(raw[i] - last_raw_[i]);  // modulo 2^32 delta
  }
  last_raw_ = raw;
  return totals_;
}

}  // namespace espo::driver
