// SPDX-License-Identifier: Apache-2.0
// pcap reader/writer: all four link types, round trips, Ethernet header carry-over, errors.
#include <stdlib.h>  // mkdtemp

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "espo/driver/bytes.hpp"
#include "espo/ikectl/pcap_file.hpp"

namespace espo::ikectl {
namespace {

class PcapFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "espo_pcap_XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

Bytes Ipv4Packet(std::uint8_t fill, std::size_t payload = 8) {
  Bytes p(20 + payload, fill);
  p[0] = 0x45;
  StoreBe16(MutableByteSpan(p).subspan(2), static_cast<std::uint16_t>(p.size()));
  return p;
}

Bytes Ipv6Packet(std::uint8_t fill, std::size_t payload = 8) {
  Bytes p(40 + payload, fill);
  p[0] = 0x60;
  StoreBe16(MutableByteSpan(p).subspan(4), static_cast<std::uint16_t>(payload));
  return p;
}

Bytes EthernetHeader(std::vector<std::uint16_t> types) {
  Bytes h = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};
  for (std::size_t i = 0; i < types.size(); ++i) {
    h.push_back(static_cast<std::uint8_t>(types[i] >> 8U));
    h.push_back(static_cast<std::uint8_t>(types[i]));
    if (i + 1 < types.size()) {  // VLAN TCI
      h.push_back(0x00);
      h.push_back(static_cast<std::uint8_t>(10 + i));
    }
  }
  return h;
}

PcapRecord MakeRecord(Bytes link, Bytes ip, std::int64_t sec, std::uint32_t nsec) {
  PcapRecord r;
  r.ts_sec = sec;
  r.ts_nsec = nsec;
  r.orig_len = static_cast<std::uint32_t>(link.size() + ip.size());
  r.ip_version = ip.empty() ? 0 : static_cast<std::uint8_t>(ip[0] >> 4U);
  r.link = std::move(link);
  r.ip = std::move(ip);
  return r;
}

// A classic little-endian pcap (microseconds) written by hand.
void AppendLe32(Bytes* b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b->push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
Bytes PcapHeader(std::uint32_t linktype) {
  Bytes b;
  AppendLe32(&b, 0xA1B2C3D4);
  b.push_back(2);
  b.push_back(0);
  b.push_back(4);
  b.push_back(0);
  AppendLe32(&b, 0);
  AppendLe32(&b, 0);
  AppendLe32(&b, 65535);
  AppendLe32(&b, linktype);
  return b;
}
void AppendRecord(Bytes* b, const Bytes& data) {
  AppendLe32(b, 1700000000);
  AppendLe32(b, 5);
  AppendLe32(b, static_cast<std::uint32_t>(data.size()));
  AppendLe32(b, static_cast<std::uint32_t>(data.size()));
  b->insert(b->end(), data.begin(), data.end());
}
void WriteFile(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

void ExpectSameRecords(const std::vector<PcapRecord>& got, const std::vector<PcapRecord>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE("record " + std::to_string(i + 1));
    EXPECT_EQ(got[i].ts_sec, want[i].ts_sec);
    EXPECT_EQ(got[i].ts_nsec, want[i].ts_nsec);
    EXPECT_EQ(got[i].link, want[i].link);
    EXPECT_EQ(got[i].ip, want[i].ip);
    EXPECT_EQ(got[i].ip_version, want[i].ip_version);
    EXPECT_EQ(got[i].orig_len, want[i].orig_len);
    EXPECT_FALSE(got[i].truncated());
  }
}

TEST_F(PcapFileTest, EthernetRoundTripKeepsHeadersVlanTagsAndTimestamps) {
  std::vector<PcapRecord> recs;
  recs.push_back(MakeRecord(EthernetHeader({kEtherTypeIpv4}), Ipv4Packet(1), 1700000000, 123000));
  recs.push_back(MakeRecord(EthernetHeader({kEtherTypeIpv6}), Ipv6Packet(2), 1700000001, 999000));
  recs.push_back(
      MakeRecord(EthernetHeader({0x8100, kEtherTypeIpv4}), Ipv4Packet(3), 1700000002, 0));
  recs.push_back(MakeRecord(EthernetHeader({0x88A8, 0x8100, kEtherTypeIpv6}), Ipv6Packet(4),
                            1700000003, 1000));
  PcapRecord arp = MakeRecord(EthernetHeader({0x0806}), Bytes(28, 0xAA), 1700000004, 0);
  arp.ip_version = 0;
  recs.push_back(arp);
  {
    auto w = PcapWriter::Open(Path("eth.pcap"), LinkType::kEthernet);
    ASSERT_TRUE(w) << w.error().message;
    for (const auto& r : recs) ASSERT_TRUE(w->Write(r));
    ASSERT_TRUE(w->Flush());
  }
  LinkType type = LinkType::kRaw;
  auto got = ReadPcapFile(Path("eth.pcap"), &type);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(type, LinkType::kEthernet);
  ExpectSameRecords(*got, recs);
  EXPECT_EQ((*got)[3].link.size(), 22U);  // 14 + two tags
}

TEST_F(PcapFileTest, RawIpv4AndIpv6LinkTypesRoundTripWithNanoseconds) {
  struct Case {
    LinkType type;
    std::vector<Bytes> packets;
  };
  const std::vector<Case> cases = {
      {LinkType::kRaw, {Ipv4Packet(1), Ipv6Packet(2), Ipv4Packet(3, 1400)}},
      {LinkType::kIpv4, {Ipv4Packet(4), Ipv4Packet(5, 0)}},
      {LinkType::kIpv6, {Ipv6Packet(6), Ipv6Packet(7, 1200)}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.type));
    std::vector<PcapRecord> recs;
    std::uint32_t ns = 1;
    for (const Bytes& p : c.packets) recs.push_back(MakeRecord({}, p, 1600000000, ns *= 7));
    const std::string path = Path("raw_" + std::to_string(static_cast<int>(c.type)) + ".pcap");
    {
      auto w = PcapWriter::Open(path, c.type, TsPrecision::kNano);
      ASSERT_TRUE(w) << w.error().message;
      for (const auto& r : recs) ASSERT_TRUE(w->Write(r));
    }
    auto reader = PcapReader::Open(path);
    ASSERT_TRUE(reader) << reader.error().message;
    EXPECT_EQ(reader->link_type(), c.type);
    EXPECT_EQ(reader->precision(), TsPrecision::kNano);
    std::vector<PcapRecord> got;
    while (true) {
      auto next = reader->Next();
      ASSERT_TRUE(next) << next.error().message;
      if (!*next) break;
      got.push_back(std::move(**next));
    }
    ExpectSameRecords(got, recs);
  }
}

TEST_F(PcapFileTest, MicrosecondFileKeepsMicrosecondsAsNanoseconds) {
  {
    auto w = PcapWriter::Open(Path("us.pcap"), LinkType::kRaw, TsPrecision::kMicro);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->Write(MakeRecord({}, Ipv4Packet(1), 5, 123456789)));
  }
  auto r = PcapReader::Open(Path("us.pcap"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->precision(), TsPrecision::kMicro);
  auto rec = r->Next();
  ASSERT_TRUE(rec && *rec);
  EXPECT_EQ((*rec)->ts_nsec, 123456000U);
}

TEST_F(PcapFileTest, ReadsHandWrittenLinktypeRaw101AndIpv4) {
  for (const std::uint32_t linktype : {101U, 228U}) {
    Bytes file = PcapHeader(linktype);
    AppendRecord(&file, Ipv4Packet(9));
    const std::string path = Path("lt" + std::to_string(linktype) + ".pcap");
    WriteFile(path, file);
    LinkType type = LinkType::kEthernet;
    auto got = ReadPcapFile(path, &type);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(type, linktype == 101 ? LinkType::kRaw : LinkType::kIpv4);
    ASSERT_EQ(got->size(), 1U);
    EXPECT_EQ((*got)[0].ip, Ipv4Packet(9));
    EXPECT_EQ((*got)[0].ip_version, 4);
    EXPECT_EQ((*got)[0].ts_nsec, 5000U);
  }
}

TEST_F(PcapFileTest, WriteReplacingCarriesEthernetHeaderOverWithNewEtherType) {
  const PcapRecord v4 =
      MakeRecord(EthernetHeader({0x8100, kEtherTypeIpv4}), Ipv4Packet(1), 10, 20000);
  {
    auto w = PcapWriter::Open(Path("out.pcap"), LinkType::kEthernet);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->WriteReplacing(v4, Ipv6Packet(5)));
    ASSERT_TRUE(w->WriteReplacing(v4, Ipv4Packet(6)));
    auto bad = w->WriteReplacing(v4, Bytes{0x20, 0, 0});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, Path("out.pcap") + ": record 3: not an IPv4 or IPv6 packet");
  }
  auto got = ReadPcapFile(Path("out.pcap"), nullptr);
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->size(), 2U);
  EXPECT_EQ((*got)[0].link, EthernetHeader({0x8100, kEtherTypeIpv6}));
  EXPECT_EQ((*got)[0].ip, Ipv6Packet(5));
  EXPECT_EQ((*got)[0].ip_version, 6);
  EXPECT_EQ((*got)[0].ts_sec, 10);
  EXPECT_EQ((*got)[0].ts_nsec, 20000U);
  EXPECT_EQ((*got)[1].link, EthernetHeader({0x8100, kEtherTypeIpv4}));

  auto w4 = PcapWriter::Open(Path("v4only.pcap"), LinkType::kIpv4);
  ASSERT_TRUE(w4);
  auto mismatch = w4->WriteReplacing(MakeRecord({}, Ipv4Packet(1), 0, 0), Ipv6Packet(1));
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(
      mismatch.error().message,
      Path("v4only.pcap") + ": record 1: cannot write an IPv6 packet to a LINKTYPE_IPV4 file");
}

