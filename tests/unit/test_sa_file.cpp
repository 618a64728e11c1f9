// SPDX-License-Identifier: Apache-2.0
// SA text syntax (docs/SA_SYNTAX.md): parsing, every error, formatting and round trips.
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "test_seed.hpp"

#include "espo/driver/sa_config.hpp"
#include "espo/driver/sa_file.hpp"

namespace espo::driver {
namespace {

constexpr std::string_view kKey20 = "0x000102030405060708090a0b0c0d0e0f10111213";
constexpr std::string_view kKey36 =
    "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223";

std::string Line(std::string_view rest = "", std::string_view dir = "out",
                 std::string_view key = kKey20, std::string_view icv = "128") {
  std::string s = "sa spi 0x00001000 dir " + std::string(dir) +
                  " mode tunnel src 192.0.2.1 dst 198.51.100.7 aead rfc4106(gcm(aes)) " +
                  std::string(key) + " " + std::string(icv);
  if (!rest.empty()) s += " " + std::string(rest);
  return s;
}

Result<SaConfig> Parse(std::string_view text) {
  return ParseSaLine(text, SaLocation{"sas.conf", 12});
}

std::string ParseError(std::string_view text) {
  auto r = ParseSaText(text, "sas.conf");
  if (r) return "<parsed OK>";
  return r.error().message;
}

TEST(SaFileTest, ParsesMinimalLineWithDefaults) {
  auto sa = Parse(Line());
  ASSERT_TRUE(sa) << sa.error().message;
  EXPECT_EQ(sa->spi, 0x1000U);
  EXPECT_EQ(sa->dir, Direction::kOut);
  EXPECT_EQ(sa->mode, Mode::kTunnel);
  EXPECT_EQ(sa->src.ToString(), "192.0.2.1");
  EXPECT_EQ(sa->dst.ToString(), "198.51.100.7");
  EXPECT_FALSE(sa->src.v6);
  EXPECT_EQ(sa->alg, Algorithm::kGcm);
  EXPECT_EQ(sa->key.key_bytes(), 16U);
  EXPECT_EQ(ToHex(sa->key.salt()), "10111213");
  EXPECT_EQ(sa->icv_bytes, 16);
  EXPECT_FALSE(sa->esn);
  EXPECT_EQ(sa->oseq, 0U);
  EXPECT_EQ(sa->replay_window, 64U);
  EXPECT_EQ(sa->replay_seq, 0U);
  EXPECT_FALSE(sa->encap.has_value());
  EXPECT_EQ(sa->limits, SaLimits{});
}

TEST(SaFileTest, ParsesEveryOptionInAnyOrder) {
  auto out =
      Parse(Line("hard-bytes 0x100000 soft-bytes 1000 esn oseq 0xFFFFFFFF "
                 "encap espinudp 4500 4501 replay-window 1024 soft-packets 10 "
                 "hard-packets 20",
                 "out", kKey36, "96"));
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_TRUE(out->esn);
  EXPECT_EQ(out->oseq, 0xFFFFFFFFULL);  // allowed with esn
  EXPECT_EQ(out->replay_window, 1024U);
  ASSERT_TRUE(out->encap.has_value());
  EXPECT_EQ(out->encap->sport, 4500);
  EXPECT_EQ(out->encap->dport, 4501);
  EXPECT_EQ(out->limits.soft_packets, 10U);
  EXPECT_EQ(out->limits.hard_packets, 20U);
  EXPECT_EQ(out->limits.soft_bytes, 1000U);
  EXPECT_EQ(out->limits.hard_bytes, 0x100000U);
  EXPECT_EQ(out->key.key_bytes(), 32U);
  EXPECT_EQ(out->icv_bytes, 12);

  auto in = Parse(Line("replay-seq 77 replay-window 0", "in", kKey20, "64"));
  ASSERT_TRUE(in) << in.error().message;
  EXPECT_EQ(in->dir, Direction::kIn);
  EXPECT_EQ(in->replay_seq, 77U);
  EXPECT_EQ(in->replay_window, 0U);
  EXPECT_EQ(in->icv_bytes, 8);
}

TEST(SaFileTest, AcceptsQuotedAlgorithmGmacTransportAndIpv6) {
  auto sa = Parse(
      "sa spi 7 dir in mode transport src 2001:db8::1 dst 2001:DB8:0:0:0:0:0:2 "
      "aead 'rfc4543(gcm(aes))' " +
      std::string(kKey20) + " 128");
  ASSERT_TRUE(sa) << sa.error().message;
  EXPECT_EQ(sa->alg, Algorithm::kGmac);
  EXPECT_EQ(sa->mode, Mode::kTransport);
  EXPECT_TRUE(sa->dst.v6);
  EXPECT_EQ(sa->src.ToString(), "2001:db8::1");
  EXPECT_EQ(sa->dst.ToString(), "2001:db8::2");
  auto dq = Parse("sa spi 7 dir in mode transport src ::1 dst :: aead \"rfc4106(gcm(aes))\" " +
                  std::string(kKey20) + " 128");
  ASSERT_TRUE(dq) << dq.error().message;
  EXPECT_EQ(dq->dst.ToString(), "::");
}

TEST(SaFileTest, HandlesCommentsBlankLinesAndContinuations) {
  const std::string text =
      "# espo SAs\n"
      "\n"
      "sa spi 0x1 dir out mode tunnel src 192.0.2.1 dst 198.51.100.7 \\\n"
      "   aead rfc4106(gcm(aes)) " +
      std::string(kKey20) +
      " 128 \\\n"
      "   oseq 5   # trailing comment\n"
      "   \t\n"
      "sa spi 0x1 dir in mode tunnel src 198.51.100.7 dst 192.0.2.1 aead rfc4106(gcm(aes)) " +
      std::string(kKey20) + " 128 # same SPI, other direction: fine\r\n";
  auto sas = ParseSaText(text, "sas.conf");
  ASSERT_TRUE(sas) << sas.error().message;
  ASSERT_EQ(sas->size(), 2U);
  EXPECT_EQ((*sas)[0].oseq, 5U);
  EXPECT_EQ((*sas)[1].dir, Direction::kIn);
  auto empty = ParseSaText("# nothing\n\n   \n", "x");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(SaFileTest, ErrorOnContinuationLineNamesThatLine) {
  const std::string text =
      "\n# c\nsa spi 1 dir out mode tunnel \\\n src 192.0.2.1 dst 1.2.3.4 \\\n"
      " aead rfc4106(gcm(aes)) 0x00 128\n";
  EXPECT_EQ(ParseError(text), "sas.conf:5: key: expected 20 or 36 bytes, got 1");
}

struct ErrorCase {
  std::string name;
  std::string text;
  std::string expected;  // the whole message
};

TEST(SaFileTest, RejectsEachErrorWithOneLineNamingFieldAndValue) {
  const std::vector<ErrorCase> cases = {
      {"BadKeyLength", Line("", "out", "0x0001020304"),
       "sas.conf:1: key: expected 20 or 36 bytes, got 5"},
      {"KeyOddDigits", Line("", "out", "0x000"), "sas.conf:1: key: odd number of hex digits (3)"},
      {"KeyNotHex", Line("", "out", "0x00010203040506070809zz0b0c0d0e0f10111213"),
       "sas.conf:1: key: not a hex digit at position 22"},
      {"KeyNoPrefix", Line("", "out", "000102030405060708090a0b0c0d0e0f10111213"),
       "sas.conf:1: key: expected 0x followed by hex digits (key then 4-byte salt)"},
      {"SpiZero",
       "sa spi 0 dir out mode tunnel src 192.0.2.1 dst 198.51.100.7 aead rfc4106(gcm(aes)) " +
           std::string(kKey20) + " 128",
       "sas.conf:1: spi: must not be 0 (RFC 4303 reserves SPI 0)"},
      {"SpiTooBig",
       "sa spi 0x100000000 dir out mode tunnel src 192.0.2.1 dst 198.51.100.7 aead "
       "rfc4106(gcm(aes)) " +
           std::string(kKey20) + " 128",
       "sas.conf:1: spi: 4294967296 does not fit 32 bits"},
      {"UnknownKeyword", Line("frobnicate 3"), "sas.conf:1: option: unknown keyword 'frobnicate'"},
      {"MissingValueAtEnd", Line("oseq"), "sas.conf:1: oseq: missing value"},
      {"MissingValueBeforeKeyword", Line("soft-bytes hard-bytes 5"),
       "sas.conf:1: soft-bytes: missing value"},
      {"DuplicateOption", Line("oseq 1 oseq 2"), "sas.conf:1: oseq: given more than once"},
      {"DuplicateEsn", Line("esn esn"), "sas.conf:1: esn: given more than once"},
      {"BadIcvBits", Line("", "out", kKey20, "100"),
       "sas.conf:1: icv: expected 64, 96 or 128 bits, got 100"},
      {"GmacShortIcv",
       "sa spi 1 dir out mode tunnel src 192.0.2.1 dst 198.51.100.7 aead rfc4543(gcm(aes)) " +
           std::string(kKey20) + " 96",
       "sas.conf:1: icv: rfc4543(gcm(aes)) requires a 16-byte ICV (128 bits), got 12 bytes"},
      {"WindowNotPowerOfTwo", Line("replay-window 100"),
       "sas.conf:1: replay-window: 100 is not 0 or a power of two <= 1024"},
      {"WindowTooBig", Line("replay-window 2048"),
       "sas.conf:1: replay-window: 2048 is not 0 or a power of two <= 1024"},
      {"WindowZeroWithEsn", Line("esn replay-window 0"),
       "sas.conf:1: replay-window: 0 (no replay check) is not allowed with esn"},
      {"SoftPacketsNotBelowHard", Line("soft-packets 20 hard-packets 20"),
       "sas.conf:1: soft-packets: 20 must be below hard-packets 20"},
      {"SoftBytesAboveHard", Line("soft-bytes 21 hard-bytes 20"),
       "sas.conf:1: soft-bytes: 21 must be below hard-bytes 20"},
      {"MixedFamilies",
       "sa spi 1 dir out mode tunnel src 192.0.2.1 dst 2001:db8::1 aead rfc4106(gcm(aes)) " +
           std::string(kKey20) + " 128",
       "sas.conf:1: dst: address family differs from src (src IPv4, dst IPv6)"},
      {"ReplaySeqOnDirOut", Line("replay-seq 3"), "sas.conf:1: replay-seq: only valid for dir in"},
      {"OseqOnDirIn", Line("oseq 3", "in"), "sas.conf:1: oseq: only valid for dir out"},
      {"OverflowedNumber", Line("hard-bytes 18446744073709551616"),
       "sas.conf:1: hard-bytes: number '18446744073709551616' out of range (max "
       "18446744073709551615)"},
      {"OverflowedHex", Line("hard-bytes 0x10000000000000000"),
       "sas.conf:1: hard-bytes: number '0x10000000000000000' out of range (max "
       "18446744073709551615)"},
      {"NotANumber", Line("oseq 12a"), "sas.conf:1: oseq: not a number: '12a'"},
      {"NegativeNumber", Line("oseq -1"), "sas.conf:1: oseq: not a number: '-1'"},
      {"EmptyHex", Line("oseq 0x"), "sas.conf:1: oseq: not a number: '0x'"},
      {"OseqExhaustedWithoutEsn", Line("oseq 4294967295"),
       "sas.conf:1: oseq: 4294967295 leaves no usable sequence number without esn (must be < "
       "4294967295)"},
      {"ReplaySeqTooBigWithoutEsn", Line("replay-seq 4294967296", "in"),
       "sas.conf:1: replay-seq: 4294967296 does not fit 32 bits without esn (must be < "
       "4294967296)"},
      {"BadDir", "sa spi 1 dir sideways",
       "sas.conf:1: dir: expected 'in' or 'out', got 'sideways'"},
      {"BadMode", "sa spi 1 dir in mode tunel",
       "sas.conf:1: mode: expected 'tunnel' or "
       "'transport', got 'tunel'"},
      {"WrongOrder", "sa spi 1 mode tunnel", "sas.conf:1: dir: expected 'dir', got 'mode'"},
      {"Truncated", "sa spi 1 dir in", "sas.conf:1: mode: expected 'mode', got end of line"},
      {"NotSa", "spi 1", "sas.conf:1: sa: expected 'sa', got 'spi'"},
      {"BadAddress", "sa spi 1 dir in mode tunnel src 192.0.2 dst 1.2.3.4",
       "sas.conf:1: src: not an IPv4 or IPv6 address: '192.0.2'"},
      {"BadAlgorithm", "sa spi 1 dir in mode tunnel src 1.2.3.4 dst 1.2.3.5 aead cbc(aes) 0x00 128",
       "sas.conf:1: aead: unsupported algorithm 'cbc(aes)' (expected rfc4106(gcm(aes)) or "
       "rfc4543(gcm(aes)))"},
      {"BadEncapType", Line("encap espintcp 1 2"),
       "sas.conf:1: encap: unsupported encapsulation 'espintcp' (only espinudp)"},
      {"BadEncapPort", Line("encap espinudp 0 4500"),
       "sas.conf:1: encap: ports must be 1..65535, got 0 4500"},
      {"EncapPortTooBig", Line("encap espinudp 4500 65536"),
       "sas.conf:1: encap: ports must be 1..65535, got 4500 65536"},
      {"SecondSaWithoutContinuation", Line() + "\n  oseq 5",
       "sas.conf:2: sa: expected 'sa', got 'oseq'"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string message = ParseError(c.text);
    EXPECT_EQ(message, c.expected);
    EXPECT_EQ(message.find('\n'), std::string::npos);
    EXPECT_EQ(message.find("0405060708090a0b"), std::string::npos) << "key leaked into error";
  }
}

TEST(SaFileTest, NonPrintableBytesStayOutOfErrors) {
  const std::string message = ParseError(Line(std::string("bad\x01\x7f") + "word"));
  EXPECT_EQ(message, "sas.conf:1: option: unknown keyword 'bad??word'");
}

TEST(SaFileTest, RejectsDuplicateSaAndFailsWholeFile) {
  // Same (spi, dst) in the other direction is a different SA; the same direction again is not.
  const std::string good = Line() + "\n" + Line("", "in") + "\n# x\n" + Line("oseq 9");
  EXPECT_EQ(ParseError(good),
            "sas.conf:4: sa: duplicate SA (spi 0x00001000, dir out, dst 198.51.100.7), first "
            "defined at line 1");
  const std::string one_bad = Line() + "\n" + Line("replay-window 3", "in");
  auto r = ParseSaText(one_bad, "sas.conf");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "sas.conf:2: replay-window: 3 is not 0 or a power of two <= 1024");
}

TEST(SaFileTest, ValidateChecksEveryRule) {
  auto base = Parse(Line());
  ASSERT_TRUE(base);
  EXPECT_TRUE(Validate(*base));
  auto sa = base->Clone();
  EXPECT_TRUE(SaConfigEqual(sa, *base));
  sa.key = KeyMaterial();
  auto r = Validate(sa);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "key: expected 20 or 36 bytes, got 0");
  sa = base->Clone();
  sa.icv_bytes = 10;
  ASSERT_FALSE(Validate(sa));
  EXPECT_EQ(Validate(sa).error().message, "icv: expected 8, 12 or 16 bytes, got 10");
  sa = base->Clone();
  sa.encap = UdpEncap{0, 4500};
  EXPECT_FALSE(Validate(sa));
  sa = base->Clone();
  sa.esn = true;
  sa.oseq = ~0ULL;
  EXPECT_FALSE(Validate(sa));
  sa.oseq = ~0ULL - 1;
  EXPECT_TRUE(Validate(sa));
  sa = base->Clone();
  for (std::uint32_t w : {0U, 1U, 2U, 32U, 64U, 512U, 1024U}) {
    sa.replay_window = w;
    EXPECT_TRUE(Validate(sa)) << w;
  }
  for (std::uint32_t w : {3U, 96U, 1023U, 2048U, 0x80000000U}) {
    sa.replay_window = w;
    EXPECT_FALSE(Validate(sa)) << w;
  }
}

TEST(SaFileTest, IpAddressParsesAndPrints) {
  auto v4 = IpAddress::Parse("10.0.0.255");
  ASSERT_TRUE(v4);
  EXPECT_FALSE(v4->v6);
  EXPECT_EQ(v4->span().size(), 4U);
  EXPECT_EQ(v4->ToString(), "10.0.0.255");
  auto v6 = IpAddress::Parse("fe80:0000::0001");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->ToString(), "fe80::1");
  auto mapped = IpAddress::Parse("::ffff:192.0.2.1");
  ASSERT_TRUE(mapped);
  EXPECT_TRUE(mapped->v6);
  EXPECT_EQ(IpAddress::Parse(mapped->ToString()).value(), *mapped);
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4/24", "fe80::1%eth0",
                          "[::1]", "::g", "1:2:3:4:5:6:7:8:9", " 1.2.3.4"}) {
    EXPECT_FALSE(IpAddress::Parse(bad)) << bad;
  }
  EXPECT_EQ(ToString(Direction::kIn), "in");
  EXPECT_EQ(ToString(Mode::kTransport), "transport");
  EXPECT_EQ(ToString(Algorithm::kGmac), "rfc4543(gcm(aes))");
}

