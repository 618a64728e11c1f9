// SPDX-License-Identifier: Apache-2.0
//
// The OpenSSL GCM oracle (driver GcmSeal/GcmOpen/AesEncryptBlock) against the public vectors:
// the same vectors the RTL core is checked with (tests/rtl/test_gcm_core.cpp).

#include <cstddef>
#include <cstdint>
#include <iostream>

#include <gtest/gtest.h>

#include "vectors.hpp"

#include "espo/driver/gcm_reference.hpp"

namespace espo::driver {
namespace {

TEST(GcmReferenceTest, SealsAndOpensEveryPublicVectorWithA96BitIv) {
  const auto vectors = espo::testing::LoadGcmVectors(ESPO_SHARED_DATA);
  ASSERT_TRUE(vectors.has_value()) << vectors.error().message;
  int checked = 0;
  for (const auto& v : *vectors) {
    if (!v.iv_is_96bit) {
      std::cout << "[ SKIPPED  ] " << v.name << ": IV is " << v.iv.size() * 8
                << " bits; GcmSeal/GcmOpen take 96-bit IVs only\n";
      continue;
    }
    SCOPED_TRACE(v.name);
    const auto sealed = GcmSeal(v.key, v.iv, v.aad, v.pt);
    ASSERT_TRUE(sealed.has_value()) << sealed.error().message;
    if (v.valid) {
      EXPECT_EQ(ToHex(sealed->ciphertext), ToHex(v.ct));
      EXPECT_EQ(ToHex(sealed->tag), ToHex(v.tag));
    }
    const auto opened = GcmOpen(v.key, v.iv, v.aad, v.ct, v.tag);
    if (v.valid) {
      ASSERT_TRUE(opened.has_value()) << opened.error().message;
      EXPECT_EQ(*opened, v.pt);
    } else {
      ASSERT_FALSE(opened.has_value());
      EXPECT_EQ(opened.error().code, Errc::kAuth);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 19);  // 12 plain-GCM cases with 96-bit IVs (AES-128/192/256) + 7 RFC 4106
}

TEST(GcmReferenceTest, RejectsEveryPublicVectorWithOneTagBitFlipped) {
  const auto vectors = espo::testing::LoadGcmVectors(ESPO_SHARED_DATA);
  ASSERT_TRUE(vectors.has_value()) << vectors.error().message;
  for (const auto& v : *vectors) {
    if (!v.iv_is_96bit || !v.valid) continue;
    SCOPED_TRACE(v.name);
    for (std::size_t bit = 0; bit < 128; bit += 37) {
      Bytes tag = v.tag;
      tag[bit / 8] ^= static_cast<std::uint8_t>(1U << (bit % 8));
      const auto opened = GcmOpen(v.key, v.iv, v.aad, v.ct, tag);
      ASSERT_FALSE(opened.has_value()) << "bit " << bit;
      EXPECT_EQ(opened.error().code, Errc::kAuth);
    }
  }
}

TEST(GcmReferenceTest, HashKeyOfGcmTestCaseOneIsPublished) {
  // GCM paper Test Case 1/2: K = 0^128, H = E_K(0^128) = 66e94bd4ef8a2c3b884cfa59ca342b2e.
  const auto h = AesEncryptBlock(Bytes(16, 0), AesBlock{});
  ASSERT_TRUE(h.has_value()) << h.error().message;
  EXPECT_EQ(ToHex(*h), "66e94bd4ef8a2c3b884cfa59ca342b2e");
}

}  // namespace
}  // namespace espo::driver
