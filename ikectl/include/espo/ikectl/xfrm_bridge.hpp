// SPDX-License-Identifier: Apache-2.0
//
// XFRM bridge (docs/XFRM_BRIDGE.md, SPEC 10): mirrors Linux XFRM SAs and policies that request
// packet offload (`offload packet dev <if>`) onto espo, the way an offload driver's
// xdo_dev_state_add / xdo_dev_policy_add would, and reports espo's soft/hard limit crossings back
// as XFRM_MSG_EXPIRE, once each (SPEC 10.3).
//
//   kernel --NETLINK_XFRM (groups SA, POLICY, EXPIRE, ACQUIRE)--> XfrmNetlinkSocket
//        --datagram--> XfrmBridge::HandleDatagram --ParseXfrmMessage--> SaSink (EngineSaSink)
//   Engine events --> XfrmBridge::OnEngineEvent --BuildExpireMessage--> KernelPort::Send
//
// Nothing here throws; keys stay in KeyMaterial and are never logged. Not thread-safe: one owner.
#pragma once

#include <linux/xfrm.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "espo/driver/engine.hpp"
#include "espo/driver/result.hpp"
#include "espo/driver/sa_config.hpp"

namespace espo::ikectl {

// Attribute numbers newer than Debian 12's <linux/xfrm.h> (Linux 6.1).
inline constexpr std::uint16_t kXfrmaSaDir = 33;   // u8: 1 in, 2 out (Linux 6.10)
inline constexpr std::uint16_t kXfrmaSaPcpu = 35;  // u32 (Linux 6.13)
inline constexpr std::uint8_t kXfrmSaDirIn = 1;
inline constexpr std::uint8_t kXfrmSaDirOut = 2;

// The kernel's key of a state: (daddr, spi, proto). spi in host order.
struct XfrmSaId {
  driver::IpAddress daddr;
  std::uint32_t spi = 0;
  std::uint8_t proto = 0;
  friend bool operator==(const XfrmSaId&, const XfrmSaId&) = default;
  friend auto operator<=>(const XfrmSaId& a, const XfrmSaId& b) {
    if (auto c = a.spi <=> b.spi; c != 0) return c;
    if (auto c = a.proto <=> b.proto; c != 0) return c;
    if (auto c = a.daddr.v6 <=> b.daddr.v6; c != 0) return c;
    return a.daddr.bytes <=> b.daddr.bytes;
  }
  std::string ToString() const;  // "spi 0x00001000 dst 198.51.100.7 proto esp"
};

struct XfrmOffload {
  int ifindex = 0;
  std::uint8_t flags = 0;  // XFRM_OFFLOAD_INBOUND 2, XFRM_OFFLOAD_PACKET 4
  bool packet() const { return (flags & XFRM_OFFLOAD_PACKET) != 0; }
  bool inbound() const { return (flags & XFRM_OFFLOAD_INBOUND) != 0; }
};

struct XfrmAead {
  std::string name;
  std::uint32_t key_bits = 0;  // including the 32-bit salt
  std::uint32_t icv_bits = 0;
  std::optional<driver::KeyMaterial> key;  // set when the key is 20 or 36 bytes
};

// struct xfrm_replay_state_esn without its flexible bitmap (which std::optional cannot hold).
struct XfrmReplayEsn {
  std::uint32_t bmp_len = 0, oseq = 0, seq = 0, oseq_hi = 0, seq_hi = 0, replay_window = 0;
};

// NEWSA / UPDSA / DELSA (notification) / EXPIRE / the ALLOCSPI reply.
struct XfrmSaMessage {
  xfrm_usersa_info info{};  // as received (DELSA by id only: id, family and daddr filled)
  bool has_info = false;    // false for a DELSA that carried only xfrm_usersa_id
  XfrmSaId id;
  driver::IpAddress saddr;
  std::optional<XfrmAead> aead;
  std::optional<XfrmOffload> offload;
  std::optional<std::uint8_t> sa_dir;  // XFRMA_SA_DIR
  std::optional<xfrm_encap_tmpl> encap;
  std::optional<XfrmReplayEsn> replay_esn;  // XFRMA_REPLAY_ESN_VAL without the bitmap
  std::optional<xfrm_replay_state> replay;
  std::uint32_t extra_flags = 0;
  std::vector<std::uint16_t> attrs;                // every attribute type seen, in order
  std::map<std::uint16_t, std::string> alg_names;  // XFRMA_ALG_AUTH/CRYPT/COMP/AUTH_TRUNC names
  bool hard = false;                               // EXPIRE only
};

struct XfrmTemplate {
  XfrmSaId id;  // spi 0 = any
  driver::IpAddress saddr;
  std::uint8_t mode = 0;
  std::uint32_t reqid = 0;
};

struct XfrmPolicyMessage {
  xfrm_userpolicy_info info{};  // for DELPOLICY by id: selector, index and dir only
  std::vector<XfrmTemplate> templates;
  std::optional<XfrmOffload> offload;
};

struct XfrmAcquireMessage {
  XfrmSaId id;
  driver::IpAddress saddr;
  xfrm_selector sel{};
  xfrm_userpolicy_info policy{};
  std::uint32_t seq = 0;
  std::vector<XfrmTemplate> templates;
};

enum class XfrmMsgKind : std::uint8_t {
  kNewSa,
  kUpdSa,
  kDelSa,
  kExpire,
  kNewPolicy,
  kUpdPolicy,
  kDelPolicy,
  kAcquire,
  kFlushSa,
  kFlushPolicy,
  kError,
  kOther
};
std::string_view ToString(XfrmMsgKind kind);

struct XfrmMessage {
  XfrmMsgKind kind = XfrmMsgKind::kOther;
  std::uint16_t type = 0;
  std::optional<XfrmSaMessage> sa;
  std::optional<XfrmPolicyMessage> policy;
  std::optional<XfrmAcquireMessage> acquire;
  int error = 0;  // NLMSG_ERROR: the (negative) errno
};

// Splits one datagram into netlink messages (nlmsghdr-checked). Thread-safe.
Result<std::vector<std::span<const std::uint8_t>>> SplitNetlinkMessages(
    std::span<const std::uint8_t> datagram);

// Parses one netlink message of NETLINK_XFRM. Errors (kParse) name the message type and the
// field: "XFRM_MSG_NEWSA: attribute 18 (ALG_AEAD): 60 bytes, need 72". Unknown message types
// give kind kOther; unknown attribute types are listed in `attrs` and otherwise skipped.
Result<XfrmMessage> ParseXfrmMessage(std::span<const std::uint8_t> message);

// Decides whether espo can take the SA: an empty list means yes. Each unsupported attribute or
// value gets its own one-line reason (mlx5e_xfrm_validate_state style), e.g.
// "auth: separate integrity algorithm 'hmac(sha256)' not supported (AEAD only)".
std::vector<std::string> ValidateForEspo(const XfrmSaMessage& sa);

// The SaConfig for an SA that ValidateForEspo accepted (direction from XFRMA_SA_DIR or the
// offload flags, sequence state from the replay attributes, XFRM_INF limits as 0).
Result<driver::SaConfig> ToSaConfig(const XfrmSaMessage& sa);

// XFRM_MSG_EXPIRE (struct xfrm_user_expire) for the state `info` with the current counters,
// built with libnl, NLM_F_REQUEST set so the kernel's xfrm_add_sa_expire takes it from user space.
Result<std::vector<std::uint8_t>> BuildExpireMessage(const xfrm_usersa_info& info, bool hard,
                                                     std::uint64_t packets, std::uint64_t bytes);

// XFRM_MSG_NEWAE (NLM_F_REPLACE) with XFRMA_LTIME_VAL: the state's current packet and byte
// counters as espo counted them — the user-space counterpart of an offload driver's
// xdo_dev_state_update_stats, so `ip -s xfrm state` and the kernel's own lifetime checks see
// the offloaded traffic.
Result<std::vector<std::uint8_t>> BuildNewAeMessage(const xfrm_usersa_info& info,
                                                    std::uint64_t packets, std::uint64_t bytes);

// Where installs and removals go. Tests capture the calls; EngineSaSink drives an Engine.
class SaSink {
 public:
  virtual ~SaSink() = default;
  virtual Status InstallSa(const XfrmSaId& id, const driver::SaConfig& sa) = 0;
  virtual Status UpdateSa(const XfrmSaId& id, const driver::SaConfig& sa) = 0;
  virtual Status RemoveSa(const XfrmSaId& id) = 0;
  virtual void OnPolicy(bool /*added*/, const XfrmPolicyMessage& /*policy*/) {}
  virtual void OnAcquire(const XfrmAcquireMessage& /*acquire*/) {}
};

// Where XFRM_MSG_EXPIRE goes: the kernel (XfrmNetlinkSocket) or a fake in tests.
class KernelPort {
 public:
  virtual ~KernelPort() = default;
  virtual Status Send(std::span<const std::uint8_t> message) = 0;
};

// SaSink on an Engine: outbound SAs take the lowest free slot, inbound SAs slot spi mod
// in_slots. UpdateSa changes limits in place when only they differ, else reinstalls.
// Not thread-safe.
class EngineSaSink : public SaSink {
 public:
  explicit EngineSaSink(driver::Engine& engine) : engine_(engine) {}
  Status InstallSa(const XfrmSaId& id, const driver::SaConfig& sa) override;
  Status UpdateSa(const XfrmSaId& id, const driver::SaConfig& sa) override;
  Status RemoveSa(const XfrmSaId& id) override;
  // Drains the engine's events and names the SA of each.
  Result<std::vector<std::pair<XfrmSaId, driver::Event>>> PollEvents();
  std::optional<std::uint32_t> SlotOf(const XfrmSaId& id) const;

