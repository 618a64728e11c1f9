// SPDX-License-Identifier: Apache-2.0
#include "espo/sim/gcm_core_sim.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "Vgcm_core.h"

#include "espo/sim/axis.hpp"
#include "espo/sim/clocked_model.hpp"

namespace espo::sim {
namespace {

constexpr std::size_t kBeatBytes = 16;
constexpr std::size_t kMaxLen = 65535;
constexpr std::uint64_t kStallLimit = 100000;  // cycles without progress before giving up

// Wire order onto a Verilator wide port: byte i -> bits [8i+7:8i] (word i/4, byte i%4).
template <class Wide>
void SetWide(Wide& port, std::size_t words, ByteSpan bytes) {
  for (std::size_t w = 0; w < words; ++w) port[w] = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    port[i / 4] |= static_cast<std::uint32_t>(bytes[i]) << (8U * (i % 4));
  }
}

template <class Wide>
std::uint8_t WideByte(const Wide& port, std::size_t i) {
  return static_cast<std::uint8_t>(port[i / 4] >> (8U * (i % 4)));
}

using Beat = AxisBeat<4>;

std::size_t Beats(std::size_t bytes) { return (bytes + kBeatBytes - 1) / kBeatBytes; }

// Appends the beats of one part (AAD or text), each part starting on a fresh beat.
void AppendPart(ByteSpan part, std::vector<Beat>& beats) {
  for (std::size_t off = 0; off < part.size(); off += kBeatBytes) {
    Beat beat;
    const std::size_t n = std::min(kBeatBytes, part.size() - off);
    for (std::size_t i = 0; i < n; ++i) {
      beat.SetByte(i, part[off + i]);
    }
    beat.keep = static_cast<std::uint16_t>((1U << n) - 1U);
    beats.push_back(beat);
  }
}

Status Validate(const GcmJob& job, std::size_t index) {
  const std::string where = "job " + std::to_string(index) + ": ";
  if (job.key.size() != 16 && job.key.size() != 32) {
    return MakeError(Errc::kInvalidArgument,
                     where + "key: expected 16 or 32 bytes, got " + std::to_string(job.key.size()));
  }
  if (job.hash_key) return Ok();
  if (job.iv.size() != 12) {
    return MakeError(Errc::kInvalidArgument,
                     where + "iv: expected 12 bytes, got " + std::to_string(job.iv.size()));
  }
  if (!job.hkey.empty() && job.hkey.size() != 16) {
    return MakeError(Errc::kInvalidArgument, where + "hkey: expected 16 bytes or empty, got " +
                                                 std::to_string(job.hkey.size()));
  }
  if (job.aad.size() > kMaxLen) {
    return MakeError(Errc::kInvalidArgument,
                     where + "aad: at most 65535 bytes, got " + std::to_string(job.aad.size()));
  }
  if (job.text.size() > kMaxLen) {
    return MakeError(Errc::kInvalidArgument,
                     where + "text: at most 65535 bytes, got " + std::to_string(job.text.size()));
  }
  if (job.decrypt && (job.expected_tag.size() < 4 || job.expected_tag.size() > 16)) {
    return MakeError(Errc::kInvalidArgument, where + "expected_tag: expected 4..16 bytes, got " +
                                                 std::to_string(job.expected_tag.size()));
  }
  return Ok();
}

}  // namespace

struct GcmCoreSim::Impl {
  ClockedModel<Vgcm_core> dut;

  Impl() {
    dut->s_cmd_valid_i = 0;
    dut->s_axis_tvalid_i = 0;
    dut->m_axis_tready_i = 0;
    dut->m_tag_ready_i = 0;
    dut.Reset();
  }

