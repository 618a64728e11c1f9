// SPDX-License-Identifier: Apache-2.0
//
// ReplayWindow: the inbound anti-replay window of one SA (RFC 4303 3.4.3 and appendix A, SPEC
// 1.8) and ESN high-half inference (RFC 4303 A2.2, SPEC 1.9).
//
// State: the right edge T (highest sequence number that passed integrity, 64-bit with ESN) and a
// W-bit bitmap where bit i stands for T - i. W is 0 (anti-replay disabled, only without ESN) or a
// power of two up to 1024. Check() is the pre-check (no state change); Update() runs only after
// the ICV and the trailer checks passed. Thread-compatible: one owner, no internal locking.
#pragma once

#include <array>
#include <cstdint>

#include "espo/driver/result.hpp"

namespace espo::driver {

class ReplayWindow {
 public:
  static constexpr std::uint32_t kMaxWindow = 1024;  // hardware REPLAY_BITS

  // `window` is 0 or a power of two <= 1024; 0 is rejected with `esn`. Without ESN the right edge
  // must fit in 32 bits. `right_edge` is SaConfig::replay_seq, the highest sequence number already
  // received (e.g. restored after a failover). Fail closed: with right_edge > 0 every number in
  // [right_edge - W + 1, right_edge] is marked as seen, because the restored state does not say
  // which of them arrived. right_edge 0 is a fresh SA: empty bitmap.
  static Result<ReplayWindow> Create(std::uint32_t window, bool esn, std::uint64_t right_edge = 0);

  // Pre-check of the full (ESN: inferred) sequence number: true when `seq` is new, i.e. right of
  // the window or inside it and not yet seen. 0 is never new. Always true with W = 0.
  bool Check(std::uint64_t seq) const;
  // Marks `seq` as received and moves the right edge if `seq` > T. Call only after the ICV and
  // trailer checks passed and Check(seq) (re-checked at commit) was true; a `seq` that is left of
  // the window is ignored. No-op with W = 0.
  void Update(std::uint64_t seq);
  // RFC 4303 A2.2: the 64-bit sequence number for the 32 bits `seq_low` from a packet, with the
  // high half inferred from T and W. Without ESN returns `seq_low` unchanged. With ESN and W = 0
  // (not constructible) it would return T's high half.
  std::uint64_t InferEsn(std::uint32_t seq_low) const;

  std::uint64_t right_edge() const { return right_edge_; }
  std::uint32_t size() const { return window_; }
  bool esn() const { return esn_; }
  // True when `seq` is inside the window and its bit is set (for tests and checkpoints).
  bool Seen(std::uint64_t seq) const;

 private:
  ReplayWindow(std::uint32_t window, bool esn) : window_(window), esn_(esn) {}
  bool Bit(std::uint64_t offset) const;
  void SetBit(std::uint64_t offset);
  void ShiftLeft(std::uint64_t count);

  static constexpr std::size_t kWords = kMaxWindow / 64;
  std::uint32_t window_ = 0;
  bool esn_ = false;
  std::uint64_t right_edge_ = 0;
  // Bit i (word i / 64, bit i % 64) stands for right_edge_ - i; bits >= window_ stay zero.
  std::array<std::uint64_t, kWords> bits_{};
};

}  // namespace espo::driver
