// SPDX-License-Identifier: Apache-2.0
//
// IPv6 extension-header chains for the kernel tests and the cosim workload: insert hop-by-hop
// (0), routing (43), fragment (44) and destination-options (60) headers after the 40-byte base
// header of an IPv6 packet, valid chains and the broken ones the model rejects (fragment,
// hop-by-hop not first, a header running past the payload).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "espo/driver/bytes.hpp"

namespace espo::testing {

struct Ipv6Ext {
  std::uint8_t type = 0;
  std::size_t bytes = 8;  // a multiple of 8 (fragment: 8)
};

// `p` with `chain` between its base header and the rest: the base Next Header names the first
// extension header, each names the next, the last names the packet's original Next Header.
// Payload Length grows by the chain. `overlong` declares the last header longer than it is.
inline Bytes InsertIpv6Ext(const Bytes& p, const std::vector<Ipv6Ext>& chain, std::mt19937_64& rng,
                           bool overlong = false) {
  if (p.size() < 40 || (p[0] >> 4U) != 6 || chain.empty()) return p;
  Bytes out(p.begin(), p.begin() + 40);
  const std::uint8_t upper = p[6];
  out[6] = chain[0].type;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const Ipv6Ext& e = chain[i];
    Bytes h(e.type == 44 ? 8 : e.bytes, 0);
    h[0] = i + 1 < chain.size() ? chain[i + 1].type : upper;
    if (e.type == 44) {
      h[2] = 0;  // fragment offset 0, M = 0 (an atomic fragment: still a fragment)
      for (std::size_t j = 4; j < 8; ++j) h[j] = static_cast<std::uint8_t>(rng());
    } else {
      h[1] = static_cast<std::uint8_t>(h.size() / 8 - 1);
      if (e.type == 43) {
        h[2] = static_cast<std::uint8_t>(rng() % 5);  // routing type
        h[3] = 0;                                     // segments left
        for (std::size_t j = 4; j < h.size(); ++j) h[j] = static_cast<std::uint8_t>(rng());
      } else if (h.size() > 2) {
        h[2] = 1;  // PadN over the rest
        h[3] = static_cast<std::uint8_t>(h.size() - 4);
      }
      if (overlong && i + 1 == chain.size()) h[1] = 0xFF;
    }
    out.insert(out.end(), h.begin(), h.end());
  }
  out.insert(out.end(), p.begin() + 40, p.end());
  StoreBe16(MutableByteSpan(out).subspan(4), static_cast<std::uint16_t>(out.size() - 40));
  return out;
}

// A random chain: mostly valid orders (hop-by-hop first, destination options before and after a
// routing header), sometimes long headers; with `broken`, one of the chains the model rejects.
inline std::vector<Ipv6Ext> RandomIpv6Chain(std::mt19937_64& rng, bool broken) {
  const auto len = [&]() -> std::size_t {
    return rng() % 8 == 0 ? 8 * (10 + rng() % 12) : 8 * (1 + rng() % 3);
  };
  std::vector<Ipv6Ext> c;
  if (broken) {
    switch (rng() % 3) {
      case 0:  // fragment
        c = {{0, len()}, {44, 8}};
        break;
      case 1:  // more than 16 extension headers
        c.assign(17, Ipv6Ext{60, 8});
        break;
      default:  // hop-by-hop not first
        c = {{60, len()}, {0, len()}};
        break;
    }
    return c;
  }
  switch (rng() % 6) {
    case 0:
      c = {{0, len()}};
      break;
    case 1:
      c = {{0, len()}, {43, len()}};
      break;
    case 2:
      c = {{60, len()}};
      break;
    case 3:
      c = {{60, len()}, {43, len()}, {60, len()}};
      break;
    case 4:
      c = {{0, len()}, {60, len()}, {43, len()}, {43, len()}};
      break;
    default:
      c = {{43, len()}, {60, len()}};
      break;
  }
  return c;
}

}  // namespace espo::testing
