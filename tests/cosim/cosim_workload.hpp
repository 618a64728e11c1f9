// SPDX-License-Identifier: Apache-2.0
//
// A randomized engine workload for cosimulation: SAs of every kind (tunnel/transport, IPv4/IPv6,
// AES-128/256, ICV 8/12/16, ESN near 2^32, UDP encapsulation, GMAC, small lifetimes) and packet
// batches mixing directions, sizes, replays, reordering, tampering, unknown SPIs, malformed and
// non-ESP packets. Deterministic for a seed; device independent.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "espo/driver/engine.hpp"
#include "espo/driver/sa_config.hpp"

namespace espo::testing {

struct CosimSa {
  driver::SaConfig out;       // installed outbound (slot = out_slot)
  driver::SaConfig in;        // installed inbound (slot = SPI mod slots)
  driver::SaConfig peer_out;  // the peer's sender for `in` (same keys)
  std::uint16_t out_slot = 0;
  std::uint64_t peer_seq = 0;  // last sequence number the peer sent
  std::string Describe() const;
};

struct CosimWorkload {
  std::vector<CosimSa> sas;
  std::vector<std::vector<driver::PacketIn>> batches;
};

// `slots` = slots per direction of the devices; `sas` <= slots / 2.
CosimWorkload MakeCosimWorkload(std::uint64_t seed, std::uint32_t slots, std::uint32_t sas,
                                std::uint32_t batches, std::uint32_t packets_per_batch);

}  // namespace espo::testing
