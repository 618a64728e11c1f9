// SPDX-License-Identifier: Apache-2.0
//
// XFRM bridge message handling (label unit): XFRM netlink messages built with libnl-xfrm (as
// iproute2/strongSwan would send them) or by hand are parsed, validated, turned into SaConfig
// installs on a capturing SaSink or a real Engine (ModelDevice), and espo limit events come back
// as XFRM_MSG_EXPIRE messages on a fake kernel port, once each. DaemonXfrm: the bridge feeding a
// daemon ControlCore (DaemonXfrmLink): table entries of origin "xfrm", limits updated in place,
// rekey-started / rekey-finished events, refusals, full table with and without the software path.
#include <arpa/inet.h>
#include <linux/udp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <netlink/addr.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/xfrm/lifetime.h>
#include <netlink/xfrm/sa.h>
#include <nlohmann/json.hpp>

#include "espo/driver/device.hpp"
#include "espo/driver/engine.hpp"
#include "espo/driver/model_device.hpp"
#include "espo/driver/sa_file.hpp"
#include "espo/ikectl/daemon.hpp"
#include "espo/ikectl/daemon_xfrm.hpp"
#include "espo/ikectl/xfrm_bridge.hpp"

namespace espo::ikectl {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr int kEspoIfindex = 7;
const char kKey128[] =
    "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
    "\x10\x11\x12\x13";

struct SaSpec {
  std::string src = "192.0.2.1";
  std::string dst = "198.51.100.7";
  int family = AF_INET;
  std::uint32_t spi = 0x1000;
  std::string aead = "rfc4106(gcm(aes))";
  std::uint32_t key_bits = 160;
  std::uint32_t icv_bits = 128;
  int mode = XFRM_MODE_TUNNEL;
  bool offload = true;
  std::uint8_t offload_flags = XFRM_OFFLOAD_PACKET;
  int ifindex = kEspoIfindex;
  std::uint64_t soft_packets = 0, hard_packets = 0;
  std::uint32_t flags = 0;
  bool esn_state = false;
  std::uint32_t oseq = 0, seq = 0, window = 64;
  bool encap = false;
  bool add_crypt_and_auth = false;
  bool tfcpad = false;
};

struct NlMsgFree {
  void operator()(nl_msg* m) const { nlmsg_free(m); }
};

Bytes MessageBytes(nl_msg* msg) {
  const nlmsghdr* h = nlmsg_hdr(msg);
  const auto* p = reinterpret_cast<const std::uint8_t*>(h);  // NOLINT
  return Bytes(p, p + h->nlmsg_len);                         // NOLINT
}

// XFRM_MSG_NEWSA (or UPDSA/DELSA request) built by libnl-xfrm.
Bytes BuildSa(const SaSpec& s, int type = XFRM_MSG_NEWSA) {
  xfrmnl_sa* sa = xfrmnl_sa_alloc();
  nl_addr* src = nullptr;
  nl_addr* dst = nullptr;
  EXPECT_EQ(nl_addr_parse(s.src.c_str(), s.family, &src), 0);
  EXPECT_EQ(nl_addr_parse(s.dst.c_str(), s.family, &dst), 0);
  xfrmnl_sa_set_saddr(sa, src);
  xfrmnl_sa_set_daddr(sa, dst);
  xfrmnl_sa_set_family(sa, s.family);
  xfrmnl_sa_set_spi(sa, s.spi);
  xfrmnl_sa_set_proto(sa, IPPROTO_ESP);
  xfrmnl_sa_set_mode(sa, s.mode);
  xfrmnl_sa_set_reqid(sa, 1);
  xfrmnl_sa_set_flags(sa, s.flags);
  std::string key(kKey128, 20);
  if (s.key_bits == 288) key = std::string(36, '\x5a');
  if (s.key_bits != 160 && s.key_bits != 288) key = std::string((s.key_bits + 7) / 8, '\x11');
  xfrmnl_sa_set_aead_params(sa, s.aead.c_str(), s.key_bits, s.icv_bits, key.data());
  if (s.add_crypt_and_auth) {
    xfrmnl_sa_set_crypto_params(sa, "cbc(aes)", 128, key.data());
    xfrmnl_sa_set_auth_params(sa, "hmac(sha256)", 256, 128, std::string(32, 'a').data());
  }
  if (s.tfcpad) xfrmnl_sa_set_tfcpad(sa, 64);
  if (s.offload) xfrmnl_sa_set_user_offload(sa, s.ifindex, s.offload_flags);
  xfrmnl_ltime_cfg* lt = xfrmnl_ltime_cfg_alloc();
  const std::uint64_t inf = ~std::uint64_t{0};
  xfrmnl_ltime_cfg_set_soft_packetlimit(lt, s.soft_packets ? s.soft_packets : inf);
  xfrmnl_ltime_cfg_set_hard_packetlimit(lt, s.hard_packets ? s.hard_packets : inf);
  xfrmnl_ltime_cfg_set_soft_bytelimit(lt, inf);
  xfrmnl_ltime_cfg_set_hard_bytelimit(lt, inf);
  xfrmnl_sa_set_lifetime_cfg(sa, lt);
  if (s.esn_state) {
    std::vector<unsigned int> bmp(s.window / 32, 0);
    xfrmnl_sa_set_replay_state_esn(sa, s.oseq, s.seq, 1, 0, s.window,
                                   static_cast<unsigned int>(bmp.size()), bmp.data());
  } else {
    xfrmnl_sa_set_replay_window(sa, s.window);
    xfrmnl_sa_set_replay_state(sa, s.oseq, s.seq, 0);
  }
  if (s.encap) {
    nl_addr* oa = nullptr;
    nl_addr_parse("0.0.0.0", AF_INET, &oa);
    xfrmnl_sa_set_encap_tmpl(sa, UDP_ENCAP_ESPINUDP, 4500, 4501, oa);  // libnl: host order
    nl_addr_put(oa);
  }
  nl_msg* raw = nullptr;
  int err = 0;
  if (type == XFRM_MSG_NEWSA) err = xfrmnl_sa_build_add_request(sa, 0, &raw);
  if (type == XFRM_MSG_UPDSA) err = xfrmnl_sa_build_update_request(sa, 0, &raw);
  if (type == XFRM_MSG_DELSA) err = xfrmnl_sa_build_delete_request(sa, 0, &raw);
  EXPECT_EQ(err, 0) << nl_geterror(err);
  std::unique_ptr<nl_msg, NlMsgFree> msg(raw);
  Bytes out = raw ? MessageBytes(raw) : Bytes{};
  xfrmnl_ltime_cfg_put(lt);
  nl_addr_put(src);
  nl_addr_put(dst);
  xfrmnl_sa_put(sa);
  return out;
}

// A DELSA notification as the kernel multicasts it: xfrm_usersa_id + XFRMA_SA (full state).
Bytes BuildDelSaNotification(const Bytes& newsa) {
  auto parsed = ParseXfrmMessage(newsa);
  EXPECT_TRUE(parsed.has_value());
  const xfrm_usersa_info& info = parsed->sa->info;
  xfrm_usersa_id id{};
  id.daddr = info.id.daddr;
  id.spi = info.id.spi;
  id.family = info.family;
  id.proto = info.id.proto;
  std::unique_ptr<nl_msg, NlMsgFree> msg(nlmsg_alloc_simple(XFRM_MSG_DELSA, 0));
  EXPECT_EQ(nlmsg_append(msg.get(), &id, sizeof(id), NLMSG_ALIGNTO), 0);
  EXPECT_EQ(nla_put(msg.get(), XFRMA_SA, sizeof(info), &info), 0);
  return MessageBytes(msg.get());
}

struct Call {
  std::string what;
  XfrmSaId id;
  std::string line;  // FormatSaLine of the SA, for installs
};

class CaptureSink : public SaSink {
 public:
  Status InstallSa(const XfrmSaId& id, const driver::SaConfig& sa) override {
    calls.push_back({"install", id, driver::FormatSaLine(sa)});
    return Ok();
  }
  Status UpdateSa(const XfrmSaId& id, const driver::SaConfig& sa) override {
    calls.push_back({"update", id, driver::FormatSaLine(sa)});
    return Ok();
  }
  Status RemoveSa(const XfrmSaId& id) override {
    calls.push_back({"remove", id, ""});
    return Ok();
  }
  void OnPolicy(bool added, const XfrmPolicyMessage& p) override {
    calls.push_back({added ? "policy+" : "policy-", {}, std::to_string(p.info.index)});
  }
  void OnAcquire(const XfrmAcquireMessage& a) override {
    calls.push_back({"acquire", a.id, a.saddr.ToString()});
  }
  std::vector<Call> calls;
};

class FakeKernel : public KernelPort {
 public:
  Status Send(std::span<const std::uint8_t> m) override {
    sent.emplace_back(m.begin(), m.end());
    return Ok();
  }
  std::vector<Bytes> sent;
};

struct Harness {
  CaptureSink sink;
  FakeKernel kernel;
  std::vector<std::string> log;
  XfrmBridge bridge{sink, kernel, XfrmBridgeOptions{kEspoIfindex, false},
                    [this](std::string_view l) { log.emplace_back(l); }};
  std::size_t LogCount(const std::string& needle) const {
    return static_cast<std::size_t>(std::count_if(log.begin(), log.end(), [&](const auto& l) {
      return l.find(needle) != std::string::npos;
    }));
  }
};

TEST(XfrmParse, LibnlNewSaBecomesSaConfig) {
  SaSpec s;
  s.soft_packets = 900;
  s.hard_packets = 1000;
  s.oseq = 41;
  s.encap = true;
  auto m = ParseXfrmMessage(BuildSa(s));
  ASSERT_TRUE(m.has_value()) << m.error().message;
  ASSERT_EQ(m->kind, XfrmMsgKind::kNewSa);
  EXPECT_EQ(m->sa->id.spi, 0x1000U);
  EXPECT_EQ(m->sa->id.daddr.ToString(), "198.51.100.7");
  ASSERT_TRUE(m->sa->offload.has_value());
  EXPECT_EQ(m->sa->offload->ifindex, kEspoIfindex);
  EXPECT_TRUE(m->sa->offload->packet());
  EXPECT_TRUE(ValidateForEspo(*m->sa).empty());
  auto cfg = ToSaConfig(*m->sa);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_EQ(driver::FormatSaLine(*cfg),
            "sa spi 0x00001000 dir out mode tunnel src 192.0.2.1 dst 198.51.100.7 aead "
            "rfc4106(gcm(aes)) 0x000102030405060708090a0b0c0d0e0f10111213 128 oseq 41 "
            "encap espinudp 4500 4501 soft-packets 900 hard-packets 1000");
}

TEST(XfrmParse, InboundEsnAes256FromOffloadFlags) {
  SaSpec s;
  s.key_bits = 288;
  s.icv_bits = 96;
  s.offload_flags = XFRM_OFFLOAD_PACKET | XFRM_OFFLOAD_INBOUND;
  s.flags = XFRM_STATE_ESN;
  s.esn_state = true;
  s.seq = 77;
  s.window = 128;
  s.family = AF_INET6;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::2";
  auto m = ParseXfrmMessage(BuildSa(s));
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_TRUE(ValidateForEspo(*m->sa).empty());
  auto cfg = ToSaConfig(*m->sa);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_EQ(cfg->dir, driver::Direction::kIn);
  EXPECT_TRUE(cfg->esn);
  EXPECT_EQ(cfg->replay_window, 128U);
  EXPECT_EQ(cfg->replay_seq, 77U);  // seq_hi 0
  EXPECT_EQ(cfg->icv_bytes, 12U);
  EXPECT_EQ(cfg->key.key_bytes(), 32U);
  EXPECT_EQ(cfg->dst.ToString(), "2001:db8::2");
}

TEST(XfrmParse, EachUnsupportedAttributeHasItsOwnReason) {
  SaSpec s;
  s.aead = "rfc4309(ccm(aes))";
  s.icv_bits = 32;
  s.add_crypt_and_auth = true;
  s.tfcpad = true;
  s.offload_flags = 0;  // crypto offload
  s.flags = XFRM_STATE_NOECN | XFRM_STATE_DECAP_DSCP;
  s.mode = XFRM_MODE_BEET;
  auto m = ParseXfrmMessage(BuildSa(s));
  ASSERT_TRUE(m.has_value()) << m.error().message;
  const auto why = ValidateForEspo(*m->sa);
  auto has = [&](const std::string& prefix) {
    return std::count_if(why.begin(), why.end(),
                         [&](const std::string& w) { return w.starts_with(prefix); });
  };
  EXPECT_EQ(has("mode:"), 1);
  EXPECT_EQ(has("offload: crypto offload"), 1);
  EXPECT_EQ(has("auth:"), 1);
  EXPECT_EQ(has("enc:"), 1);
  EXPECT_EQ(has("aead: algorithm 'rfc4309(ccm(aes))'"), 1);
  EXPECT_EQ(has("aead: ICV 32"), 1);
  EXPECT_EQ(has("tfcpad:"), 1);
  EXPECT_EQ(has("flag noecn"), 1);
  EXPECT_EQ(has("flag decap-dscp"), 1);
  for (const auto& w : why) EXPECT_EQ(w.find('\n'), std::string::npos) << w;
}

TEST(XfrmParse, EspoRulesAfterTheKernelOnes) {
  SaSpec s;
  s.window = 100;  // the kernel allows it; espo wants a power of two
  auto m = ParseXfrmMessage(BuildSa(s));
  ASSERT_TRUE(m.has_value());
  const auto why = ValidateForEspo(*m->sa);
  ASSERT_EQ(why.size(), 1U);
  EXPECT_NE(why[0].find("replay-window"), std::string::npos) << why[0];
  s.window = 64;
  s.aead = "rfc4543(gcm(aes))";
  s.icv_bits = 64;
  m = ParseXfrmMessage(BuildSa(s));
  ASSERT_TRUE(m.has_value());
  ASSERT_EQ(ValidateForEspo(*m->sa).size(), 1U);
  EXPECT_TRUE(ValidateForEspo(*m->sa)[0].starts_with("aead: rfc4543 needs a 128-bit ICV"));
}

TEST(XfrmParse, TruncatedAndLyingMessagesAreErrors) {
  Bytes msg = BuildSa(SaSpec{});
  for (std::size_t cut :
       {std::size_t{0}, std::size_t{10}, std::size_t{16}, std::size_t{100}, msg.size() - 1}) {
    Bytes part(msg.begin(), msg.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_FALSE(ParseXfrmMessage(part).has_value()) << cut;
  }
  // An attribute that claims more bytes than there are.
  Bytes bad = msg;
  const std::size_t attr = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(xfrm_usersa_info));
  ASSERT_LT(attr + 4, bad.size());
  bad[attr] = 0xff;
  bad[attr + 1] = 0x7f;
  auto m = ParseXfrmMessage(bad);
  ASSERT_FALSE(m.has_value());
  EXPECT_TRUE(m.error().message.starts_with("XFRM_MSG_NEWSA: attribute")) << m.error().message;
}

TEST(XfrmBridge, NewUpdDelOnTheSink) {
  Harness h;
  SaSpec s;
  const Bytes add = BuildSa(s);
  ASSERT_TRUE(h.bridge.HandleDatagram(add).has_value());
  ASSERT_EQ(h.sink.calls.size(), 1U);
  EXPECT_EQ(h.sink.calls[0].what, "install");
  EXPECT_EQ(h.sink.calls[0].id.spi, 0x1000U);
  s.soft_packets = 10;
  s.hard_packets = 20;
  ASSERT_TRUE(h.bridge.HandleDatagram(BuildSa(s, XFRM_MSG_UPDSA)).has_value());
  ASSERT_EQ(h.sink.calls.size(), 2U);
  EXPECT_EQ(h.sink.calls[1].what, "update");
  EXPECT_NE(h.sink.calls[1].line.find("soft-packets 10 hard-packets 20"), std::string::npos);
  ASSERT_TRUE(h.bridge.HandleDatagram(BuildDelSaNotification(add)).has_value());
  ASSERT_EQ(h.sink.calls.size(), 3U);
  EXPECT_EQ(h.sink.calls[2].what, "remove");
  EXPECT_FALSE(h.bridge.Mirrors(h.sink.calls[0].id));
  // The request form (xfrm_usersa_id only) of an SA we do not hold: nothing to do.
  ASSERT_TRUE(h.bridge.HandleDatagram(BuildSa(s, XFRM_MSG_DELSA)).has_value());
  EXPECT_EQ(h.sink.calls.size(), 3U);
  EXPECT_EQ(h.bridge.stats().installed, 1U);
  EXPECT_EQ(h.bridge.stats().removed, 1U);
}

TEST(XfrmBridge, OtherDevicesAndSoftwareSasAreIgnoredRefusalsLogged) {
  Harness h;
  SaSpec other;
  other.ifindex = kEspoIfindex + 1;
  EXPECT_TRUE(h.bridge.HandleDatagram(BuildSa(other)).has_value());
  SaSpec software;
  software.offload = false;
  EXPECT_TRUE(h.bridge.HandleDatagram(BuildSa(software)).has_value());
  EXPECT_TRUE(h.sink.calls.empty());
  EXPECT_EQ(h.bridge.stats().ignored, 2U);
  SaSpec bad;
  bad.add_crypt_and_auth = true;
  bad.tfcpad = true;
  auto st = h.bridge.HandleDatagram(BuildSa(bad));
  EXPECT_FALSE(st.has_value());
  EXPECT_TRUE(h.sink.calls.empty());
  EXPECT_EQ(h.bridge.stats().refused, 1U);
  EXPECT_EQ(h.LogCount("xfrm: refusing spi 0x00001000"), 3U);  // auth, enc, tfcpad
}

TEST(XfrmBridge, TwoMessagesInOneDatagram) {
  Harness h;
  SaSpec a;
  SaSpec b;
  b.spi = 0x2000;
  Bytes dgram = BuildSa(a);
  dgram.resize(NLMSG_ALIGN(dgram.size()), 0);
  const Bytes second = BuildSa(b);
  dgram.insert(dgram.end(), second.begin(), second.end());
  ASSERT_TRUE(h.bridge.HandleDatagram(dgram).has_value());
  ASSERT_EQ(h.sink.calls.size(), 2U);
  EXPECT_EQ(h.sink.calls[1].id.spi, 0x2000U);
}

TEST(XfrmBridge, ExpireOncePerKindAndParsesBack) {
  Harness h;
  SaSpec s;
  s.soft_packets = 2;
  s.hard_packets = 3;
  ASSERT_TRUE(h.bridge.HandleDatagram(BuildSa(s)).has_value());
  const XfrmSaId id = h.sink.calls.at(0).id;
  ASSERT_TRUE(h.bridge.OnEngineEvent(id, driver::EventKind::kSoft, 2, 200).has_value());
  ASSERT_TRUE(h.bridge.OnEngineEvent(id, driver::EventKind::kSoft, 2, 200).has_value());
  ASSERT_TRUE(h.bridge.OnEngineEvent(id, driver::EventKind::kHard, 3, 300).has_value());
  ASSERT_TRUE(h.bridge.OnEngineEvent(id, driver::EventKind::kSeqOverflow, 3, 300).has_value());
  ASSERT_TRUE(h.bridge.OnEngineEvent(id, driver::EventKind::kSoft, 3, 300).has_value());
  ASSERT_EQ(h.kernel.sent.size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    const Bytes& b = h.kernel.sent[i];
    nlmsghdr hdr{};
    std::memcpy(&hdr, b.data(), sizeof(hdr));
    EXPECT_EQ(hdr.nlmsg_type, XFRM_MSG_EXPIRE);
    EXPECT_NE(hdr.nlmsg_flags & NLM_F_REQUEST, 0);
    EXPECT_EQ(hdr.nlmsg_len, NLMSG_LENGTH(sizeof(xfrm_user_expire)));
    auto m = ParseXfrmMessage(b);
    ASSERT_TRUE(m.has_value()) << m.error().message;
    ASSERT_EQ(m->kind, XfrmMsgKind::kExpire);
    EXPECT_EQ(m->sa->hard, i == 1);
    EXPECT_EQ(m->sa->id, id);
    EXPECT_EQ(m->sa->info.curlft.packets, i == 0 ? 2U : 3U);
    EXPECT_EQ(m->sa->info.lft.hard_packet_limit, 3U);
  }
  EXPECT_FALSE(h.bridge.OnEngineEvent(XfrmSaId{}, driver::EventKind::kSoft, 0, 0).has_value());
}

TEST(XfrmBridge, KernelHardExpireRemoves) {
  Harness h;
  ASSERT_TRUE(h.bridge.HandleDatagram(BuildSa(SaSpec{})).has_value());
  const XfrmSaId id = h.sink.calls.at(0).id;
  auto parsed = ParseXfrmMessage(BuildSa(SaSpec{}));
  ASSERT_TRUE(parsed.has_value());
  auto expire = BuildExpireMessage(parsed->sa->info, true, 0, 0);
  ASSERT_TRUE(expire.has_value());
  ASSERT_TRUE(h.bridge.HandleDatagram(*expire).has_value());
  ASSERT_EQ(h.sink.calls.size(), 2U);
  EXPECT_EQ(h.sink.calls[1].what, "remove");
  EXPECT_FALSE(h.bridge.Mirrors(id));
}

TEST(XfrmBridge, EngineSinkInstallsAndRemovesSlots) {
  driver::DeviceSpec spec;
  spec.kind = driver::DeviceKind::kModel;
  spec.sa_slots = 64;
  auto device = driver::OpenDevice(spec);
  ASSERT_TRUE(device.has_value()) << device.error().message;
  auto engine = driver::Engine::Open(std::move(*device));
  ASSERT_TRUE(engine.has_value()) << engine.error().message;
  EngineSaSink sink(**engine);
  FakeKernel kernel;
  std::vector<std::string> log;
  XfrmBridge bridge(sink, kernel, XfrmBridgeOptions{},
                    [&](std::string_view l) { log.emplace_back(l); });
  SaSpec out;
  SaSpec out2;
  out2.spi = 0x1001;
  SaSpec in;
  in.spi = 0x2005;
  in.offload_flags = XFRM_OFFLOAD_PACKET | XFRM_OFFLOAD_INBOUND;
  SaSpec clash = in;  // same inbound slot (spi mod 64)
  clash.spi = 0x2005 + 64;
  for (const SaSpec* s : {&out, &out2, &in}) {
    ASSERT_TRUE(bridge.HandleDatagram(BuildSa(*s)).has_value()) << log.back();
  }
  EXPECT_FALSE(bridge.HandleDatagram(BuildSa(clash)).has_value());
  EXPECT_NE(log.back().find("inbound slot 5 is held by spi 0x00002005"), std::string::npos)
      << log.back();
  auto id_of = [](const SaSpec& s) {
    auto m = ParseXfrmMessage(BuildSa(s));
    return m->sa->id;
  };
  EXPECT_EQ(sink.SlotOf(id_of(out)), 0U);
  EXPECT_EQ(sink.SlotOf(id_of(out2)), 1U);
  EXPECT_EQ(sink.SlotOf(id_of(in)), 5U);
  auto slot = (*engine)->ReadSlot(driver::Direction::kIn, 5);
  ASSERT_TRUE(slot.has_value());
  EXPECT_EQ(slot->state, driver::SlotState::kActive);
  EXPECT_EQ(slot->spi, 0x2005U);
  ASSERT_TRUE(bridge.HandleDatagram(BuildDelSaNotification(BuildSa(in))).has_value());
  slot = (*engine)->ReadSlot(driver::Direction::kIn, 5);
  ASSERT_TRUE(slot.has_value());
  EXPECT_EQ(slot->state, driver::SlotState::kFree);
  // Limits-only update keeps the slot.
  out.soft_packets = 5;
  out.hard_packets = 6;
  ASSERT_TRUE(bridge.HandleDatagram(BuildSa(out, XFRM_MSG_UPDSA)).has_value());
  EXPECT_EQ(sink.SlotOf(id_of(out)), 0U);
  auto events = sink.PollEvents();
  ASSERT_TRUE(events.has_value());
  EXPECT_TRUE(events->empty());
}

}  // namespace
}  // namespace espo::ikectl

