// SPDX-License-Identifier: Apache-2.0
//
// SaManager: owns the engine's SA slots. It allocates inbound and outbound slots (O(1) free
// lists), allocates inbound SPIs that encode the inbound slot index in their low bits (random
// high bits from the injected Rng, never 0..255, never reused while the SPI is in quarantine),
// installs and removes SAs through driver::Engine, falls back to SoftwareEsp when no slot is free
// and moves SAs back to hardware when slots return, and tracks the life cycle of each Child SA:
//
//   larval --(inbound + outbound installed)--> active --(soft)--> rekeying
//      |                                         |                   |  (replacement active)
//      |                                         +---- Retire() -----+--> draining --(drain)-->
//      gone
//      +------------------------ Remove() (any state) ---------------------------------------> gone
//
// A Child SA is a pair (inbound + outbound) identified by an SaId (never reused) and tied to a
// caller-chosen `selector` (the traffic selector, or one member of an SA group): Transmit() sends
// a selector's packets on its current outbound SA, which InstallOutbound()/ActivateOutbound()
// switch (make-before-break). Engine is the only device dependency; the SDK never sees registers.
// Not thread-safe: one owner (the daemon's control thread).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "espo/driver/engine.hpp"
#include "espo/driver/key_material.hpp"
#include "espo/driver/result.hpp"
#include "espo/driver/sa_config.hpp"
#include "espo/sdk/checkpoint.hpp"
#include "espo/sdk/clock.hpp"
#include "espo/sdk/flat_map.hpp"
#include "espo/sdk/lifetime_policy.hpp"
#include "espo/sdk/random.hpp"
#include "espo/sdk/software_esp.hpp"

