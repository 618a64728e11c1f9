// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the XFRM bridge's netlink parser (ikectl/src/xfrm_bridge.cpp) on arbitrary
// datagrams. Nothing may crash or read out of bounds; every error is one line; an SA the bridge
// accepts converts to an SaConfig whose SA line parses back; the expire messages the bridge
// builds for it parse back as XFRM_MSG_EXPIRE of the same SA.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "espo/driver/sa_file.hpp"
#include "espo/ikectl/xfrm_bridge.hpp"

namespace {

using espo::Status;
using espo::ikectl::XfrmSaId;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_xfrm_msg: %s\n%s\n", what, detail.c_str());  // NOLINT: harness
  std::abort();
}

void CheckOneLine(const std::string& message) {
  if (message.empty() || message.find('\n') != std::string::npos) {
    Fail("error message is not one line", message);
  }
}

class Sink : public espo::ikectl::SaSink {
 public:
  Status InstallSa(const XfrmSaId& id, const espo::driver::SaConfig& /*sa*/) override {
    ids.push_back(id);
    return espo::Ok();
  }
  Status UpdateSa(const XfrmSaId& id, const espo::driver::SaConfig& sa) override {
    return InstallSa(id, sa);
  }
  Status RemoveSa(const XfrmSaId& /*id*/) override { return espo::Ok(); }
  std::vector<XfrmSaId> ids;
};

class Kernel : public espo::ikectl::KernelPort {
 public:
  Status Send(std::span<const std::uint8_t> m) override {
    sent.emplace_back(m.begin(), m.end());
    return espo::Ok();
  }
  std::vector<std::vector<std::uint8_t>> sent;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace espo::ikectl;  // NOLINT(google-build-using-namespace): test harness
  const std::span<const std::uint8_t> in(data, size);
  auto parts = SplitNetlinkMessages(in);
  if (!parts) {
    CheckOneLine(parts.error().message);
  } else {
    for (auto part : *parts) {
      auto m = ParseXfrmMessage(part);
      if (!m) {
        CheckOneLine(m.error().message);
        continue;
      }
      if (!m->sa) continue;
      const auto why = ValidateForEspo(*m->sa);
      for (const auto& w : why) CheckOneLine(w);
      if (!why.empty()) continue;
      auto cfg = ToSaConfig(*m->sa);
      if (!cfg) Fail("validated SA does not convert", cfg.error().message);
      const std::string line = espo::driver::FormatSaLine(*cfg);
      auto back = espo::driver::ParseSaLine(line, espo::driver::SaLocation{"fuzz", 1});
      if (!back) Fail("SA line of an accepted SA does not parse", back.error().message);
    }
  }
  Sink sink;
  Kernel kernel;
  XfrmBridge bridge(sink, kernel, XfrmBridgeOptions{}, [](std::string_view l) {
    if (l.find('\n') != std::string_view::npos) Fail("log line spans lines", std::string(l));
  });
  (void)bridge.HandleDatagram(in);
  for (const XfrmSaId& id : sink.ids) {
    if (!bridge.Mirrors(id)) continue;
    (void)bridge.OnEngineEvent(id, espo::driver::EventKind::kSoft, 1, 2);
    (void)bridge.OnEngineEvent(id, espo::driver::EventKind::kHard, 3, 4);
  }
  for (const auto& msg : kernel.sent) {
    auto m = ParseXfrmMessage(msg);
    if (!m || m->kind != XfrmMsgKind::kExpire) Fail("built expire does not parse back", "");
    bool known = false;
    for (const XfrmSaId& id : sink.ids) known = known || id == m->sa->id;
    if (!known) Fail("expire names another SA", m->sa->id.ToString());
  }
  return 0;
}
