// SPDX-License-Identifier: Apache-2.0
//
// XrtDevice on XRT 2.13's no-op shim (linked in through XRT::noop): there is no card, so these
// tests pin down what the shim does and that every failure is a one-line Result, never a throw
// or a crash. Measured shim behaviour (docs/DEPLOY_XRT.md): any device index opens; xclbins
// load and xrt::ip opens; buffers are host memory (data round-trips, every buffer reports device
// address 0xdeadbeef, unwritten bytes are not zeroed); register reads and writes throw
// "Operation not permitted".
// The xclbins come from espo_make_test_xclbin (driver/src/xrt/make_test_xclbin.cpp).
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "espo/driver/device.hpp"
#include "espo/driver/engine.hpp"
#include "espo/driver/xrt_device.hpp"

namespace espo::driver {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Xclbin(const std::string& variant) {
  return std::string(ESPO_TEST_XCLBIN_DIR) + "/espo_noop_" + variant + ".xclbin";
}

std::unique_ptr<Device> OpenGood(std::uint32_t index = 0) {
  auto dev = OpenXrtDevice(Xclbin("espo"), index);
  EXPECT_TRUE(dev.has_value()) << (dev ? "" : dev.error().message);
  return dev ? std::move(*dev) : nullptr;
}

XrtDevice& AsXrt(Device& dev) { return dynamic_cast<XrtDevice&>(dev); }

TEST(XrtDeviceTest, MissingXclbinIsNotFoundWithDeviceAndPath) {
  const std::string path = "/nonexistent/espo_missing.xclbin";
  auto dev = OpenXrtDevice(path, 0);
  ASSERT_FALSE(dev.has_value());
  EXPECT_EQ(dev.error().code, Errc::kNotFound);
  EXPECT_EQ(dev.error().message, "xrt device 0: load xclbin " + path + ": no such file");
}

TEST(XrtDeviceTest, EmptyXclbinPathIsInvalidArgument) {
  auto dev = OpenXrtDevice("", 2);
  ASSERT_FALSE(dev.has_value());
  EXPECT_EQ(dev.error().code, Errc::kInvalidArgument);
  EXPECT_THAT(dev.error().message, HasSubstr("xrt device 2: no xclbin given"));
}

TEST(XrtDeviceTest, GarbageXclbinFailsWithXrtMessageOnOneLine) {
  const auto path = std::filesystem::temp_directory_path() / "espo_test_garbage.xclbin";
  {
    std::ofstream os(path, std::ios::binary);
    os << "this is not an xclbin\n";
  }
  auto dev = OpenXrtDevice(path.string(), 0);
  std::filesystem::remove(path);
  ASSERT_FALSE(dev.has_value());
  EXPECT_EQ(dev.error().code, Errc::kDevice);
  EXPECT_THAT(dev.error().message, HasSubstr("xrt device 0: read xclbin " + path.string() + ": "));
  EXPECT_EQ(dev.error().message.find('\n'), std::string::npos) << dev.error().message;
}

TEST(XrtDeviceTest, OpensTheBuiltXclbinAndFindsTheKernel) {
  auto dev = OpenGood();
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->kind(), "xrt");
  XrtDevice& xrt = AsXrt(*dev);
  EXPECT_EQ(xrt.name(), "xrt device 0");
  EXPECT_EQ(xrt.xclbin_path(), Xclbin("espo"));
  EXPECT_EQ(xrt.xclbin_uuid(), "e5900c1b-7e57-4a11-9d0e-5e5000000001");
  // The test xclbin connects m_axi_gmem to the second of two banks: CONNECTIVITY is followed.
  EXPECT_EQ(xrt.memory_bank(), 1U);
}

TEST(XrtDeviceTest, ReopensInTheSameProcess) {
  for (int i = 0; i < 3; ++i) {
    auto dev = OpenGood();
    ASSERT_NE(dev, nullptr) << "open #" << i;
  }
}

