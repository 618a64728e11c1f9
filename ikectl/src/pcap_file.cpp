// SPDX-License-Identifier: Apache-2.0
#include "espo/ikectl/pcap_file.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>  // also fmemopen (POSIX)
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <pcap/pcap.h>

namespace espo::ikectl {
namespace {

constexpr int kLinktypeRaw = 101;  // LINKTYPE_RAW, in case libpcap hands it through unmapped
constexpr std::size_t kEthernetHeader = 14;
constexpr int kMaxVlanTags = 8;

bool IsVlanTpid(std::uint16_t type) {
  return type == 0x8100 || type == 0x88A8 || type == 0x9100;  // 802.1Q, 802.1ad, legacy QinQ
}

std::optional<LinkType> FromDlt(int dlt) {
  switch (dlt) {
    case DLT_EN10MB:
      return LinkType::kEthernet;
    case DLT_RAW:
    case kLinktypeRaw:
      return LinkType::kRaw;
    case DLT_IPV4:
      return LinkType::kIpv4;
    case DLT_IPV6:
      return LinkType::kIpv6;
    default:
      return std::nullopt;
  }
}

int ToDlt(LinkType type) {
  switch (type) {
    case LinkType::kEthernet:
      return DLT_EN10MB;
    case LinkType::kRaw:
      return DLT_RAW;
    case LinkType::kIpv4:
      return DLT_IPV4;
    case LinkType::kIpv6:
      return DLT_IPV6;
  }
  return DLT_RAW;
}

std::string_view LinkTypeName(LinkType type) {
  switch (type) {
    case LinkType::kEthernet:
      return "LINKTYPE_ETHERNET";
    case LinkType::kRaw:
      return "LINKTYPE_RAW";
    case LinkType::kIpv4:
      return "LINKTYPE_IPV4";
    case LinkType::kIpv6:
      return "LINKTYPE_IPV6";
  }
  return "LINKTYPE_?";
}

// Precision of the file's own timestamps, from its magic number (pcapng counts as micro).
TsPrecision PrecisionFromMagic(ByteSpan first4) {
  if (first4.size() < 4) return TsPrecision::kMicro;
  const std::uint32_t be = LoadBe32(first4);
  return be == 0xA1B23C4DU || be == 0x4D3CB2A1U ? TsPrecision::kNano : TsPrecision::kMicro;
}

std::uint8_t IpVersionOf(ByteSpan packet) {
  if (packet.empty()) return 0;
  const auto v = static_cast<std::uint8_t>(packet[0] >> 4U);
  return v == 4 || v == 6 ? v : 0;
}

std::string ErrnoText(int err) { return std::generic_category().message(err); }

}  // namespace

void PcapCloser::operator()(pcap* p) const { pcap_close(p); }
void PcapDumperCloser::operator()(pcap_dumper* d) const { pcap_dump_close(d); }

Result<std::pair<Bytes, Bytes>> SplitEthernet(ByteSpan frame) {
  if (frame.size() < kEthernetHeader) {
    return MakeError(Errc::kParse, "truncated Ethernet header");
  }
  std::size_t type_offset = 12;
  std::uint16_t type = LoadBe16(frame.subspan(type_offset));
  for (int tags = 0; IsVlanTpid(type); ++tags) {
    if (tags == kMaxVlanTags) return MakeError(Errc::kParse, "more than 8 VLAN tags");
    type_offset += 4;
    if (frame.size() < type_offset + 2) {
      return MakeError(Errc::kParse, "truncated Ethernet header");
    }
    type = LoadBe16(frame.subspan(type_offset));
  }
  const std::size_t header = type_offset + 2;
  const auto split = frame.begin() + static_cast<std::ptrdiff_t>(header);
  return std::pair<Bytes, Bytes>{Bytes(frame.begin(), split), Bytes(split, frame.end())};
}

Result<Bytes> EthernetHeaderFor(ByteSpan header, std::uint8_t ip_version) {
  if (ip_version != 4 && ip_version != 6) {
    return MakeError(Errc::kInvalidArgument,
                     "IP version " + std::to_string(ip_version) + " is neither 4 nor 6");
  }
  ESPO_ASSIGN_OR_RETURN(auto split, SplitEthernet(header));
  Bytes out = std::move(split.first);
  StoreBe16(MutableByteSpan(out).subspan(out.size() - 2),
            ip_version == 4 ? kEtherTypeIpv4 : kEtherTypeIpv6);
  return out;
}

Result<PcapReader> PcapReader::FromHandle(std::unique_ptr<pcap, PcapCloser> handle,
                                          TsPrecision precision, const std::string& name) {
  const int dlt = pcap_datalink(handle.get());
  const std::optional<LinkType> type = FromDlt(dlt);
  if (!type) {
    return MakeError(Errc::kUnsupported, name + ": unsupported link type " + std::to_string(dlt));
  }
  PcapReader reader;
  reader.handle_ = std::move(handle);
  reader.link_type_ = *type;
  reader.precision_ = precision;
  reader.name_ = name;
  reader.snaplen_ = static_cast<std::uint32_t>(std::max(0, pcap_snapshot(reader.handle_.get())));
  return reader;
}

Result<PcapReader> PcapReader::Open(const std::string& path) {
  std::FILE* fp = std::fopen(path.c_str(), "rb");  // NOLINT(cppcoreguidelines-owning-memory)
  if (fp == nullptr) {
    const int err = errno;
    return MakeError(err == ENOENT ? Errc::kNotFound : Errc::kIo,
                     path + ": cannot open: " + ErrnoText(err));
  }
  std::array<std::uint8_t, 4> magic{};
  const std::size_t got = std::fread(magic.data(), 1, magic.size(), fp);
  std::rewind(fp);
  if (got == 0) {
    static_cast<void>(std::fclose(fp));  // NOLINT(cppcoreguidelines-owning-memory): read only
    return MakeError(Errc::kParse, path + ": not a pcap or pcapng file (empty)");
  }
  std::array<char, PCAP_ERRBUF_SIZE> err{};
  // On success pcap_close() closes `fp`; on failure it stays ours.
  pcap* p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, err.data());
  if (p == nullptr) {
    static_cast<void>(std::fclose(fp));  // NOLINT(cppcoreguidelines-owning-memory): read only
    return MakeError(Errc::kParse,
                     path + ": not a pcap or pcapng file (" + std::string(err.data()) + ")");
  }
  return FromHandle(std::unique_ptr<pcap, PcapCloser>(p),
                    PrecisionFromMagic(ByteSpan(magic.data(), got)), path);
}

