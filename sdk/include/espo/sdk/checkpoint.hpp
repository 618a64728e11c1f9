// SPDX-License-Identifier: Apache-2.0
//
// Checkpoint: what must survive a restart or a failover so that no outbound sequence number is
// ever reused under one key and inbound replay protection resumes (SPEC 8d, RFC 6027 section 3.4,
// RFC 6311). docs/CHECKPOINT.md describes the file format, the atomic write and the jump-ahead.
//
//   save:    store.Save(snapshot)            (periodically, every `save_interval`)
//   restore: store.Load() -> for each outbound record RestoreJumpAhead(record, margin)
//            margin > packets the SA can send in one save interval (RecommendedJumpMargin)
//
// Keys are never part of a checkpoint: a restored SA gets its keys from the IKE daemon again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "espo/driver/result.hpp"
#include "espo/sdk/clock.hpp"
#include "espo/sdk/sa_types.hpp"

namespace espo::sdk {

// The format this build writes; files with a larger version are refused (Errc::kUnsupported).
// Optional fields are added compatibly (older readers ignore them) without a version change;
// the version changes only when a reader that ignores the new fields would restore unsafely.
inline constexpr std::uint32_t kCheckpointFormatVersion = 1;
// Largest replay window (SPEC 12.2 decision 9: 0 or a power of two up to 1024).
inline constexpr std::uint32_t kMaxReplayWindow = 1024;

// The last sequence number an SA may use: 2^32 - 1 without ESN, 2^64 - 1 with ESN (SPEC 1.4).
constexpr std::uint64_t LastUsableSequence(bool esn) {
  return esn ? ~std::uint64_t{0} : std::uint64_t{0xffffffff};
}

// One SA (one slot, one direction).
struct SaCheckpoint {
  std::string name;       // SA id or selector name; non-empty
  std::uint32_t spi = 0;  // >= 256 (1..255 are reserved, 0 is invalid)
  SaDirection direction = SaDirection::kOutbound;
  bool esn = false;
  // Outbound: the last sequence number used (the SA file's `oseq`); 0 for inbound.
  std::uint64_t outbound_seq = 0;
  // Inbound: right edge T of the replay window, the window size W (0 = anti-replay off, only
  // without ESN) and the bitmap, ceil(W / 64) words: bit j of word k stands for T - (64 k + j).
  std::uint64_t replay_right_edge = 0;
  std::uint32_t replay_window = 0;
  std::vector<std::uint64_t> replay_bitmap;
  // SaManager's view (SaManager::Snapshot / Restore). Optional in the file: written as the
  // record's "manager" object only when sa_id != 0; records without it keep these defaults.
  std::uint64_t sa_id = 0;           // SaId; the two directions of a managed Child SA share it
  std::uint64_t selector = 0;        // the SA's selector
  std::string state{};               // "larval", "active", "rekeying" or "draining" at the save
  std::string placement{};           // "hardware" or "software" at the save (informational)
  std::uint32_t slot = 0xFFFFFFFFU;  // the hardware slot at the save (informational)
  bool adopted = false;              // installed by SaManager::AdoptSa
  bool current = false;              // outbound: the selector's current outbound SA
  std::uint64_t packets = 0;         // the direction's life counters at the save
  std::uint64_t bytes = 0;
  friend bool operator==(const SaCheckpoint&, const SaCheckpoint&) = default;
};

// SPI allocator state; the SaManager owns its meaning. Every SPI listed is inside some range.
struct SpiRange {
  std::uint32_t first = 0;  // inclusive, >= 256
  std::uint32_t last = 0;   // inclusive, >= first
  friend bool operator==(const SpiRange&, const SpiRange&) = default;
};
struct SpiAllocatorState {
  std::vector<SpiRange> ranges;
  std::vector<std::uint32_t> allocated;  // in use by an installed SA
  std::vector<std::uint32_t> retired;    // freed but not yet reusable (packets may be in flight)
  friend bool operator==(const SpiAllocatorState&, const SpiAllocatorState&) = default;
};

struct Checkpoint {
  std::uint32_t version = kCheckpointFormatVersion;
  std::uint64_t generation = 0;  // incremented by the caller at every save
  std::vector<SaCheckpoint> sas;
  SpiAllocatorState spis;
  // SaManager: the next SaId it would hand out (ids are never reused). Optional in the file
  // (written when != 0).
  std::uint64_t next_sa_id = 0;
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// Checks the invariants listed above, plus: no two records with the same (direction, SPI);
// outbound records carry no replay state, inbound ones no outbound_seq; without ESN no number
// exceeds 2^32 - 1; bitmap bits beyond W are 0; records with an sa_id: a known state and
// placement, at most one record per (sa_id, direction), both directions of one sa_id with the
// same selector, `current` only outbound, next_sa_id (if set) above every sa_id.
// Errc::kInvalidArgument naming the record.
Status ValidateCheckpoint(const Checkpoint& checkpoint);

// The JSON text of a checkpoint, with its SHA-256 (docs/CHECKPOINT.md).
Result<std::string> SerializeCheckpoint(const Checkpoint& checkpoint);
// Parses and verifies text from SerializeCheckpoint; `source` names the input in errors.
// kParse: not JSON (e.g. truncated), wrong format tag, missing or ill-typed fields, or a SHA-256
// mismatch (corruption); kUnsupported: a version newer than kCheckpointFormatVersion;
// kInvalidArgument: ValidateCheckpoint fails.
Result<Checkpoint> ParseCheckpoint(std::string_view text, std::string_view source);

// ---- stores ----

// Where checkpoints live. Implementations document their thread-safety.
class CheckpointStore {
 public:
  CheckpointStore() = default;
  virtual ~CheckpointStore() = default;
  CheckpointStore(const CheckpointStore&) = delete;
  CheckpointStore& operator=(const CheckpointStore&) = delete;
  CheckpointStore(CheckpointStore&&) = delete;
  CheckpointStore& operator=(CheckpointStore&&) = delete;