// ---------------------------------------------------------------- the bridge in the daemon
// DaemonXfrmLink (docs/XFRM_BRIDGE.md "In the daemon"): the bridge's SaSink is a ControlCore on
// a model device; the kernel is a FakeKernel.
namespace espo::ikectl {
namespace {

using Json = nlohmann::json;

class DaemonHarness {
 public:
  explicit DaemonHarness(std::uint32_t slots = 64, std::uint32_t software_sas = 0) {
    driver::ModelOptions mo;
    mo.sa_slots = slots;
    auto device = driver::OpenModelDevice(mo);
    EXPECT_TRUE(device.has_value());
    CoreOptions options;
    options.device_name = "model";
    options.software_sas = software_sas;
    auto core = ControlCore::Create(std::move(*device), options, log_);
    EXPECT_TRUE(core.has_value()) << (core ? "" : core.error().message);
    core_ = std::move(*core);
    core_->SetEventSink([this](const Json& e) { events.push_back(e); });
    link_ = std::make_unique<DaemonXfrmLink>(*core_, kernel, XfrmBridgeOptions{kEspoIfindex, false},
                                             log_);
  }
  ControlCore& core() { return *core_; }
  DaemonXfrmLink& link() { return *link_; }
  Status Feed(const Bytes& datagram) { return link_->bridge().HandleDatagram(datagram); }
  // Kernel SAs with SPIs 0x1000 .. 0x1000 + n - 1, each of which must be accepted.
  void FeedSas(std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i) {
      SaSpec s;
      s.spi = 0x1000 + i;
      ASSERT_TRUE(Feed(BuildSa(s)).has_value()) << "SPI 0x" << std::hex << s.spi;
    }
  }
  Json Call(const std::string& cmd, const Json& args = Json::object()) {
    const std::string line = Json{{"v", 1}, {"id", 1}, {"cmd", cmd}, {"args", args}}.dump();
    return Json::parse(core_->HandleLine(line));
  }
  // The SAs of sa.list.
  Json List() {
    Json r = Call("sa.list");
    EXPECT_TRUE(r.value("ok", false)) << r.dump();
    return r["result"]["sas"];
  }
  std::vector<Json> Events(const std::string& type) const {
    std::vector<Json> out;
    for (const Json& e : events) {
      if (e.value("type", "") == type) out.push_back(e);
    }
    return out;
  }
  // The expires the fake kernel got, parsed back.
  std::vector<XfrmSaMessage> Expires() const {
    std::vector<XfrmSaMessage> out;
    for (const Bytes& b : kernel.sent) {
      auto m = ParseXfrmMessage(b);
      EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().message);
      if (m && m->kind == XfrmMsgKind::kExpire) out.push_back(std::move(*m->sa));
    }
    return out;
  }