Result<PcapReader> PcapReader::OpenMemory(ByteSpan data, const std::string& name) {
  if (data.empty()) return MakeError(Errc::kParse, name + ": not a pcap or pcapng file (empty)");
  // fmemopen with mode "rb" never writes through the pointer.
  std::FILE* fp = ::fmemopen(const_cast<std::uint8_t*>(data.data()),  // NOLINT
                             data.size(), "rb");
  if (fp == nullptr) {
    return MakeError(Errc::kIo, name + ": fmemopen: " + ErrnoText(errno));
  }
  std::array<char, PCAP_ERRBUF_SIZE> err{};
  pcap* p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, err.data());
  if (p == nullptr) {
    static_cast<void>(std::fclose(fp));  // NOLINT(cppcoreguidelines-owning-memory): read only
    return MakeError(Errc::kParse,
                     name + ": not a pcap or pcapng file (" + std::string(err.data()) + ")");
  }
  return FromHandle(std::unique_ptr<pcap, PcapCloser>(p),
                    PrecisionFromMagic(data.first(std::min<std::size_t>(4, data.size()))), name);
}

Result<std::optional<PcapRecord>> PcapReader::Next() {
  pcap_pkthdr* hdr = nullptr;
  const u_char* bytes = nullptr;
  const int rc = pcap_next_ex(handle_.get(), &hdr, &bytes);
  if (rc == PCAP_ERROR_BREAK) return std::optional<PcapRecord>();  // end of file
  const std::uint64_t record = record_ + 1;
  if (rc != 1) {
    return MakeError(Errc::kParse, name_ + ": record " + std::to_string(record) + ": " +
                                       std::string(pcap_geterr(handle_.get())));
  }
  record_ = record;
  const ByteSpan data(bytes, hdr->caplen);
  PcapRecord rec;
  rec.ts_sec = static_cast<std::int64_t>(hdr->ts.tv_sec);
  rec.ts_nsec = static_cast<std::uint32_t>(hdr->ts.tv_usec);  // nanoseconds (precision NANO)
  rec.orig_len = std::max<std::uint32_t>(hdr->len, hdr->caplen);
  switch (link_type_) {
    case LinkType::kEthernet: {
      auto split = SplitEthernet(data);
      if (!split) {
        return MakeError(Errc::kParse, name_ + ": record " + std::to_string(record) + ": " +
                                           split.error().message);
      }
      rec.link = std::move(split->first);
      rec.ip = std::move(split->second);
      const std::uint16_t type = LoadBe16(ByteSpan(rec.link).last(2));
      rec.ip_version = type == kEtherTypeIpv4 ? 4 : type == kEtherTypeIpv6 ? 6 : 0;
      break;
    }
    case LinkType::kRaw:
      rec.ip.assign(data.begin(), data.end());
      rec.ip_version = IpVersionOf(data);
      break;
    case LinkType::kIpv4:
      rec.ip.assign(data.begin(), data.end());
      rec.ip_version = IpVersionOf(data) == 4 ? 4 : 0;
      break;
    case LinkType::kIpv6:
      rec.ip.assign(data.begin(), data.end());
      rec.ip_version = IpVersionOf(data) == 6 ? 6 : 0;
      break;
  }
  return std::optional<PcapRecord>(std::move(rec));
}

