// SPDX-License-Identifier: Apache-2.0
//
// prf+ and Child SA KEYMAT: the SPEC 7.5 known answers, an independent HMAC loop, a python3
// hmac/hashlib oracle, the 255-block limit and argument errors.
#include <stdio.h>  // popen (POSIX)

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "test_seed.hpp"

#include "espo/driver/bytes.hpp"
#include "espo/sdk/keymat.hpp"
#include "espo/sdk/random.hpp"

namespace espo::sdk {
namespace {

Bytes Hex(std::string_view hex) {
  auto bytes = FromHex(hex);
  EXPECT_TRUE(bytes.has_value()) << hex;
  return bytes ? *bytes : Bytes{};
}

std::string HexOf(ByteSpan data) { return ToHex(data); }

const EVP_MD* Md(PrfAlgorithm prf) {
  switch (prf) {
    case PrfAlgorithm::kHmacSha256:
      return EVP_sha256();
    case PrfAlgorithm::kHmacSha384:
      return EVP_sha384();
    case PrfAlgorithm::kHmacSha512:
      return EVP_sha512();
  }
  return nullptr;
}

// prf+ written out naively from RFC 7296 2.13 with OpenSSL's one-shot HMAC().
Bytes NaivePrfPlus(PrfAlgorithm prf, const Bytes& key, const Bytes& seed, std::size_t length) {
  Bytes out;
  Bytes t;
  for (int n = 1; out.size() < length; ++n) {
    Bytes msg = t;
    msg.insert(msg.end(), seed.begin(), seed.end());
    msg.push_back(static_cast<std::uint8_t>(n));
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_len = 0;
    EXPECT_NE(HMAC(Md(prf), key.data(), static_cast<int>(key.size()), msg.data(), msg.size(),
                   mac.data(), &mac_len),
              nullptr);
    t.assign(mac.begin(), mac.begin() + mac_len);
    out.insert(out.end(), t.begin(), t.end());
  }
  out.resize(length);
  return out;
}

// prf+ computed by /usr/bin/python3 with hmac and hashlib; nullopt if python3 is missing.
std::optional<std::string> PythonPrfPlus(std::string_view hash, ByteSpan key, ByteSpan seed,
                                         std::size_t length) {
  const std::string script =
      "import hmac,hashlib,sys\n"
      "h=getattr(hashlib,sys.argv[1]);k=bytes.fromhex(sys.argv[2]);s=bytes.fromhex(sys.argv[3])\n"
      "n=int(sys.argv[4]);out=b'';t=b'';i=1\n"
      "while len(out)<n:\n"
      "  t=hmac.new(k,t+s+bytes([i]),h).digest();out+=t;i+=1\n"
      "print(out[:n].hex())\n";
  const std::string cmd = "/usr/bin/python3 -c \"" + script + "\" " + std::string(hash) + " " +
                          (key.empty() ? "''" : HexOf(key)) + " " +
                          (seed.empty() ? "''" : HexOf(seed)) + " " + std::to_string(length);
  FILE* pipe = popen(cmd.c_str(), "r");  // NOLINT(cert-env33-c): fixed command, test only
  if (pipe == nullptr) return std::nullopt;
  std::string out;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), static_cast<int>(buf.size()), pipe) != nullptr) out += buf.data();
  if (pclose(pipe) != 0) return std::nullopt;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

const std::string kSkD = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kNi = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
const std::string kNr = "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf";

TEST(PrfPlus, SpecKnownAnswerBlocks) {
  const Bytes seed = Hex(kNi + kNr);
  auto out = PrfPlus(PrfAlgorithm::kHmacSha256, Hex(kSkD), seed, 96);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(HexOf(out->span()),
            "c958374fb859c3fb836408942808d3e5e89122c843affe4ba871c351d4a93c8d"
            "18f8e87c9303cc7b22fb7e4b64f0a3b5ef0359ca1e4bcb00e7a3a60ca5e29658"
            "b753d75fa859b15248a73a9e6384d5e616e6bfb1b29d2b9738f4448d5e1bdeb2");
}

TEST(ChildSaKeys, SpecKnownAnswerAes256) {
  const Bytes sk_d = Hex(kSkD);
  const Bytes ni = Hex(kNi);
  const Bytes nr = Hex(kNr);
  auto keys = DeriveChildSaKeys(PrfAlgorithm::kHmacSha256, sk_d, ni, nr, std::nullopt, 32);
  ASSERT_TRUE(keys) << keys.error().message;
  EXPECT_EQ(HexOf(keys->initiator_to_responder.key()),
            "c958374fb859c3fb836408942808d3e5e89122c843affe4ba871c351d4a93c8d");
  EXPECT_EQ(HexOf(keys->initiator_to_responder.salt()), "18f8e87c");
  EXPECT_EQ(HexOf(keys->responder_to_initiator.key()),
            "9303cc7b22fb7e4b64f0a3b5ef0359ca1e4bcb00e7a3a60ca5e29658b753d75f");
  EXPECT_EQ(HexOf(keys->responder_to_initiator.salt()), "a859b152");
}