 private:
  struct Entry {
    driver::Direction dir = driver::Direction::kOut;
    std::uint32_t slot = 0;
    driver::SaConfig sa;
  };
  driver::Engine& engine_;
  std::map<XfrmSaId, Entry> sas_;
};

struct XfrmBridgeOptions {
  int offload_ifindex = 0;           // espo's netdev; 0 = any device
  bool mirror_all_policies = false;  // also policies without packet offload (tests, monitoring)
};

struct XfrmBridgeStats {
  std::uint64_t installed = 0, updated = 0, removed = 0, refused = 0, ignored = 0;
  std::uint64_t policies = 0, acquires = 0, expires_sent = 0, parse_errors = 0;
  std::uint64_t counters_sent = 0;
};

class XfrmBridge {
 public:
  using Logger = std::function<void(std::string_view line)>;
  XfrmBridge(SaSink& sink, KernelPort& kernel, XfrmBridgeOptions options, Logger log);

  // One datagram from the XFRM socket. A malformed message is logged and skipped; the
  // returned error is the first one met (the others are still handled).
  Status HandleDatagram(std::span<const std::uint8_t> datagram);
  Status HandleMessage(const XfrmMessage& message);

  // espo crossed a limit of SA `id`: kSoft sends one soft expire, kHard / kSeqOverflow one hard
  // expire, each at most once per SA (SPEC 10.3, 12.2 #5). Unknown SAs: kNotFound.
  Status OnEngineEvent(const XfrmSaId& id, driver::EventKind kind, std::uint64_t packets,
                       std::uint64_t bytes);

