// SPDX-License-Identifier: Apache-2.0
#include "espo/sdk/lifetime_policy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

namespace espo::sdk {
namespace {

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
// Accepts X_i + 0.05 == X_r despite binary rounding (0.80 + 0.05 != 0.85 in double).
constexpr double kEpsilon = 1e-9;

__extension__ using Uint128 = unsigned __int128;

// floor(v * num / den), saturating at 2^64 - 1.
std::uint64_t MulDiv(std::uint64_t v, std::uint64_t num, std::uint64_t den) {
  const Uint128 r = static_cast<Uint128>(v) * num / den;
  return r > kU64Max ? kU64Max : static_cast<std::uint64_t>(r);
}

// floor(x * limit) for 0 <= x, clamped to [0, limit]; long double keeps 64 bits of mantissa.
std::uint64_t Fraction(double x, std::uint64_t limit) {
  const long double r = std::floor(static_cast<long double>(x) * static_cast<long double>(limit));
  if (r <= 0) return 0;
  if (r >= static_cast<long double>(limit)) return limit;
  return static_cast<std::uint64_t>(r);
}

std::uint64_t Ns(Duration d) { return d.count() <= 0 ? 0 : static_cast<std::uint64_t>(d.count()); }
Duration FromNs(std::uint64_t ns) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return Duration(static_cast<std::int64_t>(std::min(ns, kMax)));
}

TimePoint Deadline(TimePoint at, std::uint64_t ns) {
  const std::int64_t base = at.time_since_epoch().count();
  const std::int64_t room = std::numeric_limits<std::int64_t>::max() - base;
  const std::int64_t add = FromNs(ns).count();
  return TimePoint(Duration(add > room ? std::numeric_limits<std::int64_t>::max() : base + add));
}

std::string Num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string Dur(Duration d) {
  if (d.count() % 1'000'000'000 == 0) return std::to_string(d.count() / 1'000'000'000) + "s";
  return std::to_string(d.count()) + "ns";
}

tl::unexpected<Error> Invalid(const std::string& message) {
  return MakeError(Errc::kInvalidArgument, message);
}

// Soft point inside (0, limit): clamps `soft` to [1, limit - 1]; 0 when the unit is off.
std::uint64_t ClampSoft(std::uint64_t soft, std::uint64_t limit) {
  if (limit < 2) return 0;
  return std::clamp<std::uint64_t>(soft, 1, limit - 1);
}

Status CheckCountLimit(std::uint64_t limit, const std::string& name) {
  if (limit == 1) return Invalid(name + ": must be 0 (no limit) or >= 2, got 1");
  return Ok();
}

Status CheckDuration(Duration d, const std::string& name) {
  if (d.count() < 0) return Invalid(name + ": must not be negative, got " + Dur(d));
  return Ok();
}

Status ValidateNone(const NoneConfig& c) {
  if (!(c.soft_fraction > 0.0 && c.soft_fraction < 1.0)) {
    return Invalid("none.soft_fraction: must be in (0, 1), got " + Num(c.soft_fraction));
  }
  ESPO_RETURN_IF_ERROR(CheckCountLimit(c.hard_packets, "none.hard_packets"));
  ESPO_RETURN_IF_ERROR(CheckCountLimit(c.hard_bytes, "none.hard_bytes"));
  ESPO_RETURN_IF_ERROR(CheckDuration(c.hard_time, "none.hard_time"));
  if (c.hard_packets == 0 && c.hard_bytes == 0 && c.hard_time.count() == 0) {
    return Invalid("none: no hard limit (hard_packets, hard_bytes and hard_time are all 0)");
  }
  return Ok();
}

Status ValidateCountBased(const CountBasedConfig& c) {
  if (!(c.x_i > 0.0)) return Invalid("count_based.x_i: must be > 0, got " + Num(c.x_i));
  if (!(c.x_r + kEpsilon >= c.x_i + kCountBasedFuzz)) {
    return Invalid("count_based.x_r: must be >= x_i + 0.05 = " + Num(c.x_i + kCountBasedFuzz) +
                   ", got " + Num(c.x_r));
  }
  if (!(c.x_r + kCountBasedFuzz < 1.0 - kEpsilon)) {
    return Invalid("count_based.x_r: must be < 0.95 (x_r + 0.05 < 1), got " + Num(c.x_r));
  }
  ESPO_RETURN_IF_ERROR(CheckCountLimit(c.hard_packets, "count_based.hard_packets"));
  ESPO_RETURN_IF_ERROR(CheckCountLimit(c.hard_bytes, "count_based.hard_bytes"));
  ESPO_RETURN_IF_ERROR(CheckDuration(c.hard_time, "count_based.hard_time"));
  if (c.hard_packets == 0 && c.hard_bytes == 0 && c.hard_time.count() == 0) {
    return Invalid(
        "count_based: no hard limit L (hard_packets, hard_bytes and hard_time are all 0)");
  }
  return Ok();
}

Status ValidateLibreswan(const LibreswanConfig& c) {
  const Duration max = c.fips ? std::chrono::hours(8) : std::chrono::hours(24);
  if (c.ipsec_lifetime.count() <= 0 || c.ipsec_lifetime > max) {
    return Invalid("libreswan.ipsec_lifetime: must be in (0, " + Dur(max) + "]" +
                   (c.fips ? " in FIPS mode" : "") + ", got " + Dur(c.ipsec_lifetime));
  }
  ESPO_RETURN_IF_ERROR(CheckDuration(c.rekeymargin, "libreswan.rekeymargin"));
  if (c.rekey) {
    const std::uint64_t worst =
        MulDiv(Ns(c.rekeymargin), 100 + std::uint64_t{c.rekeyfuzz_percent}, 100);
    if (Ns(c.ipsec_lifetime) <= worst) {
      return Invalid("libreswan.rekeymargin: ipsec_lifetime " + Dur(c.ipsec_lifetime) +
                     " must exceed rekeymargin * (100 + rekeyfuzz) / 100 = " + Dur(FromNs(worst)));
    }
  }
  return Ok();
}

// strongSwan's soft point: rekey - floor(min(jitter + 1, rekey) * random()), i.e.
// rekey - U{0 .. min(jitter, rekey - 1)}; 0 when rekeying is off.
std::uint64_t StrongswanSoft(std::uint64_t rekey, std::uint64_t jitter, Rng& rng) {
  if (rekey == 0) return 0;
  const std::uint64_t max_draw = std::min(jitter, rekey - 1);
  return rekey - rng.Uniform(0, max_draw);
}

}  // namespace

