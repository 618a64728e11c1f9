// SPDX-License-Identifier: Apache-2.0
//
// SimDevice: the verilated espo kernel behind espo::driver::Device. See sim_device.hpp.
//
// Per cycle: drive the AXI-Lite master and AXI4 slave inputs from the C++ state, evaluate with
// the clock low, sample every handshake (valid && ready), advance the C++ state, then the
// rising edge. The AXI4 slave (512-bit data: 64-byte beats at 64-byte aligned addresses, byte
// strobes honoured) answers one read burst and one write burst at a time, one beat per cycle,
// ready always high for data; beats outside allocated buffers (sizes rounded up to 64 bytes)
// answer SLVERR.
#include "espo/sim/sim_device.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>

#include "Vespo_kernel_s1024.h"
#include "Vespo_kernel_s64.h"
#include "verilated.h"

#include "espo/regmap/espo_regs.hpp"

namespace espo::sim {
namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kBufferBase = 0x1'0000'0000ULL;  // above 4 GiB: exercises ADDR_HI
constexpr std::uint64_t kMaxRegCycles = 10000;
constexpr std::uint64_t kBeatBytes = 64;  // m_axi_gmem: 512-bit data
constexpr int kBeatWords = 16;            // 32-bit words per beat in the verilated port

// Sparse host memory with buffer bookkeeping.
class HostMemory {
 public:
  bool Mapped(std::uint64_t addr, std::uint64_t bytes) const {
    auto it = buffers_.upper_bound(addr);
    if (it == buffers_.begin()) return false;
    --it;
    // A buffer covers whole AXI beats: its size rounded up to the beat (XRT buffers are 4 KiB
    // aligned, so the engine's aligned beats never leave the buffer's pages).
    const std::uint64_t size = (it->second + kBeatBytes - 1) / kBeatBytes * kBeatBytes;
    return addr >= it->first && addr + bytes <= it->first + size;
  }
  std::uint8_t Get(std::uint64_t addr) const {
    auto it = pages_.find(addr / kPage);
    return it == pages_.end() ? 0 : it->second[addr % kPage];
  }
  void Set(std::uint64_t addr, std::uint8_t v) { pages_[addr / kPage][addr % kPage] = v; }
  std::uint64_t Alloc(std::uint64_t bytes) {
    const std::uint64_t addr = next_;
    next_ += ((bytes + kPage - 1) / kPage + 1) * kPage;  // a guard page between buffers
    buffers_[addr] = bytes;
    return addr;
  }
  void Free(std::uint64_t addr) {
    auto it = buffers_.find(addr);
    if (it == buffers_.end()) return;
    for (std::uint64_t p = addr / kPage; p <= (addr + it->second) / kPage; ++p) pages_.erase(p);
    buffers_.erase(it);
  }

 private:
  std::map<std::uint64_t, std::uint64_t> buffers_;  // address -> size
  std::unordered_map<std::uint64_t, std::array<std::uint8_t, kPage>> pages_;
  std::uint64_t next_ = kBufferBase;
};

struct Burst {
  std::uint64_t addr = 0;
  std::uint32_t beats = 0;
  std::uint32_t done = 0;
  bool error = false;
};

// The cycle loop, independent of the SaSlots variant.
class Harness {
 public:
  Harness() = default;
  virtual ~Harness() = default;
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;
  Harness(Harness&&) = delete;
  Harness& operator=(Harness&&) = delete;
  virtual std::uint32_t Read(std::uint32_t offset, bool* ok) = 0;
  virtual bool Write(std::uint32_t offset, std::uint32_t value) = 0;
  virtual void Idle(std::uint64_t n) = 0;
  virtual std::uint64_t cycles() const = 0;
  virtual std::string AxiState() const = 0;
  HostMemory& memory() { return mem_; }

 protected:
  HostMemory mem_;  // NOLINT(cppcoreguidelines-non-private-member-variables-in-classes)
};

template <class Model>
class KernelHarness final : public Harness {
 public:
  KernelHarness() : context_(std::make_unique<VerilatedContext>()) {
    model_ = std::make_unique<Model>(context_.get(), "kernel");
    Model& m = *model_;
    m.ap_rst_n = 0;
    for (int i = 0; i < 8; ++i) Cycle();
    m.ap_rst_n = 1;
    for (int i = 0; i < 4; ++i) Cycle();  // the kernel registers ap_rst_n once
  }
  ~KernelHarness() override {
    // Verilator 5.006 unregisters a model's scopes through the *thread's* current context
    // (Verilated::threadContextp(), set by the last eval on this thread), not the model's own:
    // with two live models (the two gateways of `ikectl demo`) the wrong or a destroyed
    // context's mutex was taken and the destructor deadlocked. Point it at ours first.
    Verilated::threadContextp(context_.get());
    model_->final();
    model_.reset();
  }
  KernelHarness(const KernelHarness&) = delete;
  KernelHarness& operator=(const KernelHarness&) = delete;
  KernelHarness(KernelHarness&&) = delete;
  KernelHarness& operator=(KernelHarness&&) = delete;