TEST(XrtDeviceTest, RefusesAnApCtrlHsKernel) {
  auto dev = OpenXrtDevice(Xclbin("hs"), 0);
  ASSERT_FALSE(dev.has_value());
  EXPECT_EQ(dev.error().code, Errc::kDevice);
  EXPECT_THAT(dev.error().message, HasSubstr("espo_kernel:espo_kernel_1 uses ap_ctrl_hs"));
  EXPECT_THAT(dev.error().message, HasSubstr("user-managed"));
}

TEST(XrtDeviceTest, RefusesAnXclbinWithoutTheEspoKernel) {
  auto dev = OpenXrtDevice(Xclbin("other"), 0);
  ASSERT_FALSE(dev.has_value());
  EXPECT_EQ(dev.error().code, Errc::kNotFound);
  EXPECT_THAT(dev.error().message,
              HasSubstr("has no espo_kernel compute unit (IPs: other_kernel:other_kernel_1)"));
}

TEST(XrtDeviceTest, BuffersRoundTripThroughTheShim) {
  auto dev = OpenGood();
  ASSERT_NE(dev, nullptr);
  auto a = dev->AllocBuffer(4096);
  auto b = dev->AllocBuffer(256);
  ASSERT_TRUE(a.has_value()) << a.error().message;
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_NE(a->id, b->id);
  EXPECT_EQ(a->size, 4096U);
  EXPECT_EQ(AsXrt(*dev).buffer_count(), 2U);
  // The no-op shim reports one fake device address for every buffer (a card gives real ones).
  EXPECT_EQ(a->device_address, 0xdeadbeefU);
  EXPECT_EQ(b->device_address, 0xdeadbeefU);

  std::vector<std::uint8_t> pattern(300);
  for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<std::uint8_t>(i * 7);
  ASSERT_TRUE(dev->WriteBuffer(*a, 100, pattern).has_value());
  const std::vector<std::uint8_t> other(256, 0xA5);
  ASSERT_TRUE(dev->WriteBuffer(*b, 0, other).has_value());

  std::vector<std::uint8_t> back(300);
  auto read = dev->ReadBuffer(*a, 100, back);
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_EQ(back, pattern);
  // Buffers are separate. (Bytes never written are not checked: the 2.13 shim does not
  // zero-fill its host memory, and XrtDevice promises nothing about them either.)
  std::vector<std::uint8_t> b_back(256);
  ASSERT_TRUE(dev->ReadBuffer(*b, 0, b_back).has_value());
  EXPECT_EQ(b_back, other);
  // The last byte is reachable, one more is not.
  ASSERT_TRUE(dev->WriteBuffer(*a, 4095, std::vector<std::uint8_t>{0x5A}).has_value());
  std::vector<std::uint8_t> last(1);
  ASSERT_TRUE(dev->ReadBuffer(*a, 4095, last).has_value());
  EXPECT_EQ(last[0], 0x5A);

  dev->FreeBuffer(*a);
  dev->FreeBuffer(*b);
  EXPECT_EQ(AsXrt(*dev).buffer_count(), 0U);
}

TEST(XrtDeviceTest, BufferMisuseIsInvalidArgumentNotAnXrtThrow) {
  auto dev = OpenGood();
  ASSERT_NE(dev, nullptr);
  auto zero = dev->AllocBuffer(0);
  ASSERT_FALSE(zero.has_value());
  EXPECT_EQ(zero.error().code, Errc::kInvalidArgument);

  auto a = dev->AllocBuffer(64);
  ASSERT_TRUE(a.has_value());
  const std::vector<std::uint8_t> data(16, 1);
  auto past = dev->WriteBuffer(*a, 56, data);
  ASSERT_FALSE(past.has_value());
  EXPECT_EQ(past.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(past.error().message, "xrt device 0: write buffer " + std::to_string(a->id) +
                                      ": 16 bytes at offset 56 run past its 64 bytes");
  std::vector<std::uint8_t> out(1);
  auto far = dev->ReadBuffer(*a, SIZE_MAX, out);  // offset + size would wrap
  ASSERT_FALSE(far.has_value());
  EXPECT_EQ(far.error().code, Errc::kInvalidArgument);

  dev->FreeBuffer(*a);
  auto stale = dev->WriteBuffer(*a, 0, data);
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, Errc::kInvalidArgument);
  EXPECT_THAT(stale.error().message, HasSubstr("not allocated on this device"));
  dev->FreeBuffer(*a);  // freeing twice is harmless
}