TEST(SaFileTest, FormatsCanonicalLine) {
  auto sa = Parse(Line("hard-packets 0x10 esn encap espinudp 4500 4500 oseq 0x10"));
  ASSERT_TRUE(sa);
  EXPECT_EQ(FormatSaLine(*sa),
            "sa spi 0x00001000 dir out mode tunnel src 192.0.2.1 dst 198.51.100.7 aead "
            "rfc4106(gcm(aes)) 0x000102030405060708090a0b0c0d0e0f10111213 128 esn oseq 16 "
            "encap espinudp 4500 4500 hard-packets 16");
}

TEST(SaFileTest, FormatsWiresharkEspSa) {
  auto gcm = Parse(Line("", "out", kKey20, "64"));
  ASSERT_TRUE(gcm);
  EXPECT_EQ(FormatWiresharkEspSa(*gcm, WiresharkUat::kEsn),
            "\"IPv4\",\"192.0.2.1\",\"198.51.100.7\",\"0x00001000\","
            "\"AES-GCM with 8 octet ICV [RFC4106]\","
            "\"0x000102030405060708090a0b0c0d0e0f10111213\",\"NULL\",\"\",\"32-bit\",\"0\"");
  auto gcm12 = Parse(Line("", "out", kKey20, "96"));
  ASSERT_TRUE(gcm12);
  EXPECT_NE(FormatWiresharkEspSa(*gcm12).find("\"AES-GCM with 12 octet ICV [RFC4106]\""),
            std::string::npos);
  auto esn = Parse(
      "sa spi 0xabcdef01 dir in mode tunnel src 2001:db8::1 dst 2001:db8::2 aead "
      "rfc4106(gcm(aes)) " +
      std::string(kKey36) + " 128 esn replay-seq 0x500000001");
  ASSERT_TRUE(esn) << esn.error().message;
  EXPECT_EQ(FormatWiresharkEspSa(*esn, WiresharkUat::kEsn),
            "\"IPv6\",\"2001:db8::1\",\"2001:db8::2\",\"0xabcdef01\","
            "\"AES-GCM with 16 octet ICV [RFC4106]\",\"" +
                std::string(kKey36) + "\",\"NULL\",\"\",\"64-bit\",\"5\"");
  auto gmac = Parse(
      "sa spi 9 dir out mode transport src 1.1.1.1 dst 2.2.2.2 aead "
      "rfc4543(gcm(aes)) " +
      std::string(kKey20) + " 128");
  ASSERT_TRUE(gmac);
  EXPECT_EQ(FormatWiresharkEspSa(*gmac, WiresharkUat::kEsn),
            "\"IPv4\",\"1.1.1.1\",\"2.2.2.2\",\"0x00000009\",\"NULL\",\"\","
            "\"ANY 128 bit authentication [no checking]\",\"\",\"32-bit\",\"0\"");
  std::vector<SaConfig> both;
  both.push_back(gcm->Clone());
  both.push_back(gmac->Clone());
  const std::string file = FormatWiresharkEspSaFile(both, WiresharkUat::kEsn);
  EXPECT_EQ(file.rfind("# This file is automatically generated. BE CAREFUL MODIFYING.\n", 0), 0U);
  EXPECT_NE(file.find("#\"Protocol\",\"Src IP\",\"Dest IP\",\"SPI\",\"Encryption\",\"Encryption "
                      "Key\",\"Authentication\",\"Authentication Key\",\"SN\",\"ESN High Bits\"\n"),
            std::string::npos);
  EXPECT_NE(file.find(FormatWiresharkEspSa(*gmac, WiresharkUat::kEsn) + "\n"), std::string::npos);
  // The default is the 8-column table of Wireshark 4.0 (Debian 12's tshark).
  EXPECT_EQ(FormatWiresharkEspSa(*gcm),
            "\"IPv4\",\"192.0.2.1\",\"198.51.100.7\",\"0x00001000\","
            "\"AES-GCM with 8 octet ICV [RFC4106]\","
            "\"0x000102030405060708090a0b0c0d0e0f10111213\",\"NULL\",\"\"");
  const std::string classic = FormatWiresharkEspSaFile(both);
  EXPECT_NE(classic.find("#\"Protocol\",\"Src IP\",\"Dest IP\",\"SPI\",\"Encryption\",\"Encryption "
                         "Key\",\"Authentication\",\"Authentication Key\"\n"),
            std::string::npos);
  EXPECT_EQ(classic.find("ESN High Bits"), std::string::npos);
}

