// SPDX-License-Identifier: Apache-2.0
//
// Errors as values. Result<T> is tl::expected<T, Error> (std::expected needs C++23, which
// clang-tidy 14 cannot parse); it is [[nodiscard]], so a dropped Result fails the -Werror build.
// A later move to std::expected touches this file only.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace espo {

enum class Errc {
  kInvalidArgument,  // bad input from a caller or a file
  kParse,            // malformed text or binary input
  kNotFound,         // no such SA, slot, file or device
  kExists,           // duplicate SPI, slot already in use
  kExhausted,        // no free slot, sequence space used up
  kDevice,           // the device (or its simulation) failed or refused
  kIo,               // file system or socket error
  kCrypto,           // OpenSSL reported a failure
  kAuth,             // ICV did not verify
  kUnsupported,      // valid request this build or device cannot do
  kInternal,         // a broken invariant: a bug
};

std::string_view ErrcName(Errc code);

struct Error {
  Errc code = Errc::kInternal;
  std::string message;  // one line naming the input and the problem
};

template <class T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using tl::expected<T, Error>::expected;
  // NOLINTNEXTLINE(google-explicit-constructor): a Result is built from its error value.
  Result(tl::unexpected<Error> error) : tl::expected<T, Error>(std::move(error)) {}
};

using Status = Result<void>;

inline tl::unexpected<Error> MakeError(Errc code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

inline Status Ok() { return {}; }

}  // namespace espo

// Propagates an error from an expression returning Result<T> or Status.
#define ESPO_RETURN_IF_ERROR(expr)                                               \
  do {                                                                           \
    auto espo_status_ = (expr);                                                  \
    if (!espo_status_) return ::tl::unexpected(std::move(espo_status_).error()); \
  } while (false)

#define ESPO_CONCAT_INNER_(a, b) a##b
#define ESPO_CONCAT_(a, b) ESPO_CONCAT_INNER_(a, b)
// `ESPO_ASSIGN_OR_RETURN(auto x, Foo());` declares x from Foo()'s value or returns its error.
#define ESPO_ASSIGN_OR_RETURN(lhs, expr) \
  ESPO_ASSIGN_OR_RETURN_IMPL_(ESPO_CONCAT_(espo_result_, __LINE__), lhs, expr)
#define ESPO_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)          \
  auto tmp = (expr);                                         \
  if (!tmp) return ::tl::unexpected(std::move(tmp).error()); \
  lhs = std::move(*tmp)
