// SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: the daemon's control messages. Every input is split into lines; each line goes
// through ParseRequest and, when it parses, through the dispatcher of one ControlCore over a
// 4-slot model device (SA add/del/update/load/send/stats on whatever the fuzzer builds).
// Checks: no crash, every response is one JSON line with v, id and exactly one of
// result/error, and the SA table never holds more SAs than slots.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "espo/driver/model_device.hpp"
#include "espo/ikectl/daemon.hpp"

namespace {

espo::ikectl::ControlCore& Core() {
  static const espo::ikectl::Logger kLog(espo::ikectl::LogLevel::kError);
  static std::unique_ptr<espo::ikectl::ControlCore> core = [] {
    espo::driver::ModelOptions mo;
    mo.sa_slots = 4;
    auto dev = espo::driver::OpenModelDevice(mo);
    if (!dev) std::abort();
    auto c = espo::ikectl::ControlCore::Create(std::move(*dev), {}, kLog);
    if (!c) std::abort();
    return std::move(*c);
  }();
  return *core;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): bytes as text
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  espo::ikectl::ControlCore& core = Core();
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    (void)espo::ikectl::ParseRequest(line);
    const std::string response = core.HandleLine(line);
    if (response.find('\n') != std::string::npos) std::abort();
    const nlohmann::json j = nlohmann::json::parse(response, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("v", 0) != 1 || !j.contains("id")) {
      std::abort();
    }
    if (j.contains("result") == j.contains("error")) std::abort();
    if (core.table().size() > 8) std::abort();
    start = end + 1;
  }
  return 0;
}
