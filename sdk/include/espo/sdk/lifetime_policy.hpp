// SPDX-License-Identifier: Apache-2.0
//
// LifetimePolicy: the soft and hard limits of a new Child SA, in packets, bytes and time.
// docs/SDK_LIFETIMES.md explains every formula; SPEC sections 8a (Count Based SA Extension),
// 9.1 (strongSwan), 9.2 (Libreswan), 9.3-9.4 (why the fuzz matters) are normative.
//
//   kind         soft point (per SA, drawn afresh at each install)             hard
//   none         floor(f * L), no fuzz (simulation baseline)                   L
//   count-based  rekeyer: X_i*L + U(0, 0.05*L); other: min(X_r*L + U(..), L-1) L
//   strongswan   rekey - U{0 .. min(rand, rekey - 1)}  (time, bytes, packets)   life
//   libreswan    time: lifetime - margin(role); counts: 25..31.25 % / 43.75..50 % of max
//
// All randomness comes from the injected Rng and all time from the injected Clock. A limit of 0
// (or an empty optional deadline) means "no limit"; whenever a soft and a hard limit are both set,
// 1 <= soft < hard, as the hardware requires (SPEC 12.3).
//
// Typical use:
//   ESPO_ASSIGN_OR_RETURN(LifetimePolicy policy, LifetimePolicy::Create(config, clock, rng));
//   const RekeyDesignation who = ChooseRekeyer(local_value, peer_value);   // count-based only
//   SaLifetime out = policy.ForNewSa({SaDirection::kOutbound, ExchangeRole::kInitiator, who});
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "espo/driver/result.hpp"
#include "espo/sdk/clock.hpp"
#include "espo/sdk/random.hpp"
#include "espo/sdk/sa_types.hpp"

