// SPDX-License-Identifier: Apache-2.0
//
// CountingDevice: the SA-table half of the register map without packets or crypto (see the
// header). Register behaviour follows driver/src/model_device.cpp; lifetime accounting follows
// ModelState::Account (docs/ENGINE_SEMANTICS.md), applied in bulk.
#include "espo/driver/counting_device.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <string>

#include "write_decode.hpp"

#include "espo/regmap/espo_regs.hpp"

namespace espo::driver {
namespace {

namespace rm = ::espo::regmap;

constexpr std::uint64_t kNoLimitAhead = std::numeric_limits<std::uint64_t>::max();

// Commit status codes (SA_COMMIT_STATUS.CODE), as ModelState reports them.
constexpr std::uint32_t kCodeOk = 0;
constexpr std::uint32_t kCodeBadSlot = 1;
constexpr std::uint32_t kCodeSlotBusy = 2;
constexpr std::uint32_t kCodeSlotFree = 3;
constexpr std::uint32_t kCodeBadParam = 4;
constexpr std::uint32_t kCodeBadOp = 5;

constexpr std::uint32_t kEventSoft = 1;
constexpr std::uint32_t kEventHard = 2;
constexpr std::uint32_t kEventSeqOverflow = 3;

bool InArray(std::uint32_t offset, std::uint32_t base, std::uint32_t count) {
  return offset >= base && offset < base + 4 * count && offset % 4 == 0;
}

bool Crossed(std::uint64_t value, std::uint64_t limit) { return limit != 0 && value >= limit; }

// Packets until `value + k * each >= limit` (at least 1: a limit already crossed fires on the
// next packet, as SET_LIMITS promises).
std::uint64_t PacketsUntil(std::uint64_t value, std::uint64_t limit, std::uint64_t each) {
  if (limit == 0 || each == 0) return kNoLimitAhead;
  if (value >= limit) return 1;
  return (limit - value + each - 1) / each;
}

std::uint32_t Lo(std::uint64_t v) { return static_cast<std::uint32_t>(v); }
std::uint32_t Hi(std::uint64_t v) { return static_cast<std::uint32_t>(v >> 32U); }

// The error of a write to no writable register (out of line: Write stays a small leaf).
[[gnu::noinline]] Status NotWritable(std::uint32_t offset) {
  return MakeError(Errc::kDevice, "counting device: register at offset " + std::to_string(offset) +
                                      " is not writable");
}

}  // namespace

Result<std::unique_ptr<CountingDevice>> CountingDevice::Create(const CountingOptions& options) {
  const std::uint32_t n = options.sa_slots;
  if (n < 2 || n > 32768 || (n & (n - 1)) != 0) {
    return MakeError(
        Errc::kInvalidArgument,
        "counting device: sa_slots must be a power of two in 2..32768, got " + std::to_string(n));
  }
  if (options.event_depth == 0 || options.event_depth > 0xFFFF) {
    return MakeError(Errc::kInvalidArgument, "counting device: event_depth must be 1..65535");
  }
  return std::unique_ptr<CountingDevice>(new CountingDevice(options));  // NOLINT: private ctor
}

CountingDevice::CountingDevice(const CountingOptions& options)
    : options_(options),
      in_(options.sa_slots),
      out_(options.sa_slots),
      regs_(kRegWindowWords, 0),
      read_port_(2 + rm::kSaReadCounterCount, 0) {}

CountingDevice::~CountingDevice() = default;

Result<std::uint32_t> CountingDevice::ReadReg(std::uint32_t offset) {
  ++stats_.reg_reads;
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
      return rm::kCapSlotsInSlots.Set(rm::kCapSlotsOutSlots.Set(0, options_.sa_slots),
                                      options_.sa_slots);
    case rm::kCapDatapathOffset:
      return rm::kCapDatapathReplayBits.Set(
          rm::kCapDatapathAesLanes.Set(rm::kCapDatapathDataBytes.Set(0, 16), 1),
          options_.replay_bits);
    case rm::kCapFeaturesOffset:
      return 0xFFFU;
    case rm::kCapLimitsOffset:
      return rm::kCapLimitsEventDepth.Set(rm::kCapLimitsMaxPacket.Set(0, 9216),
                                          options_.event_depth);
    case rm::kCtrlOffset:
      return rm::kCtrlIdle.Set(0, 1);
    case rm::kOutCountOffset:
    case rm::kOutBytesOffset:
    case rm::kBatchStatusOffset:
    case rm::kSaCommitOffset:
    case rm::kStageSaltOffset:
    case rm::kEvtPopOffset:
      return 0;
    case rm::kSaCommitStatusOffset:
      return commit_status_;
    case rm::kSaReadStateOffset:
      return read_port_[0];
    case rm::kSaReadSpiOffset:
      return read_port_[1];
    case rm::kEvtStatusOffset:
      return rm::kEvtStatusCount.Set(0, static_cast<std::uint32_t>(std::min<std::size_t>(
                                            events_.size() - event_head_, 0xFFFF)));
    case rm::kEvtOverflowOffset: {
      const std::uint32_t v = event_overflow_;
      event_overflow_ = 0;
      return v;
    }
    default:
      break;
  }
  if (offset >= rm::kStageKeyOffset && offset < rm::StageKeyOffset(rm::kStageKeyCount)) return 0;
  if (InArray(offset, rm::kSaReadCounterOffset, rm::kSaReadCounterCount)) {
    return read_port_[2 + (offset - rm::kSaReadCounterOffset) / 4];
  }
  if (InArray(offset, rm::kDropOffset, rm::kDropCount) ||
      InArray(offset, rm::kPktCountOffset, rm::kPktCountCount)) {
    return 0;  // no packets, no drops
  }
  if (InArray(offset, rm::kEvtDataOffset, rm::kEvtDataCount)) {
    if (event_head_ == events_.size()) return 0;
    const Ev& e = events_[event_head_];
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
  if (rm::IsReadWriteOffset(offset)) return regs_[offset / 4];
  return MakeError(Errc::kDevice,
                   "counting device: no register at offset " + std::to_string(offset));
}

Status CountingDevice::WriteReg(std::uint32_t offset, std::uint32_t value) {
  return Write(offset, value) ? Ok() : NotWritable(offset);
}

Status CountingDevice::WriteRegs(std::span<const RegWrite> writes) {
  for (const RegWrite& w : writes) {
    if (!Write(w.offset, w.value)) return NotWritable(w.offset);
  }
  return Ok();
}

bool CountingDevice::Write(std::uint32_t offset, std::uint32_t value) {
  ++stats_.reg_writes;
  switch (DecodeWrite(offset)) {
    case WriteKind::kPlain:
      regs_[offset / 4] = value;
      return true;
    case WriteKind::kKey:
    case WriteKind::kSalt:
      return true;  // no crypto: the key is not kept
    case WriteKind::kCommit:
      Commit(value);
      return true;
    case WriteKind::kReadSel:
      regs_[offset / 4] = value;
      LatchReadPort(value);
      return true;
    case WriteKind::kEvtPop:
      if (event_head_ < events_.size()) ++event_head_;
      if (event_head_ == events_.size()) {
        events_.clear();
        event_head_ = 0;
      }
      return true;
    case WriteKind::kCtrl:
      return true;  // START is ignored: there are no packets
    case WriteKind::kNone:
      break;
  }
  return false;
}

Result<DmaBuffer> CountingDevice::AllocBuffer(std::size_t bytes) {
  if (bytes == 0) return MakeError(Errc::kInvalidArgument, "counting device: buffer of 0 bytes");
  const std::uint32_t id = next_buffer_++;
  return DmaBuffer{id, 0x1000'0000ULL + (std::uint64_t{id} << 24U), bytes};
}
Status CountingDevice::WriteBuffer(const DmaBuffer& /*buffer*/, std::size_t /*offset*/,
                                   ByteSpan /*data*/) {
  return Ok();
}
Status CountingDevice::ReadBuffer(const DmaBuffer& /*buffer*/, std::size_t /*offset*/,
                                  MutableByteSpan out) {
  std::fill(out.begin(), out.end(), std::uint8_t{0});
  return Ok();
}
void CountingDevice::FreeBuffer(const DmaBuffer& /*buffer*/) {}
Status CountingDevice::RunBatch(std::chrono::milliseconds /*timeout*/) {
  return MakeError(Errc::kUnsupported,
                   "counting device: no packet processing (traffic is applied with AddTraffic)");
}

SaLimits CountingDevice::StagedLimits() const {
  auto limit = [this](std::uint32_t i) {
    return (static_cast<std::uint64_t>(regs_[rm::StageLimitOffset(i + 1) / 4]) << 32U) |
           regs_[rm::StageLimitOffset(i) / 4];
  };
  return SaLimits{limit(0), limit(2), limit(4), limit(6)};
}

void CountingDevice::Commit(std::uint32_t value) {
  const std::uint32_t slot = rm::kSaCommitSlot.Get(value);
  const auto op = static_cast<rm::SaCommitOp>(rm::kSaCommitOp.Get(value));
  const Direction dir = rm::kSaCommitDir.Get(value) != 0 ? Direction::kIn : Direction::kOut;
  std::uint32_t code = kCodeBadOp;
  if (slot >= options_.sa_slots) {
    code = kCodeBadSlot;
  } else {
    if (hook_) hook_(dir, slot);
    switch (op) {
      case rm::SaCommitOp::kInstall:
        code = Install(dir, slot);
        break;
      case rm::SaCommitOp::kRemove:
        code = Remove(dir, slot);
        break;
      case rm::SaCommitOp::kSetLimits:
        code = SetLimits(dir, slot);
        break;
    }
  }
  if (code != kCodeOk) ++stats_.commit_errors;
  commit_status_ = rm::kSaCommitStatusCode.Set(0, code);
}

std::uint32_t CountingDevice::Install(Direction dir, std::uint32_t slot) {
  CountingSlot& s = Table(dir)[slot];
  if (s.state != SlotState::kFree) return kCodeSlotBusy;
  const std::uint32_t spi = regs_[rm::kStageSpiOffset / 4];
  const std::uint32_t flags = regs_[rm::kStageFlagsOffset / 4];
  const std::uint32_t icv_words = rm::kStageFlagsIcvWords.Get(flags);
  const bool esn = rm::kStageFlagsEsn.Get(flags) != 0;
  const bool gmac = rm::kStageFlagsAlg.Get(flags) != 0;
  const std::uint32_t window = regs_[rm::kStageReplayWindowOffset / 4];
  const SaLimits limits = StagedLimits();
  const std::uint64_t seq = (static_cast<std::uint64_t>(regs_[rm::kStageSeqHiOffset / 4]) << 32U) |
                            regs_[rm::kStageSeqLoOffset / 4];
  // The parameter checks of ENGINE_SEMANTICS "COMMIT ops" (keys are not checked: none kept).
  const bool bad =
      spi == 0 || icv_words < 2 || icv_words > 4 || (gmac && icv_words != 4) ||
      (dir == Direction::kIn &&
       ((window != 0 && ((window & (window - 1)) != 0 || window > options_.replay_bits)) ||
        (window == 0 && esn) || (spi & (options_.sa_slots - 1)) != slot)) ||
      (limits.soft_packets != 0 && limits.hard_packets != 0 &&
       limits.soft_packets >= limits.hard_packets) ||
      (limits.soft_bytes != 0 && limits.hard_bytes != 0 &&
       limits.soft_bytes >= limits.hard_bytes) ||
      (!esn && (dir == Direction::kOut ? seq >= 0xFFFFFFFFULL : seq > 0xFFFFFFFFULL));
  if (bad) return kCodeBadParam;
  s = CountingSlot{};
  s.state = SlotState::kActive;
  s.spi = spi;
  s.esn = esn;
  s.limits = limits;
  s.seq = seq;
  ++stats_.installs;
  return kCodeOk;
}

std::uint32_t CountingDevice::Remove(Direction dir, std::uint32_t slot) {
  CountingSlot& s = Table(dir)[slot];
  if (s.state == SlotState::kFree) return kCodeSlotFree;
  if (dir == Direction::kOut && s.soft_posted) {
    stats_.max_packets_past_soft =
        std::max(stats_.max_packets_past_soft, s.packets - s.soft_packets_at);
  }
  s = CountingSlot{};
  ++stats_.removes;
  return kCodeOk;
}

std::uint32_t CountingDevice::SetLimits(Direction dir, std::uint32_t slot) {
  CountingSlot& s = Table(dir)[slot];
  if (s.state == SlotState::kFree) return kCodeSlotFree;
  const SaLimits l = StagedLimits();
  if ((l.soft_packets != 0 && l.hard_packets != 0 && l.soft_packets >= l.hard_packets) ||
      (l.soft_bytes != 0 && l.hard_bytes != 0 && l.soft_bytes >= l.hard_bytes)) {
    return kCodeBadParam;
  }
  s.limits = l;
  ++stats_.set_limits;
  return kCodeOk;
}

void CountingDevice::LatchReadPort(std::uint32_t value) {
  const std::uint32_t slot = rm::kSaReadSelSlot.Get(value);
  const Direction dir = rm::kSaReadSelDir.Get(value) != 0 ? Direction::kIn : Direction::kOut;
  std::fill(read_port_.begin(), read_port_.end(), 0U);
  if (slot >= options_.sa_slots) return;
  const CountingSlot& s = Table(dir)[slot];
  read_port_[0] = rm::kSaReadStateSeqOverflow.Set(
      rm::kSaReadStateState.Set(0, static_cast<std::uint32_t>(s.state)), s.seq_overflow ? 1 : 0);
  read_port_[1] = s.state == SlotState::kFree ? 0 : s.spi;
  const std::array<std::uint64_t, 3> values = {s.packets, s.bytes, s.seq};
  for (std::size_t i = 0; i < values.size(); ++i) {
    read_port_[2 + 2 * i] = Lo(values[i]);
    read_port_[3 + 2 * i] = Hi(values[i]);
  }
}

void CountingDevice::Post(std::uint32_t kind, Direction dir, std::uint32_t slot,
                          const CountingSlot& s) {
  if (events_.size() - event_head_ >= options_.event_depth) {
    ++event_overflow_;
    ++stats_.events_lost;
    return;
  }
  events_.push_back(Ev{kind, dir, slot, s.spi, s.packets, s.bytes});
  ++stats_.events_posted;
}

const CountingSlot& CountingDevice::Slot(Direction dir, std::uint32_t slot) const {
  return Table(dir)[slot];
}

std::uint64_t CountingDevice::PacketsToNextEvent(Direction dir, std::uint32_t slot,
                                                 std::uint64_t bytes_each) const {
  if (slot >= options_.sa_slots) return 0;
  const CountingSlot& s = Table(dir)[slot];
  if (s.state == SlotState::kFree || s.state == SlotState::kHardExpired) return 0;
  std::uint64_t k = kNoLimitAhead;
  if (!s.soft_posted) {
    k = std::min(k, PacketsUntil(s.packets, s.limits.soft_packets, 1));
    k = std::min(k, PacketsUntil(s.bytes, s.limits.soft_bytes, bytes_each));
  }
  if (!s.hard_posted) {
    k = std::min(k, PacketsUntil(s.packets, s.limits.hard_packets, 1));
    k = std::min(k, PacketsUntil(s.bytes, s.limits.hard_bytes, bytes_each));
  }
  if (dir == Direction::kOut) {
    const std::uint64_t last = s.esn ? std::numeric_limits<std::uint64_t>::max()
                                     : std::numeric_limits<std::uint32_t>::max();
    k = std::min(k, last - s.seq);
  }
  return k;
}

std::uint64_t CountingDevice::AddTraffic(Direction dir, std::uint32_t slot, std::uint64_t packets,
                                         std::uint64_t bytes_each) {
  std::uint64_t accepted = 0;
  if (slot < options_.sa_slots) {
    CountingSlot& s = Table(dir)[slot];
    while (packets > 0 && s.state != SlotState::kFree && s.state != SlotState::kHardExpired) {
      const std::uint64_t k = PacketsToNextEvent(dir, slot, bytes_each);
      const std::uint64_t take = std::min(packets, k);
      s.packets += take;
      s.bytes += take * bytes_each;
      s.seq += take;  // outbound: numbers used; inbound: in-order arrival moves the right edge
      accepted += take;
      packets -= take;
      if (take != k) break;
      // The take-th packet is the one that reaches the next limit: the per-packet rules.
      const SaLimits& l = s.limits;
      if (!s.soft_posted &&
          (Crossed(s.packets, l.soft_packets) || Crossed(s.bytes, l.soft_bytes))) {
        s.soft_posted = true;
        s.soft_packets_at = s.packets;
        if (s.state == SlotState::kActive) s.state = SlotState::kSoftExpired;
        Post(kEventSoft, dir, slot, s);
      }
      if (!s.hard_posted &&
          (Crossed(s.packets, l.hard_packets) || Crossed(s.bytes, l.hard_bytes))) {
        s.hard_posted = true;
        s.state = SlotState::kHardExpired;
        Post(kEventHard, dir, slot, s);
      }
      if (dir == Direction::kOut) {
        const std::uint64_t last = s.esn ? std::numeric_limits<std::uint64_t>::max()
                                         : std::numeric_limits<std::uint32_t>::max();
        if (s.seq == last) {
          s.seq_overflow = true;
          s.state = SlotState::kHardExpired;
          Post(kEventSeqOverflow, dir, slot, s);
        }
      }
    }
  }
  stats_.packets += accepted;
  stats_.packets_refused += packets;
  return accepted;
}

std::uint64_t CountingDevice::MaxPastSoftNow() const {
  std::uint64_t m = stats_.max_packets_past_soft;
  for (const CountingSlot& s : out_) {
    if (s.state != SlotState::kFree && s.soft_posted)
      m = std::max(m, s.packets - s.soft_packets_at);
  }
  return m;
}

}  // namespace espo::driver