TEST_F(PcapFileTest, RejectsUnsupportedLinkType) {
  Bytes file = PcapHeader(113);  // LINKTYPE_LINUX_SLL
  AppendRecord(&file, Bytes(20, 0));
  WriteFile(Path("in.pcap"), file);
  auto r = PcapReader::Open(Path("in.pcap"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, Path("in.pcap") + ": unsupported link type 113");
}

TEST_F(PcapFileTest, ReportsTruncatedEthernetHeaderWithRecordNumber) {
  Bytes file = PcapHeader(1);
  Bytes frame = EthernetHeader({kEtherTypeIpv4});
  frame.insert(frame.end(), 20, 0x45);
  AppendRecord(&file, frame);
  AppendRecord(&file, Bytes(10, 0));  // record 2: 10 < 14 bytes
  WriteFile(Path("in.pcap"), file);
  auto got = ReadPcapFile(Path("in.pcap"), nullptr);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().message, Path("in.pcap") + ": record 2: truncated Ethernet header");

  Bytes vlan = PcapHeader(1);
  AppendRecord(&vlan, EthernetHeader({0x8100}));  // a VLAN tag with no room for its TCI/type
  WriteFile(Path("vlan.pcap"), vlan);
  auto v = ReadPcapFile(Path("vlan.pcap"), nullptr);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message, Path("vlan.pcap") + ": record 1: truncated Ethernet header");
}