std::string_view ToString(LifetimePolicyKind kind) {
  switch (kind) {
    case LifetimePolicyKind::kNone:
      return "none";
    case LifetimePolicyKind::kCountBased:
      return "count-based";
    case LifetimePolicyKind::kStrongswan:
      return "strongswan";
    case LifetimePolicyKind::kLibreswan:
      return "libreswan";
  }
  return "unknown";
}

Result<LifetimePolicyKind> ParseLifetimePolicyKind(std::string_view name) {
  for (const LifetimePolicyKind kind :
       {LifetimePolicyKind::kNone, LifetimePolicyKind::kCountBased, LifetimePolicyKind::kStrongswan,
        LifetimePolicyKind::kLibreswan}) {
    if (name == ToString(kind)) return kind;
  }
  if (name == "count") return LifetimePolicyKind::kCountBased;
  return MakeError(Errc::kInvalidArgument,
                   "lifetime policy: unknown name '" + std::string(name) +
                       "' (expected none, count-based, strongswan or libreswan)");
}

std::string_view ToString(RekeyDesignation designation) {
  switch (designation) {
    case RekeyDesignation::kRekeyer:
      return "rekeyer";
    case RekeyDesignation::kOther:
      return "other";
    case RekeyDesignation::kTie:
      return "tie";
  }
  return "unknown";
}

RekeyDesignation ChooseRekeyer(RekeyValue local, RekeyValue peer) {
  if (local > peer) return RekeyDesignation::kRekeyer;
  if (local < peer) return RekeyDesignation::kOther;
  return RekeyDesignation::kTie;
}

RekeyValue DrawRekeyValue(Rng& rng) {
  return static_cast<RekeyValue>(rng.Uniform(1, std::numeric_limits<RekeyValue>::max()));
}

