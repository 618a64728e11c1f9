// SPDX-License-Identifier: Apache-2.0
//
// KeyMaterial: construction from key + salt bytes, in-place replacement, and what is left in a
// moved-from object.
#include <cstdint>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "espo/driver/key_material.hpp"

namespace espo::driver {
namespace {

Bytes Pattern(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + 3 * i);
  return b;
}

TEST(KeyMaterialTest, FromBytesSplitsKeyAndSalt) {
  const Bytes raw = Pattern(36, 1);
  auto key = KeyMaterial::FromBytes(raw);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->key_bytes(), 32U);
  EXPECT_EQ(Bytes(key->key().begin(), key->key().end()), Bytes(raw.begin(), raw.begin() + 32));
  EXPECT_EQ(Bytes(key->salt().begin(), key->salt().end()), Bytes(raw.begin() + 32, raw.end()));
  auto bad = KeyMaterial::FromBytes(Pattern(5, 1));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Errc::kInvalidArgument);
}

TEST(KeyMaterialTest, AssignReplacesInPlaceAndLeavesTheKeyOnError) {
  KeyMaterial key;
  ASSERT_TRUE(key.Assign(Pattern(36, 7)).has_value());
  const Bytes raw = Pattern(20, 9);
  ASSERT_TRUE(key.Assign(raw).has_value());
  EXPECT_EQ(key.key_bytes(), 16U);
  EXPECT_EQ(Bytes(key.key_and_salt().begin(), key.key_and_salt().end()), raw);
  const Status bad = key.Assign(Pattern(21, 1));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(Bytes(key.key_and_salt().begin(), key.key_and_salt().end()), raw);
}

TEST(KeyMaterialTest, MovedFromKeyIsEmpty) {
  const Bytes raw = Pattern(20, 3);
  KeyMaterial a = std::move(*KeyMaterial::FromBytes(raw));
  KeyMaterial b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(Bytes(b.key_and_salt().begin(), b.key_and_salt().end()), raw);
  KeyMaterial c;
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(Bytes(c.key_and_salt().begin(), c.key_and_salt().end()), raw);
  c.Wipe();
  EXPECT_TRUE(c.empty());
}

}  // namespace
}  // namespace espo::driver
