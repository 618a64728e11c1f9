// SPDX-License-Identifier: Apache-2.0
//
// ModelDevice: registers, staging and commit, read port, events and the batch runner.
// Per-packet processing lives in model_datapath.cpp.
#include "espo/driver/model_device.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <vector>

#include <openssl/crypto.h>

#include "model_state.hpp"
#include "write_decode.hpp"

#include "espo/driver/gcm_reference.hpp"
#include "espo/regmap/espo_regs.hpp"

namespace espo::driver {
namespace {

namespace rm = ::espo::regmap;

constexpr std::uint64_t kBufferBase = 0x1000'0000ULL;
constexpr std::uint64_t kBufferAlign = 4096;

bool IsPowerOfTwo(std::uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::string Hex32(std::uint32_t v) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out = "0x000";
  out.resize(5);
  out[2] = kDigits[(v >> 8U) & 0xFU];
  out[3] = kDigits[(v >> 4U) & 0xFU];
  out[4] = kDigits[v & 0xFU];
  return out;
}

// The error of a write to no writable register (out of line: Write stays a small leaf).
[[gnu::noinline]] Status NotWritable(std::uint32_t offset) {
  return MakeError(Errc::kDevice,
                   "model: register at offset " + Hex32(offset) + " is not writable");
}

class ModelDevice final : public Device {
 public:
  explicit ModelDevice(const ModelOptions& options) : state_(options) {}
  ~ModelDevice() override { OPENSSL_cleanse(stage_secret_.data(), stage_secret_.size()); }
  ModelDevice(const ModelDevice&) = delete;
  ModelDevice& operator=(const ModelDevice&) = delete;
  ModelDevice(ModelDevice&&) = delete;
  ModelDevice& operator=(ModelDevice&&) = delete;

  std::string_view kind() const override { return "model"; }

  Result<std::uint32_t> ReadReg(std::uint32_t offset) override;
  Status WriteReg(std::uint32_t offset, std::uint32_t value) override {
    return Write(offset, value) ? Ok() : NotWritable(offset);
  }
  Status WriteRegs(std::span<const RegWrite> writes) override {
    for (const RegWrite& w : writes) {
      if (!Write(w.offset, w.value)) return NotWritable(w.offset);
    }
    return Ok();
  }