  FakeKernel kernel;
  std::vector<Json> events;

 private:
  Logger log_{LogLevel::kError};  // declared before core_ and link_: outlives both
  std::unique_ptr<ControlCore> core_;
  std::unique_ptr<DaemonXfrmLink> link_;  // destroyed before core_
};

XfrmSaId IdOf(const SaSpec& s) {
  auto m = ParseXfrmMessage(BuildSa(s));
  EXPECT_TRUE(m.has_value());
  return m ? m->sa->id : XfrmSaId{};
}

TEST(DaemonXfrm, OffloadedNewSaBecomesAnXfrmEntryOtherDevicesIgnored) {
  DaemonHarness h;
  SaSpec s;
  ASSERT_TRUE(h.Feed(BuildSa(s)).has_value());
  SaSpec other;
  other.spi = 0x1001;
  other.ifindex = kEspoIfindex + 1;
  ASSERT_TRUE(h.Feed(BuildSa(other)).has_value());
  SaSpec not_offloaded;
  not_offloaded.spi = 0x1002;
  not_offloaded.offload = false;
  ASSERT_TRUE(h.Feed(BuildSa(not_offloaded)).has_value());
  const Json sas = h.List();
  ASSERT_EQ(sas.size(), 1U) << sas.dump();
  EXPECT_EQ(sas[0]["spi"], "0x00001000");
  EXPECT_EQ(sas[0]["dir"], "out");
  EXPECT_EQ(sas[0]["origin"], "xfrm");
  EXPECT_EQ(sas[0]["placement"], "hardware");
  EXPECT_EQ(sas[0]["slot"], 0);
  EXPECT_EQ(sas[0]["src"], "192.0.2.1");
  EXPECT_EQ(sas[0]["dst"], "198.51.100.7");
  EXPECT_NE(sas[0]["source"].get<std::string>().find("xfrm spi 0x00001000"), std::string::npos)
      << sas[0]["source"];
  const auto added = h.Events("sa-added");
  ASSERT_EQ(added.size(), 1U);
  EXPECT_EQ(added[0]["origin"], "xfrm");
  EXPECT_EQ(h.link().bridge().stats().ignored, 2U);
  EXPECT_TRUE(h.link().bridge().Mirrors(IdOf(s)));
  EXPECT_FALSE(h.link().bridge().Mirrors(IdOf(other)));
  EXPECT_TRUE(h.kernel.sent.empty());
}

