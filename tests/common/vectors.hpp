// SPDX-License-Identifier: Apache-2.0
//
// Tests' view of the KAT loader (which lives in the driver so `ikectl selftest` can use it too).
#pragma once

#include "espo/driver/kat_vectors.hpp"

namespace espo::testing {

using driver::GcmVector;
using driver::LoadGcmVectors;

}  // namespace espo::testing