namespace espo::sdk {

// Identity of one Child SA (one keying of a selector). 0 is "none"; ids are never reused.
using SaId = std::uint64_t;
inline constexpr SaId kNoSa = 0;
// Slot field of SaInfo when a direction is not in a hardware slot.
inline constexpr std::uint32_t kNoSlotIndex = 0xFFFFFFFFU;
// SPIs 1..255 are reserved (RFC 4303); 0 is invalid.
inline constexpr std::uint32_t kMinSpi = 256;

enum class SaState : std::uint8_t { kLarval, kActive, kRekeying, kDraining, kGone };
// "larval", "active", "rekeying", "draining", "gone".
std::string_view ToString(SaState state);

enum class Placement : std::uint8_t { kNone, kHardware, kSoftware };
// "none", "hardware", "software".
std::string_view ToString(Placement placement);

// Which reserve a slot may come from: kNew leaves `headroom` free slots per direction for
// rekeys; kRekey may use them (SPEC 9.4).
enum class SlotClass : std::uint8_t { kNew, kRekey };

// Everything about a Child SA except keys and SPIs. Addresses and ports are this end's view.
struct ChildSaSpec {
  std::uint64_t selector = 0;  // caller's id of the traffic selector (or group member)
  driver::Mode mode = driver::Mode::kTunnel;
  driver::IpAddress local;  // outbound source, inbound destination
  driver::IpAddress peer;   // outbound destination, inbound source
  driver::Algorithm alg = driver::Algorithm::kGcm;
  std::size_t key_bytes = 16;  // 16 or 32 (AES-128 / AES-256)
  std::uint8_t icv_bytes = 16;
  bool esn = false;
  std::uint32_t replay_window = 64;
  std::optional<driver::UdpEncap> encap;  // outbound ports {local, peer}; inbound uses the swap
};

struct SaManagerOptions {
  // A removed SA's inbound SPI is not handed out again for this long (packets may be in flight).
  Duration spi_quarantine = std::chrono::seconds(30);
  // Retire(): the old inbound SA stays installed this long after its outbound was removed.
  Duration drain_interval = std::chrono::seconds(2);
  // Free slots per direction that only SlotClass::kRekey allocations (and nothing else) may take.
  std::uint32_t headroom_in = 0;
  std::uint32_t headroom_out = 0;
  // Use only the first N slots of each table (0 = all the engine has). For tests and studies.
  std::uint32_t max_in_slots = 0;
  std::uint32_t max_out_slots = 0;
  // When no slot is free: true = put the SA on SoftwareEsp, false = fail with kExhausted.
  bool software_fallback = true;
  // Move software SAs to hardware in Poll() when slots are free beyond the headroom. Inbound SAs
  // move only when the slot their SPI encodes is free, and are installed with the software replay
  // right edge (fail closed: in-window numbers not yet received are then refused).
  bool migrate_to_hardware = true;
};

enum class SaEventKind : std::uint8_t {
  kSoft,         // a soft limit was crossed (hardware slot or software SA)
  kHard,         // a hard limit was crossed: the direction stopped
  kSeqOverflow,  // the last sequence number was used: the outbound direction stopped
  kStateChange,  // `from` -> `to`
  kFallback,     // a direction was placed on SoftwareEsp because no slot was free
  kMigrated,     // a direction moved from SoftwareEsp to a hardware slot
};
// "soft", "hard", "seq-overflow", "state", "fallback", "migrated".
std::string_view ToString(SaEventKind kind);

struct SaEvent {
  SaEventKind kind = SaEventKind::kSoft;
  SaId sa = kNoSa;
  std::uint64_t selector = 0;
  driver::Direction dir = driver::Direction::kOut;
  bool software = false;
  std::uint64_t packets = 0;  // counters after the packet that caused a limit event
  std::uint64_t bytes = 0;
  SaState from = SaState::kLarval;  // kStateChange only
  SaState to = SaState::kLarval;
  TimePoint at;
};

struct SaInfo {
  SaId id = kNoSa;
  std::uint64_t selector = 0;
  SaState state = SaState::kLarval;
  std::uint32_t inbound_spi = 0;
  std::uint32_t outbound_spi = 0;             // 0 until prepared / installed
  Placement inbound = Placement::kNone;       // kNone: SPI allocated, not installed
  Placement outbound = Placement::kNone;      // kNone: not installed (maybe prepared)
  std::uint32_t inbound_slot = kNoSlotIndex;  // reserved or installed hardware slot
  std::uint32_t outbound_slot = kNoSlotIndex;
  bool outbound_prepared = false;
  bool adopted = false;  // installed by AdoptSa (one direction, caller-keyed)
  std::optional<TimePoint> drain_until;
};

struct DirectionCounters {
  Placement placement = Placement::kNone;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t seq = 0;  // outbound: last number used; inbound: replay right edge
};
struct SaCounters {
  DirectionCounters inbound;
  DirectionCounters outbound;
};

struct SaManagerStats {
  std::uint32_t in_slots = 0;  // usable slots per direction
  std::uint32_t out_slots = 0;
  std::uint32_t in_free = 0;
  std::uint32_t out_free = 0;
  std::uint64_t live_sas = 0;     // not gone
  std::uint64_t software_in = 0;  // directions currently on SoftwareEsp
  std::uint64_t software_out = 0;
  std::uint64_t fallbacks = 0;   // directions ever placed on software
  std::uint64_t migrations = 0;  // directions ever moved back to hardware
  std::uint64_t installs = 0;    // hardware installs
  std::uint64_t removes = 0;     // hardware removes
  std::uint64_t quarantined_spis = 0;
  std::uint32_t stuck_slots = 0;  // a device remove failed: slot kept out of the free lists
};

// Data path. Outbound packets name a selector; the manager picks its current SA.
struct TxPacket {
  std::uint64_t selector = 0;
  Bytes data;  // the inner IP packet
};
struct PacketResult {
  driver::PacketStatus status = driver::PacketStatus::kOk;
  SaId sa = kNoSa;  // the SA that processed it (kNoSa: none found)
  bool software = false;
  std::uint64_t seq = 0;  // sequence number (hardware: the low 32 bits as reported)
  Bytes data;             // ESP packet (outbound) / released packet (inbound)
};

// SaManager::Restore: what to do with the records of a checkpoint.
struct RestoreOptions {
  // Outbound directions resume at saved + jump_margin (RestoreJumpAhead; RecommendedJumpMargin).
  std::uint64_t jump_margin = 0;
  // Slot class of the restored directions: kRekey by default, since they all held slots
  // together before the restart.
  SlotClass cls = SlotClass::kRekey;
};
// One direction's configuration for Restore, from its owner (the IKE daemon keeps keys; the
// operator's SA file; the kernel): key, addresses, mode, algorithm, ICV, ESN, window, encap and
// the limits over the SA's whole life. Restore checks spi and dir against the record and sets
// oseq / replay_seq itself. Errc::kNotFound: the owner no longer has this SA; it is skipped (an
// inbound SPI stays quarantined). Any other error aborts the restore.
using RestoreConfigProvider = std::function<Result<driver::SaConfig>(const SaCheckpoint& record)>;
struct RestoreReport {
  std::vector<SaId> restored;         // SAs with at least one direction installed again (saved ids)
  std::vector<SaCheckpoint> skipped;  // the provider said kNotFound
  std::vector<SaCheckpoint> needs_rekey;  // outbound: no number left after the jump (not
                                          // installed), or the hard limit was already reached
  // Restored SAs whose soft limit was already crossed, or that were rekeying at the save: the
  // new owner should rekey them now (their soft event will not be posted again).
  std::vector<SaId> rekey_now;
  std::uint64_t quarantined = 0;  // inbound SPIs put into quarantine (retired, skipped, larval)
};

class SaManager {
 public:
  // The manager keeps references to all three; they must outlive it. Reads the slot counts from
  // engine.caps(). Errors: kInvalidArgument for options that do not fit the engine.
  static Result<std::unique_ptr<SaManager>> Create(driver::Engine& engine, const Clock& clock,
                                                   Rng& rng, const SaManagerOptions& options = {});
  ~SaManager();
  SaManager(const SaManager&) = delete;
  SaManager& operator=(const SaManager&) = delete;
  SaManager(SaManager&&) = delete;
  SaManager& operator=(SaManager&&) = delete;

