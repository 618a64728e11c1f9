// SPDX-License-Identifier: Apache-2.0
//
// XFRM bridge against the live kernel (label e2e), inside a fresh network namespace the test
// process creates with unshare(CLONE_NEWNET) (gone when the process exits): policy add/delete
// notifications are mirrored, a packet hitting an ESP policy without SA yields XFRM_MSG_ACQUIRE,
// and XFRM_MSG_ALLOCSPI reserves an SPI in the requested range. The kernel here cannot install
// ESP SAs, so SA install/expire is covered by tests/unit/test_xfrm_bridge.cpp. Needs root.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "espo/ikectl/xfrm_bridge.hpp"

namespace espo::ikectl {
namespace {

class Recorder : public SaSink {
 public:
  Status InstallSa(const XfrmSaId& /*id*/, const driver::SaConfig& /*sa*/) override {
    ++installs;
    return Ok();
  }
  Status UpdateSa(const XfrmSaId& /*id*/, const driver::SaConfig& /*sa*/) override { return Ok(); }
  Status RemoveSa(const XfrmSaId& /*id*/) override { return Ok(); }
  void OnPolicy(bool added, const XfrmPolicyMessage& p) override {
    (added ? added_policies : removed_policies).push_back(p);
  }
  void OnAcquire(const XfrmAcquireMessage& a) override { acquires.push_back(a); }
  int installs = 0;
  std::vector<XfrmPolicyMessage> added_policies, removed_policies;
  std::vector<XfrmAcquireMessage> acquires;
};

int Sh(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());  // NOLINT(cert-env33-c): test setup
}

class XfrmLive : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) {
      skip_reason_ = "needs root: creates a network namespace (unshare CLONE_NEWNET)";
      return;
    }
    if (::unshare(CLONE_NEWNET) != 0) {
      skip_reason_ = std::string("unshare(CLONE_NEWNET) failed: ") + std::strerror(errno);
      return;
    }
    // veth (no dummy module needed); ip(8) runs in the namespace we are now in.
    if (Sh("ip link set lo up") != 0 ||
        Sh("ip link add espo-v0 type veth peer name espo-v1") != 0 ||
        Sh("ip link set espo-v0 up") != 0 || Sh("ip link set espo-v1 up") != 0 ||
        Sh("ip addr add 10.0.0.1/24 dev espo-v0") != 0 ||
        Sh("ip addr add 192.0.2.1/32 dev espo-v0") != 0 ||
        Sh("ip route add 10.0.1.0/24 dev espo-v0") != 0) {
      skip_reason_ = "cannot set up veth/addresses in the new namespace (iproute2, veth)";
    }
  }
  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    auto sock = XfrmNetlinkSocket::Open(true);
    ASSERT_TRUE(sock.has_value()) << sock.error().message;
    sock_ = std::move(*sock);
    bridge_ = std::make_unique<XfrmBridge>(sink_, *sock_, XfrmBridgeOptions{0, true},
                                           [this](std::string_view l) { log_.emplace_back(l); });
  }
  // Feeds datagrams to the bridge until `done` or 5 s.
  void Pump(const std::function<bool()>& done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done() && std::chrono::steady_clock::now() < until) {
      auto d = sock_->Receive(200);
      ASSERT_TRUE(d.has_value()) << d.error().message;
      if (!d->empty()) (void)bridge_->HandleDatagram(*d);
    }
  }
  static std::string skip_reason_;
  Recorder sink_;
  std::unique_ptr<XfrmNetlinkSocket> sock_;
  std::unique_ptr<XfrmBridge> bridge_;
  std::vector<std::string> log_;
};
std::string XfrmLive::skip_reason_;

constexpr const char* kPolicy =
    "src 10.0.0.0/24 dst 10.0.1.0/24 dir out tmpl src 192.0.2.1 dst 198.51.100.7 proto esp "
    "reqid 7 mode tunnel";

TEST_F(XfrmLive, PolicyMirrorAndAcquire) {
  ASSERT_EQ(Sh(std::string("ip xfrm policy add ") + kPolicy), 0);
  Pump([&] { return !sink_.added_policies.empty(); });
  ASSERT_EQ(sink_.added_policies.size(), 1U);
  const XfrmPolicyMessage& p = sink_.added_policies[0];
  EXPECT_EQ(p.info.dir, XFRM_POLICY_OUT);
  EXPECT_EQ(p.info.sel.prefixlen_d, 24);
  ASSERT_EQ(p.templates.size(), 1U);
  EXPECT_EQ(p.templates[0].id.daddr.ToString(), "198.51.100.7");
  EXPECT_EQ(p.templates[0].reqid, 7U);
  EXPECT_EQ(bridge_->policy_count(), 1U);

  // A packet that needs the missing SA: the kernel asks the key manager (XFRM_MSG_ACQUIRE).
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, "10.0.0.1", &src.sin_addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)), 0);  // NOLINT
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(9);
  ::inet_pton(AF_INET, "10.0.1.2", &dst.sin_addr);
  (void)::sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst));  // NOLINT
  ::close(fd);
  Pump([&] { return !sink_.acquires.empty(); });
  ASSERT_EQ(sink_.acquires.size(), 1U);
  EXPECT_EQ(sink_.acquires[0].id.daddr.ToString(), "198.51.100.7");
  EXPECT_EQ(sink_.acquires[0].saddr.ToString(), "192.0.2.1");
  EXPECT_EQ(sink_.acquires[0].id.proto, IPPROTO_ESP);
  EXPECT_EQ(sink_.acquires[0].sel.dport, htons(9));
  EXPECT_EQ(bridge_->stats().acquires, 1U);

  ASSERT_EQ(Sh("ip xfrm policy del src 10.0.0.0/24 dst 10.0.1.0/24 dir out"), 0);
  Pump([&] { return !sink_.removed_policies.empty(); });
  EXPECT_EQ(sink_.removed_policies.size(), 1U);
  EXPECT_EQ(bridge_->policy_count(), 0U);
  EXPECT_EQ(sink_.installs, 0);  // nothing offloaded: no SA reached espo
}

TEST_F(XfrmLive, AllocSpiInRange) {
  auto req = XfrmNetlinkSocket::Open(false);
  ASSERT_TRUE(req.has_value()) << req.error().message;
  auto saddr = driver::IpAddress::Parse("198.51.100.7");
  auto daddr = driver::IpAddress::Parse("192.0.2.1");
  ASSERT_TRUE(saddr.has_value() && daddr.has_value());
  auto sa = (*req)->AllocSpi(*saddr, *daddr, XFRM_MODE_TUNNEL, 9, 0x1000, 0x10ff);
  ASSERT_TRUE(sa.has_value()) << sa.error().message;
  EXPECT_GE(sa->id.spi, 0x1000U);
  EXPECT_LE(sa->id.spi, 0x10ffU);
  EXPECT_EQ(sa->id.daddr.ToString(), "192.0.2.1");
  EXPECT_EQ(sa->info.reqid, 9U);
  // A second reservation for the same peer and reqid returns the same larval state's SPI;
  // the range limits what an espo-aware daemon may get (e.g. SPIs mapping to free slots).
  auto bad = (*req)->AllocSpi(*saddr, *daddr, XFRM_MODE_TUNNEL, 10, 0x20, 0x10);
  EXPECT_FALSE(bad.has_value());
}

}  // namespace
}  // namespace espo::ikectl
