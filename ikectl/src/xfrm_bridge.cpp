// SPDX-License-Identifier: Apache-2.0
//
// XFRM bridge: NETLINK_XFRM parsing, validation against what espo can offload, SA/policy
// mirroring and XFRM_MSG_EXPIRE reporting. See xfrm_bridge.hpp and docs/XFRM_BRIDGE.md.
#include "espo/ikectl/xfrm_bridge.hpp"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "espo/driver/sa_file.hpp"

namespace espo::ikectl {
namespace {

using driver::IpAddress;

constexpr std::uint64_t kXfrmInf = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint8_t kProtoEsp = IPPROTO_ESP;

std::string Hex32(std::uint32_t v) {
  std::array<char, 16> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%08x", v);  // NOLINT(cppcoreguidelines-pro-type-vararg)
  return buf.data();
}

std::string_view MsgName(std::uint16_t type) {
  switch (type) {
    case XFRM_MSG_NEWSA:
      return "XFRM_MSG_NEWSA";
    case XFRM_MSG_DELSA:
      return "XFRM_MSG_DELSA";
    case XFRM_MSG_UPDSA:
      return "XFRM_MSG_UPDSA";
    case XFRM_MSG_EXPIRE:
      return "XFRM_MSG_EXPIRE";
    case XFRM_MSG_NEWPOLICY:
      return "XFRM_MSG_NEWPOLICY";
    case XFRM_MSG_DELPOLICY:
      return "XFRM_MSG_DELPOLICY";
    case XFRM_MSG_UPDPOLICY:
      return "XFRM_MSG_UPDPOLICY";
    case XFRM_MSG_ACQUIRE:
      return "XFRM_MSG_ACQUIRE";
    case XFRM_MSG_FLUSHSA:
      return "XFRM_MSG_FLUSHSA";
    case XFRM_MSG_FLUSHPOLICY:
      return "XFRM_MSG_FLUSHPOLICY";
    case NLMSG_ERROR:
      return "NLMSG_ERROR";
    default:
      return "netlink message";
  }
}

std::string AttrName(std::uint16_t type) {
  switch (type) {
    case XFRMA_ALG_AUTH:
      return "ALG_AUTH";
    case XFRMA_ALG_CRYPT:
      return "ALG_CRYPT";
    case XFRMA_ALG_COMP:
      return "ALG_COMP";
    case XFRMA_ENCAP:
      return "ENCAP";
    case XFRMA_TMPL:
      return "TMPL";
    case XFRMA_SA:
      return "SA";
    case XFRMA_POLICY:
      return "POLICY";
    case XFRMA_SEC_CTX:
      return "SEC_CTX";
    case XFRMA_REPLAY_VAL:
      return "REPLAY_VAL";
    case XFRMA_COADDR:
      return "COADDR";
    case XFRMA_ALG_AEAD:
      return "ALG_AEAD";
    case XFRMA_ALG_AUTH_TRUNC:
      return "ALG_AUTH_TRUNC";
    case XFRMA_TFCPAD:
      return "TFCPAD";
    case XFRMA_REPLAY_ESN_VAL:
      return "REPLAY_ESN_VAL";
    case XFRMA_SA_EXTRA_FLAGS:
      return "SA_EXTRA_FLAGS";
    case XFRMA_OFFLOAD_DEV:
      return "OFFLOAD_DEV";
    case kXfrmaSaDir:
      return "SA_DIR";
    case kXfrmaSaPcpu:
      return "SA_PCPU";
    default:
      return "type " + std::to_string(type);
  }
}

template <class T>
T Load(std::span<const std::uint8_t> bytes) {
  T v{};
  std::memcpy(&v, bytes.data(), sizeof(T));
  return v;
}

// Attribute payloads by type (first occurrence); all types in order.
struct Attrs {
  std::map<std::uint16_t, std::span<const std::uint8_t>> by_type;
  std::vector<std::uint16_t> order;
  std::vector<std::span<const std::uint8_t>> tmpls;  // XFRMA_TMPL may hold several
};

Result<Attrs> ParseAttrs(std::span<const std::uint8_t> bytes, std::string_view where) {
  Attrs out;
  std::size_t off = 0;
  while (off + sizeof(nlattr) <= bytes.size()) {
    const auto hdr = Load<nlattr>(bytes.subspan(off));
    const std::uint16_t type = hdr.nla_type & NLA_TYPE_MASK;
    if (hdr.nla_len < sizeof(nlattr) || hdr.nla_len > bytes.size() - off) {
      return MakeError(Errc::kParse, std::string(where) + ": attribute " + AttrName(type) +
                                         ": length " + std::to_string(hdr.nla_len) + " with " +
                                         std::to_string(bytes.size() - off) + " bytes left");
    }
    auto payload = bytes.subspan(off + sizeof(nlattr), hdr.nla_len - sizeof(nlattr));
    out.order.push_back(type);
    out.by_type.emplace(type, payload);
    if (type == XFRMA_TMPL) out.tmpls.push_back(payload);
    off += NLA_ALIGN(hdr.nla_len);
  }
  return out;
}

Status NeedBytes(std::span<const std::uint8_t> payload, std::size_t need, std::string_view where,
                 std::uint16_t type) {
  if (payload.size() < need) {
    return MakeError(Errc::kParse, std::string(where) + ": attribute " + std::to_string(type) +
                                       " (" + AttrName(type) +
                                       "): " + std::to_string(payload.size()) + " bytes, need " +
                                       std::to_string(need));
  }
  return Ok();
}

IpAddress AddressOf(const xfrm_address_t& a, std::uint16_t family) {
  IpAddress ip;
  ip.v6 = family == AF_INET6;
  std::memcpy(ip.bytes.data(), &a, ip.v6 ? 16 : 4);
  return ip;
}

void StoreAddress(const IpAddress& ip, xfrm_address_t& a) {
  std::memset(&a, 0, sizeof(a));
  std::memcpy(&a, ip.bytes.data(), ip.v6 ? 16 : 4);
}

std::string CString(std::span<const std::uint8_t> bytes) {
  std::string s(reinterpret_cast<const char*>(bytes.data()), bytes.size());  // NOLINT
  if (auto nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
  // Names from the kernel end up in one-line log messages: printable ASCII only.
  for (char& c : s) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return s;
}

std::vector<XfrmTemplate> Templates(const Attrs& attrs) {
  std::vector<XfrmTemplate> out;
  for (auto payload : attrs.tmpls) {
    for (std::size_t off = 0; off + sizeof(xfrm_user_tmpl) <= payload.size();
         off += sizeof(xfrm_user_tmpl)) {
      const auto t = Load<xfrm_user_tmpl>(payload.subspan(off));
      XfrmTemplate x;
      x.id.daddr = AddressOf(t.id.daddr, t.family);
      x.id.spi = ntohl(t.id.spi);
      x.id.proto = t.id.proto;
      x.saddr = AddressOf(t.saddr, t.family);
      x.mode = t.mode;
      x.reqid = t.reqid;
      out.push_back(x);
    }
  }
  return out;
}

std::optional<XfrmOffload> OffloadOf(const Attrs& attrs) {
  auto it = attrs.by_type.find(XFRMA_OFFLOAD_DEV);
  if (it == attrs.by_type.end() || it->second.size() < sizeof(xfrm_user_offload)) {
    return std::nullopt;
  }
  const auto o = Load<xfrm_user_offload>(it->second);
  return XfrmOffload{o.ifindex, o.flags};
}

Status FillSa(XfrmSaMessage& sa, const Attrs& attrs, std::string_view where) {
  sa.attrs = attrs.order;
  for (const auto& [type, payload] : attrs.by_type) {
    switch (type) {
      case XFRMA_ALG_AEAD: {
        ESPO_RETURN_IF_ERROR(NeedBytes(payload, sizeof(xfrm_algo_aead), where, type));
        const auto a = Load<xfrm_algo_aead>(payload);
        XfrmAead aead;
        aead.name = CString(payload.first(sizeof(a.alg_name)));
        aead.key_bits = a.alg_key_len;
        aead.icv_bits = a.alg_icv_len;
        const std::size_t key_bytes = (static_cast<std::size_t>(a.alg_key_len) + 7) / 8;
        ESPO_RETURN_IF_ERROR(NeedBytes(payload, sizeof(xfrm_algo_aead) + key_bytes, where, type));
        if (key_bytes == 20 || key_bytes == 36) {
          auto key =
              driver::KeyMaterial::FromBytes(payload.subspan(sizeof(xfrm_algo_aead), key_bytes));
          if (key) aead.key = std::move(*key);
        }
        sa.aead = std::move(aead);
        break;
      }
      case XFRMA_ALG_AUTH:
      case XFRMA_ALG_CRYPT:
      case XFRMA_ALG_COMP:
      case XFRMA_ALG_AUTH_TRUNC:
        // struct xfrm_algo / xfrm_algo_auth both start with char alg_name[64].
        ESPO_RETURN_IF_ERROR(NeedBytes(payload, 64, where, type));
        sa.alg_names[type] = CString(payload.first(64));
        break;
      case XFRMA_ENCAP:
        ESPO_RETURN_IF_ERROR(NeedBytes(payload, sizeof(xfrm_encap_tmpl), where, type));
        sa.encap = Load<xfrm_encap_tmpl>(payload);
        break;
      case XFRMA_REPLAY_ESN_VAL: {
        ESPO_RETURN_IF_ERROR(NeedBytes(payload, sizeof(xfrm_replay_state_esn), where, type));
        const auto r = Load<xfrm_replay_state_esn>(payload);
        ESPO_RETURN_IF_ERROR(NeedBytes(
            payload, sizeof(xfrm_replay_state_esn) + std::size_t{r.bmp_len} * 4, where, type));
        sa.replay_esn =
            XfrmReplayEsn{r.bmp_len, r.oseq, r.seq, r.oseq_hi, r.seq_hi, r.replay_window};
        break;
      }
      case XFRMA_REPLAY_VAL:
        ESPO_RETURN_IF_ERROR(NeedBytes(payload, sizeof(xfrm_replay_state), where, type));
        sa.replay = Load<xfrm_replay_state>(payload);
        break;
      case XFRMA_SA_EXTRA_FLAGS:
        ESPO_RETURN_IF_ERROR(NeedBytes(payload, 4, where, type));
        sa.extra_flags = Load<std::uint32_t>(payload);
        break;
      case XFRMA_OFFLOAD_DEV:
        ESPO_RETURN_IF_ERROR(NeedBytes(payload, sizeof(xfrm_user_offload), where, type));
        sa.offload = OffloadOf(attrs);
        break;
      case kXfrmaSaDir:
        ESPO_RETURN_IF_ERROR(NeedBytes(payload, 1, where, type));
        sa.sa_dir = payload[0];
        break;
      default:
        break;
    }
  }
  return Ok();
}

void SetFromInfo(XfrmSaMessage& sa) {
  sa.has_info = true;
  sa.id.daddr = AddressOf(sa.info.id.daddr, sa.info.family);
  sa.id.spi = ntohl(sa.info.id.spi);
  sa.id.proto = sa.info.id.proto;
  sa.saddr = AddressOf(sa.info.saddr, sa.info.family);
}

Status CheckFamily(std::uint16_t family, std::string_view where) {
  if (family != AF_INET && family != AF_INET6) {
    return MakeError(Errc::kParse,
                     std::string(where) + ": address family " + std::to_string(family));
  }
  return Ok();
}

std::uint64_t Limit(std::uint64_t v) { return v == kXfrmInf ? 0 : v; }

}  // namespace

std::string XfrmSaId::ToString() const {
  return "spi " + Hex32(spi) + " dst " + daddr.ToString() + " proto " +
         (proto == kProtoEsp ? std::string("esp") : std::to_string(proto));
}

std::string_view ToString(XfrmMsgKind kind) {
  switch (kind) {
    case XfrmMsgKind::kNewSa:
      return "newsa";
    case XfrmMsgKind::kUpdSa:
      return "updsa";
    case XfrmMsgKind::kDelSa:
      return "delsa";
    case XfrmMsgKind::kExpire:
      return "expire";
    case XfrmMsgKind::kNewPolicy:
      return "newpolicy";
    case XfrmMsgKind::kUpdPolicy:
      return "updpolicy";
    case XfrmMsgKind::kDelPolicy:
      return "delpolicy";
    case XfrmMsgKind::kAcquire:
      return "acquire";
    case XfrmMsgKind::kFlushSa:
      return "flushsa";
    case XfrmMsgKind::kFlushPolicy:
      return "flushpolicy";
    case XfrmMsgKind::kError:
      return "error";
    case XfrmMsgKind::kOther:
      return "other";
  }
  return "other";
}

Result<std::vector<std::span<const std::uint8_t>>> SplitNetlinkMessages(
    std::span<const std::uint8_t> datagram) {
  std::vector<std::span<const std::uint8_t>> out;
  std::size_t off = 0;
  while (off < datagram.size()) {
    if (datagram.size() - off < sizeof(nlmsghdr)) {
      return MakeError(Errc::kParse, "netlink: " + std::to_string(datagram.size() - off) +
                                         " trailing bytes, shorter than a header");
    }
    const auto hdr = Load<nlmsghdr>(datagram.subspan(off));
    if (hdr.nlmsg_len < sizeof(nlmsghdr) || hdr.nlmsg_len > datagram.size() - off) {
      return MakeError(Errc::kParse, "netlink: message length " + std::to_string(hdr.nlmsg_len) +
                                         " with " + std::to_string(datagram.size() - off) +
                                         " bytes left");
    }
    out.push_back(datagram.subspan(off, hdr.nlmsg_len));
    off += NLMSG_ALIGN(hdr.nlmsg_len);
  }
  return out;
}

Result<XfrmMessage> ParseXfrmMessage(std::span<const std::uint8_t> message) {
  if (message.size() < sizeof(nlmsghdr)) {
    return MakeError(Errc::kParse, "netlink: " + std::to_string(message.size()) +
                                       " bytes, shorter than a header");
  }
  const auto hdr = Load<nlmsghdr>(message);
  if (hdr.nlmsg_len < sizeof(nlmsghdr) || hdr.nlmsg_len > message.size()) {
    return MakeError(Errc::kParse, "netlink: message length " + std::to_string(hdr.nlmsg_len) +
                                       " with " + std::to_string(message.size()) + " bytes");
  }
  const auto body = message.subspan(NLMSG_HDRLEN, hdr.nlmsg_len - NLMSG_HDRLEN);
  const std::string where(MsgName(hdr.nlmsg_type));
  XfrmMessage out;
  out.type = hdr.nlmsg_type;

  // The fixed part of the message, then its attributes.
  auto fixed = [&](std::size_t size) -> Result<Attrs> {
    if (body.size() < size) {
      return MakeError(Errc::kParse, where + ": " + std::to_string(body.size()) +
                                         " bytes of payload, need " + std::to_string(size));
    }
    const std::size_t aligned = NLMSG_ALIGN(size);
    return ParseAttrs(body.size() > aligned ? body.subspan(aligned) : body.subspan(body.size()),
                      where);
  };

  switch (hdr.nlmsg_type) {
    case NLMSG_ERROR: {
      out.kind = XfrmMsgKind::kError;
      if (body.size() < sizeof(nlmsgerr)) return MakeError(Errc::kParse, where + ": truncated");
      out.error = Load<nlmsgerr>(body).error;
      return out;
    }
    case XFRM_MSG_NEWSA:
    case XFRM_MSG_UPDSA:
    case XFRM_MSG_EXPIRE: {
      const bool expire = hdr.nlmsg_type == XFRM_MSG_EXPIRE;
      ESPO_ASSIGN_OR_RETURN(Attrs attrs,
                            fixed(expire ? sizeof(xfrm_user_expire) : sizeof(xfrm_usersa_info)));
      XfrmSaMessage sa;
      if (expire) {
        const auto e = Load<xfrm_user_expire>(body);
        sa.info = e.state;
        sa.hard = e.hard != 0;
      } else {
        sa.info = Load<xfrm_usersa_info>(body);
      }
      ESPO_RETURN_IF_ERROR(CheckFamily(sa.info.family, where));
      SetFromInfo(sa);
      ESPO_RETURN_IF_ERROR(FillSa(sa, attrs, where));
      out.kind = hdr.nlmsg_type == XFRM_MSG_NEWSA   ? XfrmMsgKind::kNewSa
                 : hdr.nlmsg_type == XFRM_MSG_UPDSA ? XfrmMsgKind::kUpdSa
                                                    : XfrmMsgKind::kExpire;
      out.sa = std::move(sa);
      return out;
    }
    case XFRM_MSG_DELSA: {
      // Notifications: xfrm_usersa_id + XFRMA_SA (the full state); requests: the id only.
      ESPO_ASSIGN_OR_RETURN(Attrs attrs, fixed(sizeof(xfrm_usersa_id)));
      const auto id = Load<xfrm_usersa_id>(body);
      ESPO_RETURN_IF_ERROR(CheckFamily(id.family, where));
      XfrmSaMessage sa;
      if (auto it = attrs.by_type.find(XFRMA_SA); it != attrs.by_type.end()) {
        ESPO_RETURN_IF_ERROR(NeedBytes(it->second, sizeof(xfrm_usersa_info), where, XFRMA_SA));
        sa.info = Load<xfrm_usersa_info>(it->second);
        ESPO_RETURN_IF_ERROR(CheckFamily(sa.info.family, where));
        SetFromInfo(sa);
      } else {
        sa.info.id.daddr = id.daddr;
        sa.info.id.spi = id.spi;
        sa.info.id.proto = id.proto;
        sa.info.family = id.family;
        sa.id.daddr = AddressOf(id.daddr, id.family);
        sa.id.spi = ntohl(id.spi);
        sa.id.proto = id.proto;
      }
      ESPO_RETURN_IF_ERROR(FillSa(sa, attrs, where));
      out.kind = XfrmMsgKind::kDelSa;
      out.sa = std::move(sa);
      return out;
    }
    case XFRM_MSG_NEWPOLICY:
    case XFRM_MSG_UPDPOLICY: {
      ESPO_ASSIGN_OR_RETURN(Attrs attrs, fixed(sizeof(xfrm_userpolicy_info)));
      XfrmPolicyMessage p;
      p.info = Load<xfrm_userpolicy_info>(body);
      p.templates = Templates(attrs);
      p.offload = OffloadOf(attrs);
      out.kind =
          hdr.nlmsg_type == XFRM_MSG_NEWPOLICY ? XfrmMsgKind::kNewPolicy : XfrmMsgKind::kUpdPolicy;
      out.policy = std::move(p);
      return out;
    }
    case XFRM_MSG_DELPOLICY: {
      ESPO_ASSIGN_OR_RETURN(Attrs attrs, fixed(sizeof(xfrm_userpolicy_id)));
      const auto id = Load<xfrm_userpolicy_id>(body);
      XfrmPolicyMessage p;
      if (auto it = attrs.by_type.find(XFRMA_POLICY); it != attrs.by_type.end()) {
        ESPO_RETURN_IF_ERROR(
            NeedBytes(it->second, sizeof(xfrm_userpolicy_info), where, XFRMA_POLICY));
        p.info = Load<xfrm_userpolicy_info>(it->second);
      } else {
        p.info.sel = id.sel;
        p.info.index = id.index;
        p.info.dir = id.dir;
      }
      p.templates = Templates(attrs);
      p.offload = OffloadOf(attrs);
      out.kind = XfrmMsgKind::kDelPolicy;
      out.policy = std::move(p);
      return out;
    }
    case XFRM_MSG_ACQUIRE: {
      ESPO_ASSIGN_OR_RETURN(Attrs attrs, fixed(sizeof(xfrm_user_acquire)));
      const auto a = Load<xfrm_user_acquire>(body);
      XfrmAcquireMessage acq;
      const std::uint16_t family = a.policy.sel.family != 0 ? a.policy.sel.family : a.sel.family;
      ESPO_RETURN_IF_ERROR(CheckFamily(family, where));
      acq.id.daddr = AddressOf(a.id.daddr, family);
      acq.id.spi = ntohl(a.id.spi);
      acq.id.proto = a.id.proto;
      acq.saddr = AddressOf(a.saddr, family);
      acq.sel = a.sel;
      acq.policy = a.policy;
      acq.seq = a.seq;
      acq.templates = Templates(attrs);
      out.kind = XfrmMsgKind::kAcquire;
      out.acquire = std::move(acq);
      return out;
    }
    case XFRM_MSG_FLUSHSA:
      out.kind = XfrmMsgKind::kFlushSa;
      return out;
    case XFRM_MSG_FLUSHPOLICY:
      out.kind = XfrmMsgKind::kFlushPolicy;
      return out;
    default:
      out.kind = XfrmMsgKind::kOther;
      return out;
  }
}

std::vector<std::string> ValidateForEspo(const XfrmSaMessage& sa) {
  std::vector<std::string> why;
  const xfrm_usersa_info& info = sa.info;
  if (sa.id.proto != kProtoEsp) {
    why.push_back("proto: " + std::to_string(sa.id.proto) + " is not ESP (50)");
  }
  if (info.mode != XFRM_MODE_TUNNEL && info.mode != XFRM_MODE_TRANSPORT) {
    why.push_back("mode: " + std::to_string(info.mode) +
                  " not supported (tunnel or transport; no BEET, no ro/in_trigger)");
  }
  if (!sa.offload) {
    why.push_back("offload: no XFRMA_OFFLOAD_DEV; espo takes only `offload packet dev` SAs");
  } else if (!sa.offload->packet()) {
    why.push_back("offload: crypto offload requested; espo does packet offload only");
  }
  for (const auto& [type, name] : sa.alg_names) {
    switch (type) {
      case XFRMA_ALG_AUTH:
      case XFRMA_ALG_AUTH_TRUNC:
        why.push_back("auth: separate integrity algorithm '" + name +
                      "' not supported (AEAD only)");
        break;
      case XFRMA_ALG_CRYPT:
        why.push_back("enc: cipher '" + name + "' not supported (AEAD only)");
        break;
      default:
        why.push_back("comp: IPcomp '" + name + "' not supported");
        break;
    }
  }
  if (!sa.aead) {
    why.push_back("aead: missing; espo needs rfc4106(gcm(aes)) or rfc4543(gcm(aes))");
  } else {
    const XfrmAead& a = *sa.aead;
    const bool gcm = a.name == "rfc4106(gcm(aes))";
    const bool gmac = a.name == "rfc4543(gcm(aes))";
    if (!gcm && !gmac) {
      why.push_back("aead: algorithm '" + a.name +
                    "' not supported (rfc4106(gcm(aes)), rfc4543(gcm(aes)))");
    }
    if (a.key_bits != 160 && a.key_bits != 288) {
      why.push_back("aead: key length " + std::to_string(a.key_bits) +
                    " bits not supported (160 or 288: AES-128/256 + 32-bit salt)");
    }
    if (a.icv_bits != 64 && a.icv_bits != 96 && a.icv_bits != 128) {
      why.push_back("aead: ICV " + std::to_string(a.icv_bits) +
                    " bits not supported (64, 96, 128)");
    } else if (gmac && a.icv_bits != 128) {
      why.push_back("aead: rfc4543 needs a 128-bit ICV, got " + std::to_string(a.icv_bits));
    }
  }
  for (const std::uint16_t type : sa.attrs) {
    switch (type) {
      case XFRMA_TFCPAD:
        why.push_back("tfcpad: TFC padding not supported");
        break;
      case XFRMA_SEC_CTX:
        why.push_back("sec_ctx: security context not supported");
        break;
      case XFRMA_COADDR:
        why.push_back("coaddr: care-of address not supported");
        break;
      case kXfrmaSaPcpu:
        why.push_back("pcpu: per-CPU SAs not supported");
        break;
      default:
        break;
    }
  }
  struct FlagName {
    std::uint8_t bit;
    const char* text;
  };
  constexpr std::array<FlagName, 7> kFlags{{
      {XFRM_STATE_NOECN, "flag noecn: espo always applies RFC 6040 ECN"},
      {XFRM_STATE_DECAP_DSCP, "flag decap-dscp: espo releases the inner header unchanged"},
      {XFRM_STATE_NOPMTUDISC, "flag nopmtudisc not supported"},
      {XFRM_STATE_WILDRECV, "flag wildrecv not supported"},
      {XFRM_STATE_ICMP, "flag icmp not supported"},
      {XFRM_STATE_AF_UNSPEC, "flag af-unspec not supported"},
      {XFRM_STATE_ALIGN4, "flag align4 not supported"},
  }};
  for (const auto& f : kFlags) {
    if ((info.flags & f.bit) != 0) why.emplace_back(f.text);
  }
  const bool esn = (info.flags & XFRM_STATE_ESN) != 0;
  if (esn && !sa.replay_esn) why.emplace_back("esn: flag set without XFRMA_REPLAY_ESN_VAL");
  if ((sa.extra_flags & XFRM_SA_XFLAG_DONT_ENCAP_DSCP) != 0) {
    why.emplace_back("extra flag dont-encap-dscp: espo copies DSCP to the outer header");
  }
  if ((sa.extra_flags & XFRM_SA_XFLAG_OSEQ_MAY_WRAP) != 0) {
    why.emplace_back("extra flag oseq-may-wrap: espo never wraps the sequence number");
  }
  if (sa.encap && sa.encap->encap_type != UDP_ENCAP_ESPINUDP) {
    why.push_back("encap: type " + std::to_string(sa.encap->encap_type) +
                  " not supported (espinudp only)");
  }
  if (sa.offload && sa.sa_dir && (*sa.sa_dir == kXfrmSaDirIn) != sa.offload->inbound()) {
    why.emplace_back("dir: XFRMA_SA_DIR disagrees with the offload direction");
  }
  if (sa.sa_dir && *sa.sa_dir != kXfrmSaDirIn && *sa.sa_dir != kXfrmSaDirOut) {
    why.push_back("dir: XFRMA_SA_DIR " + std::to_string(*sa.sa_dir) + " unknown");
  }
  if (why.empty()) {
    // What remains is espo's own cross-field validation (window, limits, sequence space).
    auto cfg = ToSaConfig(sa);
    if (!cfg) why.push_back(cfg.error().message);
  }
  return why;
}

Result<driver::SaConfig> ToSaConfig(const XfrmSaMessage& sa) {
  if (!sa.aead || !sa.aead->key) {
    return MakeError(Errc::kUnsupported, "aead: no AES-GCM key of 20 or 36 bytes");
  }
  const xfrm_usersa_info& info = sa.info;
  driver::SaConfig c;
  c.spi = sa.id.spi;
  const bool inbound =
      sa.sa_dir ? *sa.sa_dir == kXfrmSaDirIn : (sa.offload && sa.offload->inbound());
  c.dir = inbound ? driver::Direction::kIn : driver::Direction::kOut;
  c.mode = info.mode == XFRM_MODE_TRANSPORT ? driver::Mode::kTransport : driver::Mode::kTunnel;
  c.src = sa.saddr;
  c.dst = sa.id.daddr;
  c.alg = sa.aead->name == "rfc4543(gcm(aes))" ? driver::Algorithm::kGmac : driver::Algorithm::kGcm;
  c.key = sa.aead->key->Clone();
  c.icv_bytes = static_cast<std::uint8_t>(sa.aead->icv_bits / 8);
  c.esn = (info.flags & XFRM_STATE_ESN) != 0;
  if (sa.replay_esn) {
    const auto& r = *sa.replay_esn;
    c.replay_window = r.replay_window;
    c.oseq = c.esn ? (std::uint64_t{r.oseq_hi} << 32) | r.oseq : r.oseq;
    c.replay_seq = c.esn ? (std::uint64_t{r.seq_hi} << 32) | r.seq : r.seq;
  } else {
    c.replay_window = info.replay_window;
    if (sa.replay) {
      c.oseq = sa.replay->oseq;
      c.replay_seq = sa.replay->seq;
    }
  }
  if (c.dir == driver::Direction::kIn) {
    c.oseq = 0;
  } else {
    c.replay_seq = 0;
  }
  if (sa.encap)
    c.encap = driver::UdpEncap{ntohs(sa.encap->encap_sport), ntohs(sa.encap->encap_dport)};
  c.limits.soft_packets = Limit(info.lft.soft_packet_limit);
  c.limits.hard_packets = Limit(info.lft.hard_packet_limit);
  c.limits.soft_bytes = Limit(info.lft.soft_byte_limit);
  c.limits.hard_bytes = Limit(info.lft.hard_byte_limit);
  if (auto st = driver::Validate(c); !st) {
    return MakeError(Errc::kUnsupported, st.error().message);
  }
  return c;
}

Result<std::vector<std::uint8_t>> BuildExpireMessage(const xfrm_usersa_info& info, bool hard,
                                                     std::uint64_t packets, std::uint64_t bytes) {
  xfrm_user_expire ue{};
  ue.state = info;
  ue.state.curlft.packets = packets;
  ue.state.curlft.bytes = bytes;
  ue.hard = hard ? 1 : 0;
  std::unique_ptr<nl_msg, decltype(&nlmsg_free)> msg(
      nlmsg_alloc_simple(XFRM_MSG_EXPIRE, NLM_F_REQUEST), &nlmsg_free);
  if (!msg) return MakeError(Errc::kInternal, "XFRM_MSG_EXPIRE: nlmsg_alloc_simple failed");
  if (const int err = nlmsg_append(msg.get(), &ue, sizeof(ue), NLMSG_ALIGNTO); err < 0) {
    return MakeError(Errc::kInternal, std::string("XFRM_MSG_EXPIRE: ") + nl_geterror(err));
  }
  const nlmsghdr* h = nlmsg_hdr(msg.get());
  const auto* p = reinterpret_cast<const std::uint8_t*>(h);  // NOLINT: netlink buffer
  return std::vector<std::uint8_t>(p, p + h->nlmsg_len);     // NOLINT: netlink buffer
}

Result<std::vector<std::uint8_t>> BuildNewAeMessage(const xfrm_usersa_info& info,
                                                    std::uint64_t packets, std::uint64_t bytes) {
  xfrm_aevent_id ae{};
  ae.sa_id.daddr = info.id.daddr;
  ae.sa_id.spi = info.id.spi;
  ae.sa_id.family = info.family;
  ae.sa_id.proto = info.id.proto;
  ae.saddr = info.saddr;
  ae.reqid = info.reqid;
  ae.flags = XFRM_AE_LVAL;
  xfrm_lifetime_cur cur = info.curlft;
  cur.packets = packets;
  cur.bytes = bytes;
  // xfrm_new_ae() takes only NLM_F_REPLACE requests.
  std::unique_ptr<nl_msg, decltype(&nlmsg_free)> msg(
      nlmsg_alloc_simple(XFRM_MSG_NEWAE, NLM_F_REQUEST | NLM_F_REPLACE), &nlmsg_free);
  if (!msg) return MakeError(Errc::kInternal, "XFRM_MSG_NEWAE: nlmsg_alloc_simple failed");
  if (const int err = nlmsg_append(msg.get(), &ae, sizeof(ae), NLMSG_ALIGNTO); err < 0) {
    return MakeError(Errc::kInternal, std::string("XFRM_MSG_NEWAE: ") + nl_geterror(err));
  }
  if (const int err = nla_put(msg.get(), XFRMA_LTIME_VAL, sizeof(cur), &cur); err < 0) {
    return MakeError(Errc::kInternal, std::string("XFRM_MSG_NEWAE: ") + nl_geterror(err));
  }
  const nlmsghdr* h = nlmsg_hdr(msg.get());
  const auto* p = reinterpret_cast<const std::uint8_t*>(h);  // NOLINT: netlink buffer
  return std::vector<std::uint8_t>(p, p + h->nlmsg_len);     // NOLINT: netlink buffer
}

Status XfrmBridge::ReportCounters(const XfrmSaId& id, std::uint64_t packets, std::uint64_t bytes) {
  auto it = sas_.find(id);
  if (it == sas_.end()) return MakeError(Errc::kNotFound, id.ToString() + ": not mirrored");
  ESPO_ASSIGN_OR_RETURN(std::vector<std::uint8_t> msg,
                        BuildNewAeMessage(it->second.info, packets, bytes));
  ESPO_RETURN_IF_ERROR(kernel_.Send(msg));
  ++stats_.counters_sent;
  return Ok();
}

// ---- EngineSaSink ---------------------------------------------------------------------------

Status EngineSaSink::InstallSa(const XfrmSaId& id, const driver::SaConfig& sa) {
  if (sas_.contains(id)) return MakeError(Errc::kExists, id.ToString() + ": already installed");
  std::uint32_t slot = 0;
  if (sa.dir == driver::Direction::kIn) {
    slot = engine_.InboundSlotFor(sa.spi);
    for (const auto& [other, e] : sas_) {
      if (e.dir == driver::Direction::kIn && e.slot == slot) {
        return MakeError(Errc::kExists, id.ToString() + ": inbound slot " + std::to_string(slot) +
                                            " is held by " + other.ToString());
      }
    }
  } else {
    std::vector<bool> used(engine_.caps().out_slots, false);
    for (const auto& [other, e] : sas_) {
      if (e.dir == driver::Direction::kOut && e.slot < used.size()) used[e.slot] = true;
    }
    slot = 0;
    while (slot < used.size() && used[slot]) ++slot;
    if (slot == used.size()) {
      return MakeError(Errc::kExhausted, id.ToString() + ": no free outbound slot");
    }
  }
  ESPO_RETURN_IF_ERROR(engine_.Install(slot, sa));
  sas_.emplace(id, Entry{sa.dir, slot, sa.Clone()});
  return Ok();
}

Status EngineSaSink::UpdateSa(const XfrmSaId& id, const driver::SaConfig& sa) {
  auto it = sas_.find(id);
  if (it == sas_.end()) return InstallSa(id, sa);
  driver::SaConfig limits_only = it->second.sa.Clone();
  limits_only.limits = sa.limits;
  if (it->second.dir == sa.dir && driver::SaConfigEqual(limits_only, sa)) {
    ESPO_RETURN_IF_ERROR(engine_.UpdateLimits(sa.dir, it->second.slot, sa.limits));
    it->second.sa.limits = sa.limits;
    return Ok();
  }
  ESPO_RETURN_IF_ERROR(RemoveSa(id));
  return InstallSa(id, sa);
}

Status EngineSaSink::RemoveSa(const XfrmSaId& id) {
  auto it = sas_.find(id);
  if (it == sas_.end()) return MakeError(Errc::kNotFound, id.ToString() + ": not installed");
  ESPO_RETURN_IF_ERROR(engine_.Remove(it->second.dir, it->second.slot));
  sas_.erase(it);
  return Ok();
}

Result<std::vector<std::pair<XfrmSaId, driver::Event>>> EngineSaSink::PollEvents() {
  ESPO_ASSIGN_OR_RETURN(std::vector<driver::Event> events, engine_.DrainEvents());
  std::vector<std::pair<XfrmSaId, driver::Event>> out;
  for (const driver::Event& e : events) {
    for (const auto& [id, entry] : sas_) {
      if (entry.dir == e.dir && entry.slot == e.slot) out.emplace_back(id, e);
    }
  }
  return out;
}

std::optional<std::uint32_t> EngineSaSink::SlotOf(const XfrmSaId& id) const {
  auto it = sas_.find(id);
  if (it == sas_.end()) return std::nullopt;
  return it->second.slot;
}

// ---- XfrmBridge -----------------------------------------------------------------------------

XfrmBridge::XfrmBridge(SaSink& sink, KernelPort& kernel, XfrmBridgeOptions options, Logger log)
    : sink_(sink), kernel_(kernel), options_(options), log_(std::move(log)) {}

bool XfrmBridge::ForUs(const std::optional<XfrmOffload>& offload) const {
  return offload && (options_.offload_ifindex == 0 || offload->ifindex == options_.offload_ifindex);
}

Status XfrmBridge::HandleDatagram(std::span<const std::uint8_t> datagram) {
  auto messages = SplitNetlinkMessages(datagram);
  if (!messages) {
    ++stats_.parse_errors;
    log_("xfrm: " + messages.error().message);
    return tl::unexpected(messages.error());
  }
  Status first = Ok();
  for (auto bytes : *messages) {
    auto m = ParseXfrmMessage(bytes);
    Status st = m ? HandleMessage(*m) : Status(tl::unexpected(m.error()));
    if (!m) {
      ++stats_.parse_errors;
      log_("xfrm: " + m.error().message);
    }
    if (!st && first) first = std::move(st);
  }
  return first;
}

Status XfrmBridge::HandleMessage(const XfrmMessage& m) {
  switch (m.kind) {
    case XfrmMsgKind::kNewSa:
    case XfrmMsgKind::kUpdSa:
      return OnSa(m);
    case XfrmMsgKind::kDelSa:
      return OnDelSa(*m.sa);
    case XfrmMsgKind::kExpire:
      // The kernel's own timers (time limits stay with the kernel for packet offload): a hard
      // expire means the kernel deleted the state.
      if (m.sa->hard && sas_.contains(m.sa->id)) {
        log_("xfrm: hard expire from the kernel for " + m.sa->id.ToString() + ": removing");
        return OnDelSa(*m.sa);
      }
      return Ok();
    case XfrmMsgKind::kNewPolicy:
    case XfrmMsgKind::kUpdPolicy:
    case XfrmMsgKind::kDelPolicy:
      OnPolicy(m);
      return Ok();
    case XfrmMsgKind::kAcquire: {
      ++stats_.acquires;
      const auto& a = *m.acquire;
      log_("xfrm: acquire for " + a.saddr.ToString() + " -> " + a.id.daddr.ToString() +
           " (policy index " + std::to_string(a.policy.index) + ", " +
           std::to_string(a.templates.size()) + " template(s)): waiting for the IKE daemon");
      sink_.OnAcquire(a);
      return Ok();
    }
    case XfrmMsgKind::kFlushSa: {
      Status first = Ok();
      while (!sas_.empty()) {
        const XfrmSaId id = sas_.begin()->first;
        sas_.erase(sas_.begin());
        auto st = sink_.RemoveSa(id);
        ++stats_.removed;
        if (!st && first) first = std::move(st);
      }
      log_("xfrm: flush: all mirrored SAs removed");
      return first;
    }
    case XfrmMsgKind::kFlushPolicy:
      for (const auto& [key, p] : policies_) sink_.OnPolicy(false, p);
      policies_.clear();
      return Ok();
    case XfrmMsgKind::kError:
    case XfrmMsgKind::kOther:
      return Ok();
  }
  return Ok();
}

Status XfrmBridge::OnSa(const XfrmMessage& m) {
  const XfrmSaMessage& sa = *m.sa;
  if (!sa.offload || !sa.offload->packet()) {
    if (sa.offload && ForUs(sa.offload)) {
      ++stats_.refused;
      log_("xfrm: refusing " + sa.id.ToString() +
           ": offload: crypto offload requested; espo does packet offload only");
      return MakeError(Errc::kUnsupported, sa.id.ToString() + ": crypto offload");
    }
    ++stats_.ignored;  // not offloaded: the kernel's business
    return Ok();
  }
  if (!ForUs(sa.offload)) {
    ++stats_.ignored;
    return Ok();
  }
  const std::vector<std::string> why = ValidateForEspo(sa);
  if (!why.empty()) {
    ++stats_.refused;
    for (const std::string& reason : why) {
      log_("xfrm: refusing " + sa.id.ToString() + ": " + reason);
    }
    return MakeError(Errc::kUnsupported, sa.id.ToString() + ": " + why.front());
  }
  ESPO_ASSIGN_OR_RETURN(driver::SaConfig cfg, ToSaConfig(sa));
  const bool known = sas_.contains(sa.id);
  Status st = (m.kind == XfrmMsgKind::kUpdSa || known) ? sink_.UpdateSa(sa.id, cfg)
                                                       : sink_.InstallSa(sa.id, cfg);
  if (!st) {
    ++stats_.refused;
    log_("xfrm: install of " + sa.id.ToString() + " failed: " + st.error().message);
    return st;
  }
  if (known) {
    ++stats_.updated;
    sas_[sa.id].info = sa.info;
  } else {
    ++stats_.installed;
    sas_[sa.id] = Mirrored{sa.info, false, false};
  }
  log_("xfrm: " + std::string(known ? "updated " : "installed ") + sa.id.ToString() + " dir " +
       std::string(driver::ToString(cfg.dir)) + " " + sa.aead->name + " " +
       std::to_string(sa.aead->key_bits - 32) + "-bit ICV " + std::to_string(sa.aead->icv_bits));
  return Ok();
}

Status XfrmBridge::OnDelSa(const XfrmSaMessage& sa) {
  auto it = sas_.find(sa.id);
  if (it == sas_.end()) return Ok();
  sas_.erase(it);
  ++stats_.removed;
  log_("xfrm: removed " + sa.id.ToString());
  return sink_.RemoveSa(sa.id);
}

void XfrmBridge::OnPolicy(const XfrmMessage& m) {
  const XfrmPolicyMessage& p = *m.policy;
  const bool offloaded = p.offload && p.offload->packet() && ForUs(p.offload);
  if (!offloaded && !options_.mirror_all_policies) return;
  const auto key = std::make_pair(p.info.dir, p.info.index);
  if (m.kind == XfrmMsgKind::kDelPolicy) {
    auto it = policies_.find(key);
    if (it == policies_.end()) return;
    sink_.OnPolicy(false, it->second);
    policies_.erase(it);
    log_("xfrm: policy index " + std::to_string(p.info.index) + " removed");
    return;
  }
  ++stats_.policies;
  policies_[key] = p;
  sink_.OnPolicy(true, p);
  log_("xfrm: policy index " + std::to_string(p.info.index) + " dir " + std::to_string(p.info.dir) +
       " mirrored (" + std::to_string(p.templates.size()) + " template(s)" +
       (offloaded ? ", packet offload)" : ")"));
}

Status XfrmBridge::OnEngineEvent(const XfrmSaId& id, driver::EventKind kind, std::uint64_t packets,
                                 std::uint64_t bytes) {
  auto it = sas_.find(id);
  if (it == sas_.end()) return MakeError(Errc::kNotFound, id.ToString() + ": not mirrored");
  Mirrored& s = it->second;
  const bool hard = kind != driver::EventKind::kSoft;
  if (hard ? s.hard_sent : (s.soft_sent || s.hard_sent)) return Ok();  // once only (SPEC 10.3)
  ESPO_ASSIGN_OR_RETURN(std::vector<std::uint8_t> msg,
                        BuildExpireMessage(s.info, hard, packets, bytes));
  ESPO_RETURN_IF_ERROR(kernel_.Send(msg));
  (hard ? s.hard_sent : s.soft_sent) = true;
  ++stats_.expires_sent;
  log_("xfrm: " + std::string(hard ? "hard" : "soft") + " expire sent for " + id.ToString() + " (" +
       std::to_string(packets) + " packets, " + std::to_string(bytes) + " bytes)");
  return Ok();
}

// ---- XfrmNetlinkSocket ----------------------------------------------------------------------

struct XfrmNetlinkSocket::NlSock {
  nl_sock* sk = nullptr;
  ~NlSock() {
    if (sk != nullptr) nl_socket_free(sk);
  }
  NlSock() = default;
  NlSock(const NlSock&) = delete;
  NlSock& operator=(const NlSock&) = delete;
  NlSock(NlSock&&) = delete;
  NlSock& operator=(NlSock&&) = delete;
};

XfrmNetlinkSocket::XfrmNetlinkSocket(std::unique_ptr<NlSock> sock) : sock_(std::move(sock)) {}
XfrmNetlinkSocket::~XfrmNetlinkSocket() = default;

Result<std::unique_ptr<XfrmNetlinkSocket>> XfrmNetlinkSocket::Open(bool subscribe) {
  auto s = std::make_unique<NlSock>();
  s->sk = nl_socket_alloc();
  if (s->sk == nullptr) return MakeError(Errc::kIo, "netlink: nl_socket_alloc failed");
  nl_socket_disable_seq_check(s->sk);
  nl_socket_disable_auto_ack(s->sk);
  if (const int err = nl_connect(s->sk, NETLINK_XFRM); err < 0) {
    return MakeError(Errc::kIo, std::string("netlink: connect NETLINK_XFRM: ") + nl_geterror(err));
  }
  if (subscribe) {
    if (const int err = nl_socket_add_memberships(s->sk, XFRMNLGRP_ACQUIRE, XFRMNLGRP_EXPIRE,
                                                  XFRMNLGRP_SA, XFRMNLGRP_POLICY, 0);
        err < 0) {
      return MakeError(Errc::kIo, std::string("netlink: join XFRM groups: ") + nl_geterror(err));
    }
  }
  nl_socket_set_buffer_size(s->sk, 1 << 20, 1 << 20);
  return std::unique_ptr<XfrmNetlinkSocket>(new XfrmNetlinkSocket(std::move(s)));  // NOLINT
}

Result<std::vector<std::uint8_t>> XfrmNetlinkSocket::Receive(int timeout_ms) {
  pollfd pfd{nl_socket_get_fd(sock_->sk), POLLIN, 0};
  const int ready = ::poll(&pfd, 1, timeout_ms);
  if (ready < 0) {
    return MakeError(Errc::kIo, std::string("netlink: poll: ") + std::strerror(errno));
  }
  if (ready == 0) return std::vector<std::uint8_t>{};
  sockaddr_nl from{};
  unsigned char* buf = nullptr;
  const int n = nl_recv(sock_->sk, &from, &buf, nullptr);
  std::unique_ptr<unsigned char, decltype(&std::free)> owner(buf, &std::free);
  if (n < 0) return MakeError(Errc::kIo, std::string("netlink: recv: ") + nl_geterror(n));
  return std::vector<std::uint8_t>(buf, buf + n);  // NOLINT: libnl buffer
}

int XfrmNetlinkSocket::fd() const { return nl_socket_get_fd(sock_->sk); }

Status XfrmNetlinkSocket::Send(std::span<const std::uint8_t> message) {
  std::vector<std::uint8_t> copy(message.begin(), message.end());
  const int n = nl_sendto(sock_->sk, copy.data(), copy.size());
  if (n < 0) return MakeError(Errc::kIo, std::string("netlink: send: ") + nl_geterror(n));
  return Ok();
}

Result<XfrmSaMessage> XfrmNetlinkSocket::AllocSpi(const IpAddress& saddr, const IpAddress& daddr,
                                                  std::uint8_t mode, std::uint32_t reqid,
                                                  std::uint32_t min, std::uint32_t max) {
  xfrm_userspi_info req{};
  req.info.family = daddr.v6 ? AF_INET6 : AF_INET;
  StoreAddress(daddr, req.info.id.daddr);
  StoreAddress(saddr, req.info.saddr);
  req.info.id.proto = kProtoEsp;
  req.info.mode = mode;
  req.info.reqid = reqid;
  req.min = min;
  req.max = max;
  std::unique_ptr<nl_msg, decltype(&nlmsg_free)> msg(
      nlmsg_alloc_simple(XFRM_MSG_ALLOCSPI, NLM_F_REQUEST), &nlmsg_free);
  if (!msg || nlmsg_append(msg.get(), &req, sizeof(req), NLMSG_ALIGNTO) < 0) {
    return MakeError(Errc::kInternal, "XFRM_MSG_ALLOCSPI: cannot build the request");
  }
  if (const int err = nl_send_auto(sock_->sk, msg.get()); err < 0) {
    return MakeError(Errc::kIo, std::string("XFRM_MSG_ALLOCSPI: send: ") + nl_geterror(err));
  }
  for (int tries = 0; tries < 16; ++tries) {
    ESPO_ASSIGN_OR_RETURN(std::vector<std::uint8_t> dgram, Receive(2000));
    if (dgram.empty()) return MakeError(Errc::kIo, "XFRM_MSG_ALLOCSPI: no reply in 2 s");
    ESPO_ASSIGN_OR_RETURN(auto parts, SplitNetlinkMessages(dgram));
    for (auto part : parts) {
      ESPO_ASSIGN_OR_RETURN(XfrmMessage m, ParseXfrmMessage(part));
      if (m.kind == XfrmMsgKind::kError && m.error != 0) {
        return MakeError(Errc::kDevice,
                         std::string("XFRM_MSG_ALLOCSPI: kernel: ") + std::strerror(-m.error));
      }
      if (m.kind == XfrmMsgKind::kNewSa) return std::move(*m.sa);
    }
  }
  return MakeError(Errc::kIo, "XFRM_MSG_ALLOCSPI: no XFRM_MSG_NEWSA reply");
}

}  // namespace espo::ikectl
