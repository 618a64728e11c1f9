// SPDX-License-Identifier: Apache-2.0
//
// TimeQueue: a min-priority queue of (time, payload) entries popped in (time, push order) order,
// built for many deadlines spread over hours of which only the earliest few are ever looked at
// (the RekeyScheduler's soft/hard time deadlines and rekey timeouts). Entries are kept in coarse
// time buckets (2^36 ns, about 69 s): the earliest bucket is a small binary heap, later buckets are
// unsorted vectors in an ordered map, heapified only when they become the earliest. A push is
// O(1) amortised plus a lookup among the (few hundred) bucket keys, a pop O(log bucket size), so
// the heap being sifted stays in cache where one binary heap over every deadline missed it on
// nearly every level. Internal to the SDK (not part of its API).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
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
    if (!near_.empty() && b <= near_bucket_) {
      near_.push_back(std::move(e));
      std::push_heap(near_.begin(), near_.end(), Later{});
      return;
    }
    if (near_.empty() && (far_.empty() || b < far_.begin()->first)) {
      // The queue held nothing earlier than this bucket: it becomes the near bucket.
      near_bucket_ = b;
      near_.push_back(std::move(e));
      return;
    }
    far_[b].push_back(std::move(e));
    if (near_.empty()) Refill();
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
    far_.clear();
    size_ = 0;
  }

 private:
  static constexpr unsigned kBucketBits = 36;
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };
  static std::int64_t Bucket(TimePoint at) { return at.time_since_epoch().count() >> kBucketBits; }
  // Invariant: every entry of near_ is in a bucket <= near_bucket_, every key of far_ is larger,
  // and near_ is empty only when the whole queue is.
  void Refill() {
    if (far_.empty()) return;
    auto it = far_.begin();
    near_bucket_ = it->first;
    near_ = std::move(it->second);
    far_.erase(it);
    std::make_heap(near_.begin(), near_.end(), Later{});
  }

  std::vector<Entry> near_;  // binary heap (Later: a max-heap on "later" = a min-heap on time)
  std::int64_t near_bucket_ = 0;
  std::map<std::int64_t, std::vector<Entry>> far_;
  std::size_t size_ = 0;
  std::uint64_t next_seq_ = 0;
};

}  // namespace espo::sdk::detail