  // ---- life cycle ----
  // A larval Child SA with a fresh inbound SPI (send it to the peer). Reserves an inbound slot
  // (the SPI encodes it) or, when none is free for `cls`, places the inbound side on software.
  // Errors: kInvalidArgument (spec), kExhausted (no slot and software_fallback off).
  Result<SaId> Allocate(const ChildSaSpec& spec, SlotClass cls);
  // Installs the inbound side (hardware slot or software). On failure the SA is removed (gone).
  Status InstallInbound(SaId id, driver::KeyMaterial key, const CountLimits& limits);
  // Stores the outbound side (peer SPI, key, limits) without installing it (SPEC 7.2 step 2).
  Status PrepareOutbound(SaId id, std::uint32_t peer_spi, driver::KeyMaterial key,
                         const CountLimits& limits);
  // Installs the prepared outbound side (hardware slot of `cls`, or software) and makes this SA
  // the selector's current outbound SA; larval -> active. The inbound side must be installed.
  // All-or-nothing: if this install fails, the inbound side is removed as well (the SA is gone)
  // and the error returned.
  Status ActivateOutbound(SaId id, SlotClass cls);
  // Prepare + Activate.
  Status InstallOutbound(SaId id, std::uint32_t peer_spi, driver::KeyMaterial key,
                         const CountLimits& limits, SlotClass cls);
  // Inbound then outbound, all-or-nothing (reverse-order unwinding on failure: the SA is gone).
  Status InstallPair(SaId id, std::uint32_t peer_spi, driver::KeyMaterial inbound_key,
                     driver::KeyMaterial outbound_key, const CountLimits& inbound_limits,
                     const CountLimits& outbound_limits, SlotClass cls);
  // ---- one-direction, caller-keyed SAs (manual keying, SAs mirrored from the kernel) ----
  // Installs one direction of an SA whose parameters were chosen outside the SDK: SPI, key,
  // limits, start sequence (sa.oseq) and replay edge (sa.replay_seq) are taken as given. Inbound
  // goes to the slot its SPI encodes (Engine::InboundSlotFor) when that slot is free for `cls`,
  // outbound to any free slot; otherwise SoftwareEsp (kFallback event) when
  // options.software_fallback, else kExhausted. The SA is kActive at once (a larval -> active
  // state event is posted); the other direction is Placement::kNone. An outbound SA becomes the
  // current outbound SA of `selector` (Transmit); the first overload uses
  // AdoptedSelector(sa.dir, sa.spi), unique per direction and SPI.
  // Errors: kInvalidArgument (driver::Validate, SPI < 256, an inbound SPI whose slot the engine
  // does not have), kExists (same direction + SPI live, or an inbound SPI in quarantine),
  // kExhausted, or the device's error. Installs nothing on error (and quarantines nothing).
  Result<SaId> AdoptSa(const driver::SaConfig& sa, SlotClass cls = SlotClass::kNew);
  Result<SaId> AdoptSa(const driver::SaConfig& sa, std::uint64_t selector,
                       SlotClass cls = SlotClass::kNew);
  // The selector AdoptSa(sa, cls) gives an adopted SA: bit 63 set, bit 32 = direction (1 = in),
  // low 32 bits = SPI. Callers that choose their own selectors should keep bit 63 clear.
  static constexpr std::uint64_t AdoptedSelector(driver::Direction dir, std::uint32_t spi) {
    return (std::uint64_t{1} << 63U) |
           (std::uint64_t{dir == driver::Direction::kIn ? 1U : 0U} << 32U) | spi;
  }
  // New soft/hard limits for one installed direction of an SA (adopted or managed), absolute
  // over the SA's life (also after a move from software to hardware): hardware through the
  // engine's update-limits commit, software in SoftwareEsp. As in hardware, a soft or hard event
  // already posted is not posted again; a limit already crossed and not yet posted fires on the
  // next packet. Errors: kNotFound (no such SA or direction not installed), kInvalidArgument
  // (soft >= hard where both are set), or the device's error (limits unchanged).
  Status UpdateLimits(SaId id, driver::Direction dir, const driver::SaLimits& limits);
  // The adopted (or managed) SA whose `dir` side has this SPI (outbound: prepared or installed);
  // kNoSa if none.
  SaId FindBySpi(driver::Direction dir, std::uint32_t spi) const;
  // True for a live SA installed by AdoptSa.
  bool IsAdopted(SaId id) const;

