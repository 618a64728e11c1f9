// SPDX-License-Identifier: Apache-2.0
//
// XrtDevice: the espo::driver::Device backend for a card, through Xilinx XRT (docs/DEPLOY_XRT.md).
// Opens XRT device `index`, loads the xclbin, and opens the user-managed RTL kernel `espo_kernel`
// as an xrt::ip: registers are 32-bit reads and writes at AXI-Lite byte offsets
// (docs/REGISTERS.md), batches start with CTRL.START (0x040) and finish with CTRL.DONE, never
// through ap_ctrl at offset 0. DMA buffers are xrt::bo objects in the memory bank the xclbin
// connects to the kernel's m_axi_gmem port (bank 0 when the xclbin does not say).
//
// XRT's C++ API throws: every method here is a try/catch boundary and returns Errc::kDevice with
// one line naming the device, the xclbin or the register, and XRT's what(). Pimpl: no XRT type in
// this header (driver/src/xrt/xrt_device.cpp is the only file that includes <xrt/...>).
// Not thread-safe: one owner. Non-copyable, non-movable. The destructor releases the buffers,
// the IP context and the device handle (the xclbin stays loaded on the card, as XRT does).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "espo/driver/device.hpp"
#include "espo/driver/result.hpp"

namespace espo::driver {

class XrtDevice final : public Device {
 public:
  class Impl;
  explicit XrtDevice(std::unique_ptr<Impl> impl);
  ~XrtDevice() override;
  XrtDevice(const XrtDevice&) = delete;
  XrtDevice& operator=(const XrtDevice&) = delete;
  XrtDevice(XrtDevice&&) = delete;
  XrtDevice& operator=(XrtDevice&&) = delete;

  std::string_view kind() const override { return "xrt"; }
  Result<std::uint32_t> ReadReg(std::uint32_t offset) override;
  Status WriteReg(std::uint32_t offset, std::uint32_t value) override;
  Result<DmaBuffer> AllocBuffer(std::size_t bytes) override;
  Status WriteBuffer(const DmaBuffer& buffer, std::size_t offset, ByteSpan data) override;
  Status ReadBuffer(const DmaBuffer& buffer, std::size_t offset, MutableByteSpan out) override;
  void FreeBuffer(const DmaBuffer& buffer) override;
  // Reads CTRL (a batch must not be running), writes CTRL.START, polls CTRL.DONE until
  // `timeout`; on timeout the error shows CTRL, BATCH_STATUS, IN_COUNT and OUT_COUNT.
  Status RunBatch(std::chrono::milliseconds timeout) override;

  // "xrt device 0" : the prefix of every message.
  const std::string& name() const;
  const std::string& xclbin_path() const;
  std::string xclbin_uuid() const;
  // Memory bank (XRT group id) the buffers are allocated in.
  std::uint32_t memory_bank() const;
  // Buffers currently allocated.
  std::size_t buffer_count() const;

 private:
  std::unique_ptr<Impl> impl_;
};

// The kernel and compute unit the xclbin must contain (hw/xrt/kernel.xml, v++ --connectivity.nk).
inline constexpr std::string_view kXrtKernelName = "espo_kernel";

// Errors (all Errc::kDevice unless noted): xrt device `index` cannot be opened; the xclbin cannot
// be read or loaded (Errc::kNotFound when the file does not exist); it has no `espo_kernel`
// compute unit; the IP cannot be opened.
Result<std::unique_ptr<Device>> OpenXrtDevice(const std::string& xclbin_path, std::uint32_t index);

}  // namespace espo::driver
