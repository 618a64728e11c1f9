// SPDX-License-Identifier: Apache-2.0
//
// Injected monotonic time (STYLE.md section 4). Lifetime, rekey and checkpoint code takes a
// `const Clock&`: `SteadyClock` in production, `FakeClock` (advanced by hand) in tests and in
// `ikectl simulate`. Nothing in the SDK reads the system clock directly or sleeps.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace espo::sdk {

// Durations are signed 64-bit nanoseconds (about +-292 years).
using Duration = std::chrono::nanoseconds;

class Clock;
// A point on the injected monotonic clock. Only differences are meaningful: the epoch is the
// clock's own (boot for SteadyClock, `start` for FakeClock) and is not comparable across clocks
// or across process restarts (never store a TimePoint in a checkpoint).
using TimePoint = std::chrono::time_point<Clock, Duration>;

// Monotonic time source. Implementations are thread-safe.
class Clock {
 public:
  Clock() = default;
  virtual ~Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;
  Clock(Clock&&) = delete;
  Clock& operator=(Clock&&) = delete;

  // Never decreases between two calls on the same clock.
  virtual TimePoint Now() const = 0;
};

// std::chrono::steady_clock. Thread-safe.
class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override {
    return TimePoint(
        std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now().time_since_epoch()));
  }
};

// A clock that moves only when told. Thread-safe (the reading is one atomic).
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{}) : now_ns_(start.time_since_epoch().count()) {}

  TimePoint Now() const override { return TimePoint(Duration(now_ns_.load())); }
  // Moves the clock forward by `d`; a negative `d` is ignored (the clock is monotonic).
  void Advance(Duration d) {
    if (d.count() > 0) now_ns_.fetch_add(d.count());
  }
  // Moves the clock to `t` if `t` is later than now; otherwise does nothing.
  void AdvanceTo(TimePoint t) {
    std::int64_t cur = now_ns_.load();
    const std::int64_t target = t.time_since_epoch().count();
    while (target > cur && !now_ns_.compare_exchange_weak(cur, target)) {
    }
  }

 private:
  std::atomic<std::int64_t> now_ns_;
};

}  // namespace espo::sdk
