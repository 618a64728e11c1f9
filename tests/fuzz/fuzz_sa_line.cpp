// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the SA text parser on arbitrary bytes. Whatever parses must format to a line that
// parses back to the same SA (the round trip `ikectl sa list/export` relies on), and every error
// must be a single line.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "espo/driver/sa_file.hpp"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_sa_line: %s\n%s\n", what, detail.c_str());  // NOLINT: test harness
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using espo::driver::FormatSaLine;
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT: fuzzer ABI
  auto sas = espo::driver::ParseSaText(text, "fuzz.conf");
  if (!sas) {
    const std::string& message = sas.error().message;
    if (message.find('\n') != std::string::npos || !message.starts_with("fuzz.conf:")) {
      Fail("error message is not one 'FILE:LINE: ...' line", message);
    }
    return 0;
  }
  for (const espo::driver::SaConfig& sa : *sas) {
    if (!espo::driver::Validate(sa)) Fail("parsed SA does not validate", FormatSaLine(sa));
    const std::string line = FormatSaLine(sa);
    auto back = espo::driver::ParseSaLine(line, espo::driver::SaLocation{"roundtrip", 1});
    if (!back) Fail("canonical line does not parse", line + "\n" + back.error().message);
    if (!espo::driver::SaConfigEqual(sa, *back)) {
      Fail("round trip changed the SA", line + "\n" + FormatSaLine(*back));
    }
    if (FormatSaLine(*back) != line) Fail("canonical form is not stable", line);
    const std::string ws = espo::driver::FormatWiresharkEspSa(sa);
    if (ws.find('\n') != std::string::npos) Fail("esp_sa record spans lines", ws);
  }
  return 0;
}