Result<StrongswanResolved> ResolveStrongswan(const StrongswanConfig& config) {
  for (const auto& [value, name] : {std::pair{config.rekey_time, "strongswan.rekey_time"},
                                    std::pair{config.life_time, "strongswan.life_time"},
                                    std::pair{config.rand_time, "strongswan.rand_time"}}) {
    if (value) ESPO_RETURN_IF_ERROR(CheckDuration(*value, name));
  }
  StrongswanResolved r;
  // Time: rekey_time defaults to 1 h unless only life_time is given.
  std::uint64_t rekey = 0;
  if (config.rekey_time) {
    rekey = Ns(*config.rekey_time);
  } else if (config.life_time) {
    rekey = MulDiv(Ns(*config.life_time), 100, 110);
  } else {
    rekey = Ns(std::chrono::hours(1));
  }
  const std::uint64_t life = config.life_time ? Ns(*config.life_time) : MulDiv(rekey, 110, 100);
  const std::uint64_t rand =
      config.rand_time ? Ns(*config.rand_time) : life - std::min(life, rekey);
  r.time = {FromNs(rekey), FromNs(life), FromNs(rand)};
  if (rekey != 0 && life != 0 && life <= rekey) {
    return Invalid("strongswan.life_time: must be greater than rekey_time " + Dur(r.time.rekey) +
                   ", got " + Dur(r.time.life));
  }
  auto volume = [](std::optional<std::uint64_t> rekey_v, std::optional<std::uint64_t> life_v,
                   std::optional<std::uint64_t> rand_v,
                   const std::string& unit) -> Result<StrongswanResolved::Volume> {
    StrongswanResolved::Volume v;
    v.rekey = rekey_v ? *rekey_v : (life_v ? MulDiv(*life_v, 100, 110) : 0);
    v.life = life_v ? *life_v : MulDiv(v.rekey, 110, 100);
    v.rand = rand_v ? *rand_v : v.life - std::min(v.life, v.rekey);
    if (v.rekey != 0 && v.life != 0 && v.life <= v.rekey) {
      return Invalid("strongswan.life_" + unit + ": must be greater than rekey_" + unit + " " +
                     std::to_string(v.rekey) + ", got " + std::to_string(v.life));
    }
    return v;
  };
  ESPO_ASSIGN_OR_RETURN(r.bytes,
                        volume(config.rekey_bytes, config.life_bytes, config.rand_bytes, "bytes"));
  ESPO_ASSIGN_OR_RETURN(
      r.packets, volume(config.rekey_packets, config.life_packets, config.rand_packets, "packets"));
  return r;
}

Result<LifetimePolicy> LifetimePolicy::Create(const LifetimePolicyConfig& config,
                                              const Clock& clock, Rng& rng) {
  StrongswanResolved strongswan;
  switch (config.kind) {
    case LifetimePolicyKind::kNone:
      ESPO_RETURN_IF_ERROR(ValidateNone(config.none));
      break;
    case LifetimePolicyKind::kCountBased:
      ESPO_RETURN_IF_ERROR(ValidateCountBased(config.count_based));
      break;
    case LifetimePolicyKind::kStrongswan: {
      ESPO_ASSIGN_OR_RETURN(strongswan, ResolveStrongswan(config.strongswan));
      break;
    }
    case LifetimePolicyKind::kLibreswan:
      ESPO_RETURN_IF_ERROR(ValidateLibreswan(config.libreswan));
      break;
    default:
      return Invalid("lifetime policy: unknown kind " +
                     std::to_string(static_cast<int>(config.kind)));
  }
  return LifetimePolicy(config, strongswan, clock, rng);
}

LifetimePolicy::LifetimePolicy(const LifetimePolicyConfig& config,
                               const StrongswanResolved& strongswan, const Clock& clock, Rng& rng)
    : config_(config), strongswan_(strongswan), clock_(&clock), rng_(&rng) {
  const CountBasedConfig& c = config_.count_based;
  const std::array<std::uint64_t, 3> limits = {c.hard_packets, c.hard_bytes, Ns(c.hard_time)};
  for (std::size_t u = 0; u < limits.size(); ++u) {
    count_points_[u].base = {Fraction(c.x_i, limits[u]), Fraction(c.x_r, limits[u])};
    count_points_[u].fuzz = Fraction(kCountBasedFuzz, limits[u]);
  }
}

SaLifetime LifetimePolicy::ForNewSa(const SaContext& context) {
  return ForNewSa(context, clock_->Now());
}

SaLifetime LifetimePolicy::ForNewSa(const SaContext& context, TimePoint installed_at) {
  switch (config_.kind) {
    case LifetimePolicyKind::kNone:
      return None(installed_at);
    case LifetimePolicyKind::kCountBased:
      return CountBased(context, installed_at);
    case LifetimePolicyKind::kStrongswan:
      return Strongswan(context, installed_at);
    case LifetimePolicyKind::kLibreswan:
      return Libreswan(context, installed_at);
  }
  return {};
}

SaLifetime LifetimePolicy::None(TimePoint at) const {
  const NoneConfig& c = config_.none;
  SaLifetime out;
  out.counts.hard_packets = c.hard_packets;
  out.counts.soft_packets = ClampSoft(Fraction(c.soft_fraction, c.hard_packets), c.hard_packets);
  out.counts.hard_bytes = c.hard_bytes;
  out.counts.soft_bytes = ClampSoft(Fraction(c.soft_fraction, c.hard_bytes), c.hard_bytes);
  const std::uint64_t hard_ns = Ns(c.hard_time);
  if (hard_ns != 0) {
    out.hard_deadline = Deadline(at, hard_ns);
    const std::uint64_t soft_ns = ClampSoft(Fraction(c.soft_fraction, hard_ns), hard_ns);
    if (soft_ns != 0) out.soft_deadline = Deadline(at, soft_ns);
  }
  return out;
}

