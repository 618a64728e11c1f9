// SPDX-License-Identifier: Apache-2.0
//
// XrtDevice (espo/driver/xrt_device.hpp): the only file in espo that includes XRT headers.
// XRT's C++ API reports every failure by throwing; each public method below catches at its
// boundary (XrtCall) and returns Errc::kDevice with one line: "<device>: <step>: <what()>".
// std::bad_alloc stays fatal (STYLE.md section 4).
#include "espo/driver/xrt_device.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <experimental/xrt_ip.h>
#include <experimental/xrt_xclbin.h>
#include <xrt/xrt_bo.h>
#include <xrt/xrt_device.h>

#include "../write_decode.hpp"

#include "espo/regmap/espo_regs.hpp"

namespace espo::driver {
namespace {

namespace rm = espo::regmap;

constexpr std::size_t kHostPageBytes = 4096;

// XRT messages may span lines; an Error message is one line.
std::string OneLine(std::string_view text) {
  std::string out(text);
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\r', ' ');
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string Hex(std::uint64_t value, int digits) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0 && value != 0; --i) {
    out[static_cast<std::size_t>(i)] = kDigits[value & 0xFU];
    value >>= 4U;
  }
  return "0x" + out;
}

// Runs `fn`, turning any exception except std::bad_alloc into Errc::kDevice with the message
// "<describe()>: <what()>". `describe` is only called on failure.
template <class Fn, class Describe>
auto XrtCall(Fn&& fn, Describe&& describe) -> Result<std::invoke_result_t<Fn>> {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<Fn>>) {
      std::forward<Fn>(fn)();
      return Ok();
    } else {
      return std::forward<Fn>(fn)();
    }
  } catch (const std::bad_alloc&) {
    throw;  // fatal, as everywhere in espo
  } catch (const std::exception& e) {
    return MakeError(Errc::kDevice, describe() + ": " + OneLine(e.what()));
  } catch (...) {
    return MakeError(Errc::kDevice, describe() + ": unknown exception from XRT");
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::string_view ControlName(xrt::xclbin::ip::control_type type) {
  switch (type) {
    case xrt::xclbin::ip::control_type::hs:
      return "ap_ctrl_hs";
    case xrt::xclbin::ip::control_type::chain:
      return "ap_ctrl_chain";
    case xrt::xclbin::ip::control_type::none:
      return "ap_ctrl_none (user-managed)";
    case xrt::xclbin::ip::control_type::fa:
      return "fast adapter";
  }
  return "unknown";
}

}  // namespace

class XrtDevice::Impl {
 public:
  // Declaration order is destruction order reversed: buffers and the IP go before the device.
  std::string name;         // "xrt device 0"
  std::string xclbin_path;  // as given
  xrt::device device;
  xrt::uuid uuid;
  std::string cu_name;  // "espo_kernel:espo_kernel_1"
  xrt::ip ip;
  std::uint32_t bank = 0;
  // Each buffer object is allocated in whole 4 KiB pages (XRT's host allocation asks
  // aligned_alloc(4096, size), which C requires to be a multiple of the alignment); `size` is
  // what the caller asked for and bounds every access.
  struct Buffer {
    xrt::bo bo;
    std::size_t size = 0;
  };
  std::map<std::uint32_t, Buffer> buffers;
  std::uint32_t next_buffer_id = 1;

  std::string RegWhat(std::string_view op, std::uint32_t offset) const {
    return name + ": " + std::string(op) + " register " + Hex(offset, 3) + " of " + cu_name;
  }

  Result<xrt::bo*> Find(const DmaBuffer& buffer, std::size_t offset, std::size_t bytes,
                        std::string_view op) {
    auto it = buffers.find(buffer.id);
    if (it == buffers.end()) {
      return MakeError(Errc::kInvalidArgument, name + ": " + std::string(op) + " buffer " +
                                                   std::to_string(buffer.id) +
                                                   ": not allocated on this device");
    }
    const std::size_t size = it->second.size;
    if (offset > size || bytes > size - offset) {
      return MakeError(Errc::kInvalidArgument, name + ": " + std::string(op) + " buffer " +
                                                   std::to_string(buffer.id) + ": " +
                                                   std::to_string(bytes) + " bytes at offset " +
                                                   std::to_string(offset) + " run past its " +
                                                   std::to_string(size) + " bytes");
    }
    return &it->second.bo;
  }
};

