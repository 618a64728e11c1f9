// SPDX-License-Identifier: Apache-2.0
//
// CountingDevice: a Device for table-pressure studies (`ikectl simulate`). It answers the same
// registers as ModelDevice for everything the SA life cycle uses -- ID / VERSION / REGMAP_HASH /
// CAP_*, the staging window, SA_COMMIT (INSTALL / REMOVE / SET_LIMITS with the same status codes),
// the SA_READ port and the event FIFO (EVT_STATUS / EVT_DATA / EVT_POP / EVT_OVERFLOW) -- but it
// processes no packets and does no crypto: RunBatch() fails with kUnsupported and keys are
// dropped at COMMIT (the staging registers are wiped as on the real engine).
//
// Traffic is applied in bulk with AddTraffic(): `n` packets of `bytes_each` counted bytes on one
// slot behave exactly as `n` single packets would (docs/ENGINE_SEMANTICS.md "Lifetimes and
// events"): a packet is taken only if the slot was not HARD_EXPIRED before it; crossing a soft
// limit posts one SOFT event (ACTIVE -> SOFT_EXPIRED), a hard limit one HARD event
// (-> HARD_EXPIRED; later packets are refused); SOFT before HARD when one packet crosses both;
// outbound sequence numbers advance per packet and the last usable number posts SEQ_OVERFLOW.
// Each event carries the counters after the packet that caused it.
//
// Not thread-safe (one owner, like every Device).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "espo/driver/device.hpp"
#include "espo/driver/engine.hpp"
#include "espo/driver/result.hpp"
#include "espo/driver/sa_config.hpp"

namespace espo::driver {

struct CountingOptions {
  std::uint32_t sa_slots = 1024;      // per direction: a power of two, 2..32768 (CAP_SLOTS width)
  std::uint32_t event_depth = 65535;  // event FIFO entries (1..65535)
  std::uint32_t replay_bits = 1024;
};

// Read-only view of one slot (for the simulation's bookkeeping and tests).
struct CountingSlot {
  SlotState state = SlotState::kFree;
  bool soft_posted = false;
  bool hard_posted = false;
  bool seq_overflow = false;
  bool esn = false;
  std::uint32_t spi = 0;
  SaLimits limits;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t seq = 0;              // outbound: last number used; inbound: highest number seen
  std::uint64_t soft_packets_at = 0;  // packet counter when SOFT was posted
};

struct CountingStats {
  std::uint64_t reg_reads = 0;
  std::uint64_t reg_writes = 0;
  std::uint64_t installs = 0;
  std::uint64_t removes = 0;
  std::uint64_t set_limits = 0;
  std::uint64_t commit_errors = 0;
  std::uint64_t events_posted = 0;
  std::uint64_t events_lost = 0;
  std::uint64_t packets = 0;          // accepted by AddTraffic
  std::uint64_t packets_refused = 0;  // refused (hard-expired or free slot)
  // Outbound slots: the largest number of packets a slot passed after its SOFT event, measured
  // when the slot is removed (and by MaxPastSoftNow() for slots still installed).
  std::uint64_t max_packets_past_soft = 0;
};

class CountingDevice final : public Device {
 public:
  static Result<std::unique_ptr<CountingDevice>> Create(const CountingOptions& options);
  ~CountingDevice() override;
  CountingDevice(const CountingDevice&) = delete;
  CountingDevice& operator=(const CountingDevice&) = delete;
  CountingDevice(CountingDevice&&) = delete;
  CountingDevice& operator=(CountingDevice&&) = delete;

  std::string_view kind() const override { return "counting"; }
  Result<std::uint32_t> ReadReg(std::uint32_t offset) override;
  Status WriteReg(std::uint32_t offset, std::uint32_t value) override;
  Status WriteRegs(std::span<const RegWrite> writes) override;
  Result<DmaBuffer> AllocBuffer(std::size_t bytes) override;
  Status WriteBuffer(const DmaBuffer& buffer, std::size_t offset, ByteSpan data) override;
  Status ReadBuffer(const DmaBuffer& buffer, std::size_t offset, MutableByteSpan out) override;
  void FreeBuffer(const DmaBuffer& buffer) override;
  // No packet processing: kUnsupported.
  Status RunBatch(std::chrono::milliseconds timeout) override;

  // ---- fast path (no registers) ----
  // `packets` packets of `bytes_each` counted bytes each on (dir, slot), as if processed one by
  // one. Returns how many were accepted (the rest found the slot hard-expired or free).
  std::uint64_t AddTraffic(Direction dir, std::uint32_t slot, std::uint64_t packets,
                           std::uint64_t bytes_each);
  // How many more packets of `bytes_each` bytes (dir, slot) can take before its next SOFT / HARD
  // / SEQ_OVERFLOW event or refusal; UINT64_MAX when no limit is ahead; 0 when it refuses traffic.
  std::uint64_t PacketsToNextEvent(Direction dir, std::uint32_t slot,
                                   std::uint64_t bytes_each) const;
  const CountingSlot& Slot(Direction dir, std::uint32_t slot) const;
  std::uint32_t slots() const { return options_.sa_slots; }
  std::size_t pending_events() const { return events_.size(); }
  const CountingStats& stats() const { return stats_; }
  // max_packets_past_soft including the outbound slots still installed.
  std::uint64_t MaxPastSoftNow() const;

  // Called before a COMMIT changes (dir, slot) (INSTALL, REMOVE, SET_LIMITS), so that a caller
  // applying traffic in bulk can settle the slot's traffic first.
  void SetCommitHook(std::function<void(Direction, std::uint32_t)> hook) {
    hook_ = std::move(hook);
  }

 private:
  struct Ev {
    std::uint32_t kind = 0;
    Direction dir = Direction::kOut;
    std::uint32_t slot = 0;
    std::uint32_t spi = 0;
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
  };
  explicit CountingDevice(const CountingOptions& options);
  std::vector<CountingSlot>& Table(Direction dir) { return dir == Direction::kIn ? in_ : out_; }
  const std::vector<CountingSlot>& Table(Direction dir) const {
    return dir == Direction::kIn ? in_ : out_;
  }
  // One register write; false when no register at `offset` takes writes.
  bool Write(std::uint32_t offset, std::uint32_t value);
  void Commit(std::uint32_t value);
  std::uint32_t Install(Direction dir, std::uint32_t slot);
  std::uint32_t Remove(Direction dir, std::uint32_t slot);
  std::uint32_t SetLimits(Direction dir, std::uint32_t slot);
  SaLimits StagedLimits() const;
  void Post(std::uint32_t kind, Direction dir, std::uint32_t slot, const CountingSlot& s);
  void LatchReadPort(std::uint32_t value);

  CountingOptions options_;
  std::vector<CountingSlot> in_;
  std::vector<CountingSlot> out_;
  std::vector<std::uint32_t> regs_;  // plain read/write registers by offset / 4
  std::uint32_t commit_status_ = 0;
  std::vector<std::uint32_t> read_port_;
  std::vector<Ev> events_;  // FIFO as a vector with a head index (amortised O(1) pop)
  std::size_t event_head_ = 0;
  std::uint32_t event_overflow_ = 0;
  std::uint32_t next_buffer_ = 1;
  std::function<void(Direction, std::uint32_t)> hook_;
  CountingStats stats_;
};

}  // namespace espo::driver
