// SPDX-License-Identifier: Apache-2.0
#include "espo/driver/gcm_reference.hpp"

#include <climits>
#include <memory>
#include <string>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace espo::driver {
namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

Result<const EVP_CIPHER*> GcmCipher(std::size_t key_bytes) {
  switch (key_bytes) {
    case 16:
      return EVP_aes_128_gcm();
    case 24:
      return EVP_aes_192_gcm();
    case 32:
      return EVP_aes_256_gcm();
    default:
      return MakeError(Errc::kInvalidArgument, "AES-GCM key: expected 16, 24 or 32 bytes, got " +
                                                   std::to_string(key_bytes));
  }
}

Result<CtxPtr> InitGcm(ByteSpan key, ByteSpan iv, bool encrypt) {
  ESPO_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, GcmCipher(key.size()));
  if (iv.size() != kGcmIvBytes) {
    return MakeError(Errc::kInvalidArgument,
                     "AES-GCM IV: expected 12 bytes, got " + std::to_string(iv.size()));
  }
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return MakeError(Errc::kCrypto, "EVP_CIPHER_CTX_new failed");
  const int enc = encrypt ? 1 : 0;
  if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()),
                          nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.data(), iv.data(), enc) != 1) {
    return MakeError(Errc::kCrypto, "AES-GCM: EVP_CipherInit_ex failed");
  }
  return ctx;
}

Status Update(EVP_CIPHER_CTX* ctx, std::uint8_t* out, ByteSpan in) {
  if (in.empty()) return Ok();
  if (in.size() > static_cast<std::size_t>(INT_MAX)) {
    return MakeError(Errc::kInvalidArgument, "AES-GCM: input longer than INT_MAX");
  }
  int len = 0;
  if (EVP_CipherUpdate(ctx, out, &len, in.data(), static_cast<int>(in.size())) != 1) {
    return MakeError(Errc::kCrypto, "AES-GCM: EVP_CipherUpdate failed");
  }
  return Ok();
}

}  // namespace

Result<GcmSealed> GcmSeal(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan plaintext) {
  ESPO_ASSIGN_OR_RETURN(CtxPtr ctx, InitGcm(key, iv, /*encrypt=*/true));
  GcmSealed out;
  out.ciphertext.resize(plaintext.size());
  ESPO_RETURN_IF_ERROR(Update(ctx.get(), nullptr, aad));
  ESPO_RETURN_IF_ERROR(Update(ctx.get(), out.ciphertext.data(), plaintext));
  int len = 0;
  if (EVP_CipherFinal_ex(ctx.get(), nullptr, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagBytes),
                          out.tag.data()) != 1) {
    return MakeError(Errc::kCrypto, "AES-GCM: finishing encryption failed");
  }
  return out;
}

Result<Bytes> GcmOpen(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan ciphertext, ByteSpan tag) {
  if (tag.size() < 4 || tag.size() > kGcmTagBytes) {
    return MakeError(Errc::kInvalidArgument,
                     "AES-GCM tag: expected 4..16 bytes, got " + std::to_string(tag.size()));
  }
  // Compute the full tag by re-encrypting, then compare the leading bytes in constant time:
  // OpenSSL's own check accepts truncated tags too, but this keeps one code path for all lengths.
  ESPO_ASSIGN_OR_RETURN(CtxPtr ctx, InitGcm(key, iv, /*encrypt=*/false));
  Bytes plaintext(ciphertext.size());
  ESPO_RETURN_IF_ERROR(Update(ctx.get(), nullptr, aad));
  ESPO_RETURN_IF_ERROR(Update(ctx.get(), plaintext.data(), ciphertext));
  GcmTag tag_copy{};
  std::copy(tag.begin(), tag.end(), tag_copy.begin());
  int len = 0;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag.size()),
                          tag_copy.data()) != 1) {
    return MakeError(Errc::kCrypto, "AES-GCM: setting the expected tag failed");
  }
  if (EVP_CipherFinal_ex(ctx.get(), nullptr, &len) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return MakeError(Errc::kAuth, "AES-GCM: tag mismatch");
  }
  return plaintext;
}

Result<AesBlock> AesEncryptBlock(ByteSpan key, const AesBlock& block) {
  const EVP_CIPHER* cipher = nullptr;
  switch (key.size()) {
    case 16:
      cipher = EVP_aes_128_ecb();
      break;
    case 24:
      cipher = EVP_aes_192_ecb();
      break;
    case 32:
      cipher = EVP_aes_256_ecb();
      break;
    default:
      return MakeError(Errc::kInvalidArgument,
                       "AES key: expected 16, 24 or 32 bytes, got " + std::to_string(key.size()));
  }
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return MakeError(Errc::kCrypto, "EVP_CIPHER_CTX_new failed");
  AesBlock out{};
  int len = 0;
  if (EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &len, block.data(), 16) != 1) {
    return MakeError(Errc::kCrypto, "AES-ECB: encryption failed");
  }
  return out;
}

}  // namespace espo::driver