XrtDevice::XrtDevice(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
XrtDevice::~XrtDevice() = default;

const std::string& XrtDevice::name() const { return impl_->name; }
const std::string& XrtDevice::xclbin_path() const { return impl_->xclbin_path; }
std::string XrtDevice::xclbin_uuid() const {
  auto text = XrtCall([&] { return impl_->uuid.to_string(); }, [] { return std::string(); });
  return text ? *text : std::string();
}
std::uint32_t XrtDevice::memory_bank() const { return impl_->bank; }
std::size_t XrtDevice::buffer_count() const { return impl_->buffers.size(); }

Result<std::uint32_t> XrtDevice::ReadReg(std::uint32_t offset) {
  if (offset % 4 != 0) {
    return MakeError(Errc::kInvalidArgument,
                     impl_->RegWhat("read", offset) + ": offset is not 32-bit aligned");
  }
  return XrtCall([&] { return static_cast<std::uint32_t>(impl_->ip.read_register(offset)); },
                 [&] { return impl_->RegWhat("read", offset); });
}

Status XrtDevice::WriteReg(std::uint32_t offset, std::uint32_t value) {
  if (offset % 4 != 0) {
    return MakeError(Errc::kInvalidArgument,
                     impl_->RegWhat("write", offset) + ": offset is not 32-bit aligned");
  }
  // Key and salt words are write-only secrets: never put into a message or a log.
  const WriteKind kind = DecodeWrite(offset);
  const bool secret = kind == WriteKind::kKey || kind == WriteKind::kSalt;
  return XrtCall([&] { impl_->ip.write_register(offset, value); },
                 [&] {
                   return impl_->RegWhat("write", offset) +
                          (secret ? std::string(" = <key material>") : " = " + Hex(value, 8));
                 });
}

Result<DmaBuffer> XrtDevice::AllocBuffer(std::size_t bytes) {
  if (bytes == 0) {
    return MakeError(Errc::kInvalidArgument, impl_->name + ": allocate buffer: size 0");
  }
  ESPO_ASSIGN_OR_RETURN(
      xrt::bo bo, XrtCall(
                      [&] {
                        const std::size_t pages = (bytes + kHostPageBytes - 1) / kHostPageBytes;
                        return xrt::bo(impl_->device, pages * kHostPageBytes,
                                       xrt::bo::flags::normal, impl_->bank);
                      },
                      [&] {
                        return impl_->name + ": allocate buffer of " + std::to_string(bytes) +
                               " bytes in memory bank " + std::to_string(impl_->bank);
                      }));
  ESPO_ASSIGN_OR_RETURN(const std::uint64_t address,
                        XrtCall([&] { return static_cast<std::uint64_t>(bo.address()); },
                                [&] { return impl_->name + ": device address of new buffer"; }));
  const std::uint32_t id = impl_->next_buffer_id++;
  impl_->buffers.emplace(id, Impl::Buffer{std::move(bo), bytes});
  return DmaBuffer{id, address, bytes};
}

Status XrtDevice::WriteBuffer(const DmaBuffer& buffer, std::size_t offset, ByteSpan data) {
  ESPO_ASSIGN_OR_RETURN(xrt::bo * bo, impl_->Find(buffer, offset, data.size(), "write"));
  if (data.empty()) return Ok();
  return XrtCall(
      [&] {
        bo->write(data.data(), data.size(), offset);
        bo->sync(XCL_BO_SYNC_BO_TO_DEVICE, data.size(), offset);
      },
      [&] {
        return impl_->name + ": write buffer " + std::to_string(buffer.id) + " (" +
               std::to_string(data.size()) + " bytes at offset " + std::to_string(offset) +
               ", sync to device)";
      });
}

Status XrtDevice::ReadBuffer(const DmaBuffer& buffer, std::size_t offset, MutableByteSpan out) {
  ESPO_ASSIGN_OR_RETURN(xrt::bo * bo, impl_->Find(buffer, offset, out.size(), "read"));
  if (out.empty()) return Ok();
  return XrtCall(
      [&] {
        bo->sync(XCL_BO_SYNC_BO_FROM_DEVICE, out.size(), offset);
        bo->read(out.data(), out.size(), offset);
      },
      [&] {
        return impl_->name + ": read buffer " + std::to_string(buffer.id) + " (" +
               std::to_string(out.size()) + " bytes at offset " + std::to_string(offset) +
               ", sync from device)";
      });
}

void XrtDevice::FreeBuffer(const DmaBuffer& buffer) { impl_->buffers.erase(buffer.id); }

Status XrtDevice::RunBatch(std::chrono::milliseconds timeout) {
  const std::uint32_t done_bit = 1U << rm::kCtrlDone.lsb;
  const std::uint32_t idle_bit = 1U << rm::kCtrlIdle.lsb;
  ESPO_RETURN_IF_ERROR(WriteReg(rm::kCtrlOffset, 1U << rm::kCtrlStart.lsb));
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  // Spin on CTRL for the first polls (a small batch finishes in microseconds), then back off so
  // that a long batch does not flood PCIe with reads.
  constexpr int kSpinPolls = 1000;
  constexpr auto kBackoff = std::chrono::microseconds(20);
  for (int polls = 0;; ++polls) {
    ESPO_ASSIGN_OR_RETURN(const std::uint32_t ctrl, ReadReg(rm::kCtrlOffset));
    if ((ctrl & done_bit) != 0) return Ok();
    if (std::chrono::steady_clock::now() > deadline) {
      auto reg = [&](std::uint32_t offset) {
        auto value = ReadReg(offset);
        return value ? Hex(*value, 8) : std::string("unreadable");
      };
      return MakeError(Errc::kDevice,
                       impl_->name + ": batch not done after " + std::to_string(timeout.count()) +
                           " ms (" + std::to_string(polls + 1) + " polls): CTRL=" + Hex(ctrl, 8) +
                           " (DONE=0 IDLE=" + std::to_string((ctrl & idle_bit) != 0 ? 1 : 0) +
                           "), BATCH_STATUS=" + reg(rm::kBatchStatusOffset) + ", IN_COUNT=" +
                           reg(rm::kInCountOffset) + ", OUT_COUNT=" + reg(rm::kOutCountOffset) +
                           ", OUT_BYTES=" + reg(rm::kOutBytesOffset));
    }
    if (polls >= kSpinPolls) {
      std::this_thread::sleep_for(kBackoff);
    } else {
      std::this_thread::yield();
    }
  }
}

Result<std::unique_ptr<Device>> OpenXrtDevice(const std::string& xclbin_path, std::uint32_t index) {
  auto impl = std::make_unique<XrtDevice::Impl>();
  impl->name = "xrt device " + std::to_string(index);
  impl->xclbin_path = xclbin_path;
  const std::string& who = impl->name;
  const std::string load_what = who + ": load xclbin " + xclbin_path;

  std::error_code ec;
  if (xclbin_path.empty()) {
    return MakeError(Errc::kInvalidArgument,
                     who + ": no xclbin given (set ESPO_XCLBIN or pass the path)");
  }
  if (!std::filesystem::exists(xclbin_path, ec)) {
    return MakeError(Errc::kNotFound, load_what + ": no such file");
  }
  if (!std::filesystem::is_regular_file(xclbin_path, ec)) {
    return MakeError(Errc::kInvalidArgument, load_what + ": not a regular file");
  }

  ESPO_ASSIGN_OR_RETURN(
      impl->device, XrtCall([&] { return xrt::device(index); }, [&] { return who + ": open"; }));
  ESPO_ASSIGN_OR_RETURN(const xrt::xclbin xclbin,
                        XrtCall([&] { return xrt::xclbin(xclbin_path); },
                                [&] { return who + ": read xclbin " + xclbin_path; }));

  // The compute unit: "espo_kernel:<instance>", user-managed (ap_ctrl_none).
  ESPO_ASSIGN_OR_RETURN(const std::vector<xrt::xclbin::ip> ips,
                        XrtCall([&] { return xclbin.get_ips(); },
                                [&] { return who + ": read IP_LAYOUT of xclbin " + xclbin_path; }));
  const std::string prefix = std::string(kXrtKernelName) + ":";
  const xrt::xclbin::ip* cu = nullptr;
  std::string seen;
  for (const xrt::xclbin::ip& ip : ips) {
    const std::string ip_name = ip.get_name();
    seen += (seen.empty() ? "" : ", ") + ip_name;
    if (cu == nullptr && ip_name.rfind(prefix, 0) == 0) cu = &ip;
  }
  if (cu == nullptr) {
    return MakeError(Errc::kNotFound,
                     who + ": xclbin " + xclbin_path + " has no " + std::string(kXrtKernelName) +
                         " compute unit (IPs: " + (seen.empty() ? "none" : seen) + ")");
  }
  const std::string cu_full = cu->get_name();
  if (cu->get_control_type() != xrt::xclbin::ip::control_type::none) {
    return MakeError(Errc::kDevice,
                     who + ": xclbin " + xclbin_path + ": " + cu_full + " uses " +
                         std::string(ControlName(cu->get_control_type())) +
                         "; espo needs a user-managed kernel (ap_ctrl_none, started through "
                         "CTRL at 0x040; see hw/xrt/kernel.xml)");
  }
  // "espo_kernel:espo_kernel_1" -> "espo_kernel:{espo_kernel_1}" (xrt::ip's spelling).
  impl->cu_name = prefix + "{" + cu_full.substr(prefix.size()) + "}";

  // Memory bank of the m_axi_gmem argument; bank 0 when CONNECTIVITY does not name one.
  auto bank = XrtCall(
      [&]() -> std::uint32_t {
        for (const xrt::xclbin::arg& arg : cu->get_args()) {
          if (!EqualsIgnoreCase(arg.get_port(), "m_axi_gmem")) continue;
          const std::vector<xrt::xclbin::mem> mems = arg.get_mems();
          if (!mems.empty()) return static_cast<std::uint32_t>(mems.front().get_index());
        }
        return 0;
      },
      [&] { return who + ": read CONNECTIVITY of xclbin " + xclbin_path; });
  ESPO_RETURN_IF_ERROR(bank);
  impl->bank = *bank;

  ESPO_ASSIGN_OR_RETURN(impl->uuid, XrtCall([&] { return impl->device.load_xclbin(xclbin); },
                                            [&] { return who + ": load xclbin " + xclbin_path; }));
  ESPO_ASSIGN_OR_RETURN(impl->ip,
                        XrtCall([&] { return xrt::ip(impl->device, impl->uuid, impl->cu_name); },
                                [&] { return who + ": open " + impl->cu_name + " registers"; }));
  return std::make_unique<XrtDevice>(std::move(impl));
}

}  // namespace espo::driver
