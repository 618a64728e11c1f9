// SPDX-License-Identifier: Apache-2.0
//
// SoftwareEsp: the hardware SA table's semantics in software, for SAs that found no free slot
// (the fallback path) and as a reference in tests. Each SA is one direction; processing wraps the
// driver's EspEncapsulate / EspDecapsulate and ReplayWindow, and applies the same lifetime and
// sequence rules as a slot (docs/ENGINE_SEMANTICS.md):
//   - outbound: the packet takes last_seq + 1; the last usable number (2^32 - 1, or 2^64 - 1 with
//     ESN) is sent, then SEQ_OVERFLOW is posted and the SA is hard-expired: no number is reused;
//   - a packet is processed only if the SA was not hard-expired before it; counters update after
//     it (inbound: accepted packets and authentic dummies only); crossing a soft limit posts one
//     SOFT event, a hard limit one HARD event (SOFT first when one packet crosses both);
//   - events are driver::Event values (the hardware's type) with slot = kSoftwareSlot.
// Keys live in the SaConfig held here (KeyMaterial: wiped on destruction and when moved from).
// Not thread-safe: one owner.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "espo/driver/engine.hpp"
#include "espo/driver/esp.hpp"
#include "espo/driver/replay_window.hpp"
#include "espo/driver/result.hpp"
#include "espo/driver/sa_config.hpp"

namespace espo::sdk {

// Slot number reported in events of software SAs.
inline constexpr std::uint32_t kSoftwareSlot = 0xFFFFFFFFU;

// Caller-chosen identity of one software SA (SaManager uses SA id * 2 + direction).
using SoftwareSaKey = std::uint64_t;

struct SoftwareEvent {
  SoftwareSaKey key = 0;
  driver::Event event;  // slot = kSoftwareSlot
};

// Result of one outbound packet.
struct SoftwareTxResult {
  driver::PacketStatus status = driver::PacketStatus::kOk;  // kOk, kLifetime, kMalformed, kNoSa
  std::uint64_t seq = 0;                                    // the sequence number used (kOk)
  Bytes data;                                               // the ESP packet (kOk)
};

// Counters and sequence state of one software SA.
struct SoftwareSaState {
  driver::Direction dir = driver::Direction::kOut;
  std::uint32_t spi = 0;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t seq = 0;  // outbound: last number used; inbound: replay right edge
  bool soft_expired = false;
  bool hard_expired = false;
  bool seq_overflow = false;
  std::uint16_t ipv4_id = 0;  // next outer IPv4 Identification (per SA, from 0, as a slot)
};

class SoftwareEsp {
 public:
  SoftwareEsp() = default;
  SoftwareEsp(const SoftwareEsp&) = delete;
  SoftwareEsp& operator=(const SoftwareEsp&) = delete;
  SoftwareEsp(SoftwareEsp&&) = delete;
  SoftwareEsp& operator=(SoftwareEsp&&) = delete;
  ~SoftwareEsp() = default;

  // Adds an SA (validated with driver::Validate). Outbound starts after sa.oseq; inbound's window
  // starts at sa.replay_seq (fail closed, as a slot). `packets` / `bytes` are counters already
  // used elsewhere (so a moved SA keeps its lifetime); limits are sa.limits, absolute.
  // Errors: kExists (key in use), kInvalidArgument (Validate).
  Status Add(SoftwareSaKey key, driver::SaConfig sa, std::uint64_t packets = 0,
             std::uint64_t bytes = 0);
  // Removes the SA and wipes its key. kNotFound if absent.
  Status Remove(SoftwareSaKey key);
  // Replaces the SA's limits (absolute, like a slot's SET_LIMITS): an event already posted is not
  // posted again; a limit already crossed fires on the next packet. kNotFound if absent,
  // kInvalidArgument if soft >= hard where both are set (limits unchanged).
  Status UpdateLimits(SoftwareSaKey key, const driver::SaLimits& limits);
  // Removes the SA and hands its configuration (with the key, oseq = last used, replay_seq = right
  // edge) and counters to the caller, e.g. to install it in a hardware slot.
  struct Extracted {
    driver::SaConfig sa;
    SoftwareSaState state;
  };
  Result<Extracted> Extract(SoftwareSaKey key);

  bool Contains(SoftwareSaKey key) const { return sas_.count(key) != 0; }
  Result<SoftwareSaState> State(SoftwareSaKey key) const;
  std::size_t size() const { return sas_.size(); }

  // Outbound processing of one inner IP packet.
  Result<SoftwareTxResult> Encapsulate(SoftwareSaKey key, ByteSpan inner_ip_packet);
  // Inbound processing of one ESP packet.
  Result<driver::EspInboundResult> Decapsulate(SoftwareSaKey key, ByteSpan outer_packet);

  // The events posted since the last call, in order.
  std::vector<SoftwareEvent> DrainEvents();

 private:
  struct Entry {
    driver::SaConfig sa;
    driver::ReplayWindow window;
    SoftwareSaState state;
  };
  void Count(SoftwareSaKey key, Entry& e, std::uint64_t counted_bytes);
  void Post(SoftwareSaKey key, const Entry& e, driver::EventKind kind);

  std::unordered_map<SoftwareSaKey, Entry> sas_;
  std::vector<SoftwareEvent> events_;
};

}  // namespace espo::sdk
