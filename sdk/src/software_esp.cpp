// SPDX-License-Identifier: Apache-2.0
#include "espo/sdk/software_esp.hpp"

#include <string>
#include <utility>

#include "espo/sdk/checkpoint.hpp"

namespace espo::sdk {

using driver::Direction;
using driver::EventKind;
using driver::PacketStatus;

namespace {
std::string KeyName(SoftwareSaKey key) { return "software SA " + std::to_string(key); }
}  // namespace

Status SoftwareEsp::Add(SoftwareSaKey key, driver::SaConfig sa, std::uint64_t packets,
                        std::uint64_t bytes) {
  if (sas_.count(key) != 0) return MakeError(Errc::kExists, KeyName(key) + ": already present");
  if (auto valid = driver::Validate(sa); !valid) {
    return MakeError(valid.error().code, KeyName(key) + ": " + valid.error().message);
  }
  const bool in = sa.dir == Direction::kIn;
  ESPO_ASSIGN_OR_RETURN(driver::ReplayWindow window,
                        driver::ReplayWindow::Create(in ? sa.replay_window : 0, in ? sa.esn : false,
                                                     in ? sa.replay_seq : 0));
  SoftwareSaState state;
  state.dir = sa.dir;
  state.spi = sa.spi;
  state.packets = packets;
  state.bytes = bytes;
  state.seq = in ? sa.replay_seq : sa.oseq;
  const driver::SaLimits& l = sa.limits;
  // A counter that already crossed a limit elsewhere does not post the event again.
  state.soft_expired = (l.soft_packets != 0 && packets >= l.soft_packets) ||
                       (l.soft_bytes != 0 && bytes >= l.soft_bytes);
  state.hard_expired = (l.hard_packets != 0 && packets >= l.hard_packets) ||
                       (l.hard_bytes != 0 && bytes >= l.hard_bytes);
  if (!in && sa.oseq >= LastUsableSequence(sa.esn)) {
    state.hard_expired = true;
    state.seq_overflow = true;
  }
  sas_.emplace(key, Entry{std::move(sa), window, state});
  return Ok();
}

Status SoftwareEsp::Remove(SoftwareSaKey key) {
  if (sas_.erase(key) == 0) return MakeError(Errc::kNotFound, KeyName(key) + ": not present");
  return Ok();
}

Status SoftwareEsp::UpdateLimits(SoftwareSaKey key, const driver::SaLimits& limits) {
  auto it = sas_.find(key);
  if (it == sas_.end()) return MakeError(Errc::kNotFound, KeyName(key) + ": not present");
  if ((limits.soft_packets != 0 && limits.hard_packets != 0 &&
       limits.soft_packets >= limits.hard_packets) ||
      (limits.soft_bytes != 0 && limits.hard_bytes != 0 &&
       limits.soft_bytes >= limits.hard_bytes)) {
    return MakeError(Errc::kInvalidArgument,
                     KeyName(key) + ": update limits: soft limit must be below hard");
  }
  it->second.sa.limits = limits;
  return Ok();
}

Result<SoftwareEsp::Extracted> SoftwareEsp::Extract(SoftwareSaKey key) {
  auto it = sas_.find(key);
  if (it == sas_.end()) return MakeError(Errc::kNotFound, KeyName(key) + ": not present");
  Extracted out{std::move(it->second.sa), it->second.state};
  if (out.sa.dir == Direction::kOut) {
    out.sa.oseq = out.state.seq;
  } else {
    out.sa.replay_seq = it->second.window.right_edge();
  }
  sas_.erase(it);
  return out;
}

Result<SoftwareSaState> SoftwareEsp::State(SoftwareSaKey key) const {
  auto it = sas_.find(key);
  if (it == sas_.end()) return MakeError(Errc::kNotFound, KeyName(key) + ": not present");
  SoftwareSaState s = it->second.state;
  if (s.dir == Direction::kIn) s.seq = it->second.window.right_edge();
  return s;
}

void SoftwareEsp::Post(SoftwareSaKey key, const Entry& e, EventKind kind) {
  driver::Event ev;
  ev.kind = kind;
  ev.dir = e.sa.dir;
  ev.slot = kSoftwareSlot;
  ev.spi = e.sa.spi;
  ev.packets = e.state.packets;
  ev.bytes = e.state.bytes;
  events_.push_back(SoftwareEvent{key, ev});
}

void SoftwareEsp::Count(SoftwareSaKey key, Entry& e, std::uint64_t counted_bytes) {
  SoftwareSaState& s = e.state;
  s.packets += 1;
  s.bytes += counted_bytes;
  const driver::SaLimits& l = e.sa.limits;
  if (!s.soft_expired && ((l.soft_packets != 0 && s.packets >= l.soft_packets) ||
                          (l.soft_bytes != 0 && s.bytes >= l.soft_bytes))) {
    s.soft_expired = true;
    Post(key, e, EventKind::kSoft);
  }
  if (!s.hard_expired && ((l.hard_packets != 0 && s.packets >= l.hard_packets) ||
                          (l.hard_bytes != 0 && s.bytes >= l.hard_bytes))) {
    s.hard_expired = true;
    Post(key, e, EventKind::kHard);
  }
}

Result<SoftwareTxResult> SoftwareEsp::Encapsulate(SoftwareSaKey key, ByteSpan inner_ip_packet) {
  auto it = sas_.find(key);
  if (it == sas_.end()) return SoftwareTxResult{PacketStatus::kNoSa, 0, {}};
  Entry& e = it->second;
  if (e.sa.dir != Direction::kOut) {
    return MakeError(Errc::kInvalidArgument, KeyName(key) + ": not an outbound SA");
  }
  if (e.state.hard_expired) return SoftwareTxResult{PacketStatus::kLifetime, 0, {}};
  const std::uint64_t seq = e.state.seq + 1;
  driver::OutboundOptions opt;
  opt.ipv4_id = e.state.ipv4_id;
  auto packet = driver::EspEncapsulate(e.sa, seq, inner_ip_packet, opt);
  if (!packet) {
    if (packet.error().code == Errc::kParse)
      return SoftwareTxResult{PacketStatus::kMalformed, 0, {}};
    return MakeError(packet.error().code, KeyName(key) + ": " + packet.error().message);
  }
  e.state.seq = seq;  // consumed only when a packet was produced
  if (e.sa.mode == driver::Mode::kTunnel && !e.sa.dst.v6) ++e.state.ipv4_id;
  // Counted bytes (SPEC 12.3): payload + padding + 2 = the ESP packet minus header, IV and ICV.
  std::uint64_t counted = driver::EspCountedBytes(inner_ip_packet.size());
  if (auto info = driver::ParseEspPacket(*packet); info && info->kind == driver::PacketKind::kEsp) {
    counted = info->esp_bytes - driver::kEspHeaderBytes - driver::kEspIvBytes - e.sa.icv_bytes;
  }
  Count(key, e, counted);
  if (seq >= LastUsableSequence(e.sa.esn) && !e.state.seq_overflow) {
    e.state.seq_overflow = true;
    Post(key, e, EventKind::kSeqOverflow);
    e.state.hard_expired = true;
  }
  return SoftwareTxResult{PacketStatus::kOk, seq, std::move(*packet)};
}

Result<driver::EspInboundResult> SoftwareEsp::Decapsulate(SoftwareSaKey key,
                                                          ByteSpan outer_packet) {
  auto it = sas_.find(key);
  driver::EspInboundResult r;
  if (it == sas_.end()) {
    r.verdict = driver::InboundVerdict::kDrop;
    r.drop = driver::DropReason::kNoSa;
    return r;
  }
  Entry& e = it->second;
  if (e.sa.dir != Direction::kIn) {
    return MakeError(Errc::kInvalidArgument, KeyName(key) + ": not an inbound SA");
  }
  if (e.state.hard_expired) {
    r.verdict = driver::InboundVerdict::kDrop;
    r.drop = driver::DropReason::kLifetime;
    return r;
  }
  r = driver::EspDecapsulate(e.sa, e.window, outer_packet);
  if (r.verdict == driver::InboundVerdict::kAccept ||
      r.verdict == driver::InboundVerdict::kDiscardDummy) {
    Count(key, e, r.counted_bytes);
  }
  return r;
}

std::vector<SoftwareEvent> SoftwareEsp::DrainEvents() {
  std::vector<SoftwareEvent> out;
  out.swap(events_);
  return out;
}

}  // namespace espo::sdk
