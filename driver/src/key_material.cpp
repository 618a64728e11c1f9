// SPDX-License-Identifier: Apache-2.0
#include "espo/driver/key_material.hpp"

#include <algorithm>
#include <string>

#include <openssl/crypto.h>

namespace espo::driver {

KeyMaterial::~KeyMaterial() { Wipe(); }

KeyMaterial::KeyMaterial(KeyMaterial&& other) noexcept : bytes_(other.bytes_), size_(other.size_) {
  other.Wipe();
}

KeyMaterial& KeyMaterial::operator=(KeyMaterial&& other) noexcept {
  if (this != &other) {
    Wipe();
    bytes_ = other.bytes_;
    size_ = other.size_;
    other.Wipe();
  }
  return *this;
}

Result<KeyMaterial> KeyMaterial::FromBytes(ByteSpan key_and_salt) {
  // Built in the Result itself and returned by its name only, so the return is not a move that
  // would leave a moved-from copy to wipe.
  Result<KeyMaterial> out(tl::in_place);
  if (auto assigned = out->Assign(key_and_salt); !assigned) {
    out = tl::unexpected(std::move(assigned).error());
  }
  return out;
}

Status KeyMaterial::Assign(ByteSpan key_and_salt) {
  if (key_and_salt.size() != 16 + kSaltBytes && key_and_salt.size() != 32 + kSaltBytes) {
    return MakeError(Errc::kInvalidArgument,
                     "key: expected 20 or 36 bytes (AES-128/256 key + 4-byte salt), got " +
                         std::to_string(key_and_salt.size()));
  }
  Wipe();
  std::copy(key_and_salt.begin(), key_and_salt.end(), bytes_.begin());
  size_ = key_and_salt.size();
  return Ok();
}

KeyMaterial KeyMaterial::Clone() const {
  KeyMaterial out;
  out.bytes_ = bytes_;
  out.size_ = size_;
  return out;
}

void KeyMaterial::Wipe() {
  // Every path that stores key bytes also sets size_ != 0 (Assign, Clone, the moves), and every
  // path that clears size_ runs the cleanse first, so an empty KeyMaterial holds only zeros: moved-
  // from and default objects (most destructor and move-assignment calls) skip the cleanse.
  if (size_ == 0) return;
  OPENSSL_cleanse(bytes_.data(), bytes_.size());
  size_ = 0;
}

}  // namespace espo::driver
