// SPDX-License-Identifier: Apache-2.0
//
// ModelState: the SA tables, counters, drops and event FIFO of the reference model, with the
// per-packet processing of docs/ENGINE_SEMANTICS.md. Private to the driver.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "espo/driver/batch_format.hpp"
#include "espo/driver/engine.hpp"
#include "espo/driver/esp.hpp"
#include "espo/driver/model_device.hpp"
#include "espo/driver/replay_window.hpp"
#include "espo/driver/sa_config.hpp"

namespace espo::driver {

// SA_COMMIT_STATUS.CODE values.
enum class CommitCode : std::uint8_t {
  kOk = 0,
  kBadSlot = 1,
  kSlotBusy = 2,
  kSlotFree = 3,
  kBadParam = 4,
  kBadOp = 5,
};
// EVT_HEAD.KIND values.
inline constexpr std::uint32_t kEventSoft = 1;
inline constexpr std::uint32_t kEventHard = 2;
inline constexpr std::uint32_t kEventSeqOverflow = 3;

// A free slot is always a default ModelSlot: the tables start so, REMOVE resets a slot to it,
// and nothing writes a free slot (INSTALL relies on this).
struct ModelSlot {
  SlotState state = SlotState::kFree;
  bool seq_overflow = false;
  bool soft_posted = false;
  bool hard_posted = false;
  SaConfig sa;                         // key wiped on remove (KeyMaterial)
  std::optional<ReplayWindow> window;  // inbound
  std::uint64_t seq = 0;               // outbound: last sequence number used
  std::uint16_t ipv4_id = 0;           // outbound: next outer IPv4 Identification
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

struct ModelEvent {
  std::uint32_t kind = 0;
  Direction dir = Direction::kOut;
  std::uint32_t slot = 0;
  std::uint32_t spi = 0;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

struct ModelResult {
  PacketStatus status = PacketStatus::kOk;
  std::uint16_t slot = kNoSlot;
  std::uint32_t seq_lo = 0;
  Bytes data;
};

class ModelState {
 public:
  explicit ModelState(const ModelOptions& options);

  const ModelOptions& options() const { return options_; }
  // All-or-nothing: `sa` is moved into the slot only when the code is kOk.
  CommitCode Install(Direction dir, std::uint32_t slot, SaConfig&& sa);
  CommitCode Remove(Direction dir, std::uint32_t slot);
  CommitCode SetLimits(Direction dir, std::uint32_t slot, const SaLimits& limits);
  const ModelSlot* Find(Direction dir, std::uint32_t slot) const;

  ModelResult ProcessOutbound(std::uint16_t slot, ByteSpan packet);
  ModelResult ProcessInbound(ByteSpan packet);

  const std::deque<ModelEvent>& events() const { return events_; }
  void PopEvent() {
    if (!events_.empty()) events_.pop_front();
  }
  std::uint32_t TakeEventOverflow() {
    const std::uint32_t v = event_overflow_;
    event_overflow_ = 0;
    return v;
  }
  // Free-running counters by reason (auth, replay, no_sa, malformed, lifetime).
  const std::array<std::uint64_t, 5>& drops() const { return drops_; }
  // Packets released: outbound, inbound.
  const std::array<std::uint64_t, 2>& released() const { return released_; }

 private:
  std::vector<ModelSlot>& Table(Direction dir) { return dir == Direction::kOut ? out_ : in_; }
  ModelResult Drop(PacketStatus status, std::uint16_t slot);
  void PostEvent(std::uint32_t kind, Direction dir, std::uint32_t slot, const ModelSlot& s);
  // Counts one processed packet and posts the lifetime events it causes.
  void Account(Direction dir, std::uint32_t slot, ModelSlot& s, std::uint64_t counted_bytes);

  ModelOptions options_;
  std::vector<ModelSlot> out_;
  std::vector<ModelSlot> in_;
  std::deque<ModelEvent> events_;
  std::uint32_t event_overflow_ = 0;
  std::array<std::uint64_t, 5> drops_{};
  std::array<std::uint64_t, 2> released_{};
};

}  // namespace espo::driver
