// SPDX-License-Identifier: Apache-2.0
#include "espo/sdk/keymat.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

namespace espo::sdk {
namespace {

struct MacFree {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using MacPtr = std::unique_ptr<EVP_MAC, MacFree>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

const char* DigestName(PrfAlgorithm prf) {
  switch (prf) {
    case PrfAlgorithm::kHmacSha256:
      return "SHA256";
    case PrfAlgorithm::kHmacSha384:
      return "SHA384";
    case PrfAlgorithm::kHmacSha512:
      return "SHA512";
  }
  return "SHA256";
}

bool IsKnown(PrfAlgorithm prf) {
  return prf == PrfAlgorithm::kHmacSha256 || prf == PrfAlgorithm::kHmacSha384 ||
         prf == PrfAlgorithm::kHmacSha512;
}

// An HMAC context keyed once; Compute() may be called repeatedly.
class Hmac {
 public:
  static Result<Hmac> Create(PrfAlgorithm prf, ByteSpan key) {
    if (!IsKnown(prf)) {
      return MakeError(Errc::kInvalidArgument,
                       "prf: unknown PRF transform " + std::to_string(static_cast<int>(prf)));
    }
    MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!mac) return MakeError(Errc::kCrypto, "prf: EVP_MAC_fetch(HMAC) failed");
    MacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
    if (!ctx) return MakeError(Errc::kCrypto, "prf: EVP_MAC_CTX_new failed");
    std::string digest = DigestName(prf);
    const std::array<OSSL_PARAM, 2> params{
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
        OSSL_PARAM_construct_end()};
    // EVP_MAC_init copies the key; an empty key is passed as a 1-byte buffer of length 0.
    static constexpr std::uint8_t kEmpty = 0;
    const std::uint8_t* key_ptr = key.empty() ? &kEmpty : key.data();
    if (EVP_MAC_init(ctx.get(), key_ptr, key.size(), params.data()) != 1) {
      return MakeError(Errc::kCrypto, std::string("prf: EVP_MAC_init(HMAC-") + digest + ") failed");
    }
    return Hmac(std::move(ctx), PrfOutputBytes(prf));
  }

  // out = HMAC(key, parts[0] | parts[1] | ...); out.size() == output size.
  Status Compute(std::initializer_list<ByteSpan> parts, MutableByteSpan out) {
    // Re-initialising with a null key keeps the key and restarts the MAC.
    if (EVP_MAC_init(ctx_.get(), nullptr, 0, nullptr) != 1) {
      return MakeError(Errc::kCrypto, "prf: EVP_MAC_init (restart) failed");
    }
    for (const ByteSpan part : parts) {
      if (!part.empty() && EVP_MAC_update(ctx_.get(), part.data(), part.size()) != 1) {
        return MakeError(Errc::kCrypto, "prf: EVP_MAC_update failed");
      }
    }
    std::size_t written = 0;
    if (EVP_MAC_final(ctx_.get(), out.data(), &written, out.size()) != 1 || written != out_bytes_) {
      return MakeError(Errc::kCrypto, "prf: EVP_MAC_final failed");
    }
    return Ok();
  }

 private:
  Hmac(MacCtxPtr ctx, std::size_t out_bytes) : ctx_(std::move(ctx)), out_bytes_(out_bytes) {}
  MacCtxPtr ctx_;
  std::size_t out_bytes_;
};

Status CheckNonce(ByteSpan nonce, std::string_view what) {
  if (nonce.size() < 16 || nonce.size() > 256) {
    return MakeError(Errc::kInvalidArgument, std::string(what) + ": expected 16..256 bytes, got " +
                                                 std::to_string(nonce.size()));
  }
  return Ok();
}

}  // namespace

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {
  other.Wipe();
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    bytes_ = std::move(other.bytes_);
    other.Wipe();
  }
  return *this;
}

void SecretBytes::Wipe() {
  if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
  bytes_.clear();
}

std::string_view PrfName(PrfAlgorithm prf) {
  switch (prf) {
    case PrfAlgorithm::kHmacSha256:
      return "prfsha256";
    case PrfAlgorithm::kHmacSha384:
      return "prfsha384";
    case PrfAlgorithm::kHmacSha512:
      return "prfsha512";
  }
  return "unknown";
}

Result<PrfAlgorithm> ParsePrf(std::string_view name) {
  for (const PrfAlgorithm prf :
       {PrfAlgorithm::kHmacSha256, PrfAlgorithm::kHmacSha384, PrfAlgorithm::kHmacSha512}) {
    const std::string_view canonical = PrfName(prf);
    // "prfsha256" <-> "hmac-sha256"
    const std::string alias = "hmac-" + std::string(canonical.substr(3));
    if (name == canonical || name == alias) return prf;
  }
  return MakeError(Errc::kInvalidArgument,
                   "prf: unknown PRF '" + std::string(name) +
                       "' (expected prfsha256, prfsha384, prfsha512 or hmac-sha256/384/512)");
}