  // Sends the SA's counters to the kernel (BuildNewAeMessage). Unknown SAs: kNotFound.
  Status ReportCounters(const XfrmSaId& id, std::uint64_t packets, std::uint64_t bytes);

  const XfrmBridgeStats& stats() const { return stats_; }
  bool Mirrors(const XfrmSaId& id) const { return sas_.contains(id); }
  std::size_t policy_count() const { return policies_.size(); }

 private:
  struct Mirrored {
    xfrm_usersa_info info{};
    bool soft_sent = false;
    bool hard_sent = false;
  };
  bool ForUs(const std::optional<XfrmOffload>& offload) const;
  Status OnSa(const XfrmMessage& m);
  Status OnDelSa(const XfrmSaMessage& sa);
  void OnPolicy(const XfrmMessage& m);

  SaSink& sink_;
  KernelPort& kernel_;
  XfrmBridgeOptions options_;
  Logger log_;
  std::map<XfrmSaId, Mirrored> sas_;
  std::map<std::pair<std::uint8_t, std::uint32_t>, XfrmPolicyMessage> policies_;  // (dir, index)
  XfrmBridgeStats stats_;
};

// A NETLINK_XFRM socket (libnl-3). With `subscribe`, joins the SA, POLICY, EXPIRE and ACQUIRE
// groups. Not thread-safe.
class XfrmNetlinkSocket : public KernelPort {
 public:
  static Result<std::unique_ptr<XfrmNetlinkSocket>> Open(bool subscribe);
  ~XfrmNetlinkSocket() override;
  XfrmNetlinkSocket(const XfrmNetlinkSocket&) = delete;
  XfrmNetlinkSocket& operator=(const XfrmNetlinkSocket&) = delete;
  XfrmNetlinkSocket(XfrmNetlinkSocket&&) = delete;
  XfrmNetlinkSocket& operator=(XfrmNetlinkSocket&&) = delete;

  // One datagram, or an empty vector after `timeout_ms` without one.
  Result<std::vector<std::uint8_t>> Receive(int timeout_ms);
  Status Send(std::span<const std::uint8_t> message) override;
  // The socket's descriptor, for a caller's poll loop (then Receive(0) while data is ready).
  int fd() const;
  // XFRM_MSG_ALLOCSPI: reserves an inbound SPI in [min, max] (a larval state in the kernel) and
  // returns it with the state the kernel created.
  Result<XfrmSaMessage> AllocSpi(const driver::IpAddress& saddr, const driver::IpAddress& daddr,
                                 std::uint8_t mode, std::uint32_t reqid, std::uint32_t min,
                                 std::uint32_t max);

 private:
  struct NlSock;
  explicit XfrmNetlinkSocket(std::unique_ptr<NlSock> sock);
  std::unique_ptr<NlSock> sock_;
};

}  // namespace espo::ikectl