  // Replaces the stored checkpoint atomically: after a failure the previous one is still there.
  virtual Status Save(const Checkpoint& checkpoint) = 0;
  // The last checkpoint saved; Errc::kNotFound if there is none.
  virtual Result<Checkpoint> Load() = 0;
};

// Keeps the serialized text in memory (tests, simulations). Not thread-safe.
class MemoryCheckpointStore final : public CheckpointStore {
 public:
  Status Save(const Checkpoint& checkpoint) override;
  Result<Checkpoint> Load() override;

 private:
  std::optional<std::string> text_;
};

// The steps of an atomic file write, for fault injection in tests.
enum class WriteStep : std::uint8_t { kCreateTemp, kWrite, kSyncFile, kRename, kSyncDir };
std::string_view ToString(WriteStep step);
// Called before each step; an error aborts the write there (kWrite: after half of the bytes).
using FaultInjector = std::function<Status(WriteStep)>;

// One JSON file. Save writes `<path>.tmp.<pid>.<n>` in the same directory, fsyncs it, renames it
// over `path` and fsyncs the directory; a failure before the rename removes the temp file and
// leaves the old file untouched. One writer per path (not thread-safe; no cross-process lock).
class FileCheckpointStore final : public CheckpointStore {
 public:
  explicit FileCheckpointStore(std::filesystem::path path, FaultInjector fault = nullptr);
  Status Save(const Checkpoint& checkpoint) override;
  Result<Checkpoint> Load() override;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  FaultInjector fault_;
  std::uint64_t temp_counter_ = 0;
};

// ---- restore ----

// Outcome of the outbound jump-ahead after a restore.
struct JumpAhead {
  // The sequence high-water mark to install (the last number treated as used): saved + margin,
  // clamped to LastUsableSequence(esn).
  std::uint64_t outbound_seq = 0;
  // Numbers still sendable after outbound_seq.
  std::uint64_t remaining = 0;
  // saved + margin reaches the end of the sequence space: do not install, rekey the SA.
  bool needs_rekey = false;
};

// After a restore an outbound SA must not reuse any number it may have sent after the checkpoint
// was taken, so it resumes at saved + margin (RFC 6027 3.4: jump ahead by more than the packets
// sendable between two saves). kInvalidArgument for an inbound record or a record whose saved
// value is already beyond the sequence space.
Result<JumpAhead> RestoreJumpAhead(const SaCheckpoint& record, std::uint64_t margin);

// A margin for RestoreJumpAhead: ceil(max_packets_per_second * save_interval * safety_factor),
// saturating; safety_factor >= 1 covers a save that was late or lost (default 2: one missed save).
std::uint64_t RecommendedJumpMargin(std::uint64_t max_packets_per_second, Duration save_interval,
                                    double safety_factor = 2.0);

}  // namespace espo::sdk
