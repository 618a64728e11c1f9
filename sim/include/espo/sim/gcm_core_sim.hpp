// SPDX-License-Identifier: Apache-2.0
//
// GcmCoreSim: runs AES-GCM jobs through the verilated hw/rtl/gcm_core (pimpl: no Verilator type
// here). Jobs are streamed back to back: commands run ahead of the data, data beats are offered
// every cycle, so the input idles only when the core stalls. See docs/GCM_CORE.md.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "espo/driver/bytes.hpp"
#include "espo/driver/result.hpp"

namespace espo::sim {

struct GcmJob {
  bool decrypt = false;
  bool hash_key = false;  // compute H = E_K(0^128); returned in GcmOutcome::tag
  Bytes key;              // 16 or 32 bytes
  Bytes iv;               // 12 bytes (ignored for hash_key)
  Bytes hkey;             // 16 bytes; empty = the wrapper computes it first with a hash_key op
  Bytes aad;
  Bytes text;          // plaintext (encrypt) or ciphertext (decrypt)
  Bytes expected_tag;  // decrypt: 4..16 bytes (leading bytes of the tag)
};

struct GcmOutcome {
  Bytes text;                          // ciphertext (encrypt) or plaintext (decrypt)
  std::array<std::uint8_t, 16> tag{};  // full tag T (or H for hash_key)
  bool tag_ok = false;                 // decrypt: leading expected_tag.size() bytes match
};

struct GcmRunStats {
  std::uint64_t cycles = 0;     // from the first offered input to the last tag
  std::uint64_t in_beats = 0;   // s_axis beats accepted
  std::uint64_t out_beats = 0;  // m_axis beats delivered
};

// Not thread-safe: one owner. Non-copyable, non-movable (owns the simulation).
class GcmCoreSim {
 public:
  GcmCoreSim();
  ~GcmCoreSim();
  GcmCoreSim(const GcmCoreSim&) = delete;
  GcmCoreSim& operator=(const GcmCoreSim&) = delete;
  GcmCoreSim(GcmCoreSim&&) = delete;
  GcmCoreSim& operator=(GcmCoreSim&&) = delete;

  // Streams all jobs back to back and collects the outcomes in order. p_out_ready < 1 drives
  // random backpressure on m_axis and m_tag (seeded by `seed`). Errors: invalid job (one line
  // naming the job and field), or a core that stalls, breaks the AXI-Stream hold rule or emits
  // misframed output (Errc::kDevice).
  Result<std::vector<GcmOutcome>> Run(std::span<const GcmJob> jobs, GcmRunStats* stats = nullptr,
                                      double p_out_ready = 1.0, std::uint64_t seed = 0);

  // Rising edges since construction (including reset).
  std::uint64_t cycle() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace espo::sim
