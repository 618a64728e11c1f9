// SPDX-License-Identifier: Apache-2.0
//
// TimeQueue: a min-priority queue of (time, payload) entries popped in (time, push order) order,
// built for many deadlines spread over hours of which only the earliest few are ever looked at
// (the RekeyScheduler's soft/hard time deadlines and rekey timeouts). Entries are kept in coarse
// time buckets (2^36 ns, about 69 s): the earliest bucket is a small binary heap, later buckets
// are unsorted vectors in a ring indexed by bucket number (about 78 hours of them; later ones in
// an ordered map), heapified only when they become the earliest. A push is O(1) amortised, a pop
// O(log bucket size), and the heap being sifted stays in cache where one binary heap over every
// deadline missed it on nearly every level. Internal to the SDK (not part of its API).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <utility>
#include <vector>

#include "espo/sdk/clock.hpp"

namespace espo::sdk::detail {

template <typename Payload>
class TimeQueue {
 public:
  struct Entry {
    TimePoint at;
    std::uint64_t seq = 0;  // push order: ties in `at` pop first-pushed first
    Payload payload{};
  };

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  void push(TimePoint at, Payload payload) {
    Entry e{at, next_seq_++, std::move(payload)};
    const std::int64_t b = Bucket(at);
    ++size_;
    if (size_ == 1 || b <= near_bucket_) {  // the first entry, or not after the near bucket
      if (size_ == 1) near_bucket_ = b;
      near_.push_back(std::move(e));
      std::push_heap(near_.begin(), near_.end(), Later{});
      return;
    }
    if (ring_.empty()) ring_base_ = near_bucket_ + 1;
    if (b >= ring_base_ && b - ring_base_ < kRingBuckets) {
      const auto i = static_cast<std::size_t>(b - ring_base_);
      if (i >= ring_.size()) ring_.resize(i + 1);
      ring_[i].push_back(std::move(e));
      return;
    }
    far_[b].push_back(std::move(e));
  }

  // The earliest entry; the queue must not be empty.
  const Entry& top() const { return near_.front(); }

  void pop() {
    std::pop_heap(near_.begin(), near_.end(), Later{});
    near_.pop_back();
    --size_;
    if (near_.empty()) Refill();
  }

  void clear() {
    near_.clear();
    ring_.clear();
    far_.clear();
    size_ = 0;
  }

 private:
  static constexpr unsigned kBucketBits = 36;
  static constexpr std::int64_t kRingBuckets = 4096;
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };
  static std::int64_t Bucket(TimePoint at) { return at.time_since_epoch().count() >> kBucketBits; }
  // Invariant: every entry of near_ is in a bucket <= near_bucket_, every entry of ring_ and far_
  // in a later one, and near_ is empty only when the whole queue is. ring_[i] is bucket
  // ring_base_ + i.
  void Refill() {
    while (!ring_.empty() && ring_.front().empty()) {
      ring_.pop_front();
      ++ring_base_;
    }
    if (ring_.empty() && far_.empty()) return;
    // The earliest bucket; a bucket that went to far_ while beyond the ring and later also got
    // entries in the ring (once the ring moved up to it) is taken from both.
    near_bucket_ = ring_.empty()  ? far_.begin()->first
                   : far_.empty() ? ring_base_
                                  : std::min(ring_base_, far_.begin()->first);
    if (!ring_.empty() && ring_base_ == near_bucket_) {
      near_ = std::move(ring_.front());
      ring_.pop_front();
      ++ring_base_;
    }
    if (!far_.empty() && far_.begin()->first == near_bucket_) {
      std::vector<Entry>& more = far_.begin()->second;
      near_.insert(near_.end(), std::make_move_iterator(more.begin()),
                   std::make_move_iterator(more.end()));
      far_.erase(far_.begin());
    }
    std::make_heap(near_.begin(), near_.end(), Later{});
  }

  std::vector<Entry> near_;  // binary heap (Later: a max-heap on "later" = a min-heap on time)
  std::int64_t near_bucket_ = 0;
  std::deque<std::vector<Entry>> ring_;
  std::int64_t ring_base_ = 0;
  std::map<std::int64_t, std::vector<Entry>> far_;  // beyond the ring
  std::size_t size_ = 0;
  std::uint64_t next_seq_ = 0;
};

}  // namespace espo::sdk::detail
