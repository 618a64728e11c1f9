// SPDX-License-Identifier: Apache-2.0
//
// `ikectl daemon --xfrm` (docs/XFRM_BRIDGE.md "In the daemon"): an XfrmBridge whose SaSink is
// the daemon's ControlCore. Kernel SAs with packet offload on espo's device become table
// entries of origin "xfrm" (same checks, software fallback, checkpoint and monitor events as
// `sa add`); their soft / hard / seq-overflow events go back to the kernel as XFRM_MSG_EXPIRE,
// which makes the IKE daemon rekey or delete, and the monitor sees the rekey as
//   {"type":"rekey-started", "spi", "dir", "src", "dst"}      soft expire sent to the kernel
//   {"type":"rekey-finished", "old_spi", "new_spi", "dir"}    the successor SA arrived
// (a successor is the next SA for the same direction, source and destination). Policies and
// ACQUIREs are published as "xfrm-policy" / "xfrm-acquire" events. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "espo/ikectl/daemon.hpp"
#include "espo/ikectl/xfrm_bridge.hpp"

namespace espo::ikectl {

class DaemonXfrmLink final : public SaSink {
 public:
  // Installs itself as `core`'s limit hook; `core` and `kernel` must outlive the link.
  DaemonXfrmLink(ControlCore& core, KernelPort& kernel, XfrmBridgeOptions options,
                 const Logger& log);
  ~DaemonXfrmLink() override;
  DaemonXfrmLink(const DaemonXfrmLink&) = delete;
  DaemonXfrmLink& operator=(const DaemonXfrmLink&) = delete;
  DaemonXfrmLink(DaemonXfrmLink&&) = delete;
  DaemonXfrmLink& operator=(DaemonXfrmLink&&) = delete;

  XfrmBridge& bridge() { return bridge_; }
  // Reports every mirrored SA's packet and byte counters to the kernel (XFRM_MSG_NEWAE), when
  // they changed since the last report. The daemon calls it every checkpoint interval.
  // Returns the number of SAs reported; failures are logged.
  std::size_t PushCounters();

  Status InstallSa(const XfrmSaId& id, const driver::SaConfig& sa) override;
  Status UpdateSa(const XfrmSaId& id, const driver::SaConfig& sa) override;
  Status RemoveSa(const XfrmSaId& id) override;
  void OnPolicy(bool added, const XfrmPolicyMessage& policy) override;
  void OnAcquire(const XfrmAcquireMessage& acquire) override;

 private:
  using Key = std::pair<driver::Direction, std::uint32_t>;
  using Tunnel = std::tuple<driver::Direction, std::string, std::string>;  // dir, src, dst
  void OnLimit(const Key& key, const SaEntry& entry, driver::EventKind kind,
               const sdk::SaEvent& event);

  ControlCore& core_;
  const Logger& log_;
  XfrmBridge bridge_;
  std::map<XfrmSaId, Key> keys_;
  std::map<Tunnel, std::uint32_t> rekeying_;
  std::map<XfrmSaId, std::pair<std::uint64_t, std::uint64_t>>
      reported_;  // packets, bytes  // tunnel -> SPI whose soft expire was sent
};

}  // namespace espo::ikectl