  void DriveCmd(const GcmJob& job) {
    Vgcm_core& m = dut.model();
    Bytes key(32, 0);
    std::copy(job.key.begin(), job.key.end(), key.begin());
    SetWide(m.s_cmd_key_i, 8, key);
    m.s_cmd_aes256_i = job.key.size() == 32 ? 1 : 0;
    SetWide(m.s_cmd_iv_i, 3, job.hash_key ? ByteSpan{} : ByteSpan{job.iv});
    SetWide(m.s_cmd_hkey_i, 4, job.hkey);
    m.s_cmd_decrypt_i = job.decrypt ? 1 : 0;
    m.s_cmd_hash_key_i = job.hash_key ? 1 : 0;
    m.s_cmd_aad_len_i = job.hash_key ? 0 : static_cast<std::uint16_t>(job.aad.size());
    m.s_cmd_text_len_i = job.hash_key ? 0 : static_cast<std::uint16_t>(job.text.size());
    m.s_cmd_tag_len_i = static_cast<std::uint8_t>(job.decrypt ? job.expected_tag.size() : 16);
    SetWide(m.s_cmd_expected_tag_i, 4, job.decrypt ? ByteSpan{job.expected_tag} : ByteSpan{});
  }

  // Runs jobs whose hkey is set (or hash_key ops).
  Result<std::vector<GcmOutcome>> RunRaw(std::span<const GcmJob> jobs, GcmRunStats* stats,
                                         double p_out_ready, std::uint64_t seed) {
    Vgcm_core& m = dut.model();
    std::vector<Beat> beats;
    std::vector<GcmOutcome> out(jobs.size());
    // Text beats expected per job, to split the output stream.
    std::vector<std::size_t> text_beats(jobs.size());
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      const GcmJob& job = jobs[j];
      if (job.hash_key) continue;
      const std::size_t first = beats.size();
      AppendPart(job.aad, beats);
      AppendPart(job.text, beats);
      if (beats.size() > first) beats.back().last = true;
      text_beats[j] = Beats(job.text.size());
      out[j].text.reserve(job.text.size());
    }

    std::mt19937_64 rng(seed);
    std::bernoulli_distribution ready(std::clamp(p_out_ready, 0.0, 1.0));
    const bool always_ready = p_out_ready >= 1.0;

    AxisSource<4> source;
    for (const Beat& b : beats) source.Push(b);
    AxisMonitor<4> monitor;
    std::size_t cmd_i = 0;
    std::size_t tag_i = 0;
    std::size_t out_job = 0;       // job whose text beats come out next
    std::size_t out_job_beat = 0;  // beats of out_job already seen
    std::uint64_t in_beats = 0;
    std::uint64_t out_beats = 0;
    const std::uint64_t start = dut.cycle();
    std::uint64_t last_progress = start;
    bool cmd_driven = false;
    bool tag_stalled = false;
    std::array<std::uint8_t, 16> stalled_tag{};
    const auto skip_empty = [&] {
      while (out_job < jobs.size() && out_job_beat == text_beats[out_job]) {
        ++out_job;
        out_job_beat = 0;
      }
    };
    skip_empty();