// strongSwan's inbound SAs: ALLOCSPI makes a larval state (no offload, not mirrored), then an
// UPDSA completes it with the offload: the first the bridge sees of it is an update.
TEST(DaemonXfrm, UpdSaOfAnUnmirroredStateInstalls) {
  DaemonHarness h;
  SaSpec larval;
  larval.offload = false;
  ASSERT_TRUE(h.Feed(BuildSa(larval)).has_value());
  EXPECT_TRUE(h.List().empty());
  SaSpec full;
  ASSERT_TRUE(h.Feed(BuildSa(full, XFRM_MSG_UPDSA)).has_value());
  const Json sas = h.List();
  ASSERT_EQ(sas.size(), 1U);
  EXPECT_EQ(sas[0]["origin"], "xfrm");
  EXPECT_EQ(h.Events("sa-added").size(), 1U);
}

TEST(DaemonXfrm, InboundSaTakesTheSlotItsSpiEncodes) {
  DaemonHarness h(4);
  SaSpec in;
  in.spi = 0x2005;
  in.src = "198.51.100.7";
  in.dst = "192.0.2.1";
  in.offload_flags = XFRM_OFFLOAD_PACKET | XFRM_OFFLOAD_INBOUND;
  ASSERT_TRUE(h.Feed(BuildSa(in)).has_value());
  const Json sas = h.List();
  ASSERT_EQ(sas.size(), 1U);
  EXPECT_EQ(sas[0]["dir"], "in");
  EXPECT_EQ(sas[0]["slot"], 1);  // 0x2005 mod 4
  EXPECT_EQ(sas[0]["origin"], "xfrm");
}

