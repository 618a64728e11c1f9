// SPDX-License-Identifier: Apache-2.0
//
// DaemonXfrmLink: see espo/ikectl/daemon_xfrm.hpp.
#include "espo/ikectl/daemon_xfrm.hpp"

#include <netinet/in.h>

#include <string>
#include <utility>

#include "espo/driver/sa_file.hpp"

namespace espo::ikectl {
namespace {

std::string Source(const XfrmSaId& id) { return "xfrm " + id.ToString(); }

// The table entry is the one this link installed for `id` (not an operator SA that took the same
// (dir, SPI) after an `sa del`).
bool Ours(const XfrmSaId& id, const SaEntry& entry) {
  return entry.origin == "xfrm" && entry.source == Source(id);
}

}  // namespace

DaemonXfrmLink::DaemonXfrmLink(ControlCore& core, KernelPort& kernel, XfrmBridgeOptions options,
                               const Logger& log)
    : core_(core), log_(log), bridge_(*this, kernel, options, [&log](std::string_view line) {
        log.Log(LogLevel::kInfo, "xfrm", line);
      }) {
  core_.SetLimitHook([this](const Key& key, const SaEntry& entry, driver::EventKind kind,
                            const sdk::SaEvent& event) { OnLimit(key, entry, kind, event); });
}

DaemonXfrmLink::~DaemonXfrmLink() { core_.SetLimitHook({}); }

Status DaemonXfrmLink::InstallSa(const XfrmSaId& id, const driver::SaConfig& sa) {
  const Tunnel tunnel{sa.dir, sa.src.ToString(), sa.dst.ToString()};
  auto key = core_.AddSa(sa.Clone(), "xfrm", Source(id));
  if (!key) return tl::unexpected(ToError(key.error()));
  keys_[id] = *key;
  if (auto r = rekeying_.find(tunnel); r != rekeying_.end() && r->second != sa.spi) {
    core_.PublishEvent({{"type", "rekey-finished"},
                        {"old_spi", FormatSpi(r->second)},
                        {"new_spi", FormatSpi(sa.spi)},
                        {"dir", driver::ToString(sa.dir)},
                        {"src", std::get<1>(tunnel)},
                        {"dst", std::get<2>(tunnel)}});
    rekeying_.erase(r);
  }
  return Ok();
}

Status DaemonXfrmLink::UpdateSa(const XfrmSaId& id, const driver::SaConfig& sa) {
  auto it = keys_.find(id);
  if (it == keys_.end()) return InstallSa(id, sa);
  const auto& table = core_.table();
  auto entry = table.find(it->second);
  if (entry == table.end() || !Ours(id, entry->second)) {
    // Removed by the operator (`sa del`) since; the kernel still holds the state.
    keys_.erase(it);
    return InstallSa(id, sa);
  }
  driver::SaConfig a = entry->second.config.Clone();
  driver::SaConfig b = sa.Clone();
  a.limits = b.limits = {};
  a.oseq = b.oseq = 0;
  a.replay_seq = b.replay_seq = 0;
  if (driver::SaConfigEqual(a, b)) {  // only the limits (or sequence state) changed: in place
    auto st = core_.UpdateSaLimits(it->second.first, it->second.second, sa.limits);
    if (!st) return tl::unexpected(ToError(st.error()));
    return Ok();
  }
  if (auto st = RemoveSa(id); !st) return st;
  return InstallSa(id, sa);
}

Status DaemonXfrmLink::RemoveSa(const XfrmSaId& id) {
  auto it = keys_.find(id);
  if (it == keys_.end()) return MakeError(Errc::kNotFound, id.ToString() + ": not mirrored");
  const Key key = it->second;
  keys_.erase(it);
  reported_.erase(id);
  for (auto r = rekeying_.begin(); r != rekeying_.end();) {
    r = std::get<0>(r->first) == key.first && r->second == key.second ? rekeying_.erase(r)
                                                                      : std::next(r);
  }
  const auto& table = core_.table();
  if (auto e = table.find(key); e == table.end() || !Ours(id, e->second)) {
    return Ok();  // already removed by the operator (`sa del`): nothing left to do
  }
  auto st = core_.RemoveSa(key.first, key.second);
  if (!st) return tl::unexpected(ToError(st.error()));
  return Ok();
}

void DaemonXfrmLink::OnPolicy(bool added, const XfrmPolicyMessage& policy) {
  core_.PublishEvent({{"type", "xfrm-policy"},
                      {"action", added ? "added" : "removed"},
                      {"index", policy.info.index},
                      {"dir", policy.info.dir == XFRM_POLICY_IN    ? "in"
                              : policy.info.dir == XFRM_POLICY_OUT ? "out"
                                                                   : "fwd"},
                      {"templates", policy.templates.size()}});
}

void DaemonXfrmLink::OnAcquire(const XfrmAcquireMessage& acquire) {
  core_.PublishEvent({{"type", "xfrm-acquire"},
                      {"src", acquire.saddr.ToString()},
                      {"dst", acquire.id.daddr.ToString()},
                      {"seq", acquire.seq}});
}

void DaemonXfrmLink::OnLimit(const Key& key, const SaEntry& entry, driver::EventKind kind,
                             const sdk::SaEvent& event) {
  if (entry.origin != "xfrm") return;
  const XfrmSaId id{entry.config.dst, key.second, IPPROTO_ESP};
  auto st = bridge_.OnEngineEvent(id, kind, event.packets, event.bytes);
  if (!st) {
    log_.Log(LogLevel::kError, "xfrm", "expire not sent",
             {{"spi", FormatSpi(key.second)}, {"error", st.error().message}});
    return;
  }
  if (kind == driver::EventKind::kSoft) {
    const Tunnel tunnel{key.first, entry.config.src.ToString(), entry.config.dst.ToString()};
    if (rekeying_.emplace(tunnel, key.second).second) {
      core_.PublishEvent({{"type", "rekey-started"},
                          {"spi", FormatSpi(key.second)},
                          {"dir", driver::ToString(key.first)},
                          {"src", std::get<1>(tunnel)},
                          {"dst", std::get<2>(tunnel)},
                          {"by", "soft expire sent to the kernel (the IKE daemon rekeys)"}});
    }
  }
}

std::size_t DaemonXfrmLink::PushCounters() {
  std::size_t reported = 0;
  const auto& table = core_.table();
  for (const auto& [xid, key] : keys_) {
    auto entry = table.find(key);
    if (entry == table.end() || entry->second.origin != "xfrm") continue;
    auto c = core_.sdk().Counters(entry->second.id);
    if (!c) {
      log_.Log(LogLevel::kWarn, "xfrm", "counters not read",
               {{"spi", FormatSpi(key.second)}, {"error", c.error().message}});
      continue;
    }
    const sdk::DirectionCounters& d =
        key.first == driver::Direction::kOut ? c->outbound : c->inbound;
    const std::pair<std::uint64_t, std::uint64_t> now{d.packets, d.bytes};
    auto last = reported_.find(xid);
    if (last != reported_.end() && last->second == now) continue;
    if (auto st = bridge_.ReportCounters(xid, d.packets, d.bytes); !st) {
      log_.Log(LogLevel::kWarn, "xfrm", "counters not sent to the kernel",
               {{"spi", FormatSpi(key.second)}, {"error", st.error().message}});
      continue;
    }
    reported_[xid] = now;
    ++reported;
  }
  return reported;
}

}  // namespace espo::ikectl
