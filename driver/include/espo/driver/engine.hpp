// SPDX-License-Identifier: Apache-2.0
//
// Engine: typed operations over any Device (DESIGN.md): capabilities, SA install / update-limits
// / remove (all-or-nothing), slot state and counters, packet batches, events, drop counters.
// Only this layer (and the devices) know the register map. Errors are values; nothing throws.
// Not thread-safe: one owner (the daemon serialises access).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "espo/driver/batch_format.hpp"
#include "espo/driver/device.hpp"
#include "espo/driver/result.hpp"
#include "espo/driver/sa_config.hpp"

namespace espo::driver {

struct Capabilities {
  std::uint32_t version_major = 0;
  std::uint32_t version_minor = 0;
  std::uint32_t version_patch = 0;
  std::uint32_t regmap_hash = 0;
  std::uint32_t build_id = 0;
  std::uint32_t out_slots = 0;
  std::uint32_t in_slots = 0;
  std::uint32_t data_bytes = 0;
  std::uint32_t aes_lanes = 0;
  std::uint32_t replay_bits = 0;
  std::uint32_t max_packet = 0;
  std::uint32_t event_depth = 0;
  std::uint32_t features = 0;  // CAP_FEATURES bits
  bool aes128 = false, aes256 = false, gcm = false, gmac = false, esn = false, natt = false,
       ipv6 = false, tunnel = false, transport = false, icv8 = false, icv12 = false, icv16 = false;
};

enum class SlotState : std::uint8_t { kFree = 0, kActive = 1, kSoftExpired = 2, kHardExpired = 3 };
std::string_view ToString(SlotState state);  // "free", "active", "soft-expired", "hard-expired"

struct SlotStatus {
  SlotState state = SlotState::kFree;
  bool seq_overflow = false;
  std::uint32_t spi = 0;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t seq = 0;  // outbound: last sequence number used; inbound: replay right edge
};

enum class EventKind : std::uint8_t { kSoft = 1, kHard = 2, kSeqOverflow = 3 };
std::string_view ToString(EventKind kind);  // "soft", "hard", "seq-overflow"

struct Event {
  EventKind kind = EventKind::kSoft;
  Direction dir = Direction::kOut;
  std::uint32_t slot = 0;
  std::uint32_t spi = 0;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  friend bool operator==(const Event&, const Event&) = default;
};

struct PacketIn {
  Direction dir = Direction::kOut;
  std::uint16_t slot = kNoSlot;  // outbound: the SA slot
  std::uint32_t cookie = 0;
  Bytes data;  // the IP packet
};

struct PacketOut {
  PacketStatus status = PacketStatus::kOk;
  Direction dir = Direction::kOut;
  std::uint16_t slot = kNoSlot;
  std::uint32_t cookie = 0;
  std::uint32_t seq_lo = 0;
  Bytes data;
};

// 64-bit totals accumulated by the driver from the device's free-running 32-bit counters.
struct EngineCounters {
  std::uint64_t drop_auth = 0;
  std::uint64_t drop_replay = 0;
  std::uint64_t drop_no_sa = 0;
  std::uint64_t drop_malformed = 0;
  std::uint64_t drop_lifetime = 0;
  std::uint64_t released_out = 0;
  std::uint64_t released_in = 0;
  std::uint64_t events_lost = 0;
};

class Engine {
 public:
  // Reads ID, VERSION, REGMAP_HASH and the capability words; refuses another engine, another
  // register-map major version or hash with a one-line error.
  static Result<std::unique_ptr<Engine>> Open(std::unique_ptr<Device> device);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  Engine(Engine&&) = delete;
  Engine& operator=(Engine&&) = delete;

  const Capabilities& caps() const { return caps_; }
  Device& device() { return *device_; }

  // Validates `sa` against SPEC and the capabilities before touching the device (each
  // unsupported attribute gets its own message), stages it and commits it to `slot` of
  // sa.dir. All-or-nothing: on any error the slot is unchanged. Inbound slots must equal
  // `sa.spi mod in_slots` (see InboundSlotFor).
  Status Install(std::uint32_t slot, const SaConfig& sa);
  Status UpdateLimits(Direction dir, std::uint32_t slot, const SaLimits& limits);
  Status Remove(Direction dir, std::uint32_t slot);
  Result<SlotStatus> ReadSlot(Direction dir, std::uint32_t slot);
  std::uint32_t InboundSlotFor(std::uint32_t spi) const { return spi & (caps_.in_slots - 1); }

  // Runs the packets through the device in order (as many batches as needed); one result each.
  Result<std::vector<PacketOut>> Process(std::span<const PacketIn> packets);

  // Drains the event FIFO.
  Result<std::vector<Event>> DrainEvents();
  // Reads the free-running counters and returns the 64-bit totals since Open().
  Result<EngineCounters> ReadCounters();

 private:
  explicit Engine(std::unique_ptr<Device> device) : device_(std::move(device)) {}
  Status ReadCapabilities();
  // Writes SA_COMMIT and polls its status. `what()` (a std::string) names the operation in the
  // error messages; it is called only on an error. Defined and used in engine.cpp only.
  template <class What>
  Status Commit(Direction dir, std::uint32_t slot, std::uint32_t op, const What& what);
  Status StageLimits(const SaLimits& limits);
  Status EnsureBuffers(std::size_t in_bytes, std::size_t out_bytes);
  Result<std::size_t> RunOneBatch(std::span<const PacketIn> packets,
                                  std::vector<PacketOut>& results);

  std::unique_ptr<Device> device_;
  Capabilities caps_;
  DmaBuffer in_buf_;
  DmaBuffer out_buf_;
  std::array<std::uint32_t, 7> last_raw_{};  // DROP0..4, PKT_COUNT0..1 at the last read
  EngineCounters totals_;
};

}  // namespace espo::driver
