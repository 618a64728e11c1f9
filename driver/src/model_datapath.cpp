// SPDX-License-Identifier: Apache-2.0
//
// ModelState: SA table operations and per-packet processing (docs/ENGINE_SEMANTICS.md).
#include <limits>
#include <utility>

#include "model_state.hpp"

namespace espo::driver {
namespace {

std::size_t DropIndex(PacketStatus s) { return static_cast<std::size_t>(s) - 1; }

bool Crossed(std::uint64_t value, std::uint64_t limit) { return limit != 0 && value >= limit; }

}  // namespace

ModelState::ModelState(const ModelOptions& options)
    : options_(options), out_(options.sa_slots), in_(options.sa_slots) {}

CommitCode ModelState::Install(Direction dir, std::uint32_t slot, SaConfig&& sa) {
  if (slot >= options_.sa_slots) return CommitCode::kBadSlot;
  ModelSlot& s = Table(dir)[slot];
  if (s.state != SlotState::kFree) return CommitCode::kSlotBusy;
  if (!Validate(sa)) return CommitCode::kBadParam;
  if (dir == Direction::kIn && (sa.spi & (options_.sa_slots - 1)) != slot) {
    return CommitCode::kBadParam;  // inbound lookup is by the SPI's low bits
  }
  // A free slot is always the default ModelSlot (the constructor and Remove leave it so, and
  // nothing writes a free slot), so only what an active slot adds is set here.
  if (dir == Direction::kIn) {
    const auto window = ReplayWindow::Create(sa.replay_window, sa.esn, sa.replay_seq);
    if (!window) return CommitCode::kBadParam;  // the last check: the slot is still untouched
    s.window.emplace(*window);
  }
  s.state = SlotState::kActive;
  s.seq = dir == Direction::kOut ? sa.oseq : 0;
  s.sa = std::move(sa);
  return CommitCode::kOk;
}

CommitCode ModelState::Remove(Direction dir, std::uint32_t slot) {
  if (slot >= options_.sa_slots) return CommitCode::kBadSlot;
  ModelSlot& s = Table(dir)[slot];
  if (s.state == SlotState::kFree) return CommitCode::kSlotFree;
  s = ModelSlot{};  // KeyMaterial's move-assignment wipes the old key
  return CommitCode::kOk;
}

CommitCode ModelState::SetLimits(Direction dir, std::uint32_t slot, const SaLimits& limits) {
  if (slot >= options_.sa_slots) return CommitCode::kBadSlot;
  ModelSlot& s = Table(dir)[slot];
  if (s.state == SlotState::kFree) return CommitCode::kSlotFree;
  if ((limits.soft_packets != 0 && limits.hard_packets != 0 &&
       limits.soft_packets >= limits.hard_packets) ||
      (limits.soft_bytes != 0 && limits.hard_bytes != 0 &&
       limits.soft_bytes >= limits.hard_bytes)) {
    return CommitCode::kBadParam;
  }
  s.sa.limits = limits;
  return CommitCode::kOk;
}

const ModelSlot* ModelState::Find(Direction dir, std::uint32_t slot) const {
  const auto& table = dir == Direction::kOut ? out_ : in_;
  return slot < table.size() ? &table[slot] : nullptr;
}

ModelResult ModelState::Drop(PacketStatus status, std::uint16_t slot) {
  ++drops_[DropIndex(status)];
  ModelResult r;
  r.status = status;
  r.slot = slot;
  return r;
}

void ModelState::PostEvent(std::uint32_t kind, Direction dir, std::uint32_t slot,
                           const ModelSlot& s) {
  if (events_.size() >= options_.event_depth) {
    ++event_overflow_;
    return;
  }
  events_.push_back(ModelEvent{kind, dir, slot, s.sa.spi, s.packets, s.bytes});
}

void ModelState::Account(Direction dir, std::uint32_t slot, ModelSlot& s,
                         std::uint64_t counted_bytes) {
  ++s.packets;
  s.bytes += counted_bytes;
  const SaLimits& l = s.sa.limits;
  if (!s.soft_posted && (Crossed(s.packets, l.soft_packets) || Crossed(s.bytes, l.soft_bytes))) {
    s.soft_posted = true;
    if (s.state == SlotState::kActive) s.state = SlotState::kSoftExpired;
    PostEvent(kEventSoft, dir, slot, s);
  }
  if (!s.hard_posted && (Crossed(s.packets, l.hard_packets) || Crossed(s.bytes, l.hard_bytes))) {
    s.hard_posted = true;
    s.state = SlotState::kHardExpired;
    PostEvent(kEventHard, dir, slot, s);
  }
}

ModelResult ModelState::ProcessOutbound(std::uint16_t slot, ByteSpan packet) {
  if (slot >= options_.sa_slots || out_[slot].state == SlotState::kFree) {
    return Drop(PacketStatus::kNoSa, slot >= options_.sa_slots ? kNoSlot : slot);
  }
  ModelSlot& s = out_[slot];
  if (s.state == SlotState::kHardExpired) return Drop(PacketStatus::kLifetime, slot);
  const std::uint64_t next = s.seq + 1;
  OutboundOptions opt;
  opt.ipv4_id = s.ipv4_id;
  auto esp = EspEncapsulate(s.sa, next, packet, opt);
  if (!esp) {
    return Drop(PacketStatus::kMalformed, slot);  // not a whole IP packet for this SA
  }
  ModelResult r;
  r.slot = slot;
  if (esp->size() > options_.max_packet) {
    r.status = PacketStatus::kTooBig;
    return r;
  }
  auto info = ParseEspPacket(*esp);
  const std::uint64_t counted =
      info ? info->esp_bytes - kEspHeaderBytes - kEspIvBytes - s.sa.icv_bytes : 0;
  s.seq = next;
  if (s.sa.mode == Mode::kTunnel && !s.sa.dst.v6) ++s.ipv4_id;
  Account(Direction::kOut, slot, s, counted);
  const std::uint64_t last = s.sa.esn ? std::numeric_limits<std::uint64_t>::max()
                                      : std::numeric_limits<std::uint32_t>::max();
  if (s.seq == last) {
    s.seq_overflow = true;
    s.state = SlotState::kHardExpired;
    PostEvent(kEventSeqOverflow, Direction::kOut, slot, s);
  }
  ++released_[0];
  r.seq_lo = static_cast<std::uint32_t>(next);
  r.data = std::move(*esp);
  return r;
}

ModelResult ModelState::ProcessInbound(ByteSpan packet) {
  auto info = ParseEspPacket(packet);
  if (!info) return Drop(PacketStatus::kMalformed, kNoSlot);
  if (info->kind == PacketKind::kNotEsp) {
    ModelResult r;
    r.status = PacketStatus::kNotEsp;
    r.data.assign(packet.begin(), packet.end());
    return r;
  }
  const std::uint32_t slot = info->spi & (options_.sa_slots - 1);
  ModelSlot& s = in_[slot];
  const auto slot16 = static_cast<std::uint16_t>(slot);
  if (s.state == SlotState::kFree || s.sa.spi != info->spi || !(s.sa.dst == info->dst) ||
      s.sa.encap.has_value() != info->udp_encap) {
    return Drop(PacketStatus::kNoSa, kNoSlot);
  }
  if (s.state == SlotState::kHardExpired) return Drop(PacketStatus::kLifetime, slot16);
  EspInboundResult res = EspDecapsulateParsed(s.sa, *s.window, packet, *info);
  if (res.verdict == InboundVerdict::kDrop) {
    switch (res.drop) {
      case DropReason::kAuth:
        return Drop(PacketStatus::kAuth, slot16);
      case DropReason::kReplay:
        return Drop(PacketStatus::kReplay, slot16);
      case DropReason::kNoSa:
        return Drop(PacketStatus::kNoSa, kNoSlot);
      case DropReason::kLifetime:
        return Drop(PacketStatus::kLifetime, slot16);
      case DropReason::kMalformed:
        break;
    }
    return Drop(PacketStatus::kMalformed, slot16);
  }
  Account(Direction::kIn, slot, s, res.counted_bytes);
  ModelResult r;
  r.slot = slot16;
  r.seq_lo = static_cast<std::uint32_t>(res.seq);
  if (res.verdict == InboundVerdict::kAccept) {
    ++released_[1];
    r.data = std::move(res.packet);
  }
  return r;
}

}  // namespace espo::driver