TEST(DaemonXfrm, UpdSaChangesLimitsInPlaceDelSaRemoves) {
  DaemonHarness h;
  SaSpec s;
  const Bytes add = BuildSa(s);
  ASSERT_TRUE(h.Feed(add).has_value());
  s.soft_packets = 10;
  s.hard_packets = 20;
  ASSERT_TRUE(h.Feed(BuildSa(s, XFRM_MSG_UPDSA)).has_value());
  Json sas = h.List();
  ASSERT_EQ(sas.size(), 1U);
  EXPECT_EQ(sas[0]["limits"]["soft_packets"], 10);
  EXPECT_EQ(sas[0]["limits"]["hard_packets"], 20);
  EXPECT_EQ(sas[0]["slot"], 0);
  EXPECT_EQ(sas[0]["origin"], "xfrm");
  EXPECT_EQ(h.Events("sa-updated").size(), 1U);
  EXPECT_TRUE(h.Events("sa-removed").empty());  // in place, not remove + add
  EXPECT_EQ(h.Events("sa-added").size(), 1U);
  // A NEWSA for a mirrored SA with other limits is an update too.
  s.soft_packets = 11;
  ASSERT_TRUE(h.Feed(BuildSa(s)).has_value());
  EXPECT_EQ(h.List()[0]["limits"]["soft_packets"], 11);
  EXPECT_EQ(h.Events("sa-updated").size(), 2U);
  // Another key: remove + add (same SPI).
  SaSpec rekeyed = s;
  rekeyed.key_bits = 288;
  ASSERT_TRUE(h.Feed(BuildSa(rekeyed, XFRM_MSG_UPDSA)).has_value());
  sas = h.List();
  ASSERT_EQ(sas.size(), 1U);
  EXPECT_EQ(sas[0]["key_bits"], 256);
  EXPECT_EQ(h.Events("sa-removed").size(), 1U);
  EXPECT_EQ(h.Events("sa-added").size(), 2U);

  ASSERT_TRUE(h.Feed(BuildDelSaNotification(add)).has_value());
  EXPECT_TRUE(h.List().empty());
  EXPECT_EQ(h.Events("sa-removed").size(), 2U);
  EXPECT_FALSE(h.link().bridge().Mirrors(IdOf(s)));
  EXPECT_TRUE(h.kernel.sent.empty());
}

