// SPDX-License-Identifier: Apache-2.0
//
// ModelDevice: the executable specification of the engine at register level. Same register map
// (docs/REGISTERS.md), same SA-table semantics, counters, drops and events
// (docs/ENGINE_SEMANTICS.md), same batch buffers (docs/BUFFERS.md) as the RTL; the crypto and
// ESP processing are the OpenSSL-based functions of esp.hpp. Written from SPEC/DESIGN, never
// derived from the RTL. A batch runs synchronously inside RunBatch(). Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "espo/driver/device.hpp"

namespace espo::driver {

struct ModelOptions {
  std::uint32_t sa_slots = 1024;    // per direction, a power of two
  std::uint32_t event_depth = 64;   // event FIFO entries (the RTL default EventDepth)
  std::uint32_t max_packet = 9600;  // bytes, CAP_LIMITS.MAX_PACKET
};

// Errors: Errc::kInvalidArgument for slot counts that are not powers of two in 2..32768.
Result<std::unique_ptr<Device>> OpenModelDevice(const ModelOptions& options = {});

}  // namespace espo::driver