TEST_F(PcapFileTest, ReportsMissingFileNonPcapAndCutRecord) {
  auto missing = PcapReader::Open(Path("nope.pcap"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_EQ(missing.error().message,
            Path("nope.pcap") + ": cannot open: No such file or directory");

  const std::string text = "sa spi 1 dir out\n";
  WriteFile(Path("text.pcap"), Bytes(text.begin(), text.end()));
  auto not_pcap = PcapReader::Open(Path("text.pcap"));
  ASSERT_FALSE(not_pcap);
  EXPECT_EQ(not_pcap.error().message.rfind(Path("text.pcap") + ": not a pcap or pcapng file (", 0),
            0U)
      << not_pcap.error().message;

  WriteFile(Path("empty.pcap"), Bytes{});
  auto empty = PcapReader::Open(Path("empty.pcap"));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, Path("empty.pcap") + ": not a pcap or pcapng file (empty)");

  Bytes cut = PcapHeader(101);
  AppendRecord(&cut, Ipv4Packet(1));
  AppendRecord(&cut, Ipv4Packet(2));
  cut.resize(cut.size() - 5);
  WriteFile(Path("cut.pcap"), cut);
  auto got = ReadPcapFile(Path("cut.pcap"), nullptr);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().message.rfind(Path("cut.pcap") + ": record 2: ", 0), 0U)
      << got.error().message;
  EXPECT_EQ(got.error().message.find('\n'), std::string::npos);
}

TEST_F(PcapFileTest, OpenMemoryReadsTheSameAsAFile) {
  Bytes file = PcapHeader(229);
  AppendRecord(&file, Ipv6Packet(3));
  auto r = PcapReader::OpenMemory(file, "mem");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->link_type(), LinkType::kIpv6);
  auto rec = r->Next();
  ASSERT_TRUE(rec && *rec);
  EXPECT_EQ((*rec)->ip, Ipv6Packet(3));
  auto end = r->Next();
  ASSERT_TRUE(end);
  EXPECT_FALSE(*end);
  EXPECT_FALSE(PcapReader::OpenMemory({}, "mem"));
}

TEST(PcapEthernetTest, SplitAndRewriteEtherType) {
  const Bytes frame = [] {
    Bytes f = EthernetHeader({0x9100, 0x8100, kEtherTypeIpv6});
    const Bytes ip = Ipv6Packet(1);
    f.insert(f.end(), ip.begin(), ip.end());
    return f;
  }();
  auto split = SplitEthernet(frame);
  ASSERT_TRUE(split);
  EXPECT_EQ(split->first.size(), 22U);
  EXPECT_EQ(split->second, Ipv6Packet(1));
  auto v4 = EthernetHeaderFor(split->first, 4);
  ASSERT_TRUE(v4);
  EXPECT_EQ(*v4, EthernetHeader({0x9100, 0x8100, kEtherTypeIpv4}));
  EXPECT_FALSE(EthernetHeaderFor(split->first, 5));
  EXPECT_FALSE(SplitEthernet(Bytes(13, 0)));
}

}  // namespace
}  // namespace espo::ikectl
