// SPDX-License-Identifier: Apache-2.0
//
// Small vocabulary types shared by the SDK's lifetime, checkpoint and (later) SA manager APIs.
#pragma once

#include <cstdint>
#include <string_view>

#include "espo/driver/result.hpp"

namespace espo::sdk {

// Direction of one SA (one hardware slot table) as seen from this end.
enum class SaDirection : std::uint8_t { kInbound = 0, kOutbound = 1 };

// This end's role in the IKEv2 exchange that created the Child SA (CREATE_CHILD_SA, or IKE_AUTH
// for the first Child SA) -- not its role in the IKE SA (SPEC 7.4, 7.6).
enum class ExchangeRole : std::uint8_t { kInitiator = 0, kResponder = 1 };

// "in" / "out".
std::string_view ToString(SaDirection direction);
Result<SaDirection> ParseSaDirection(std::string_view text);
// "initiator" / "responder".
std::string_view ToString(ExchangeRole role);

}  // namespace espo::sdk
