// SPDX-License-Identifier: Apache-2.0
//
// Loads the public AES-GCM known-answer vectors from ../shared/data (tests pass ESPO_SHARED_DATA;
// ikectl selftest takes --data). Never copy the vectors into the repository.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "espo/driver/bytes.hpp"
#include "espo/driver/result.hpp"

namespace espo::driver {

struct GcmVector {
  std::string name;
  int aes_bits = 0;
  bool iv_is_96bit = true;
  bool valid = true;  // rfc4106 file: false means the tag must be rejected
  std::string mode;   // "gcm", "rfc4106" or "rfc4543"
  Bytes key;          // AES key only
  Bytes iv;           // full GCM IV (for rfc4106: salt || explicit IV)
  Bytes aad;          // GCM AAD (for rfc4543: aad || iv || pt)
  Bytes pt;           // GCM plaintext (empty for rfc4543)
  Bytes ct;           // GCM ciphertext (empty for rfc4543)
  Bytes tag;          // 16 bytes
};

// Both files merged, in file order: gcm_vectors.json then rfc4106_vectors.json.
Result<std::vector<GcmVector>> LoadGcmVectors(const std::string& data_dir);

}  // namespace espo::driver