// Counters go back to the kernel as XFRM_MSG_NEWAE (NLM_F_REPLACE, XFRMA_LTIME_VAL), only when
// they changed; the kernel's xfrm_new_ae() takes exactly this form.
TEST(DaemonXfrm, CountersPushedToTheKernelAsNewAe) {
  DaemonHarness h;
  SaSpec s;
  ASSERT_TRUE(h.Feed(BuildSa(s)).has_value());
  ASSERT_TRUE(
      h.Call("sa.send", {{"spi", "0x1000"}, {"count", 5}, {"size", 100}}).value("ok", false));
  ASSERT_EQ(h.link().PushCounters(), 1U);
  ASSERT_EQ(h.kernel.sent.size(), 1U);
  const Bytes& m = h.kernel.sent[0];
  ASSERT_GE(m.size(), NLMSG_HDRLEN + sizeof(xfrm_aevent_id));
  const auto* nh = reinterpret_cast<const nlmsghdr*>(m.data());  // NOLINT
  EXPECT_EQ(nh->nlmsg_type, XFRM_MSG_NEWAE);
  EXPECT_NE(nh->nlmsg_flags & NLM_F_REPLACE, 0);
  xfrm_aevent_id ae{};
  std::memcpy(&ae, m.data() + NLMSG_HDRLEN, sizeof(ae));
  EXPECT_EQ(ntohl(ae.sa_id.spi), 0x1000U);
  EXPECT_EQ(ae.sa_id.proto, IPPROTO_ESP);
  EXPECT_NE(ae.flags & XFRM_AE_LVAL, 0U);
  // The one attribute: XFRMA_LTIME_VAL with espo's counters.
  const std::size_t at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(xfrm_aevent_id));
  ASSERT_GE(m.size(), at + NLA_HDRLEN + sizeof(xfrm_lifetime_cur));
  nlattr nla{};
  std::memcpy(&nla, m.data() + at, sizeof(nla));
  EXPECT_EQ(nla.nla_type, XFRMA_LTIME_VAL);
  xfrm_lifetime_cur cur{};
  std::memcpy(&cur, m.data() + at + NLA_HDRLEN, sizeof(cur));
  EXPECT_EQ(cur.packets, 5U);
  EXPECT_GT(cur.bytes, 5U * 100U - 1U);  // counted ESP payload bytes of 100-byte packets
  // Unchanged counters are not sent again; new traffic is.
  EXPECT_EQ(h.link().PushCounters(), 0U);
  ASSERT_TRUE(h.Call("sa.send", {{"spi", "0x1000"}, {"count", 1}}).value("ok", false));
  EXPECT_EQ(h.link().PushCounters(), 1U);
  EXPECT_EQ(h.link().bridge().stats().counters_sent, 2U);
}

