// SPDX-License-Identifier: Apache-2.0
//
// OpenDevice: picks a backend at run time. Lives outside espo_driver because SimDevice (sim/)
// and XrtDevice (driver/src/xrt/) depend on the driver, not the other way round.
#include <string>

#include "espo/driver/device.hpp"
#include "espo/driver/model_device.hpp"
#ifdef ESPO_HAVE_SIM_DEVICE
#include "espo/sim/sim_device.hpp"
#endif
#ifdef ESPO_HAVE_XRT
#include "espo/driver/xrt_device.hpp"
#endif

namespace espo::driver {

Result<DeviceKind> ParseDeviceKind(std::string_view text) {
  if (text == "model") return DeviceKind::kModel;
  if (text == "sim") return DeviceKind::kSim;
  if (text == "xrt") return DeviceKind::kXrt;
  return MakeError(Errc::kInvalidArgument,
                   "--device: expected sim, model or xrt, got '" + std::string(text) + "'");
}

std::string_view ToString(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kModel:
      return "model";
    case DeviceKind::kSim:
      return "sim";
    case DeviceKind::kXrt:
      return "xrt";
  }
  return "unknown";
}

Result<std::unique_ptr<Device>> OpenDevice(const DeviceSpec& spec) {
  switch (spec.kind) {
    case DeviceKind::kModel: {
      ModelOptions opt;
      opt.sa_slots = spec.sa_slots;
      return OpenModelDevice(opt);
    }
    case DeviceKind::kSim:
#ifdef ESPO_HAVE_SIM_DEVICE
      return sim::OpenSimDevice(spec.sa_slots);
#else
      return MakeError(
          Errc::kUnsupported,
          "sim device: this build has no verilated espo kernel (hw/rtl/espo_kernel.sv)");
#endif
    case DeviceKind::kXrt:
#ifdef ESPO_HAVE_XRT
      return OpenXrtDevice(spec.xclbin, spec.xrt_index);
#else
      return MakeError(Errc::kUnsupported, "xrt device: this build has no XRT support");
#endif
  }
  return MakeError(Errc::kInvalidArgument, "unknown device kind");
}

}  // namespace espo::driver