TEST(XrtDeviceTest, RegisterAccessFailsOnTheShimWithOneLineDeviceErrors) {
  auto dev = OpenGood(3);
  ASSERT_NE(dev, nullptr);
  auto id = dev->ReadReg(0x000);
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code, Errc::kDevice);
  EXPECT_EQ(id.error().message,
            "xrt device 3: read register 0x000 of espo_kernel:{espo_kernel_1}: "
            "failed to read ip(0): Operation not permitted");

  auto wr = dev->WriteReg(0x110, 0x1234);
  ASSERT_FALSE(wr.has_value());
  EXPECT_EQ(wr.error().code, Errc::kDevice);
  EXPECT_THAT(wr.error().message,
              HasSubstr("xrt device 3: write register 0x110 of espo_kernel:{espo_kernel_1} = "
                        "0x00001234: "));

  // Key and salt words never appear in an error message.
  for (const std::uint32_t offset : {0x120U, 0x13CU, 0x140U}) {
    auto key = dev->WriteReg(offset, 0xC0FFEE42U);
    ASSERT_FALSE(key.has_value());
    EXPECT_THAT(key.error().message, HasSubstr("= <key material>"));
    EXPECT_THAT(key.error().message, Not(HasSubstr("c0ffee42")));
    EXPECT_THAT(key.error().message, Not(HasSubstr("C0FFEE42")));
  }

  auto odd = dev->ReadReg(0x002);
  ASSERT_FALSE(odd.has_value());
  EXPECT_EQ(odd.error().code, Errc::kInvalidArgument);

  // RunBatch starts with CTRL.START at 0x040 (user-managed kernel, not ap_ctrl at 0).
  auto run = dev->RunBatch(std::chrono::milliseconds(10));
  ASSERT_FALSE(run.has_value());
  EXPECT_EQ(run.error().code, Errc::kDevice);
  EXPECT_THAT(run.error().message, HasSubstr("write register 0x040 of espo_kernel:{espo_kernel_1} "
                                             "= 0x00000001: "));
}

TEST(XrtDeviceTest, EngineOpenFailsNamingTheRegisterRead) {
  auto dev = OpenGood();
  ASSERT_NE(dev, nullptr);
  auto engine = Engine::Open(std::move(dev));
  ASSERT_FALSE(engine.has_value());
  EXPECT_EQ(engine.error().code, Errc::kDevice);
  EXPECT_THAT(engine.error().message,
              HasSubstr("xrt device 0: read register 0x000 of espo_kernel:{espo_kernel_1}"));
}

TEST(XrtDeviceTest, OpenDeviceRoutesKindXrt) {
  DeviceSpec spec;
  spec.kind = DeviceKind::kXrt;
  spec.xclbin = Xclbin("espo");
  spec.xrt_index = 1;
  auto dev = OpenDevice(spec);
  ASSERT_TRUE(dev.has_value()) << dev.error().message;
  EXPECT_EQ((*dev)->kind(), "xrt");
  EXPECT_EQ(AsXrt(**dev).name(), "xrt device 1");

  spec.xclbin = "/nonexistent/x.xclbin";
  auto missing = OpenDevice(spec);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_THAT(missing.error().message,
              HasSubstr("xrt device 1: load xclbin /nonexistent/x.xclbin"));
}

}  // namespace
}  // namespace espo::driver
