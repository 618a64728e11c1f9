// SPDX-License-Identifier: Apache-2.0
#include "espo/sdk/sa_types.hpp"

#include <string>

namespace espo::sdk {

std::string_view ToString(SaDirection direction) {
  return direction == SaDirection::kInbound ? "in" : "out";
}

Result<SaDirection> ParseSaDirection(std::string_view text) {
  if (text == "in") return SaDirection::kInbound;
  if (text == "out") return SaDirection::kOutbound;
  return MakeError(Errc::kParse,
                   R"(direction: expected "in" or "out", got ")" + std::string(text) + "\"");
}

std::string_view ToString(ExchangeRole role) {
  return role == ExchangeRole::kInitiator ? "initiator" : "responder";
}

}  // namespace espo::sdk