  // active <-> rekeying (the scheduler's bookkeeping; no device access).
  Status SetRekeying(SaId id, bool rekeying);
  // Make-before-break end: removes the outbound side now, keeps the inbound side for the drain
  // interval (-> draining), then Poll() removes it (-> gone). If this SA is still its selector's
  // current outbound SA, the selector has no outbound SA afterwards.
  Status Retire(SaId id);
  // Removes both sides now, outbound first (-> gone); the inbound SPI enters quarantine. Device
  // errors are returned after both sides were attempted; a slot whose remove failed is "stuck".
  Status Remove(SaId id);

  // Ends drain intervals and SPI quarantines that are due, then migrates software SAs.
  Status Poll();
  // The earliest drain end: when Poll() must run for a draining SA to go and free its slot
  // (empty: none scheduled). SPI quarantines are not listed: one that has run out is ended by
  // whichever Poll() comes next (until then the SPI is merely not drawn), so a caller that
  // sleeps until NextDeadline() is not woken for them.
  std::optional<TimePoint> NextDeadline() const;

  // Limit events (hardware event FIFO and software), translated to SAs, plus the state changes,
  // fallbacks and migrations since the last call, in order.
  Result<std::vector<SaEvent>> CollectEvents();
  // Also called synchronously for every state change, fallback and migration (optional).
  void SetEventCallback(std::function<void(const SaEvent&)> callback) {
    callback_ = std::move(callback);
  }

  // ---- checkpoint (docs/CHECKPOINT.md) ----
  // Every installed direction of every live SA: SPI, SaId, selector, state, placement and slot,
  // outbound last-used sequence number, inbound replay right edge, window and a fail-closed
  // bitmap (every number in the window counted as received: neither the slot nor SoftwareEsp
  // exports its bitmap, and Restore installs windows fail-closed anyway), life counters; the SPI
  // allocator (live and larval inbound SPIs allocated, quarantined SPIs retired) and the next
  // SaId. Reads every hardware slot once; device errors are returned. generation is 0 (the
  // caller numbers its saves).
  Result<Checkpoint> Snapshot();
  // Rebuilds the SAs of `checkpoint` in this manager, which must hold no SA (kInvalidArgument),
  // e.g. after a restart on a fresh device. Each record keeps its SaId, selector and pairing;
  // outbound resumes at saved + options.jump_margin, inbound at replay right edge = saved
  // (fail-closed window); counters continue from the saved life counters (outbound: plus the
  // numbers skipped by the jump, as if they had been sent), so limits from the provider keep
  // their meaning over the SA's life. Draining SAs are restored draining (a fresh drain
  // interval), rekeying ones active (the exchange is lost; listed in rekey_now). Retired,
  // skipped and larval inbound SPIs are quarantined for a full spi_quarantine. Later ids start
  // above next_sa_id. All-or-nothing: on an error every SA restored so far is removed again
  // (their SPIs stay quarantined) and the error is returned.
  Result<RestoreReport> Restore(const Checkpoint& checkpoint, const RestoreConfigProvider& provider,
                                const RestoreOptions& options = {});