SaConfig RandomSa(std::mt19937_64& rng) {
  const auto u = [&rng](std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };
  SaConfig sa;
  sa.spi = static_cast<std::uint32_t>(u(1, 0xFFFFFFFFULL));
  sa.dir = u(0, 1) == 0 ? Direction::kOut : Direction::kIn;
  sa.mode = u(0, 1) == 0 ? Mode::kTunnel : Mode::kTransport;
  const bool v6 = u(0, 1) == 1;
  for (IpAddress* a : {&sa.src, &sa.dst}) {
    a->v6 = v6;
    for (std::size_t i = 0; i < (v6 ? 16U : 4U); ++i) {
      a->bytes.at(i) = static_cast<std::uint8_t>(u(0, 2) == 0 ? 0 : u(0, 255));  // runs of 0: ::
    }
  }
  sa.alg = u(0, 1) == 0 ? Algorithm::kGcm : Algorithm::kGmac;
  std::array<std::uint8_t, 36> key{};
  for (auto& b : key) b = static_cast<std::uint8_t>(u(0, 255));
  sa.key = KeyMaterial::FromBytes(ByteSpan(key.data(), u(0, 1) == 0 ? 20 : 36)).value();
  static constexpr std::array<std::uint8_t, 3> kIcv = {8, 12, 16};
  sa.icv_bytes = sa.alg == Algorithm::kGmac ? 16 : kIcv.at(u(0, 2));
  sa.esn = u(0, 1) == 1;
  const std::uint64_t seq_max = sa.esn ? ~0ULL - 1 : 0xFFFFFFFEULL;
  const auto maybe = [&](std::uint64_t hi) { return u(0, 2) == 0 ? 0 : u(0, hi); };
  if (sa.dir == Direction::kOut) {
    sa.oseq = maybe(seq_max);
  } else {
    sa.replay_seq = maybe(sa.esn ? ~0ULL : 0xFFFFFFFFULL);
  }
  sa.replay_window = u(0, 3) == 0 ? 64 : (u(0, 11) == 11 && !sa.esn ? 0 : 1U << u(0, 10));
  if (u(0, 1) == 1) {
    sa.encap =
        UdpEncap{static_cast<std::uint16_t>(u(1, 65535)), static_cast<std::uint16_t>(u(1, 65535))};
  }
  const auto pair = [&](std::uint64_t* soft, std::uint64_t* hard) {
    *hard = maybe(~0ULL);
    *soft = *hard > 1 ? maybe(*hard - 1) : (*hard == 0 ? maybe(~0ULL) : 0);
  };
  pair(&sa.limits.soft_packets, &sa.limits.hard_packets);
  pair(&sa.limits.soft_bytes, &sa.limits.hard_bytes);
  return sa;
}

