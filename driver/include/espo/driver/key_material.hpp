// SPDX-License-Identifier: Apache-2.0
//
// KeyMaterial: an AES-GCM key (16 or 32 bytes) followed by its 4-byte salt, as IKEv2 KEYMAT and
// `ip xfrm ... aead rfc4106(gcm(aes)) 0x<key><salt>` lay them out. Move-only; the storage is
// wiped with OPENSSL_cleanse when destroyed and when moved from. Never printed: operator<< shows
// only its size. Thread-compatible.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <ostream>

#include "espo/driver/bytes.hpp"
#include "espo/driver/result.hpp"

namespace espo::driver {

class KeyMaterial {
 public:
  static constexpr std::size_t kSaltBytes = 4;
  static constexpr std::size_t kMaxBytes = 32 + kSaltBytes;

  KeyMaterial() = default;
  ~KeyMaterial();
  KeyMaterial(const KeyMaterial&) = delete;
  KeyMaterial& operator=(const KeyMaterial&) = delete;
  KeyMaterial(KeyMaterial&& other) noexcept;
  KeyMaterial& operator=(KeyMaterial&& other) noexcept;

  // `key_and_salt` is 20 (AES-128) or 36 (AES-256) bytes.
  static Result<KeyMaterial> FromBytes(ByteSpan key_and_salt);
  // An explicit copy (callers must mean it: keys should not multiply).
  KeyMaterial Clone() const;
  // Replaces the key with `key_and_salt` (20 or 36 bytes) in place, wiping the old one; on an
  // error the key is unchanged. Fills a KeyMaterial that is already where it belongs (no moved-
  // from copy to wipe).
  Status Assign(ByteSpan key_and_salt);

  ByteSpan key() const { return {bytes_.data(), size_ - kSaltBytes}; }
  ByteSpan salt() const { return {bytes_.data() + size_ - kSaltBytes, kSaltBytes}; }
  ByteSpan key_and_salt() const { return {bytes_.data(), size_}; }
  std::size_t key_bytes() const { return size_ == 0 ? 0 : size_ - kSaltBytes; }
  bool empty() const { return size_ == 0; }
  void Wipe();

 private:
  std::array<std::uint8_t, kMaxBytes> bytes_{};
  std::size_t size_ = 0;
};

inline std::ostream& operator<<(std::ostream& os, const KeyMaterial& key) {
  return os << "<key: " << key.key_and_salt().size() << " bytes>";
}

}  // namespace espo::driver