  // ---- data path ----
  Result<std::vector<PacketResult>> Transmit(std::span<const TxPacket> packets);
  Result<std::vector<PacketResult>> Receive(std::span<const Bytes> packets);

  // ---- queries ----
  // kNotFound once the SA is gone.
  Result<SaInfo> Info(SaId id) const;
  // Info of the selector's current outbound SA / of the SA with this inbound SPI, in one lookup
  // (CurrentFor / FindByInboundSpi + Info take two); empty if there is none.
  std::optional<SaInfo> CurrentInfo(std::uint64_t selector) const;
  std::optional<SaInfo> InfoByInboundSpi(std::uint32_t spi) const;
  // kGone for unknown or removed SAs.
  SaState StateOf(SaId id) const;
  // The selector's current outbound SA, or kNoSa.
  SaId CurrentFor(std::uint64_t selector) const;
  // By inbound SPI (ours) / outbound SPI (the peer's, prepared or installed); kNoSa if none.
  SaId FindByInboundSpi(std::uint32_t spi) const;
  SaId FindByOutboundSpi(std::uint32_t spi) const;
  Result<SaCounters> Counters(SaId id);
  const ChildSaSpec* SpecOf(SaId id) const;
  SaManagerStats stats() const;
  // The SAs that are not gone (O(n); for tests and exports).
  std::vector<SaId> LiveSas() const;
  bool IsSpiQuarantined(std::uint32_t spi) const { return quarantine_set_.count(spi) != 0; }

  const SaManagerOptions& options() const { return options_; }
  const Clock& clock() const { return clock_; }
  Rng& rng() { return rng_; }

 private:
  struct PreparedOut {
    std::uint32_t peer_spi = 0;
    driver::KeyMaterial key;
    CountLimits limits;
  };
  struct Record {
    // Hot fields first (one cache line with spec.selector): most lookups read only these.
    SaId id = kNoSa;
    SaState state = SaState::kLarval;
    Placement in_place = Placement::kNone;
    Placement out_place = Placement::kNone;
    bool in_sw_reserved = false;  // inbound will go to software (no slot was free)
    bool adopted = false;
    std::uint32_t in_spi = 0;
    std::uint32_t out_spi = 0;
    std::uint32_t in_slot = kNoSlotIndex;
    std::uint32_t out_slot = kNoSlotIndex;
    ChildSaSpec spec;
    std::optional<PreparedOut> prepared;
    CountLimits in_limits;
    CountLimits out_limits;
    // Counters a direction used on software before it moved to a hardware slot (whose counters
    // start at 0): added by Counters(), subtracted from limits by UpdateLimits().
    std::uint64_t in_base_packets = 0;
    std::uint64_t in_base_bytes = 0;
    std::uint64_t out_base_packets = 0;
    std::uint64_t out_base_bytes = 0;
    std::optional<TimePoint> drain_until;
  };
  // O(1) free list with removal of a given index (swap with last).
  class SlotPool {
   public:
    void Init(std::uint32_t n);
    bool Empty() const { return free_.empty(); }
    std::uint32_t Size() const { return static_cast<std::uint32_t>(free_.size()); }
    std::uint32_t Pop();
    bool Take(std::uint32_t slot);  // false if not free
    void Push(std::uint32_t slot);
    bool IsFree(std::uint32_t slot) const { return pos_[slot] != kAbsent; }

   private:
    static constexpr std::uint32_t kAbsent = 0xFFFFFFFFU;
    std::vector<std::uint32_t> free_;
    std::vector<std::uint32_t> pos_;
  };

  // Records by SaId: an open-addressing index over records kept in fixed chunks (stable
  // addresses, no allocation per SA once warm; freed records are reset, which wipes their keys,
  // and reused).
  class RecordStore {
   public:
    Record* Find(SaId id) const {
      auto it = index_.find(id);
      return it == index_.end() ? nullptr : it->second;
    }
    Record& Insert(SaId id, Record&& r);  // `id` must not be present
    void Erase(SaId id);
    std::size_t size() const { return index_.size(); }
    bool empty() const { return index_.empty(); }
    template <typename F>
    void ForEachId(F&& f) const {
      for (const auto& [id, r] : index_) f(id);
    }