  std::uint32_t Read(std::uint32_t offset, bool* ok) override {
    Model& m = *model_;
    lite_ar_ = true;
    lite_addr_ = offset;
    std::uint64_t n = 0;
    while (lite_ar_ || !lite_r_done_) {
      Cycle();
      if (++n > kMaxRegCycles) {
        *ok = false;
        lite_ar_ = false;
        return 0;
      }
    }
    lite_r_done_ = false;
    *ok = true;
    (void)m;
    return lite_rdata_;
  }

  bool Write(std::uint32_t offset, std::uint32_t value) override {
    lite_aw_ = true;
    lite_w_ = true;
    lite_addr_w_ = offset;
    lite_wdata_ = value;
    std::uint64_t n = 0;
    while (lite_aw_ || lite_w_ || !lite_b_done_) {
      Cycle();
      if (++n > kMaxRegCycles) {
        lite_aw_ = lite_w_ = false;
        return false;
      }
    }
    lite_b_done_ = false;
    return true;
  }

  void Idle(std::uint64_t n) override {
    for (std::uint64_t i = 0; i < n; ++i) Cycle();
  }
  std::uint64_t cycles() const override { return cycles_; }

  std::string AxiState() const override {
    std::string s;
    s += rd_.empty() ? "no read burst" : "read burst at beat " + std::to_string(rd_.front().done);
    s += wr_.empty() ? ", no write burst"
                     : ", write burst at beat " + std::to_string(wr_.front().done);
    s += ", AR valid=" + std::to_string(model_->m_axi_gmem_arvalid);
    s += " AW valid=" + std::to_string(model_->m_axi_gmem_awvalid);
    s += " W valid=" + std::to_string(model_->m_axi_gmem_wvalid);
    return s;
  }

 private:
  void Cycle() {
    Model& m = *model_;
    // ---- drive inputs
    m.s_axi_control_arvalid = lite_ar_ ? 1 : 0;
    m.s_axi_control_araddr = lite_addr_;
    m.s_axi_control_rready = 1;
    m.s_axi_control_awvalid = lite_aw_ ? 1 : 0;
    m.s_axi_control_wvalid = lite_w_ ? 1 : 0;
    m.s_axi_control_awaddr = lite_addr_w_;
    m.s_axi_control_wdata = lite_wdata_;
    m.s_axi_control_wstrb = 0xF;
    m.s_axi_control_bready = 1;

    m.m_axi_gmem_arready = rd_.size() < 2 ? 1 : 0;
    const bool r_valid = !rd_.empty();
    m.m_axi_gmem_rvalid = r_valid ? 1 : 0;
    if (r_valid) {
      const Burst& b = rd_.front();
      const std::uint64_t a = b.addr + kBeatBytes * b.done;
      for (int w = 0; w < kBeatWords; ++w) {
        std::uint32_t word = 0;
        for (int j = 0; j < 4; ++j) {
          word |= static_cast<std::uint32_t>(mem_.Get(a + 4U * w + j)) << (8U * j);
        }
        m.m_axi_gmem_rdata[w] = word;
      }
      m.m_axi_gmem_rlast = (b.done + 1 == b.beats) ? 1 : 0;
      m.m_axi_gmem_rresp = b.error ? 2 : 0;
    } else {
      m.m_axi_gmem_rlast = 0;
      m.m_axi_gmem_rresp = 0;
    }
    m.m_axi_gmem_awready = wr_.size() < 1 ? 1 : 0;
    m.m_axi_gmem_wready = !wr_.empty() && wr_.front().done < wr_.front().beats ? 1 : 0;
    const bool b_valid = !wr_.empty() && wr_.front().done == wr_.front().beats;
    m.m_axi_gmem_bvalid = b_valid ? 1 : 0;
    m.m_axi_gmem_bresp = (b_valid && wr_.front().error) ? 2 : 0;

    m.ap_clk = 0;
    m.eval();
    context_->timeInc(1);

    // ---- sample handshakes
    if (lite_ar_ && m.s_axi_control_arready) lite_ar_ = false;
    if (m.s_axi_control_rvalid) {
      lite_rdata_ = m.s_axi_control_rdata;
      lite_r_done_ = true;
    }
    if (lite_aw_ && m.s_axi_control_awready) lite_aw_ = false;
    if (lite_w_ && m.s_axi_control_wready) lite_w_ = false;
    if (m.s_axi_control_bvalid) lite_b_done_ = true;

    if (r_valid && m.m_axi_gmem_rready) {
      Burst& b = rd_.front();
      if (++b.done == b.beats) rd_.pop_front();
    }
    if (m.m_axi_gmem_arvalid && m.m_axi_gmem_arready) {
      Burst b;
      b.addr = m.m_axi_gmem_araddr;
      b.beats = static_cast<std::uint32_t>(m.m_axi_gmem_arlen) + 1;
      b.error = !mem_.Mapped(b.addr, kBeatBytes * b.beats) || (b.addr % kBeatBytes != 0);
      rd_.push_back(b);
    }
    if (b_valid && m.m_axi_gmem_bready) {
      wr_.pop_front();
    } else if (m.m_axi_gmem_wvalid && m.m_axi_gmem_wready) {
      Burst& b = wr_.front();
      const std::uint64_t a = b.addr + kBeatBytes * b.done;
      if (!b.error) {
        for (int w = 0; w < kBeatWords; ++w) {
          const std::uint32_t word = m.m_axi_gmem_wdata[w];
          for (int j = 0; j < 4; ++j) {
            if ((m.m_axi_gmem_wstrb >> (4 * w + j)) & 1U) {
              mem_.Set(a + 4U * w + j, static_cast<std::uint8_t>(word >> (8U * j)));
            }
          }
        }
      }
      ++b.done;
    }
    if (m.m_axi_gmem_awvalid && m.m_axi_gmem_awready) {
      Burst b;
      b.addr = m.m_axi_gmem_awaddr;
      b.beats = static_cast<std::uint32_t>(m.m_axi_gmem_awlen) + 1;
      b.error = !mem_.Mapped(b.addr, kBeatBytes * b.beats) || (b.addr % kBeatBytes != 0);
      wr_.push_back(b);
    }

    m.ap_clk = 1;
    m.eval();
    context_->timeInc(1);
    ++cycles_;
  }