  Result<DmaBuffer> AllocBuffer(std::size_t bytes) override {
    if (bytes == 0) return MakeError(Errc::kInvalidArgument, "model: buffer of 0 bytes");
    DmaBuffer buf{next_id_++, next_address_, bytes};
    next_address_ += (bytes + kBufferAlign - 1) / kBufferAlign * kBufferAlign;
    memory_.emplace(buf.device_address, Bytes(bytes));
    ids_[buf.id] = buf.device_address;
    return buf;
  }
  Status WriteBuffer(const DmaBuffer& buffer, std::size_t offset, ByteSpan data) override {
    ESPO_ASSIGN_OR_RETURN(Bytes * mem, Find(buffer, offset, data.size()));
    std::copy(data.begin(), data.end(), mem->begin() + static_cast<std::ptrdiff_t>(offset));
    return Ok();
  }
  Status ReadBuffer(const DmaBuffer& buffer, std::size_t offset, MutableByteSpan out) override {
    ESPO_ASSIGN_OR_RETURN(Bytes * mem, Find(buffer, offset, out.size()));
    std::copy_n(mem->begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
    return Ok();
  }
  void FreeBuffer(const DmaBuffer& buffer) override {
    auto it = ids_.find(buffer.id);
    if (it == ids_.end()) return;
    memory_.erase(it->second);
    ids_.erase(it);
  }
  Status RunBatch(std::chrono::milliseconds /*timeout*/) override {
    ESPO_RETURN_IF_ERROR(WriteReg(rm::kCtrlOffset, rm::kCtrlStart.Set(0, 1)));
    // The model finishes inside the START write; DONE must be set now.
    ESPO_ASSIGN_OR_RETURN(const std::uint32_t ctrl, ReadReg(rm::kCtrlOffset));
    if (rm::kCtrlDone.Get(ctrl) == 0) return MakeError(Errc::kInternal, "model: batch not done");
    return Ok();
  }

 private:
  Result<Bytes*> Find(const DmaBuffer& buffer, std::size_t offset, std::size_t len) {
    auto it = ids_.find(buffer.id);
    if (it == ids_.end()) {
      return MakeError(Errc::kInvalidArgument,
                       "model: unknown buffer " + std::to_string(buffer.id));
    }
    Bytes& mem = memory_.at(it->second);
    if (offset > mem.size() || len > mem.size() - offset) {
      return MakeError(Errc::kInvalidArgument, "model: access [" + std::to_string(offset) + ", +" +
                                                   std::to_string(len) + ") outside buffer of " +
                                                   std::to_string(mem.size()) + " bytes");
    }
    return &mem;
  }

  // One register write; false when no register at `offset` takes writes.
  bool Write(std::uint32_t offset, std::uint32_t value);
  // Out of line (noinline) so that Write, called ~30 times per SA install, stays a small leaf.
  [[gnu::noinline]] void Commit(std::uint32_t value);
  // Decodes the staging registers into `sa` (key included) for an INSTALL commit; reorders the
  // key staging bytes (wiped by the commit anyway).
  Status StagedSa(Direction dir, SaConfig& sa);
  SaLimits StagedLimits() const;
  [[gnu::noinline]] void LatchReadPort(std::uint32_t value);
  [[gnu::noinline]] void RunBatchNow();
  // Bus-side memory access for the batch runner (false = bus error).
  bool BusRead(std::uint64_t address, MutableByteSpan out) const;
  bool BusWrite(std::uint64_t address, ByteSpan data);

  static constexpr std::size_t kSaltAt = std::size_t{4} * rm::kStageKeyCount;  // STAGE_SALT

  ModelState state_;
  // Plain read/write registers by offset / 4 (the AXI-Lite window is 4 KiB).
  std::array<std::uint32_t, kRegWindowWords> rw_{};
  // Write-only key staging as the key bytes: STAGE_KEY0..7 (each big-endian) then STAGE_SALT.
  // Wiped at every commit that follows a write to it (secret_staged_) and in the destructor.
  std::array<std::uint8_t, KeyMaterial::kMaxBytes> stage_secret_{};
  bool secret_staged_ = false;
  std::uint32_t commit_status_ = 0;
  std::uint32_t ctrl_ = rm::kCtrlIdle.Set(0, 1);
  std::uint32_t out_count_ = 0;
  std::uint32_t out_bytes_ = 0;
  std::uint32_t batch_status_ = 0;
  std::array<std::uint32_t, 2 + rm::kSaReadCounterCount> read_port_{};  // state, spi, counters
  std::map<std::uint64_t, Bytes> memory_;                               // device address -> bytes
  std::map<std::uint32_t, std::uint64_t> ids_;
  std::uint32_t next_id_ = 1;
  std::uint64_t next_address_ = kBufferBase;
};

std::uint32_t Lo(std::uint64_t v) { return static_cast<std::uint32_t>(v); }
std::uint32_t Hi(std::uint64_t v) { return static_cast<std::uint32_t>(v >> 32U); }

Result<std::uint32_t> ModelDevice::ReadReg(std::uint32_t offset) {
  const ModelOptions& opt = state_.options();
  switch (offset) {
    case rm::kIdOffset:
      return rm::kIdValue;
    case rm::kVersionOffset:
      return rm::kVersionMajor.Set(
          rm::kVersionMinor.Set(rm::kVersionPatch.Set(0, rm::kRegmapVersionPatch),
                                rm::kRegmapVersionMinor),
          rm::kRegmapVersionMajor);
    case rm::kRegmapHashOffset:
      return rm::kRegmapHash;
    case rm::kBuildIdOffset:
      return 0;
    case rm::kCapSlotsOffset:
      return rm::kCapSlotsInSlots.Set(rm::kCapSlotsOutSlots.Set(0, opt.sa_slots), opt.sa_slots);
    case rm::kCapDatapathOffset:
      return rm::kCapDatapathReplayBits.Set(
          rm::kCapDatapathAesLanes.Set(rm::kCapDatapathDataBytes.Set(0, 16), 1), 1024);
    case rm::kCapFeaturesOffset:
      return 0xFFFU;  // every feature bit 0..11
    case rm::kCapLimitsOffset:
      return rm::kCapLimitsEventDepth.Set(rm::kCapLimitsMaxPacket.Set(0, opt.max_packet),
                                          opt.event_depth);
    case rm::kCtrlOffset:
      return ctrl_;
    case rm::kOutCountOffset:
      return out_count_;
    case rm::kOutBytesOffset:
      return out_bytes_;
    case rm::kBatchStatusOffset:
      return batch_status_;
    case rm::kSaCommitOffset:
      return 0;  // write-only
    case rm::kSaCommitStatusOffset:
      return commit_status_;
    case rm::kStageSaltOffset:
      return 0;  // write-only: key material never reads back
    case rm::kSaReadStateOffset:
      return read_port_[0];
    case rm::kSaReadSpiOffset:
      return read_port_[1];
    case rm::kEvtStatusOffset:
      return rm::kEvtStatusCount.Set(0, static_cast<std::uint32_t>(state_.events().size()));
    case rm::kEvtOverflowOffset:
      return state_.TakeEventOverflow();
    case rm::kEvtPopOffset:
      return 0;
    default:
      break;
  }
  if (offset >= rm::kStageKeyOffset && offset < rm::StageKeyOffset(rm::kStageKeyCount)) return 0;
  if (offset >= rm::kSaReadCounterOffset &&
      offset < rm::SaReadCounterOffset(rm::kSaReadCounterCount) && offset % 4 == 0) {
    return read_port_[2 + (offset - rm::kSaReadCounterOffset) / 4];
  }
  if (offset >= rm::kDropOffset && offset < rm::DropOffset(rm::kDropCount) && offset % 4 == 0) {
    return Lo(state_.drops()[(offset - rm::kDropOffset) / 4]);
  }
  if (offset >= rm::kPktCountOffset && offset < rm::PktCountOffset(rm::kPktCountCount) &&
      offset % 4 == 0) {
    return Lo(state_.released()[(offset - rm::kPktCountOffset) / 4]);
  }
  if (offset >= rm::kEvtDataOffset && offset < rm::EvtDataOffset(rm::kEvtDataCount) &&
      offset % 4 == 0) {
    if (state_.events().empty()) return 0;
    const ModelEvent& e = state_.events().front();
    const std::array<std::uint32_t, rm::kEvtDataCount> words = {
        rm::kEvtHeadSlot.Set(
            rm::kEvtHeadDir.Set(rm::kEvtHeadKind.Set(0, e.kind), e.dir == Direction::kIn ? 1U : 0U),
            e.slot),
        e.spi,
        Lo(e.packets),
        Hi(e.packets),
        Lo(e.bytes),
        Hi(e.bytes)};
    return words[(offset - rm::kEvtDataOffset) / 4];
  }
  if (rm::IsReadWriteOffset(offset)) {
    return rw_[offset / 4];
  }
  return MakeError(Errc::kDevice, "model: no register at offset " + Hex32(offset));
}

bool ModelDevice::Write(std::uint32_t offset, std::uint32_t value) {
  const std::uint32_t word = offset / 4;
  switch (DecodeWrite(offset)) {
    case WriteKind::kPlain:
      rw_[word] = value;
      return true;
    case WriteKind::kKey:
      StoreBe32(std::span(stage_secret_).subspan(offset - rm::kStageKeyOffset, 4), value);
      secret_staged_ = true;
      return true;
    case WriteKind::kSalt:
      StoreBe32(std::span(stage_secret_).subspan(kSaltAt, 4), value);
      secret_staged_ = true;
      return true;
    case WriteKind::kCommit:
      Commit(value);
      return true;
    case WriteKind::kReadSel:
      rw_[word] = value;
      LatchReadPort(value);
      return true;
    case WriteKind::kEvtPop:
      state_.PopEvent();
      return true;
    case WriteKind::kCtrl:
      if (rm::kCtrlStart.Get(value) != 0) RunBatchNow();
      return true;
    case WriteKind::kNone:
      break;
  }
  return false;
}

Status ModelDevice::StagedSa(Direction dir, SaConfig& sa) {
  auto reg = [this](std::uint32_t off) { return rw_[off / 4]; };
  sa.dir = dir;
  sa.spi = reg(rm::kStageSpiOffset);
  const std::uint32_t flags = reg(rm::kStageFlagsOffset);
  sa.esn = rm::kStageFlagsEsn.Get(flags) != 0;
  sa.alg = rm::kStageFlagsAlg.Get(flags) != 0 ? Algorithm::kGmac : Algorithm::kGcm;
  sa.mode = rm::kStageFlagsMode.Get(flags) != 0 ? Mode::kTransport : Mode::kTunnel;
  sa.icv_bytes = static_cast<std::uint8_t>(4 * rm::kStageFlagsIcvWords.Get(flags));
  const bool v6 = rm::kStageFlagsIpv6.Get(flags) != 0;
  const std::size_t key_bytes = rm::kStageFlagsKey256.Get(flags) != 0 ? 32 : 16;
  if (key_bytes != kSaltAt) {
    // The salt follows the key (KeyMaterial's layout): move it down behind a 128-bit key.
    std::copy_n(stage_secret_.begin() + kSaltAt, KeyMaterial::kSaltBytes,
                stage_secret_.begin() + static_cast<std::ptrdiff_t>(key_bytes));
  }
  ESPO_RETURN_IF_ERROR(sa.key.Assign(std::span(stage_secret_).first(key_bytes + 4)));
  sa.replay_window = reg(rm::kStageReplayWindowOffset);
  const std::uint64_t seq =
      (static_cast<std::uint64_t>(reg(rm::kStageSeqHiOffset)) << 32U) | reg(rm::kStageSeqLoOffset);
  if (dir == Direction::kOut) {
    sa.oseq = seq;
  } else {
    sa.replay_seq = seq;
  }
  sa.src.v6 = v6;
  sa.dst.v6 = v6;
  for (std::uint32_t i = 0; i < 4; ++i) {
    StoreBe32(std::span(sa.src.bytes).subspan(4 * i), reg(rm::StageSrcOffset(i)));
    StoreBe32(std::span(sa.dst.bytes).subspan(4 * i), reg(rm::StageDstOffset(i)));
  }
  if (!v6) {
    std::fill(sa.src.bytes.begin() + 4, sa.src.bytes.end(), 0);
    std::fill(sa.dst.bytes.begin() + 4, sa.dst.bytes.end(), 0);
  }
  if (rm::kStageFlagsUdpEncap.Get(flags) != 0) {
    const std::uint32_t ports = reg(rm::kStageUdpPortsOffset);
    sa.encap = UdpEncap{static_cast<std::uint16_t>(rm::kStageUdpPortsSport.Get(ports)),
                        static_cast<std::uint16_t>(rm::kStageUdpPortsDport.Get(ports))};
  }
  sa.limits = StagedLimits();
  return Ok();
}

SaLimits ModelDevice::StagedLimits() const {
  auto limit = [this](std::uint32_t i) {
    return (static_cast<std::uint64_t>(rw_[rm::StageLimitOffset(i + 1) / 4]) << 32U) |
           rw_[rm::StageLimitOffset(i) / 4];
  };
  return SaLimits{limit(0), limit(2), limit(4), limit(6)};
}

void ModelDevice::Commit(std::uint32_t value) {
  const auto slot = rm::kSaCommitSlot.Get(value);
  const auto op = static_cast<rm::SaCommitOp>(rm::kSaCommitOp.Get(value));
  const Direction dir = rm::kSaCommitDir.Get(value) != 0 ? Direction::kIn : Direction::kOut;
  CommitCode code = CommitCode::kBadOp;
  switch (op) {
    case rm::SaCommitOp::kInstall: {
      SaConfig sa;
      code = StagedSa(dir, sa) ? state_.Install(dir, slot, std::move(sa)) : CommitCode::kBadParam;
      break;
    }
    case rm::SaCommitOp::kRemove:
      code = state_.Remove(dir, slot);
      break;
    case rm::SaCommitOp::kSetLimits:
      code = state_.SetLimits(dir, slot, StagedLimits());
      break;
  }
  // Staging never keeps key material past a commit (untouched staging already holds zeros).
  if (secret_staged_) {
    OPENSSL_cleanse(stage_secret_.data(), stage_secret_.size());
    secret_staged_ = false;
  }
  commit_status_ = rm::kSaCommitStatusCode.Set(0, static_cast<std::uint32_t>(code));
}

void ModelDevice::LatchReadPort(std::uint32_t value) {
  const auto slot = rm::kSaReadSelSlot.Get(value);
  const Direction dir = rm::kSaReadSelDir.Get(value) != 0 ? Direction::kIn : Direction::kOut;
  read_port_.fill(0);
  const ModelSlot* s = state_.Find(dir, slot);
  if (s == nullptr) return;
  read_port_[0] = rm::kSaReadStateSeqOverflow.Set(
      rm::kSaReadStateState.Set(0, static_cast<std::uint32_t>(s->state)), s->seq_overflow ? 1 : 0);
  read_port_[1] = s->state == SlotState::kFree ? 0 : s->sa.spi;
  const std::uint64_t seq =
      dir == Direction::kOut ? s->seq : (s->window ? s->window->right_edge() : 0);
  const std::array<std::uint64_t, 3> values = {s->packets, s->bytes, seq};
  for (std::size_t i = 0; i < values.size(); ++i) {
    read_port_[2 + 2 * i] = Lo(values[i]);
    read_port_[3 + 2 * i] = Hi(values[i]);
  }
}

bool ModelDevice::BusRead(std::uint64_t address, MutableByteSpan out) const {
  auto it = memory_.upper_bound(address);
  if (it == memory_.begin()) return false;
  --it;
  const std::uint64_t off = address - it->first;
  if (off > it->second.size() || out.size() > it->second.size() - off) return false;
  std::copy_n(it->second.begin() + static_cast<std::ptrdiff_t>(off), out.size(), out.begin());
  return true;
}

bool ModelDevice::BusWrite(std::uint64_t address, ByteSpan data) {
  auto it = memory_.upper_bound(address);
  if (it == memory_.begin()) return false;
  --it;
  const std::uint64_t off = address - it->first;
  if (off > it->second.size() || data.size() > it->second.size() - off) return false;
  std::copy(data.begin(), data.end(), it->second.begin() + static_cast<std::ptrdiff_t>(off));
  return true;
}

void ModelDevice::RunBatchNow() {
  auto reg = [this](std::uint32_t off) { return off / 4 < rw_.size() ? rw_[off / 4] : 0U; };
  const std::uint64_t in_addr =
      (static_cast<std::uint64_t>(reg(rm::kInAddrHiOffset)) << 32U) | reg(rm::kInAddrLoOffset);
  const std::uint64_t out_addr =
      (static_cast<std::uint64_t>(reg(rm::kOutAddrHiOffset)) << 32U) | reg(rm::kOutAddrLoOffset);
  const std::uint32_t count = reg(rm::kInCountOffset);
  const std::uint32_t out_size = reg(rm::kOutSizeOffset);
  std::uint64_t in_off = 0;
  std::uint64_t out_off = 0;
  std::uint32_t done = 0;
  rm::BatchStatusCode code = rm::BatchStatusCode::kOk;
  for (; done < count; ++done) {
    std::array<std::uint8_t, kRecordHeaderBytes> hdr{};
    if (!BusRead(in_addr + in_off, hdr)) {
      code = rm::BatchStatusCode::kBusError;
      break;
    }
    const RecordHeader in = DecodeRecordHeader(hdr);
    if (in.length == 0 || in.length > state_.options().max_packet || in.dir > 1) {
      code = rm::BatchStatusCode::kBadRecord;
      break;
    }
    Bytes packet(in.length);
    if (!BusRead(in_addr + in_off + kRecordHeaderBytes, packet)) {
      code = rm::BatchStatusCode::kBusError;
      break;
    }
    // Room check before processing (the RTL streams its result, so it decides up front).
    if (out_off + MaxResultRecordBytes(in.length) > out_size) {
      code = rm::BatchStatusCode::kOutFull;
      break;
    }
    const ModelResult result =
        in.dir == 0 ? state_.ProcessOutbound(in.slot, packet) : state_.ProcessInbound(packet);
    const std::uint64_t need = kRecordHeaderBytes + PadTo16(result.data.size());
    RecordHeader out{static_cast<std::uint16_t>(result.data.size()), result.slot, in.dir,
                     static_cast<std::uint8_t>(result.status),       in.cookie,   result.seq_lo};
    Bytes record(need, 0);
    EncodeRecordHeader(out, std::span(record).first(kRecordHeaderBytes));
    std::copy(result.data.begin(), result.data.end(), record.begin() + kRecordHeaderBytes);
    if (!BusWrite(out_addr + out_off, record)) {
      code = rm::BatchStatusCode::kBusError;
      break;
    }
    out_off += need;
    in_off += kRecordHeaderBytes + PadTo16(in.length);
  }
  out_count_ = done;
  out_bytes_ = static_cast<std::uint32_t>(out_off);
  batch_status_ =
      rm::kBatchStatusRecord.Set(rm::kBatchStatusCode.Set(0, static_cast<std::uint32_t>(code)),
                                 code == rm::BatchStatusCode::kOk ? 0 : done);
  ctrl_ = rm::kCtrlIdle.Set(rm::kCtrlDone.Set(0, 1), 1);
}

}  // namespace

Result<std::unique_ptr<Device>> OpenModelDevice(const ModelOptions& options) {
  if (!IsPowerOfTwo(options.sa_slots) || options.sa_slots < 2 || options.sa_slots > 32768) {
    return MakeError(Errc::kInvalidArgument,
                     "model: sa_slots must be a power of two in 2..32768, got " +
                         std::to_string(options.sa_slots));
  }
  if (options.event_depth == 0 || options.event_depth > 0xFFFF || options.max_packet < 128 ||
      options.max_packet > 0xFFFF) {
    return MakeError(Errc::kInvalidArgument,
                     "model: event_depth 1..65535 and max_packet 128..65535");
  }
  return std::unique_ptr<Device>(std::make_unique<ModelDevice>(options));
}

}  // namespace espo::driver