Result<PcapWriter> PcapWriter::Open(const std::string& path, LinkType link_type,
                                    TsPrecision precision, std::uint32_t snaplen) {
  pcap* p = pcap_open_dead_with_tstamp_precision(
      ToDlt(link_type), static_cast<int>(snaplen),
      precision == TsPrecision::kNano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
  if (p == nullptr) return MakeError(Errc::kInternal, path + ": pcap_open_dead failed");
  PcapWriter writer;
  writer.handle_.reset(p);
  pcap_dumper* d = pcap_dump_open(p, path.c_str());
  if (d == nullptr) {
    return MakeError(Errc::kIo, path + ": cannot create: " + std::string(pcap_geterr(p)));
  }
  writer.dumper_.reset(d);
  writer.link_type_ = link_type;
  writer.precision_ = precision;
  writer.name_ = path;
  writer.snaplen_ = snaplen;
  return writer;
}

Status PcapWriter::Write(const PcapRecord& rec) {
  const std::uint64_t record = record_ + 1;
  const std::size_t size = rec.link.size() + rec.ip.size();
  if (size > snaplen_) {
    return MakeError(Errc::kInvalidArgument, name_ + ": record " + std::to_string(record) + ": " +
                                                 std::to_string(size) + " bytes exceed snaplen " +
                                                 std::to_string(snaplen_));
  }
  if (link_type_ == LinkType::kEthernet && rec.link.size() < kEthernetHeader) {
    return MakeError(Errc::kInvalidArgument,
                     name_ + ": record " + std::to_string(record) + ": truncated Ethernet header");
  }
  Bytes frame;
  frame.reserve(size);
  frame.insert(frame.end(), rec.link.begin(), rec.link.end());
  frame.insert(frame.end(), rec.ip.begin(), rec.ip.end());
  pcap_pkthdr hdr{};
  hdr.ts.tv_sec = static_cast<time_t>(rec.ts_sec);
  hdr.ts.tv_usec = static_cast<suseconds_t>(precision_ == TsPrecision::kNano ? rec.ts_nsec
                                                                             : rec.ts_nsec / 1000U);
  hdr.caplen = static_cast<bpf_u_int32>(size);
  hdr.len = static_cast<bpf_u_int32>(size);
  pcap_dump(reinterpret_cast<u_char*>(dumper_.get()), &hdr,  // NOLINT: libpcap's API
            frame.data());
  record_ = record;
  return Ok();
}

Status PcapWriter::WriteReplacing(const PcapRecord& original, ByteSpan ip) {
  const std::uint64_t record = record_ + 1;
  const std::uint8_t version = IpVersionOf(ip);
  const auto fail = [&](const std::string& problem) {
    return MakeError(Errc::kInvalidArgument,
                     name_ + ": record " + std::to_string(record) + ": " + problem);
  };
  if (version == 0) return fail("not an IPv4 or IPv6 packet");
  PcapRecord out;
  out.ts_sec = original.ts_sec;
  out.ts_nsec = original.ts_nsec;
  out.ip.assign(ip.begin(), ip.end());
  out.ip_version = version;
  switch (link_type_) {
    case LinkType::kEthernet: {
      auto header = EthernetHeaderFor(original.link, version);
      if (!header) return fail(header.error().message);
      out.link = std::move(*header);
      break;
    }
    case LinkType::kRaw:
      break;
    case LinkType::kIpv4:
    case LinkType::kIpv6: {
      const std::uint8_t want = link_type_ == LinkType::kIpv4 ? 4 : 6;
      if (version != want) {
        return fail("cannot write an IPv" + std::to_string(version) + " packet to a " +
                    std::string(LinkTypeName(link_type_)) + " file");
      }
      break;
    }
  }
  out.orig_len = static_cast<std::uint32_t>(out.link.size() + out.ip.size());
  return Write(out);
}

Status PcapWriter::Flush() {
  if (pcap_dump_flush(dumper_.get()) != 0) {
    return MakeError(Errc::kIo, name_ + ": write error: " + ErrnoText(errno));
  }
  return Ok();
}

Result<std::vector<PcapRecord>> ReadPcapFile(const std::string& path, LinkType* link_type) {
  ESPO_ASSIGN_OR_RETURN(PcapReader reader, PcapReader::Open(path));
  if (link_type != nullptr) *link_type = reader.link_type();
  std::vector<PcapRecord> out;
  while (true) {
    ESPO_ASSIGN_OR_RETURN(std::optional<PcapRecord> rec, reader.Next());
    if (!rec) break;
    out.push_back(std::move(*rec));
  }
  return out;
}

}  // namespace espo::ikectl