TEST(SaFileTest, RandomConfigsRoundTripThroughFormatAndParse) {
  const std::uint64_t seed = espo::testing::TestSeed();
  SCOPED_TRACE("ESPO_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int n = 2000 * espo::testing::SoakFactor();
  std::string file;
  std::vector<SaConfig> all;
  for (int i = 0; i < n; ++i) {
    SaConfig sa = RandomSa(rng);
    ASSERT_TRUE(Validate(sa)) << Validate(sa).error().message;
    const std::string line = FormatSaLine(sa);
    auto back = ParseSaLine(line, SaLocation{"rt", 1});
    ASSERT_TRUE(back) << back.error().message << "\n" << line;
    ASSERT_TRUE(SaConfigEqual(sa, *back)) << line << "\n" << FormatSaLine(*back);
    EXPECT_EQ(FormatSaLine(*back), line);
    sa.spi = static_cast<std::uint32_t>(i + 1);  // unique for the whole-file check below
    file += FormatSaLine(sa) + "\n";
    all.push_back(std::move(sa));
  }
  auto parsed = ParseSaText(file, "rt");
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_TRUE(SaConfigEqual((*parsed)[i], all[i]));
}

TEST(SaFileTest, LoadSaFileReadsFileAndReportsMissingOne) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("espo_sa_file_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "sas.conf").string();
  {
    std::ofstream f(path);
    f << "# test\n" << Line("oseq 3") << "\n";
  }
  auto sas = LoadSaFile(path);
  ASSERT_TRUE(sas) << sas.error().message;
  ASSERT_EQ(sas->size(), 1U);
  EXPECT_EQ((*sas)[0].oseq, 3U);
  {
    std::ofstream f(path);
    f << Line("oseq x") << "\n";
  }
  auto bad = LoadSaFile(path);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, path + ":1: oseq: not a number: 'x'");
  auto missing = LoadSaFile((dir / "nope.conf").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_EQ(missing.error().message,
            (dir / "nope.conf").string() + ": cannot open: No such file or directory");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace espo::driver
