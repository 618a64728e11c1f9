// SPDX-License-Identifier: Apache-2.0
//
// SimDevice: the espo::driver::Device backend that runs the verilated RTL kernel
// (hw/rtl/espo_kernel.sv). ReadReg/WriteReg drive the kernel's AXI-Lite port cycle by cycle;
// DMA buffers live in a sparse host-memory model that answers the kernel's AXI4 master
// (unallocated addresses answer SLVERR); RunBatch writes CTRL.START and clocks until CTRL.DONE.
// Pimpl: no Verilator type here. Verilated variants: SaSlots 64 and 1024 (docs/ENGINE_RTL.md).
// Not thread-safe: one owner. Non-copyable, non-movable.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "espo/driver/device.hpp"
#include "espo/driver/result.hpp"

namespace espo::sim {

class SimDevice final : public driver::Device {
 public:
  class Impl;
  explicit SimDevice(std::unique_ptr<Impl> impl);
  ~SimDevice() override;
  SimDevice(const SimDevice&) = delete;
  SimDevice& operator=(const SimDevice&) = delete;
  SimDevice(SimDevice&&) = delete;
  SimDevice& operator=(SimDevice&&) = delete;

  std::string_view kind() const override { return "sim"; }
  Result<std::uint32_t> ReadReg(std::uint32_t offset) override;
  Status WriteReg(std::uint32_t offset, std::uint32_t value) override;
  Result<driver::DmaBuffer> AllocBuffer(std::size_t bytes) override;
  Status WriteBuffer(const driver::DmaBuffer& buffer, std::size_t offset, ByteSpan data) override;
  Status ReadBuffer(const driver::DmaBuffer& buffer, std::size_t offset,
                    MutableByteSpan out) override;
  void FreeBuffer(const driver::DmaBuffer& buffer) override;
  Status RunBatch(std::chrono::milliseconds timeout) override;

  // Rising edges of the kernel clock since construction (including reset).
  std::uint64_t cycles() const;
  // Clocks the kernel `n` cycles with idle AXI-Lite inputs.
  void Idle(std::uint64_t n);

 private:
  std::unique_ptr<Impl> impl_;
};

// Opens a simulated kernel with `sa_slots` slots per direction (64 or 1024; anything else is
// Errc::kUnsupported). Resets it and waits until the SA table's reset sweep has finished.
Result<std::unique_ptr<driver::Device>> OpenSimDevice(std::uint32_t sa_slots);

}  // namespace espo::sim