namespace espo::sdk {

// Packet and byte limits of one SA as the hardware slot takes them; 0 means "no limit".
// (Mirrors driver::SaLimits without depending on it.)
struct CountLimits {
  std::uint64_t soft_packets = 0;
  std::uint64_t hard_packets = 0;
  std::uint64_t soft_bytes = 0;
  std::uint64_t hard_bytes = 0;
  friend bool operator==(const CountLimits&, const CountLimits&) = default;
};

// Everything a new SA needs: count limits for the slot, time deadlines for the scheduler.
struct SaLifetime {
  CountLimits counts;
  std::optional<TimePoint> soft_deadline;  // start the rekey; empty: no time-based rekey
  std::optional<TimePoint> hard_deadline;  // remove the SA; empty: no time limit
};

enum class LifetimePolicyKind : std::uint8_t { kNone, kCountBased, kStrongswan, kLibreswan };

// "none", "count-based", "strongswan", "libreswan".
std::string_view ToString(LifetimePolicyKind kind);
// The names above; also "count" for count-based.
Result<LifetimePolicyKind> ParseLifetimePolicyKind(std::string_view name);

// ---- Count Based SA Extension (SPEC 8a) ----

// The rekey value each peer proposes (a random number; 0 = "never rekey"). The draft's field width
// is unverified; SPEC's project notes assume 16 bits.
using RekeyValue = std::uint16_t;

enum class RekeyDesignation : std::uint8_t {
  kRekeyer,  // our value is larger: we use the X_i schedule and are expected to rekey
  kOther,    // the peer's value is larger: we use the X_r schedule (a safety net)
  kTie,      // equal values (including both 0): both use X_i; RFC 7296 2.8.1 resolves collisions
};

std::string_view ToString(RekeyDesignation designation);
// Larger value rekeys; equal values are a tie (SPEC 8a).
RekeyDesignation ChooseRekeyer(RekeyValue local, RekeyValue peer);
// A fresh nonzero rekey value, uniform over 1..65535.
RekeyValue DrawRekeyValue(Rng& rng);

// The random part of the soft point is U(0, kCountBasedFuzz * L) (SPEC 8a).
inline constexpr double kCountBasedFuzz = 0.05;

struct CountBasedConfig {
  // Constraints (espo, SPEC 8a): 0 < x_i, x_i + 0.05 <= x_r, x_r + 0.05 < 1.
  double x_i = 0.80;
  double x_r = 0.90;
  // L, the same at both peers; 0 = that unit is not limited. At least one must be set; packet and
  // byte limits must be 0 or >= 2.
  std::uint64_t hard_packets = 0;
  std::uint64_t hard_bytes = 0;
  Duration hard_time{0};  // optional time lifetime, same formula
};

// ---- strongSwan (SPEC 9.1): an unset field takes strongSwan's default or derivation ----
struct StrongswanConfig {
  std::optional<Duration> rekey_time;  // default 1 h; life_time / 1.1 if only life_time is set
  std::optional<Duration> life_time;   // default rekey_time * 1.1
  std::optional<Duration> rand_time;   // default life_time - rekey_time
  std::optional<std::uint64_t> rekey_bytes;  // default 0 (off); life_bytes / 1.1 if only that
  std::optional<std::uint64_t> life_bytes;   // default rekey_bytes * 1.1
  std::optional<std::uint64_t> rand_bytes;   // default life_bytes - rekey_bytes
  std::optional<std::uint64_t> rekey_packets;
  std::optional<std::uint64_t> life_packets;
  std::optional<std::uint64_t> rand_packets;
};

// StrongswanConfig after defaults and derivations; 0 = off.
struct StrongswanResolved {
  struct Time {
    Duration rekey{0};
    Duration life{0};
    Duration rand{0};
  };
  struct Volume {
    std::uint64_t rekey = 0;
    std::uint64_t life = 0;
    std::uint64_t rand = 0;
  };
  Time time;
  Volume bytes;
  Volume packets;
};

// Applies SPEC 9.1's defaults (x 1.1 is computed as x * 110 / 100, / 1.1 as x * 100 / 110, integer
// arithmetic as strongSwan does). Errors: negative durations; life <= rekey with both nonzero.
Result<StrongswanResolved> ResolveStrongswan(const StrongswanConfig& config);

// ---- Libreswan (SPEC 9.2) ----
struct LibreswanConfig {
  Duration ipsec_lifetime = std::chrono::hours(8);  // max 24 h (8 h with fips)
  Duration rekeymargin = std::chrono::minutes(9);
  std::uint32_t rekeyfuzz_percent = 100;
  bool rekey = true;  // rekey=no: no soft limits at all, the SA just expires
  bool fips = false;
  // Hard count limits; Libreswan's default 2^63 is "effectively none". 0 = no limit.
  std::uint64_t ipsec_max_bytes = std::uint64_t{1} << 63U;
  std::uint64_t ipsec_max_packets = std::uint64_t{1} << 63U;
};

// ---- none: fixed fraction, no fuzz (the baseline of `ikectl simulate`) ----
struct NoneConfig {
  double soft_fraction = 0.80;  // 0 < f < 1; default equals count-based X_i
  std::uint64_t hard_packets = 0;
  std::uint64_t hard_bytes = 0;
  Duration hard_time{0};
};

// Which policy and its parameters; only the member named by `kind` is used.
struct LifetimePolicyConfig {
  LifetimePolicyKind kind = LifetimePolicyKind::kCountBased;
  NoneConfig none;
  CountBasedConfig count_based;
  StrongswanConfig strongswan;
  LibreswanConfig libreswan;
};

// What the policy needs to know about the SA being installed.
struct SaContext {
  SaDirection direction = SaDirection::kOutbound;  // strongSwan: outbound without time jitter
  ExchangeRole role = ExchangeRole::kInitiator;    // Libreswan: initiator fuzzes, responder not
  RekeyDesignation designation = RekeyDesignation::kTie;  // count-based: X_i or X_r
};

// Computes SaLifetime for new SAs. Holds references to the clock and the RNG, which must outlive
// it. Copyable; not thread-safe (the Rng is not).
class LifetimePolicy {
 public:
  // Validates `config` (errors are kInvalidArgument, one line naming the parameter, e.g.
  // "count_based.x_r: must be >= x_i + 0.05 = 0.85, got 0.84") and resolves its defaults.
  static Result<LifetimePolicy> Create(const LifetimePolicyConfig& config, const Clock& clock,
                                       Rng& rng);

  // Limits for an SA installed now (clock.Now()); draws fresh fuzz.
  SaLifetime ForNewSa(const SaContext& context);
  // Limits for an SA installed at `installed_at`.
  SaLifetime ForNewSa(const SaContext& context, TimePoint installed_at);

  LifetimePolicyKind kind() const { return config_.kind; }
  // The configuration as given to Create().
  const LifetimePolicyConfig& config() const { return config_; }
  // strongSwan parameters after defaults (meaningful for kind() == kStrongswan).
  const StrongswanResolved& strongswan() const { return strongswan_; }

 private:
  LifetimePolicy(const LifetimePolicyConfig& config, const StrongswanResolved& strongswan,
                 const Clock& clock, Rng& rng);

  SaLifetime None(TimePoint at) const;
  SaLifetime CountBased(const SaContext& context, TimePoint at);
  SaLifetime Strongswan(const SaContext& context, TimePoint at);
  SaLifetime Libreswan(const SaContext& context, TimePoint at);

  // Count-based soft points of one unit (packets, bytes, ns), fixed by the configuration:
  // floor(X * L) for X_i and X_r, and the fuzz range floor(0.05 * L).
  struct SoftPoints {
    std::array<std::uint64_t, 2> base{};  // [0] X_i, [1] X_r
    std::uint64_t fuzz = 0;
  };

  LifetimePolicyConfig config_;
  StrongswanResolved strongswan_;
  std::array<SoftPoints, 3> count_points_{};  // packets, bytes, ns
  const Clock* clock_;
  Rng* rng_;
};

}  // namespace espo::sdk
