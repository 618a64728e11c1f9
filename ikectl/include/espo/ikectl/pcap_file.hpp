// SPDX-License-Identifier: Apache-2.0
//
// pcap I/O for `ikectl process` (libpcap underneath; no libpcap type in this header).
//
// Reader: pcap (micro- or nanosecond) and pcapng files whose link type is Ethernet
// (LINKTYPE_ETHERNET 1), raw IP (LINKTYPE_RAW 101, which libpcap reports as DLT_RAW: 12 or 14
// depending on the platform), IPv4 (228) or IPv6 (229). Each record is split into the link-layer
// prefix (the Ethernet header including any 802.1Q/802.1ad VLAN tags; empty for the raw link
// types) and the IP packet.
// Writer: writes the same link type; for Ethernet the original header is carried over with the
// innermost EtherType set for the new IP version (0x0800 / 0x86DD).
//
// Errors are one line naming the file: "in.pcap: unsupported link type 113",
// "in.pcap: record 7: truncated Ethernet header". PcapReader and PcapWriter are move-only and not
// thread-safe (one owner).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "espo/driver/bytes.hpp"
#include "espo/driver/result.hpp"

struct pcap;         // libpcap's pcap_t
struct pcap_dumper;  // libpcap's pcap_dumper_t

namespace espo::ikectl {

// LINKTYPE_* values as stored in pcap files (https://www.tcpdump.org/linktypes.html).
enum class LinkType : std::uint16_t {
  kEthernet = 1,
  kRaw = 101,
  kIpv4 = 228,
  kIpv6 = 229,
};

enum class TsPrecision : std::uint8_t { kMicro, kNano };

inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86DD;

struct PcapRecord {
  std::int64_t ts_sec = 0;
  std::uint32_t ts_nsec = 0;    // always nanoseconds, whatever the file's precision
  std::uint32_t orig_len = 0;   // length on the wire; > link.size() + ip.size() if snapped
  Bytes link;                   // link-layer prefix (Ethernet header with VLAN tags) or empty
  Bytes ip;                     // bytes after the prefix: the IP packet when ip_version != 0
  std::uint8_t ip_version = 0;  // 4 or 6; 0 = not IP (e.g. ARP): `ip` holds the opaque payload

  bool truncated() const { return orig_len > link.size() + ip.size(); }
};

struct PcapCloser {
  void operator()(pcap* p) const;
};
struct PcapDumperCloser {
  void operator()(pcap_dumper* d) const;
};

class PcapReader {
 public:
  // Opens a capture file. Errors: "<path>: cannot open: ...", "<path>: not a pcap or pcapng
  // file (...)", "<path>: unsupported link type N".
  static Result<PcapReader> Open(const std::string& path);
  // Reads a capture held in memory (fuzzing, tests); `data` must outlive the reader. `name` is
  // used in error messages.
  static Result<PcapReader> OpenMemory(ByteSpan data, const std::string& name);

  // The next record, or std::nullopt at the end of the file.
  Result<std::optional<PcapRecord>> Next();

  LinkType link_type() const { return link_type_; }
  TsPrecision precision() const { return precision_; }
  const std::string& name() const { return name_; }
  std::uint32_t snaplen() const { return snaplen_; }

 private:
  PcapReader() = default;
  static Result<PcapReader> FromHandle(std::unique_ptr<pcap, PcapCloser> handle,
                                       TsPrecision precision, const std::string& name);

  std::unique_ptr<pcap, PcapCloser> handle_;
  LinkType link_type_ = LinkType::kEthernet;
  TsPrecision precision_ = TsPrecision::kMicro;
  std::string name_;
  std::uint32_t snaplen_ = 0;
  std::uint64_t record_ = 0;  // records read so far
};

class PcapWriter {
 public:
  // Creates (truncates) `path` as a pcap file with the given link type and precision.
  static Result<PcapWriter> Open(const std::string& path, LinkType link_type,
                                 TsPrecision precision = TsPrecision::kMicro,
                                 std::uint32_t snaplen = 262144);

  // Writes `rec.link` + `rec.ip` as one record with rec's timestamp (orig_len = written length).
  Status Write(const PcapRecord& rec);
  // Writes `ip` (an IPv4 or IPv6 packet) in place of `original`'s packet, keeping its timestamp
  // and, for Ethernet, its header with the EtherType set for `ip`'s version.
  Status WriteReplacing(const PcapRecord& original, ByteSpan ip);
  // Flushes buffered records to the file.
  Status Flush();

  LinkType link_type() const { return link_type_; }

 private:
  PcapWriter() = default;

  std::unique_ptr<pcap, PcapCloser> handle_;
  std::unique_ptr<pcap_dumper, PcapDumperCloser> dumper_;
  LinkType link_type_ = LinkType::kEthernet;
  TsPrecision precision_ = TsPrecision::kMicro;
  std::string name_;
  std::uint32_t snaplen_ = 0;
  std::uint64_t record_ = 0;
};

// Splits an Ethernet frame into header (with VLAN tags) and payload. Error message (without file
// and record prefix): "truncated Ethernet header".
Result<std::pair<Bytes, Bytes>> SplitEthernet(ByteSpan frame);

// Copy of `header` (an Ethernet header as SplitEthernet returns it) with the innermost EtherType
// set to 0x0800 (ip_version 4) or 0x86DD (6).
Result<Bytes> EthernetHeaderFor(ByteSpan header, std::uint8_t ip_version);

// Reads a whole file (convenience for tests and small captures).
Result<std::vector<PcapRecord>> ReadPcapFile(const std::string& path, LinkType* link_type);

}  // namespace espo::ikectl
