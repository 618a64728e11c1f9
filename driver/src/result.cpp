// SPDX-License-Identifier: Apache-2.0
#include "espo/driver/result.hpp"

namespace espo {

std::string_view ErrcName(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return "invalid-argument";
    case Errc::kParse:
      return "parse";
    case Errc::kNotFound:
      return "not-found";
    case Errc::kExists:
      return "exists";
    case Errc::kExhausted:
      return "exhausted";
    case Errc::kDevice:
      return "device";
    case Errc::kIo:
      return "io";
    case Errc::kCrypto:
      return "crypto";
    case Errc::kAuth:
      return "auth";
    case Errc::kUnsupported:
      return "unsupported";
    case Errc::kInternal:
      return "internal";
  }
  return "unknown";
}

}  // namespace espo