TEST(ChildSaKeys, SpecKnownAnswerAes128) {
  const Bytes sk_d = Hex(kSkD);
  const Bytes ni = Hex(kNi);
  const Bytes nr = Hex(kNr);
  auto keys = DeriveChildSaKeys(PrfAlgorithm::kHmacSha256, sk_d, ni, nr, std::nullopt, 16);
  ASSERT_TRUE(keys) << keys.error().message;
  EXPECT_EQ(HexOf(keys->initiator_to_responder.key()), "c958374fb859c3fb836408942808d3e5");
  EXPECT_EQ(HexOf(keys->initiator_to_responder.salt()), "e89122c8");
  EXPECT_EQ(HexOf(keys->responder_to_initiator.key()), "43affe4ba871c351d4a93c8d18f8e87c");
  EXPECT_EQ(HexOf(keys->responder_to_initiator.salt()), "9303cc7b");
}

TEST(ChildSaKeys, PfsPrependsSharedSecret) {
  const Bytes sk_d = Hex(kSkD);
  const Bytes ni = Hex(kNi);
  const Bytes nr = Hex(kNr);
  Bytes gir(256, 0);  // a MODP-2048 secret with leading zero bytes (left padding matters)
  for (std::size_t i = 8; i < gir.size(); ++i) gir[i] = static_cast<std::uint8_t>(i * 7);
  auto keys = DeriveChildSaKeys(PrfAlgorithm::kHmacSha384, sk_d, ni, nr, ByteSpan(gir), 32);
  ASSERT_TRUE(keys) << keys.error().message;
  Bytes seed = gir;
  seed.insert(seed.end(), ni.begin(), ni.end());
  seed.insert(seed.end(), nr.begin(), nr.end());
  const Bytes expect = NaivePrfPlus(PrfAlgorithm::kHmacSha384, sk_d, seed, 72);
  EXPECT_EQ(HexOf(keys->initiator_to_responder.key_and_salt()), HexOf(ByteSpan(expect).first(36)));
  EXPECT_EQ(HexOf(keys->responder_to_initiator.key_and_salt()),
            HexOf(ByteSpan(expect).subspan(36, 36)));
  // Dropping the leading zeros changes the keys.
  const Bytes stripped(gir.begin() + 8, gir.end());
  auto other = DeriveChildSaKeys(PrfAlgorithm::kHmacSha384, sk_d, ni, nr, ByteSpan(stripped), 32);
  ASSERT_TRUE(other);
  EXPECT_NE(HexOf(other->initiator_to_responder.key()), HexOf(keys->initiator_to_responder.key()));
}

TEST(PrfPlus, MatchesNaiveLoopAndPythonOracle) {
  SeededRng rng(espo::testing::TestSeed());
  bool python_ok = true;
  for (const PrfAlgorithm prf :
       {PrfAlgorithm::kHmacSha256, PrfAlgorithm::kHmacSha384, PrfAlgorithm::kHmacSha512}) {
    const std::size_t block = PrfOutputBytes(prf);
    for (const std::size_t length :
         {std::size_t{0}, std::size_t{1}, block - 1, block, block + 1, std::size_t{40},
          std::size_t{72}, 3 * block + 5, PrfPlusMaxBytes(prf)}) {
      Bytes key(rng.Uniform(0, 100));
      Bytes seed(rng.Uniform(0, 300));
      for (auto& b : key) b = static_cast<std::uint8_t>(rng.NextU64());
      for (auto& b : seed) b = static_cast<std::uint8_t>(rng.NextU64());
      auto out = PrfPlus(prf, key, seed, length);
      ASSERT_TRUE(out) << out.error().message;
      ASSERT_EQ(out->size(), length);
      SCOPED_TRACE(std::string(PrfName(prf)) + " length " + std::to_string(length));
      EXPECT_EQ(HexOf(out->span()), HexOf(NaivePrfPlus(prf, key, seed, length)));
      if (python_ok && length < 2000) {  // keep the command line short
        const auto py =
            PythonPrfPlus("sha" + std::string(PrfName(prf).substr(6)), key, seed, length);
        if (!py) {
          python_ok = false;
          std::cout << "[ NOTICE   ] /usr/bin/python3 unavailable: oracle skipped\n";
          continue;
        }
        EXPECT_EQ(HexOf(out->span()), *py);
      }
    }
  }
}

