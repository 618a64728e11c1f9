// SPDX-License-Identifier: Apache-2.0
//
// IKEv2 key derivation for Child SAs (SPEC 7.4, RFC 7296 sections 2.13 and 2.17).
//
//   prf+(K, S) = T1 | T2 | ...,  T1 = prf(K, S | 0x01),  Tn = prf(K, T(n-1) | S | n),  n <= 255
//   KEYMAT     = prf+(SK_d, [g^ir (new) |] Ni | Nr)
//
// The first bytes of KEYMAT are the initiator->responder key (AES-GCM: key || 4-byte salt), the
// next ones the responder->initiator key. "Initiator" is the initiator of the exchange that created
// the Child SA (CREATE_CHILD_SA, or IKE_AUTH for the first Child SA), not of the IKE SA: the
// exchange initiator uses the first key outbound, the responder uses it inbound.
//
// PrfPlus and Prf are generic so that other IKEv2-derived keys can be produced. Example, the
// RFC 7717 O/TWAMP shared secret (SPEC 8c; the RFC's exact formula is unverified in SPEC, so check
// RFC 7717 section 5 before relying on it; the form usually quoted is prf(SK_d, "IPPM")):
//
//   const std::array<std::uint8_t, 4> label{'I', 'P', 'P', 'M'};
//   ESPO_ASSIGN_OR_RETURN(SecretBytes owamp_key, Prf(PrfAlgorithm::kHmacSha256, sk_d, label));
//
// or, for a longer key from the same inputs, PrfPlus(prf, sk_d, label, 64).
// All functions are thread-safe (no shared state); every OpenSSL failure becomes Errc::kCrypto.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "espo/driver/bytes.hpp"
#include "espo/driver/key_material.hpp"
#include "espo/driver/result.hpp"

namespace espo::sdk {

// IKEv2 PRF transforms (IANA "Transform Type 2" IDs as values).
enum class PrfAlgorithm : std::uint16_t {
  kHmacSha256 = 5,  // PRF_HMAC_SHA2_256, 32-byte output
  kHmacSha384 = 6,  // PRF_HMAC_SHA2_384, 48-byte output
  kHmacSha512 = 7,  // PRF_HMAC_SHA2_512, 64-byte output
};

// "prfsha256", "prfsha384", "prfsha512" (strongSwan/Libreswan proposal names).
std::string_view PrfName(PrfAlgorithm prf);
// Accepts the names above and "hmac-sha256" / "hmac-sha384" / "hmac-sha512".
Result<PrfAlgorithm> ParsePrf(std::string_view name);
// Output length of one prf call: 32, 48 or 64.
std::size_t PrfOutputBytes(PrfAlgorithm prf);

// Largest prf+ output: 255 blocks (the block counter is one byte).
inline constexpr std::size_t kPrfPlusMaxBlocks = 255;
inline std::size_t PrfPlusMaxBytes(PrfAlgorithm prf) {
  return kPrfPlusMaxBlocks * PrfOutputBytes(prf);
}

// Secret bytes: move-only, wiped with OPENSSL_cleanse when destroyed, moved from or cleared.
// Never printed. Thread-compatible.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : bytes_(size, 0) {}
  ~SecretBytes() { Wipe(); }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;

  ByteSpan span() const { return bytes_; }
  MutableByteSpan mutable_span() { return bytes_; }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  // Cleanses the bytes and empties the buffer.
  void Wipe();

 private:
  std::vector<std::uint8_t> bytes_;
};

// One prf call: HMAC-SHA2(key, data). Any key length (RFC 2104 hashes long keys).
Result<SecretBytes> Prf(PrfAlgorithm prf, ByteSpan key, ByteSpan data);

// prf+(key, seed) truncated to `length` bytes (RFC 7296 section 2.13). `length` 0 gives an empty
// result. Errc::kInvalidArgument when `length` > PrfPlusMaxBytes(prf) (more than 255 blocks).
Result<SecretBytes> PrfPlus(PrfAlgorithm prf, ByteSpan key, ByteSpan seed, std::size_t length);

// KEYMAT = prf+(SK_d, [g^ir |] Ni | Nr), `length` bytes, for any layout of Child SA keys (e.g.
// with separate integrity keys). Roles are those of the exchange that created the Child SA.
// `shared_secret` is g^ir (new) with PFS, already left-zero-padded to the group's length.
// Errors (kInvalidArgument): empty SK_d, a nonce outside 16..256 bytes (RFC 7296 section 3.9), an
// empty shared secret, `length` beyond PrfPlusMaxBytes(prf).
Result<SecretBytes> DeriveKeymat(PrfAlgorithm prf, ByteSpan sk_d, ByteSpan nonce_i,
                                 ByteSpan nonce_r, std::optional<ByteSpan> shared_secret,
                                 std::size_t length);

// The two AES-GCM/GMAC keys of a Child SA, each key || 4-byte salt.
struct ChildSaKeys {
  driver::KeyMaterial initiator_to_responder;  // KEYMAT[0, key_bytes + 4)
  driver::KeyMaterial responder_to_initiator;  // KEYMAT[key_bytes + 4, 2 * (key_bytes + 4))
};

// Derives both keys of an AES-GCM/GMAC Child SA, `key_bytes` = 16 (AES-128) or 32 (AES-256); the
// KEYMAT is 2 * (key_bytes + 4) bytes and is wiped before returning. Errors as DeriveKeymat, plus
// kInvalidArgument when key_bytes is not 16 or 32.
Result<ChildSaKeys> DeriveChildSaKeys(PrfAlgorithm prf, ByteSpan sk_d, ByteSpan nonce_i,
                                      ByteSpan nonce_r, std::optional<ByteSpan> shared_secret,
                                      std::size_t key_bytes);

}  // namespace espo::sdk
