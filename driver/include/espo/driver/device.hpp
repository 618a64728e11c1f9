// SPDX-License-Identifier: Apache-2.0
//
// Device: the narrow hardware interface every backend implements (DESIGN.md "Layers"):
// 32-bit register access at AXI-Lite byte offsets (docs/REGISTERS.md), device-visible DMA
// buffers, and running one batch (docs/BUFFERS.md). Engine builds every typed operation on it.
//
// Backends: ModelDevice (C++ reference model), SimDevice (Verilator model of hw/), XrtDevice
// (a card through XRT). Not thread-safe: one owner; the daemon serialises access.
// No method throws; every failure is a Result with a one-line message.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "espo/driver/bytes.hpp"
#include "espo/driver/result.hpp"

namespace espo::driver {

// A device-visible buffer. `device_address` is what the engine's AXI master uses.
struct DmaBuffer {
  std::uint32_t id = 0;
  std::uint64_t device_address = 0;
  std::size_t size = 0;
};

// One register write of a burst (Device::WriteRegs).
struct RegWrite {
  std::uint32_t offset = 0;
  std::uint32_t value = 0;
};

class Device {
 public:
  Device() = default;
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  Device(Device&&) = delete;
  Device& operator=(Device&&) = delete;

  // "model", "sim" or "xrt".
  virtual std::string_view kind() const = 0;

  virtual Result<std::uint32_t> ReadReg(std::uint32_t offset) = 0;
  virtual Status WriteReg(std::uint32_t offset, std::uint32_t value) = 0;
  // The same register writes as calling WriteReg for each of `writes` in order: stops at the
  // first failure and returns it (the writes before it took effect). The default does exactly
  // that; backends that answer registers in C++ (ModelDevice, CountingDevice) override it to save
  // a virtual call and a Status per register. What reaches the registers is the same either way.
  virtual Status WriteRegs(std::span<const RegWrite> writes) {
    for (const RegWrite& w : writes) ESPO_RETURN_IF_ERROR(WriteReg(w.offset, w.value));
    return Ok();
  }

  virtual Result<DmaBuffer> AllocBuffer(std::size_t bytes) = 0;
  // Host -> device copy into `buffer` at `offset` (includes the sync a card needs).
  virtual Status WriteBuffer(const DmaBuffer& buffer, std::size_t offset, ByteSpan data) = 0;
  // Device -> host copy.
  virtual Status ReadBuffer(const DmaBuffer& buffer, std::size_t offset, MutableByteSpan out) = 0;
  virtual void FreeBuffer(const DmaBuffer& buffer) = 0;

  // Starts the batch programmed in the BATCH registers (CTRL.START) and waits until CTRL.DONE,
  // at most `timeout`. Backends that simulate advance their clocks here.
  virtual Status RunBatch(std::chrono::milliseconds timeout) = 0;
};

enum class DeviceKind : std::uint8_t { kModel, kSim, kXrt };

struct DeviceSpec {
  DeviceKind kind = DeviceKind::kSim;
  std::uint32_t sa_slots = 1024;  // model and sim: slots per direction (power of two)
  std::string xclbin;             // xrt: path of the xclbin to load
  std::uint32_t xrt_index = 0;    // xrt: device index
};

Result<DeviceKind> ParseDeviceKind(std::string_view text);
std::string_view ToString(DeviceKind kind);

// Opens a backend. Backends not built into this binary return Errc::kUnsupported.
Result<std::unique_ptr<Device>> OpenDevice(const DeviceSpec& spec);

}  // namespace espo::driver