TEST(PrfPlus, EnforcesTheBlockLimit) {
  const Bytes key(32, 1);
  const Bytes seed(64, 2);
  for (const PrfAlgorithm prf :
       {PrfAlgorithm::kHmacSha256, PrfAlgorithm::kHmacSha384, PrfAlgorithm::kHmacSha512}) {
    EXPECT_EQ(PrfPlusMaxBytes(prf), 255 * PrfOutputBytes(prf));
    EXPECT_TRUE(PrfPlus(prf, key, seed, PrfPlusMaxBytes(prf)));
    auto too_long = PrfPlus(prf, key, seed, PrfPlusMaxBytes(prf) + 1);
    ASSERT_FALSE(too_long);
    EXPECT_EQ(too_long.error().code, Errc::kInvalidArgument);
    EXPECT_NE(too_long.error().message.find("255"), std::string::npos) << too_long.error().message;
  }
}

TEST(PrfPlus, BlocksWrapNotAtByteLimit) {
  // Block 255 is the last one: its counter byte is 0xff (not 0x00 of a wrapped 256th block).
  const Bytes key(32, 3);
  const Bytes seed(10, 4);
  auto out = PrfPlus(PrfAlgorithm::kHmacSha256, key, seed, 255 * 32);
  ASSERT_TRUE(out);
  const Bytes naive = NaivePrfPlus(PrfAlgorithm::kHmacSha256, key, seed, 255 * 32);
  EXPECT_EQ(HexOf(out->span().last(32)), HexOf(ByteSpan(naive).last(32)));
}

TEST(Prf, SingleCallIsHmac) {
  const std::array<std::uint8_t, 4> label{'I', 'P', 'P', 'M'};
  const Bytes sk_d = Hex(kSkD);
  auto out = Prf(PrfAlgorithm::kHmacSha512, sk_d, label);
  ASSERT_TRUE(out);
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_len = 0;
  ASSERT_NE(HMAC(EVP_sha512(), sk_d.data(), static_cast<int>(sk_d.size()), label.data(),
                 label.size(), mac.data(), &mac_len),
            nullptr);
  EXPECT_EQ(HexOf(out->span()), HexOf(ByteSpan(mac.data(), mac_len)));
}

TEST(ChildSaKeys, RejectsBadArguments) {
  const Bytes sk_d = Hex(kSkD);
  const Bytes ni = Hex(kNi);
  const Bytes nr = Hex(kNr);
  const Bytes short_nonce(15, 0);
  const Bytes long_nonce(257, 0);
  const Bytes empty;
  auto bad_key = DeriveChildSaKeys(PrfAlgorithm::kHmacSha256, sk_d, ni, nr, std::nullopt, 24);
  ASSERT_FALSE(bad_key);
  EXPECT_NE(bad_key.error().message.find("key_bytes"), std::string::npos);
  auto bad_ni =
      DeriveChildSaKeys(PrfAlgorithm::kHmacSha256, sk_d, short_nonce, nr, std::nullopt, 16);
  ASSERT_FALSE(bad_ni);
  EXPECT_NE(bad_ni.error().message.find("Ni"), std::string::npos);
  auto bad_nr =
      DeriveChildSaKeys(PrfAlgorithm::kHmacSha256, sk_d, ni, long_nonce, std::nullopt, 16);
  ASSERT_FALSE(bad_nr);
  EXPECT_NE(bad_nr.error().message.find("Nr"), std::string::npos);
  EXPECT_FALSE(DeriveChildSaKeys(PrfAlgorithm::kHmacSha256, empty, ni, nr, std::nullopt, 16));
  EXPECT_FALSE(DeriveChildSaKeys(PrfAlgorithm::kHmacSha256, sk_d, ni, nr, ByteSpan(empty), 16));
  EXPECT_FALSE(DeriveChildSaKeys(static_cast<PrfAlgorithm>(2), sk_d, ni, nr, std::nullopt, 16));
}

TEST(Prf, Names) {
  for (const PrfAlgorithm prf :
       {PrfAlgorithm::kHmacSha256, PrfAlgorithm::kHmacSha384, PrfAlgorithm::kHmacSha512}) {
    auto parsed = ParsePrf(PrfName(prf));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, prf);
  }
  auto alias = ParsePrf("hmac-sha384");
  ASSERT_TRUE(alias);
  EXPECT_EQ(*alias, PrfAlgorithm::kHmacSha384);
  EXPECT_FALSE(ParsePrf("prfmd5"));
}

TEST(SecretBytes, MoveLeavesSourceEmpty) {
  SecretBytes a(8);
  a.mutable_span()[0] = 0x42;
  SecretBytes b(std::move(a));
  EXPECT_EQ(b.size(), 8U);
  EXPECT_EQ(b.span()[0], 0x42);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  b.Wipe();
  EXPECT_TRUE(b.empty());
}

}  // namespace
}  // namespace espo::sdk
