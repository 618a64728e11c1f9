// SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by SaManager's translation units (sa_manager.cpp, sa_manager_checkpoint.cpp).
// Internal to espo_sdk: not installed, not part of the API.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "espo/driver/sa_config.hpp"
#include "espo/sdk/lifetime_policy.hpp"
#include "espo/sdk/sa_manager.hpp"

namespace espo::sdk::internal {

inline std::string SaName(SaId id) { return "SA " + std::to_string(id); }

inline std::string SpiHex(std::uint32_t spi) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string s = "0x00000000";
  for (int i = 0; i < 8; ++i) s[9 - i] = kDigits[(spi >> (4U * i)) & 0xFU];
  return s;
}

inline CountLimits ToCountLimits(const driver::SaLimits& l) {
  return CountLimits{l.soft_packets, l.hard_packets, l.soft_bytes, l.hard_bytes};
}

inline bool SoftNotBelowHard(const driver::SaLimits& l) {
  return (l.soft_packets != 0 && l.hard_packets != 0 && l.soft_packets >= l.hard_packets) ||
         (l.soft_bytes != 0 && l.hard_bytes != 0 && l.soft_bytes >= l.hard_bytes);
}

// The ChildSaSpec an adopted direction reports (SpecOf): this end's view, as for managed SAs.
inline ChildSaSpec SpecFromConfig(const driver::SaConfig& sa, std::uint64_t selector) {
  ChildSaSpec spec;
  spec.selector = selector;
  spec.mode = sa.mode;
  spec.alg = sa.alg;
  spec.key_bytes = sa.key.key_bytes();
  spec.icv_bytes = sa.icv_bytes;
  spec.esn = sa.esn;
  spec.replay_window = sa.replay_window;
  if (sa.dir == driver::Direction::kOut) {
    spec.local = sa.src;
    spec.peer = sa.dst;
    spec.encap = sa.encap;
  } else {
    spec.local = sa.dst;
    spec.peer = sa.src;
    if (sa.encap) spec.encap = driver::UdpEncap{sa.encap->dport, sa.encap->sport};
  }
  return spec;
}

inline driver::SaLimits ToSlotLimits(const CountLimits& c) {
  return driver::SaLimits{c.soft_packets, c.hard_packets, c.soft_bytes, c.hard_bytes};
}

// Limits relative to counters already used (an SA moving from software to a slot, whose counters
// restart at 0). A soft limit already crossed is dropped (its event was posted once already).
inline driver::SaLimits Remaining(const CountLimits& c, std::uint64_t packets,
                                  std::uint64_t bytes) {
  auto rest = [](std::uint64_t limit, std::uint64_t used) -> std::uint64_t {
    if (limit == 0) return 0;
    return limit > used ? limit - used : 0;
  };
  driver::SaLimits l;
  l.hard_packets =
      c.hard_packets == 0 ? 0 : std::max<std::uint64_t>(1, rest(c.hard_packets, packets));
  l.hard_bytes = c.hard_bytes == 0 ? 0 : std::max<std::uint64_t>(1, rest(c.hard_bytes, bytes));
  l.soft_packets = rest(c.soft_packets, packets);
  l.soft_bytes = rest(c.soft_bytes, bytes);
  if (l.hard_packets != 0 && l.soft_packets >= l.hard_packets) l.soft_packets = 0;
  if (l.hard_bytes != 0 && l.soft_bytes >= l.hard_bytes) l.soft_bytes = 0;
  return l;
}

}  // namespace espo::sdk::internal