TEST(DaemonXfrm, SoftExpireRekeyFinishedHardExpireOnce) {
  DaemonHarness h;
  SaSpec s;
  s.soft_packets = 3;
  s.hard_packets = 6;
  ASSERT_TRUE(h.Feed(BuildSa(s)).has_value());
  const XfrmSaId id = IdOf(s);
  Json sent = h.Call("sa.send", {{"spi", "0x1000"}, {"count", 3}});
  ASSERT_TRUE(sent.value("ok", false)) << sent.dump();
  h.core().PollEvents();
  auto expires = h.Expires();
  ASSERT_EQ(expires.size(), 1U);
  EXPECT_FALSE(expires[0].hard);
  EXPECT_EQ(expires[0].id, id);
  EXPECT_EQ(expires[0].info.curlft.packets, 3U);
  EXPECT_EQ(expires[0].info.lft.soft_packet_limit, 3U);
  EXPECT_EQ(expires[0].info.lft.hard_packet_limit, 6U);
  auto started = h.Events("rekey-started");
  ASSERT_EQ(started.size(), 1U);
  EXPECT_EQ(started[0]["spi"], "0x00001000");
  EXPECT_EQ(started[0]["dir"], "out");
  EXPECT_EQ(started[0]["src"], "192.0.2.1");
  EXPECT_EQ(started[0]["dst"], "198.51.100.7");
  EXPECT_EQ(h.Events("soft").size(), 1U);
  // More packets below the hard limit: no second expire, no second rekey-started.
  ASSERT_TRUE(h.Call("sa.send", {{"spi", "0x1000"}, {"count", 1}}).value("ok", false));
  h.core().PollEvents();
  EXPECT_EQ(h.Expires().size(), 1U);
  EXPECT_EQ(h.Events("rekey-started").size(), 1U);

  // The IKE daemon rekeyed: the successor (new SPI, same dir/src/dst) arrives.
  SaSpec next = s;
  next.spi = 0x1001;
  next.soft_packets = 0;
  next.hard_packets = 0;
  ASSERT_TRUE(h.Feed(BuildSa(next)).has_value());
  auto finished = h.Events("rekey-finished");
  ASSERT_EQ(finished.size(), 1U);
  EXPECT_EQ(finished[0]["old_spi"], "0x00001000");
  EXPECT_EQ(finished[0]["new_spi"], "0x00001001");
  EXPECT_EQ(finished[0]["dir"], "out");
  EXPECT_EQ(h.List().size(), 2U);
  // An unrelated SA for another tunnel does not finish anything.
  SaSpec third = s;
  third.spi = 0x1002;
  third.dst = "198.51.100.8";
  ASSERT_TRUE(h.Feed(BuildSa(third)).has_value());
  EXPECT_EQ(h.Events("rekey-finished").size(), 1U);

  // The old SA goes on until its hard limit: exactly one hard expire.
  sent = h.Call("sa.send", {{"spi", "0x1000"}, {"count", 5}});
  ASSERT_TRUE(sent.value("ok", false)) << sent.dump();
  EXPECT_EQ(sent["result"]["seq"], 6);
  h.core().PollEvents();
  ASSERT_TRUE(h.Call("sa.send", {{"spi", "0x1000"}, {"count", 2}}).value("ok", false));
  h.core().PollEvents();
  expires = h.Expires();
  ASSERT_EQ(expires.size(), 2U);
  EXPECT_TRUE(expires[1].hard);
  EXPECT_EQ(expires[1].id, id);
  EXPECT_EQ(expires[1].info.curlft.packets, 6U);
  EXPECT_EQ(h.Events("hard").size(), 1U);
  EXPECT_EQ(h.link().bridge().stats().expires_sent, 2U);

  // The kernel deletes the old state: the table keeps the successor.
  ASSERT_TRUE(h.Feed(BuildDelSaNotification(BuildSa(s))).has_value());
  const Json sas = h.List();
  ASSERT_EQ(sas.size(), 2U);
  EXPECT_EQ(sas[0]["spi"], "0x00001001");
  EXPECT_EQ(sas[1]["spi"], "0x00001002");
}

TEST(DaemonXfrm, RefusedSaInstallsNothing) {
  DaemonHarness h;
  SaSpec bad;
  bad.add_crypt_and_auth = true;  // cbc(aes) + hmac(sha256) next to the AEAD
  EXPECT_FALSE(h.Feed(BuildSa(bad)).has_value());
  SaSpec crypto_only;
  crypto_only.spi = 0x1001;
  crypto_only.offload_flags = 0;  // crypto offload on espo's device
  EXPECT_FALSE(h.Feed(BuildSa(crypto_only)).has_value());
  EXPECT_TRUE(h.List().empty());
  EXPECT_TRUE(h.Events("sa-added").empty());
  EXPECT_EQ(h.link().bridge().stats().refused, 2U);
  EXPECT_FALSE(h.link().bridge().Mirrors(IdOf(bad)));
  EXPECT_TRUE(h.kernel.sent.empty());
}

TEST(DaemonXfrm, FullTableWithoutSoftwarePathRefuses) {
  DaemonHarness h(4, 0);
  ASSERT_NO_FATAL_FAILURE(h.FeedSas(4));
  SaSpec fifth;
  fifth.spi = 0x1004;
  auto st = h.Feed(BuildSa(fifth));
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().message.find("4 of 4"), std::string::npos) << st.error().message;
  EXPECT_EQ(h.List().size(), 4U);
  EXPECT_FALSE(h.link().bridge().Mirrors(IdOf(fifth)));
  EXPECT_TRUE(h.Events("fallback").empty());
  // The kernel deleting the refused SA later is harmless.
  EXPECT_TRUE(h.Feed(BuildDelSaNotification(BuildSa(fifth))).has_value());
  EXPECT_EQ(h.List().size(), 4U);
}

TEST(DaemonXfrm, FullTableFallsBackToSoftwareAndMigratesBack) {
  DaemonHarness h(4, 2);
  ASSERT_NO_FATAL_FAILURE(h.FeedSas(4));
  SaSpec fifth;
  fifth.spi = 0x1004;
  fifth.soft_packets = 2;
  fifth.hard_packets = 100;
  ASSERT_TRUE(h.Feed(BuildSa(fifth)).has_value());
  Json sas = h.List();
  ASSERT_EQ(sas.size(), 5U);
  EXPECT_EQ(sas[4]["spi"], "0x00001004");
  EXPECT_EQ(sas[4]["placement"], "software");
  EXPECT_EQ(sas[4]["origin"], "xfrm");
  auto fallback = h.Events("fallback");
  ASSERT_EQ(fallback.size(), 1U);
  EXPECT_EQ(fallback[0]["spi"], "0x00001004");
  EXPECT_EQ(fallback[0]["origin"], "xfrm");
  EXPECT_TRUE(h.link().bridge().Mirrors(IdOf(fifth)));
  // Limits hold on the software path too: its soft event reaches the kernel.
  ASSERT_TRUE(h.Call("sa.send", {{"spi", "0x1004"}, {"count", 2}}).value("ok", false));
  h.core().PollEvents();
  auto expires = h.Expires();
  ASSERT_EQ(expires.size(), 1U);
  EXPECT_FALSE(expires[0].hard);
  EXPECT_EQ(expires[0].id, IdOf(fifth));
  EXPECT_EQ(h.Events("rekey-started").size(), 1U);
  // A seventh SA: the software path holds 2.
  SaSpec sixth;
  sixth.spi = 0x1005;
  ASSERT_TRUE(h.Feed(BuildSa(sixth)).has_value());
  SaSpec seventh;
  seventh.spi = 0x1006;
  EXPECT_FALSE(h.Feed(BuildSa(seventh)).has_value());
  EXPECT_EQ(h.List().size(), 6U);
  // The kernel deletes a hardware SA: a software one moves to the freed slot.
  SaSpec first;
  ASSERT_TRUE(h.Feed(BuildDelSaNotification(BuildSa(first))).has_value());
  h.core().PollEvents();
  EXPECT_EQ(h.Events("migrated").size(), 1U);
  sas = h.List();
  ASSERT_EQ(sas.size(), 5U);
  int software = 0;
  for (const Json& sa : sas) software += sa["placement"] == "software" ? 1 : 0;
  EXPECT_EQ(software, 1);
}

