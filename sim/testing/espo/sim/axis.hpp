// SPDX-License-Identifier: Apache-2.0
//
// AXI-Stream driver and monitor for Verilated ports, shared by tests, benches and the sim
// wrappers. Per cycle: Drive() before ClockedModel::Settle(), Sample() after it, then
// RisingEdge(). Byte lane i of a beat is tdata[8i+7:8i] (word i/4, byte i%4 of Verilator's
// wide port), the first byte on the wire.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace espo::sim {

template <std::size_t Words>
struct AxisBeat {
  std::array<std::uint32_t, Words> data{};
  std::uint32_t keep = 0;
  bool last = false;
  friend bool operator==(const AxisBeat&, const AxisBeat&) = default;

  std::uint8_t Byte(std::size_t i) const {
    return static_cast<std::uint8_t>(data[i / 4] >> (8U * (i % 4)));
  }
  void SetByte(std::size_t i, std::uint8_t b) {
    data[i / 4] |= static_cast<std::uint32_t>(b) << (8U * (i % 4));
  }
};

// Drives a subordinate's s_axis_* inputs from a queue of beats, one per cycle when the DUT is
// ready. Obeys the AXI-Stream source rule: a beat, once offered, stays until it is taken.
template <std::size_t Words>
class AxisSource {
 public:
  using Beat = AxisBeat<Words>;

  void Push(const Beat& beat) { queue_.push_back(beat); }
  bool empty() const { return queue_.empty(); }
  std::size_t size() const { return queue_.size(); }

  // Sets tdata/tkeep/tlast/tvalid for this cycle. `offer` = false idles the bus (random gaps),
  // which is only honoured while no beat is already offered.
  template <class Data, class Keep, class Flag>
  void Drive(Data& tdata, Keep& tkeep, Flag& tlast, Flag& tvalid, bool offer = true) {
    offered_ = !queue_.empty() && (offered_ || offer);
    if (offered_) {
      const Beat& b = queue_.front();
      for (std::size_t w = 0; w < Words; ++w) tdata[w] = b.data[w];
      tkeep = static_cast<Keep>(b.keep);
      tlast = b.last ? 1 : 0;
    }
    tvalid = offered_ ? 1 : 0;
  }
  // After Settle(): true when the offered beat was taken this cycle.
  bool Sample(bool tready) {
    if (!offered_ || !tready) return false;
    queue_.pop_front();
    offered_ = false;
    return true;
  }

 private:
  std::deque<Beat> queue_;
  bool offered_ = false;
};

// Watches a manager's m_axis_* outputs: returns each beat accepted (tvalid && tready) and
// checks the hold rule (once tvalid is high, it and the payload stay until tready).
template <std::size_t Words>
class AxisMonitor {
 public:
  using Beat = AxisBeat<Words>;

  // After Settle(). Returns the accepted beat, if any; sets `violation` (and returns nothing)
  // when the DUT dropped tvalid or changed the payload of a stalled beat.
  template <class Data, class Keep, class Flag>
  std::optional<Beat> Sample(const Data& tdata, Keep tkeep, Flag tlast, Flag tvalid, bool tready,
                             std::string* violation) {
    const bool valid = tvalid != 0;
    Beat seen;
    if (valid) {
      for (std::size_t w = 0; w < Words; ++w) seen.data[w] = tdata[w];
      seen.keep = static_cast<std::uint32_t>(tkeep);
      seen.last = tlast != 0;
    }
    if (stalled_ && (!valid || !(seen == stalled_beat_))) {
      if (violation != nullptr) {
        *violation = valid ? "payload changed before tready" : "tvalid dropped before tready";
      }
      stalled_ = false;
      return std::nullopt;
    }
    stalled_ = valid && !tready;
    stalled_beat_ = seen;
    if (valid && tready) return seen;
    return std::nullopt;
  }

 private:
  bool stalled_ = false;
  Beat stalled_beat_;
};

}  // namespace espo::sim
