// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the pcap reader (libpcap through fmemopen) on arbitrary bytes. Records must be
// consistent (link prefix + IP bytes never exceed what the record announced) and every error
// must be one line naming the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "espo/ikectl/pcap_file.hpp"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_pcap: %s\n%s\n", what, detail.c_str());  // NOLINT: test harness
  std::abort();
}

void CheckError(const espo::Error& error) {
  if (error.message.find('\n') != std::string::npos || !error.message.starts_with("fuzz.pcap:")) {
    Fail("error message is not one 'fuzz.pcap: ...' line", error.message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using espo::ikectl::LinkType;
  auto reader = espo::ikectl::PcapReader::OpenMemory(espo::ByteSpan(data, size), "fuzz.pcap");
  if (!reader) {
    CheckError(reader.error());
    return 0;
  }
  for (int i = 0; i < 10000; ++i) {
    auto rec = reader->Next();
    if (!rec) {
      CheckError(rec.error());
      return 0;
    }
    if (!*rec) return 0;
    const espo::ikectl::PcapRecord& r = **rec;
    if (r.link.size() + r.ip.size() > r.orig_len) Fail("record longer than orig_len", "");
    if (reader->link_type() == LinkType::kEthernet) {
      if (r.link.size() < 14) Fail("Ethernet prefix shorter than 14 bytes", "");
      if (r.ip_version == 4 || r.ip_version == 6) {
        auto header = espo::ikectl::EthernetHeaderFor(r.link, r.ip_version == 4 ? 6 : 4);
        if (!header || header->size() != r.link.size()) Fail("EtherType rewrite failed", "");
      }
    } else if (!r.link.empty()) {
      Fail("raw link type with a link prefix", "");
    }
  }
  return 0;
}
