// SPDX-License-Identifier: Apache-2.0
//
// What a software write to each 32-bit word of the AXI-Lite register window does, decoded once
// at compile time from the register map so that the devices that answer register writes in C++
// (ModelDevice, CountingDevice) pay one table lookup per write: the engine stages an SA with ~30
// writes. Private to the driver.
#pragma once

#include <array>
#include <cstdint>

#include "espo/regmap/espo_regs.hpp"

namespace espo::driver {

enum class WriteKind : std::uint8_t {
  kNone,     // no writable register at this offset: the write fails
  kPlain,    // access "rw": plain storage
  kKey,      // STAGE_KEY[i]: write-only key staging
  kSalt,     // STAGE_SALT: write-only
  kCommit,   // SA_COMMIT
  kReadSel,  // SA_READ_SEL: stored, and latches the SA_READ port
  kEvtPop,   // EVT_POP
  kCtrl,     // CTRL: START runs the batch
};

inline constexpr std::uint32_t kRegWindowWords = 4096 / 4;

constexpr WriteKind DecodeWriteOffset(std::uint32_t offset) {
  namespace rm = ::espo::regmap;
  if (offset % 4 != 0) return WriteKind::kNone;
  if (offset >= rm::kStageKeyOffset && offset < rm::StageKeyOffset(rm::kStageKeyCount)) {
    return WriteKind::kKey;
  }
  switch (offset) {
    case rm::kStageSaltOffset:
      return WriteKind::kSalt;
    case rm::kSaCommitOffset:
      return WriteKind::kCommit;
    case rm::kSaReadSelOffset:
      return WriteKind::kReadSel;
    case rm::kEvtPopOffset:
      return WriteKind::kEvtPop;
    case rm::kCtrlOffset:
      return WriteKind::kCtrl;
    default:
      break;
  }
  return rm::IsReadWriteOffset(offset) ? WriteKind::kPlain : WriteKind::kNone;
}

inline constexpr std::array<WriteKind, kRegWindowWords> kWriteKinds = [] {
  std::array<WriteKind, kRegWindowWords> kinds{};
  for (std::uint32_t i = 0; i < kRegWindowWords; ++i) kinds[i] = DecodeWriteOffset(4 * i);
  return kinds;
}();

// The kind of a write to byte offset `offset` (kNone outside the window or unaligned).
inline WriteKind DecodeWrite(std::uint32_t offset) {
  return offset % 4 == 0 && offset / 4 < kRegWindowWords ? kWriteKinds[offset / 4]
                                                         : WriteKind::kNone;
}

}  // namespace espo::driver