  std::unique_ptr<VerilatedContext> context_;
  std::unique_ptr<Model> model_;
  std::uint64_t cycles_ = 0;
  bool lite_ar_ = false;
  bool lite_r_done_ = false;
  bool lite_aw_ = false;
  bool lite_w_ = false;
  bool lite_b_done_ = false;
  std::uint32_t lite_addr_ = 0;
  std::uint32_t lite_addr_w_ = 0;
  std::uint32_t lite_wdata_ = 0;
  std::uint32_t lite_rdata_ = 0;
  std::deque<Burst> rd_;
  std::deque<Burst> wr_;
};

}  // namespace

class SimDevice::Impl {
 public:
  explicit Impl(std::unique_ptr<Harness> h) : h_(std::move(h)) {}
  Harness& h() { return *h_; }
  std::map<std::uint32_t, driver::DmaBuffer>& buffers() { return buffers_; }
  std::uint32_t NextId() { return ++next_id_; }

 private:
  std::unique_ptr<Harness> h_;
  std::map<std::uint32_t, driver::DmaBuffer> buffers_;
  std::uint32_t next_id_ = 0;
};

SimDevice::SimDevice(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SimDevice::~SimDevice() = default;

Result<std::uint32_t> SimDevice::ReadReg(std::uint32_t offset) {
  if (offset % 4 != 0 || offset >= 0x1000) {
    return MakeError(Errc::kInvalidArgument, "sim: register offset " + std::to_string(offset) +
                                                 " is not an aligned offset below 0x1000");
  }
  bool ok = false;
  const std::uint32_t v = impl_->h().Read(offset, &ok);
  if (!ok) {
    return MakeError(Errc::kDevice,
                     "sim: AXI-Lite read of offset " + std::to_string(offset) + " timed out");
  }
  return v;
}

Status SimDevice::WriteReg(std::uint32_t offset, std::uint32_t value) {
  if (offset % 4 != 0 || offset >= 0x1000) {
    return MakeError(Errc::kInvalidArgument, "sim: register offset " + std::to_string(offset) +
                                                 " is not an aligned offset below 0x1000");
  }
  if (!impl_->h().Write(offset, value)) {
    return MakeError(Errc::kDevice,
                     "sim: AXI-Lite write of offset " + std::to_string(offset) + " timed out");
  }
  return Ok();
}

Result<driver::DmaBuffer> SimDevice::AllocBuffer(std::size_t bytes) {
  if (bytes == 0) return MakeError(Errc::kInvalidArgument, "sim: AllocBuffer of 0 bytes");
  driver::DmaBuffer b;
  b.id = impl_->NextId();
  b.size = bytes;
  b.device_address = impl_->h().memory().Alloc(bytes);
  impl_->buffers()[b.id] = b;
  return b;
}

namespace {
Status CheckRange(const std::map<std::uint32_t, driver::DmaBuffer>& buffers,
                  const driver::DmaBuffer& buffer, std::size_t offset, std::size_t bytes) {
  auto it = buffers.find(buffer.id);
  if (it == buffers.end() || it->second.device_address != buffer.device_address) {
    return MakeError(Errc::kInvalidArgument,
                     "sim: buffer " + std::to_string(buffer.id) + " is not allocated");
  }
  if (offset > it->second.size || bytes > it->second.size - offset) {
    return MakeError(Errc::kInvalidArgument, "sim: access of " + std::to_string(bytes) +
                                                 " bytes at offset " + std::to_string(offset) +
                                                 " exceeds buffer " + std::to_string(buffer.id));
  }
  return Ok();
}
}  // namespace

Status SimDevice::WriteBuffer(const driver::DmaBuffer& buffer, std::size_t offset, ByteSpan data) {
  ESPO_RETURN_IF_ERROR(CheckRange(impl_->buffers(), buffer, offset, data.size()));
  for (std::size_t i = 0; i < data.size(); ++i) {
    impl_->h().memory().Set(buffer.device_address + offset + i, data[i]);
  }
  return Ok();
}

Status SimDevice::ReadBuffer(const driver::DmaBuffer& buffer, std::size_t offset,
                             MutableByteSpan out) {
  ESPO_RETURN_IF_ERROR(CheckRange(impl_->buffers(), buffer, offset, out.size()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = impl_->h().memory().Get(buffer.device_address + offset + i);
  }
  return Ok();
}

void SimDevice::FreeBuffer(const driver::DmaBuffer& buffer) {
  auto it = impl_->buffers().find(buffer.id);
  if (it == impl_->buffers().end()) return;
  impl_->h().memory().Free(it->second.device_address);
  impl_->buffers().erase(it);
}

Status SimDevice::RunBatch(std::chrono::milliseconds timeout) {
  namespace rm = espo::regmap;
  ESPO_RETURN_IF_ERROR(WriteReg(rm::kCtrlOffset, 1U << rm::kCtrlStart.lsb));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::uint64_t start = cycles();
  for (;;) {
    impl_->h().Idle(32);
    ESPO_ASSIGN_OR_RETURN(const std::uint32_t ctrl, ReadReg(rm::kCtrlOffset));
    if ((ctrl >> rm::kCtrlDone.lsb) & 1U) return Ok();
    if (std::chrono::steady_clock::now() > deadline) {
      ESPO_ASSIGN_OR_RETURN(const std::uint32_t count, ReadReg(rm::kOutCountOffset));
      ESPO_ASSIGN_OR_RETURN(const std::uint32_t commit, ReadReg(rm::kSaCommitStatusOffset));
      return MakeError(Errc::kDevice, "sim: batch not done after " +
                                          std::to_string(cycles() - start) +
                                          " cycles: OUT_COUNT=" + std::to_string(count) +
                                          ", SA_COMMIT_STATUS.BUSY=" + std::to_string(commit & 1U) +
                                          ", AXI master: " + impl_->h().AxiState());
    }
  }
}

std::uint64_t SimDevice::cycles() const { return impl_->h().cycles(); }
void SimDevice::Idle(std::uint64_t n) { impl_->h().Idle(n); }

Result<std::unique_ptr<driver::Device>> OpenSimDevice(std::uint32_t sa_slots) {
  std::unique_ptr<Harness> h;
  if (sa_slots == 64) {
    h = std::make_unique<KernelHarness<Vespo_kernel_s64>>();
  } else if (sa_slots == 1024) {
    h = std::make_unique<KernelHarness<Vespo_kernel_s1024>>();
  } else {
    return MakeError(Errc::kUnsupported, "sim: sa_slots " + std::to_string(sa_slots) +
                                             " not built (verilated variants: 64, 1024)");
  }
  auto dev = std::make_unique<SimDevice>(std::make_unique<SimDevice::Impl>(std::move(h)));
  // Wait for the SA table's reset sweep (SaSlots cycles).
  for (int i = 0; i < 100; ++i) {
    ESPO_ASSIGN_OR_RETURN(const std::uint32_t st, dev->ReadReg(regmap::kSaCommitStatusOffset));
    if ((st & 1U) == 0) return std::unique_ptr<driver::Device>(std::move(dev));
    dev->Idle(64);
  }
  return MakeError(Errc::kDevice, "sim: SA table reset sweep did not finish");
}

}  // namespace espo::sim