   private:
    static constexpr std::size_t kChunk = 1024;
    detail::FlatMap<SaId, Record*> index_;
    std::vector<std::unique_ptr<Record[]>> chunks_;  // NOLINT(*-avoid-c-arrays): fixed chunks
    std::vector<Record*> free_;
  };

  SaManager(driver::Engine& engine, const Clock& clock, Rng& rng, const SaManagerOptions& options);
  Record* Find(SaId id);
  const Record* Find(SaId id) const;
  static SaInfo InfoOf(const Record* r);
  void SetState(Record& r, SaState to);
  void Emit(const SaEvent& event);
  SaEvent MakeEvent(SaEventKind kind, const Record& r, driver::Direction dir) const;
  bool CanTake(const SlotPool& pool, std::uint32_t headroom, SlotClass cls) const;
  std::uint32_t DrawSpi(std::uint32_t slot_index);
  driver::SaConfig BuildConfig(const Record& r, driver::Direction dir) const;
  Status InstallInboundSide(Record& r, driver::KeyMaterial key);
  // Installs one direction of `r` (config.dir) from `config`: inbound into the slot its SPI
  // encodes, outbound into any free slot (for `cls`), else SoftwareEsp (`fallback` set; the
  // caller posts the event once the record is stored) or kExhausted. `base_*`: counters the
  // direction already used (restore): the slot gets what is left of the limits. Sets SPI,
  // limits, placement, slot, owner and stats; on error nothing changes on the device or pools.
  Status PlaceDirection(Record& r, driver::SaConfig config, SlotClass cls,
                        std::uint64_t base_packets, std::uint64_t base_bytes, bool& fallback,
                        const std::function<std::string()>& what);
  Result<SaCheckpoint> SnapshotDirection(const Record& r, driver::Direction dir);
  Status InstallOutboundSide(Record& r, SlotClass cls);
  Status RemoveInboundSide(Record& r);
  Status RemoveOutboundSide(Record& r);
  void Forget(Record& r);  // -> gone, quarantine, erase
  Status MigrateOutbound(Record& r);
  Status MigrateInbound(Record& r);
  static SoftwareSaKey SwKey(SaId id, driver::Direction dir) {
    return id * 2 + (dir == driver::Direction::kIn ? 1U : 0U);
  }

  driver::Engine& engine_;
  const Clock& clock_;
  Rng& rng_;
  SaManagerOptions options_;
  std::uint32_t device_in_slots_ = 0;
  std::uint32_t spi_slot_bits_ = 0;
  SlotPool in_pool_;
  SlotPool out_pool_;
  std::vector<SaId> in_owner_;  // slot -> SA (reserved or installed)
  std::vector<SaId> out_owner_;
  SoftwareEsp software_;
  SaId next_id_ = 1;
  RecordStore sas_;
  // Indexes to records (stable addresses; entries removed before their record is freed).
  detail::FlatMap<std::uint32_t, Record*> by_in_spi_;
  detail::FlatMap<std::uint32_t, Record*> by_out_spi_;
  detail::FlatMap<std::uint64_t, Record*> current_;             // selector -> outbound SA
  std::deque<std::pair<TimePoint, std::uint32_t>> quarantine_;  // FIFO: constant quarantine
  detail::FlatSet<std::uint32_t> quarantine_set_;
  std::deque<std::pair<TimePoint, SaId>> drains_;  // FIFO: constant drain interval
  std::deque<SaId> out_waiters_;                   // software outbound SAs, oldest first
  std::vector<std::vector<SaId>> in_waiters_;      // slot -> software inbound SAs encoding it
  std::size_t in_waiting_ = 0;                     // entries in in_waiters_ (stale ones too)
  std::vector<std::uint32_t> freed_in_slots_;      // since the last Poll()
  std::vector<std::uint32_t> blocked_in_slots_;    // free slots with waiters held by headroom
  std::vector<SaEvent> events_;
  std::function<void(const SaEvent&)> callback_;
  SaManagerStats stats_;
};

}  // namespace espo::sdk
