// SPDX-License-Identifier: Apache-2.0
#include "espo/driver/replay_window.hpp"

#include <string>

namespace espo::driver {

Result<ReplayWindow> ReplayWindow::Create(std::uint32_t window, bool esn,
                                          std::uint64_t right_edge) {
  if (window > kMaxWindow || (window & (window - 1U)) != 0) {
    return MakeError(Errc::kInvalidArgument, "replay window: " + std::to_string(window) +
                                                 " is not 0 or a power of two <= 1024");
  }
  if (window == 0 && esn) {
    return MakeError(Errc::kInvalidArgument, "replay window: 0 (disabled) is not allowed with ESN");
  }
  if (!esn && right_edge > 0xFFFFFFFFULL) {
    return MakeError(Errc::kInvalidArgument, "replay window: right edge " +
                                                 std::to_string(right_edge) +
                                                 " does not fit 32 bits without ESN");
  }
  ReplayWindow w(window, esn);
  w.right_edge_ = right_edge;
  if (right_edge > 0) {
    // Fail closed after a restore: T - W + 1 .. T (never below 1) count as seen.
    const std::uint64_t count = right_edge < window ? right_edge : window;
    for (std::uint64_t i = 0; i < count; ++i) w.SetBit(i);
  }
  return w;
}

bool ReplayWindow::Bit(std::uint64_t offset) const {
  return ((bits_[offset / 64] >> (offset % 64)) & 1U) != 0;
}

void ReplayWindow::SetBit(std::uint64_t offset) { bits_[offset / 64] |= 1ULL << (offset % 64); }

void ReplayWindow::ShiftLeft(std::uint64_t count) {
  // Bit i moves to bit i + count; bits that leave the window are dropped.
  if (count >= window_) {
    bits_.fill(0);
    return;
  }
  const std::size_t words = (window_ + 63U) / 64U;
  const std::size_t word_shift = count / 64;
  const std::size_t bit_shift = count % 64;
  for (std::size_t i = words; i-- > 0;) {
    std::uint64_t v = 0;
    if (i >= word_shift) {
      v = bits_[i - word_shift] << bit_shift;
      if (bit_shift != 0 && i >= word_shift + 1) {
        v |= bits_[i - word_shift - 1] >> (64U - bit_shift);
      }
    }
    bits_[i] = v;
  }
  if (window_ < 64) bits_[0] &= (1ULL << window_) - 1U;
}

bool ReplayWindow::Check(std::uint64_t seq) const {
  if (window_ == 0) return true;
  if (seq == 0) return false;
  if (seq > right_edge_) return true;
  const std::uint64_t offset = right_edge_ - seq;
  if (offset >= window_) return false;
  return !Bit(offset);
}

bool ReplayWindow::Seen(std::uint64_t seq) const {
  if (window_ == 0 || seq > right_edge_) return false;
  const std::uint64_t offset = right_edge_ - seq;
  return offset < window_ && Bit(offset);
}

void ReplayWindow::Update(std::uint64_t seq) {
  if (window_ == 0 || seq == 0) return;
  if (seq > right_edge_) {
    ShiftLeft(seq - right_edge_);
    SetBit(0);
    right_edge_ = seq;
    return;
  }
  const std::uint64_t offset = right_edge_ - seq;
  if (offset < window_) SetBit(offset);
}

std::uint64_t ReplayWindow::InferEsn(std::uint32_t seq_low) const {
  if (!esn_) return seq_low;
  const auto tl = static_cast<std::uint32_t>(right_edge_);
  const auto th = static_cast<std::uint32_t>(right_edge_ >> 32U);
  const std::uint32_t w = window_ == 0 ? 1U : window_;
  const std::uint32_t bl = tl - w + 1U;  // modulo 2^32
  std::uint32_t sh = th;
  if (tl >= w - 1U) {
    // Case A: the window lies inside one 2^32 subspace.
    if (seq_low < bl) sh = th + 1U;
  } else if (seq_low >= bl) {
    // Case B: the window straddles a subspace boundary; seq_low is in the previous subspace.
    sh = th == 0 ? 0U : th - 1U;
  }
  return (static_cast<std::uint64_t>(sh) << 32U) | seq_low;
}

}  // namespace espo::driver