TEST(DaemonXfrm, OperatorDeletedXfrmSaThenKernelMessages) {
  DaemonHarness h;
  SaSpec s;
  ASSERT_TRUE(h.Feed(BuildSa(s)).has_value());
  ASSERT_TRUE(h.Call("sa.del", {{"spi", "0x1000"}}).value("ok", false));
  EXPECT_TRUE(h.List().empty());
  // The kernel still holds the state and updates it: the SA comes back.
  s.soft_packets = 10;
  ASSERT_TRUE(h.Feed(BuildSa(s, XFRM_MSG_UPDSA)).has_value());
  Json sas = h.List();
  ASSERT_EQ(sas.size(), 1U);
  EXPECT_EQ(sas[0]["limits"]["soft_packets"], 10);
  ASSERT_TRUE(h.Call("sa.del", {{"spi", "0x1000"}}).value("ok", false));
  // The kernel deletes it: nothing left to remove, not an error.
  EXPECT_TRUE(h.Feed(BuildDelSaNotification(BuildSa(s))).has_value());
  EXPECT_TRUE(h.List().empty());
  EXPECT_FALSE(h.link().bridge().Mirrors(IdOf(s)));
}

TEST(DaemonXfrm, PolicyAndAcquireBecomeEvents) {
  DaemonHarness h;
  XfrmMessage acquire;
  acquire.kind = XfrmMsgKind::kAcquire;
  acquire.acquire.emplace();
  auto saddr = driver::IpAddress::Parse("192.0.2.1");
  auto daddr = driver::IpAddress::Parse("198.51.100.7");
  ASSERT_TRUE(saddr.has_value() && daddr.has_value());
  acquire.acquire->saddr = *saddr;
  acquire.acquire->id.daddr = *daddr;
  acquire.acquire->id.proto = IPPROTO_ESP;
  acquire.acquire->seq = 9;
  ASSERT_TRUE(h.link().bridge().HandleMessage(acquire).has_value());
  auto acq = h.Events("xfrm-acquire");
  ASSERT_EQ(acq.size(), 1U);
  EXPECT_EQ(acq[0]["src"], "192.0.2.1");
  EXPECT_EQ(acq[0]["dst"], "198.51.100.7");
  EXPECT_EQ(acq[0]["seq"], 9);
  XfrmMessage policy;
  policy.kind = XfrmMsgKind::kNewPolicy;
  policy.policy.emplace();
  policy.policy->info.dir = XFRM_POLICY_OUT;
  policy.policy->info.index = 17;
  policy.policy->offload = XfrmOffload{kEspoIfindex, XFRM_OFFLOAD_PACKET};
  policy.policy->templates.emplace_back();
  ASSERT_TRUE(h.link().bridge().HandleMessage(policy).has_value());
  policy.kind = XfrmMsgKind::kDelPolicy;
  ASSERT_TRUE(h.link().bridge().HandleMessage(policy).has_value());
  auto pol = h.Events("xfrm-policy");
  ASSERT_EQ(pol.size(), 2U);
  EXPECT_EQ(pol[0]["action"], "added");
  EXPECT_EQ(pol[0]["dir"], "out");
  EXPECT_EQ(pol[0]["index"], 17);
  EXPECT_EQ(pol[0]["templates"], 1);
  EXPECT_EQ(pol[1]["action"], "removed");
}

}  // namespace
}  // namespace espo::ikectl

// Writes the seed corpus of fuzz_xfrm_msg (tests/fuzz/corpus/fuzz_xfrm_msg) when
// ESPO_WRITE_XFRM_CORPUS names a directory; skipped otherwise.
#include <cstdlib>
#include <fstream>
namespace espo::ikectl {
namespace {
TEST(XfrmSeeds, WriteCorpus) {
  const char* dir = std::getenv("ESPO_WRITE_XFRM_CORPUS");  // NOLINT(concurrency-mt-unsafe)
  if (dir == nullptr) GTEST_SKIP() << "set ESPO_WRITE_XFRM_CORPUS=<dir> to write the corpus";
  auto write = [&](const std::string& name, const Bytes& b) {
    std::ofstream(std::string(dir) + "/" + name, std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()),  // NOLINT
               static_cast<std::streamsize>(b.size()));
  };
  SaSpec plain;
  plain.soft_packets = 9;
  plain.hard_packets = 10;
  plain.encap = true;
  write("newsa_out", BuildSa(plain));
  SaSpec in;
  in.offload_flags = XFRM_OFFLOAD_PACKET | XFRM_OFFLOAD_INBOUND;
  in.flags = XFRM_STATE_ESN;
  in.esn_state = true;
  in.key_bits = 288;
  in.family = AF_INET6;
  in.src = "2001:db8::1";
  in.dst = "2001:db8::2";
  write("newsa_in_esn_v6", BuildSa(in));
  SaSpec bad;
  bad.add_crypt_and_auth = true;
  bad.tfcpad = true;
  write("newsa_refused", BuildSa(bad));
  write("updsa", BuildSa(plain, XFRM_MSG_UPDSA));
  write("delsa_request", BuildSa(plain, XFRM_MSG_DELSA));
  write("delsa_notify", BuildDelSaNotification(BuildSa(plain)));
  auto parsed = ParseXfrmMessage(BuildSa(plain));
  ASSERT_TRUE(parsed.has_value());
  write("expire_hard", *BuildExpireMessage(parsed->sa->info, true, 10, 1000));
}
}  // namespace
}  // namespace espo::ikectl