SaLifetime LifetimePolicy::CountBased(const SaContext& context, TimePoint at) {
  const CountBasedConfig& c = config_.count_based;
  const std::size_t x = context.designation == RekeyDesignation::kOther ? 1 : 0;  // X_r : X_i
  // soft = X * L + U(0, 0.05 * L), kept inside [1, L - 1]; a fresh draw per unit.
  auto soft = [&](std::uint64_t limit, std::size_t unit) -> std::uint64_t {
    if (limit < 2) return 0;
    const std::uint64_t base = count_points_[unit].base[x];
    const std::uint64_t fuzz = rng_->Uniform(0, count_points_[unit].fuzz);
    const std::uint64_t sum = base > kU64Max - fuzz ? kU64Max : base + fuzz;
    return ClampSoft(sum, limit);
  };
  SaLifetime out;
  out.counts.hard_packets = c.hard_packets;
  out.counts.soft_packets = soft(c.hard_packets, 0);
  out.counts.hard_bytes = c.hard_bytes;
  out.counts.soft_bytes = soft(c.hard_bytes, 1);
  const std::uint64_t hard_ns = Ns(c.hard_time);
  if (hard_ns != 0) {
    out.hard_deadline = Deadline(at, hard_ns);
    const std::uint64_t soft_ns = soft(hard_ns, 2);
    if (soft_ns != 0) out.soft_deadline = Deadline(at, soft_ns);
  }
  return out;
}

SaLifetime LifetimePolicy::Strongswan(const SaContext& context, TimePoint at) {
  const StrongswanResolved& r = strongswan_;
  SaLifetime out;
  // Jitter is drawn separately for time, bytes and packets, and afresh for every SA (SPEC 9.1).
  const std::uint64_t rekey_ns = Ns(r.time.rekey);
  const std::uint64_t soft_ns = StrongswanSoft(rekey_ns, Ns(r.time.rand), *rng_);
  // Without time jitter the outbound SA gets no soft time limit, so only one rekey fires.
  const bool skip_soft_time =
      context.direction == SaDirection::kOutbound && r.time.rand.count() == 0;
  if (soft_ns != 0 && !skip_soft_time) out.soft_deadline = Deadline(at, soft_ns);
  if (r.time.life.count() != 0) out.hard_deadline = Deadline(at, Ns(r.time.life));
  out.counts.soft_bytes = StrongswanSoft(r.bytes.rekey, r.bytes.rand, *rng_);
  out.counts.hard_bytes = r.bytes.life;
  out.counts.soft_packets = StrongswanSoft(r.packets.rekey, r.packets.rand, *rng_);
  out.counts.hard_packets = r.packets.life;
  return out;
}

SaLifetime LifetimePolicy::Libreswan(const SaContext& context, TimePoint at) {
  const LibreswanConfig& c = config_.libreswan;
  const bool initiator = context.role == ExchangeRole::kInitiator;
  SaLifetime out;
  const std::uint64_t life_ns = Ns(c.ipsec_lifetime);
  out.hard_deadline = Deadline(at, life_ns);
  if (c.rekey) {
    // Initiator: margin = rekeymargin * (100 + U{0..rekeyfuzz}) / 100; responder: rekeymargin / 2.
    const std::uint64_t margin_ns =
        initiator ? MulDiv(Ns(c.rekeymargin), 100 + rng_->Uniform(0, c.rekeyfuzz_percent), 100)
                  : Ns(c.rekeymargin) / 2;
    // Create() guarantees lifetime > the largest initiator margin.
    out.soft_deadline = Deadline(at, life_ns - std::min(life_ns - 1, margin_ns));
  }
  // Counts: soft = 50 % of hard; f = U{0..soft/8} when hard >= 16384, else 0;
  // initiator soft/2 + f (25..31.25 %), responder soft - f (43.75..50 %).
  auto soft = [&](std::uint64_t hard) -> std::uint64_t {
    if (!c.rekey || hard < 2) return 0;
    const std::uint64_t half = hard / 2;
    const std::uint64_t fuzz = hard >= 16384 ? rng_->Uniform(0, half / 8) : 0;
    return ClampSoft(initiator ? half / 2 + fuzz : half - fuzz, hard);
  };
  out.counts.hard_bytes = c.ipsec_max_bytes;
  out.counts.soft_bytes = soft(c.ipsec_max_bytes);
  out.counts.hard_packets = c.ipsec_max_packets;
  out.counts.soft_packets = soft(c.ipsec_max_packets);
  return out;
}

}  // namespace espo::sdk