    // Done when every tag and every text beat is out (the two streams are independent: a tag
    // may leave before the last text beats of its message when m_axis is stalled).
    while (tag_i < jobs.size() || out_job < jobs.size()) {
      if (dut.cycle() - last_progress > kStallLimit) {
        return MakeError(Errc::kDevice, "gcm_core: no progress for " + std::to_string(kStallLimit) +
                                            " cycles (tags " + std::to_string(tag_i) + "/" +
                                            std::to_string(jobs.size()) + ", text of job " +
                                            std::to_string(out_job) + ")");
      }
      // Drive: next command, next beat, random readies.
      if (cmd_i < jobs.size()) {
        if (!cmd_driven) {
          DriveCmd(jobs[cmd_i]);
          cmd_driven = true;
        }
        m.s_cmd_valid_i = 1;
      } else {
        m.s_cmd_valid_i = 0;
      }
      source.Drive(m.s_axis_tdata_i, m.s_axis_tkeep_i, m.s_axis_tlast_i, m.s_axis_tvalid_i);
      m.m_axis_tready_i = (always_ready || ready(rng)) ? 1 : 0;
      m.m_tag_ready_i = (always_ready || ready(rng)) ? 1 : 0;
      dut.Settle();

      // Sample.
      if (m.s_cmd_valid_i != 0 && m.s_cmd_ready_o != 0) {
        ++cmd_i;
        cmd_driven = false;
        last_progress = dut.cycle();
      }
      if (source.Sample(m.s_axis_tready_o != 0)) {
        ++in_beats;
        last_progress = dut.cycle();
      }
      std::string violation;
      const std::optional<Beat> accepted =
          monitor.Sample(m.m_axis_tdata_o, m.m_axis_tkeep_o, m.m_axis_tlast_o, m.m_axis_tvalid_o,
                         m.m_axis_tready_i != 0, &violation);
      if (!violation.empty()) {
        return MakeError(Errc::kDevice, "gcm_core: m_axis " + violation + " at cycle " +
                                            std::to_string(dut.cycle()));
      }
      if (accepted) {
        const Beat& seen = *accepted;
        if (out_job >= jobs.size()) {
          return MakeError(Errc::kDevice, "gcm_core: unexpected m_axis beat at cycle " +
                                              std::to_string(dut.cycle()));
        }
        const GcmJob& job = jobs[out_job];
        const std::size_t off = out_job_beat * kBeatBytes;
        const std::size_t n = std::min(kBeatBytes, job.text.size() - off);
        const bool want_last = out_job_beat + 1 == text_beats[out_job];
        if (seen.keep != static_cast<std::uint16_t>((1U << n) - 1U) || seen.last != want_last) {
          return MakeError(Errc::kDevice, "gcm_core: job " + std::to_string(out_job) + " beat " +
                                              std::to_string(out_job_beat) + ": bad tkeep/tlast");
        }
        for (std::size_t i = 0; i < n; ++i) out[out_job].text.push_back(seen.Byte(i));
        ++out_job_beat;
        ++out_beats;
        skip_empty();
        last_progress = dut.cycle();
      }

      const bool tag_valid = m.m_tag_valid_o != 0;
      std::array<std::uint8_t, 16> tag{};
      if (tag_valid || tag_stalled) {
        for (std::size_t i = 0; i < 16; ++i) tag.at(i) = WideByte(m.m_tag_tag_o, i);
      }
      if (tag_stalled && (!tag_valid || tag != stalled_tag)) {
        return MakeError(Errc::kDevice, "gcm_core: m_tag changed before ready at cycle " +
                                            std::to_string(dut.cycle()));
      }
      if (tag_valid && m.m_tag_ready_i != 0) {
        out[tag_i].tag = tag;
        out[tag_i].tag_ok = m.m_tag_ok_o != 0;
        ++tag_i;
        last_progress = dut.cycle();
      }
      tag_stalled = tag_valid && m.m_tag_ready_i == 0;
      stalled_tag = tag;
      dut.RisingEdge();
    }
    m.s_cmd_valid_i = 0;
    m.s_axis_tvalid_i = 0;
    if (stats != nullptr) {
      stats->cycles += dut.cycle() - start;
      stats->in_beats += in_beats;
      stats->out_beats += out_beats;
    }
    return out;
  }
};

GcmCoreSim::GcmCoreSim() : impl_(std::make_unique<Impl>()) {}
GcmCoreSim::~GcmCoreSim() = default;

std::uint64_t GcmCoreSim::cycle() const { return impl_->dut.cycle(); }

Result<std::vector<GcmOutcome>> GcmCoreSim::Run(std::span<const GcmJob> jobs, GcmRunStats* stats,
                                                double p_out_ready, std::uint64_t seed) {
  for (std::size_t j = 0; j < jobs.size(); ++j) ESPO_RETURN_IF_ERROR(Validate(jobs[j], j));

  // Jobs without H: one hash_key op each, run first (the ESP engine does this at SA install).
  std::vector<GcmJob> hash_jobs;
  std::vector<std::size_t> needs_h;
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    if (!jobs[j].hash_key && jobs[j].hkey.empty()) {
      GcmJob h;
      h.hash_key = true;
      h.key = jobs[j].key;
      hash_jobs.push_back(std::move(h));
      needs_h.push_back(j);
    }
  }
  if (needs_h.empty()) return impl_->RunRaw(jobs, stats, p_out_ready, seed);

  ESPO_ASSIGN_OR_RETURN(const std::vector<GcmOutcome> hs,
                        impl_->RunRaw(hash_jobs, nullptr, p_out_ready, seed ^ 0x9e3779b97f4a7c15U));
  std::vector<GcmJob> full(jobs.begin(), jobs.end());
  for (std::size_t k = 0; k < needs_h.size(); ++k) {
    full[needs_h[k]].hkey.assign(hs[k].tag.begin(), hs[k].tag.end());
  }
  return impl_->RunRaw(full, stats, p_out_ready, seed);
}

}  // namespace espo::sim