std::size_t PrfOutputBytes(PrfAlgorithm prf) {
  switch (prf) {
    case PrfAlgorithm::kHmacSha256:
      return 32;
    case PrfAlgorithm::kHmacSha384:
      return 48;
    case PrfAlgorithm::kHmacSha512:
      return 64;
  }
  return 0;
}

Result<SecretBytes> Prf(PrfAlgorithm prf, ByteSpan key, ByteSpan data) {
  ESPO_ASSIGN_OR_RETURN(Hmac hmac, Hmac::Create(prf, key));
  SecretBytes out(PrfOutputBytes(prf));
  ESPO_RETURN_IF_ERROR(hmac.Compute({data}, out.mutable_span()));
  return out;
}

Result<SecretBytes> PrfPlus(PrfAlgorithm prf, ByteSpan key, ByteSpan seed, std::size_t length) {
  if (!IsKnown(prf)) {
    return MakeError(Errc::kInvalidArgument,
                     "prf: unknown PRF transform " + std::to_string(static_cast<int>(prf)));
  }
  const std::size_t block = PrfOutputBytes(prf);
  if (length > PrfPlusMaxBytes(prf)) {
    return MakeError(Errc::kInvalidArgument, "prf+ length: " + std::to_string(length) +
                                                 " bytes needs more than 255 " +
                                                 std::string(PrfName(prf)) + " blocks (at most " +
                                                 std::to_string(PrfPlusMaxBytes(prf)) + " bytes)");
  }
  SecretBytes out(length);
  if (length == 0) return out;
  ESPO_ASSIGN_OR_RETURN(Hmac hmac, Hmac::Create(prf, key));
  SecretBytes t(block);  // T(n), kept for the next block
  std::size_t produced = 0;
  for (std::size_t n = 1; produced < length; ++n) {
    const std::array<std::uint8_t, 1> counter{static_cast<std::uint8_t>(n)};
    // T1 = prf(K, S | 0x01); Tn = prf(K, T(n-1) | S | n).
    const ByteSpan previous = n == 1 ? ByteSpan{} : t.span();
    SecretBytes next(block);
    ESPO_RETURN_IF_ERROR(hmac.Compute({previous, seed, counter}, next.mutable_span()));
    const std::size_t take = std::min(block, length - produced);
    std::copy_n(next.span().begin(), take,
                out.mutable_span().begin() + static_cast<std::ptrdiff_t>(produced));
    produced += take;
    t = std::move(next);
  }
  return out;
}

Result<SecretBytes> DeriveKeymat(PrfAlgorithm prf, ByteSpan sk_d, ByteSpan nonce_i,
                                 ByteSpan nonce_r, std::optional<ByteSpan> shared_secret,
                                 std::size_t length) {
  if (sk_d.empty()) return MakeError(Errc::kInvalidArgument, "SK_d: empty key");
  ESPO_RETURN_IF_ERROR(CheckNonce(nonce_i, "Ni"));
  ESPO_RETURN_IF_ERROR(CheckNonce(nonce_r, "Nr"));
  const std::size_t secret_bytes = shared_secret ? shared_secret->size() : 0;
  if (shared_secret && secret_bytes == 0) {
    return MakeError(Errc::kInvalidArgument, "g^ir: empty shared secret (omit it without PFS)");
  }
  // seed = [g^ir |] Ni | Nr; it holds the shared secret, so it is a SecretBytes too.
  SecretBytes seed(secret_bytes + nonce_i.size() + nonce_r.size());
  auto dst = seed.mutable_span().begin();
  if (shared_secret) dst = std::copy(shared_secret->begin(), shared_secret->end(), dst);
  dst = std::copy(nonce_i.begin(), nonce_i.end(), dst);
  std::copy(nonce_r.begin(), nonce_r.end(), dst);
  return PrfPlus(prf, sk_d, seed.span(), length);
}

Result<ChildSaKeys> DeriveChildSaKeys(PrfAlgorithm prf, ByteSpan sk_d, ByteSpan nonce_i,
                                      ByteSpan nonce_r, std::optional<ByteSpan> shared_secret,
                                      std::size_t key_bytes) {
  if (key_bytes != 16 && key_bytes != 32) {
    return MakeError(
        Errc::kInvalidArgument,
        "key_bytes: expected 16 (AES-128) or 32 (AES-256), got " + std::to_string(key_bytes));
  }
  const std::size_t one = key_bytes + driver::KeyMaterial::kSaltBytes;
  ESPO_ASSIGN_OR_RETURN(SecretBytes keymat,
                        DeriveKeymat(prf, sk_d, nonce_i, nonce_r, shared_secret, 2 * one));
  ESPO_ASSIGN_OR_RETURN(driver::KeyMaterial i_to_r,
                        driver::KeyMaterial::FromBytes(keymat.span().first(one)));
  ESPO_ASSIGN_OR_RETURN(driver::KeyMaterial r_to_i,
                        driver::KeyMaterial::FromBytes(keymat.span().subspan(one, one)));
  return ChildSaKeys{std::move(i_to_r), std::move(r_to_i)};
}

}  // namespace espo::sdk
