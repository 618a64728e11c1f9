// SPDX-License-Identifier: Apache-2.0
//
// `ikectl daemon`: one thread, one poll() loop over a signalfd, the listening Unix socket and
// the clients. Requests are answered in order per client; monitor subscribers get event lines.
// SIGTERM/SIGINT: drain events, write the checkpoint, exit 0. SIGHUP: reload the config file.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include <net/if.h>

#include "espo/driver/model_device.hpp"
#include "espo/ikectl/daemon.hpp"
#include "espo/ikectl/daemon_xfrm.hpp"

namespace espo::ikectl {
namespace {

constexpr std::size_t kMaxOutBytes =
    std::size_t{4} * 1024 * 1024;  // a monitor that stops reading is dropped
constexpr auto kEventPoll = std::chrono::milliseconds(200);

struct Client {
  int fd = -1;
  std::uint32_t uid = 0;
  std::int32_t pid = 0;
  std::string in;
  std::string out;
  bool discarding = false;  // inside an oversized line: skip to its newline
  bool monitor = false;
  bool closing = false;  // close once `out` is flushed
};

// NOLINTNEXTLINE(concurrency-mt-unsafe): the daemon is single-threaded
std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

bool FillAddress(const std::string& path, sockaddr_un& addr) {
  addr = sockaddr_un{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(static_cast<char*>(addr.sun_path), path.c_str(), path.size() + 1);
  return true;
}

}  // namespace

std::string DefaultSocketPath() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once, single thread
  if (const char* s = std::getenv("ESPO_SOCKET"); s != nullptr && *s != '\0') return s;
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x != nullptr && *x != '\0') {
    return std::string(x) + "/espo.sock";
  }
  return "/run/espo/espo.sock";
}

Result<std::unique_ptr<driver::Device>> OpenNamedDevice(std::string_view name,
                                                        std::uint32_t slots) {
  auto kind = driver::ParseDeviceKind(name);
  if (!kind) return tl::unexpected(kind.error());
  if (*kind == driver::DeviceKind::kModel) {
    driver::ModelOptions mo;
    mo.sa_slots = slots;
    return driver::OpenModelDevice(mo);
  }
  driver::DeviceSpec spec;
  spec.kind = *kind;
  spec.sa_slots = slots;
  if (const char* xclbin = std::getenv("ESPO_XCLBIN")) spec.xclbin = xclbin;  // NOLINT
  return driver::OpenDevice(spec);
}

int RunDaemon(const DaemonOptions& o) {
  auto level = ParseLogLevel(o.log_level);
  if (!level) {
    std::fprintf(stderr, "ikectl daemon: %s\n", level.error().message.c_str());  // NOLINT
    return 2;
  }
  const Logger log(*level);
  const std::string path = o.socket_path.empty() ? DefaultSocketPath() : o.socket_path;
  sockaddr_un addr{};
  if (!FillAddress(path, addr)) {
    log.Log(LogLevel::kError, "daemon", "--socket: path too long", {{"socket", path}});
    return 2;
  }

  // Signals arrive through a signalfd so that the loop handles them between requests.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  (void)::pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  (void)std::signal(SIGPIPE, SIG_IGN);
  const int sig_fd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sig_fd < 0) {
    log.Log(LogLevel::kError, "daemon", Errno("signalfd"));
    return 1;
  }

  auto device = OpenNamedDevice(o.device, o.slots);
  if (!device) {
    log.Log(LogLevel::kError, "device", "cannot open device",
            {{"device", o.device}, {"error", device.error().message}});
    return 1;
  }
  CoreOptions co;
  co.device_name = o.device;
  co.checkpoint_path = o.checkpoint_path;
  co.config_path = o.config_path;
  co.jump_margin = o.jump_margin;
  co.software_sas = o.software_sas;
  auto core = ControlCore::Create(std::move(*device), co, log);
  if (!core) {
    log.Log(LogLevel::kError, "daemon", "cannot start", {{"error", core.error().message}});
    return core.error().code == Errc::kInvalidArgument || core.error().code == Errc::kParse ? 2 : 1;
  }

  // The socket: refuse to take over a live daemon's socket; remove a stale one.
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (!ec) ::chmod(parent.c_str(), 0755);
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      log.Log(LogLevel::kError, "daemon", "socket path exists and is not a socket",
              {{"socket", path}});
      return 1;
    }
    if (auto fd = ConnectDaemon(path)) {
      ::close(*fd);
      log.Log(LogLevel::kError, "daemon", "another daemon is serving this socket",
              {{"socket", path}});
      return 1;
    }
    ::unlink(path.c_str());
  }
  const int listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const mode_t old_umask = ::umask(0177);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  const int bound = ::bind(listen_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  ::umask(old_umask);
  if (listen_fd < 0 || bound != 0 || ::listen(listen_fd, 16) != 0) {
    log.Log(LogLevel::kError, "daemon", Errno("cannot listen"), {{"socket", path}});
    return 1;
  }
  if (!o.socket_group.empty()) {
    const group* g = ::getgrnam(o.socket_group.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (g == nullptr || ::chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0 ||
        ::chmod(path.c_str(), 0660) != 0) {
      log.Log(LogLevel::kError, "daemon", "--socket-group: cannot give the socket to the group",
              {{"group", o.socket_group}});
      ::unlink(path.c_str());
      return 2;
    }
  }
  const uid_t own_uid = ::geteuid();
  log.Log(LogLevel::kInfo, "daemon", "listening",
          {{"socket", path},
           {"device", o.device},
           {"checkpoint", o.checkpoint_path.value_or("none")},
           {"config", o.config_path.value_or("none")},
           {"pid", std::to_string(::getpid())}});

  // The XFRM bridge: kernel SAs offloaded to espo's device become table entries.
  std::unique_ptr<XfrmNetlinkSocket> xfrm_sock;
  std::unique_ptr<DaemonXfrmLink> xfrm_link;
  if (o.xfrm) {
    int ifindex = 0;
    if (!o.xfrm_dev.empty()) {
      ifindex = static_cast<int>(::if_nametoindex(o.xfrm_dev.c_str()));
      if (ifindex == 0) {
        log.Log(LogLevel::kError, "xfrm", "--xfrm-dev: no such network device",
                {{"dev", o.xfrm_dev}});
        ::unlink(path.c_str());
        return 2;
      }
    }
    auto sock = XfrmNetlinkSocket::Open(true);
    if (!sock) {
      log.Log(LogLevel::kError, "xfrm", "cannot subscribe to XFRM netlink",
              {{"error", sock.error().message}});
      ::unlink(path.c_str());
      return 1;
    }
    xfrm_sock = std::move(*sock);
    xfrm_link = std::make_unique<DaemonXfrmLink>(**core, *xfrm_sock,
                                                 XfrmBridgeOptions{ifindex, false}, log);
    log.Log(
        LogLevel::kInfo, "xfrm", "bridge subscribed to XFRM notifications",
        {{"dev", o.xfrm_dev.empty() ? "any" : o.xfrm_dev}, {"ifindex", std::to_string(ifindex)}});
  }

  std::list<Client> clients;
  (*core)->SetEventSink([&clients](const nlohmann::json& ev) {
    const std::string line = FormatEvent(ev) + "\n";
    for (Client& c : clients) {
      if (c.monitor && !c.closing) c.out += line;
    }
  });

  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.checkpoint_interval_s > 0 ? o.checkpoint_interval_s : 5.0));
  auto next_save = Clock::now() + interval;
  auto next_events = Clock::now() + kEventPoll;
  bool stop = false;
  while (!stop) {
    std::vector<pollfd> fds;
    fds.push_back({sig_fd, POLLIN, 0});
    fds.push_back({listen_fd, POLLIN, 0});
    if (xfrm_sock) fds.push_back({xfrm_sock->fd(), POLLIN, 0});
    const std::size_t first_client = fds.size();
    for (const Client& c : clients) {
      fds.push_back({c.fd, static_cast<std::int16_t>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
    }
    const auto now = Clock::now();
    const auto wait = std::min(next_save, next_events) - now;
    const int timeout_ms = static_cast<int>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(wait).count() + 1));
    const int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) {
      log.Log(LogLevel::kError, "daemon", Errno("poll"));
      break;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      signalfd_siginfo si{};
      while (::read(sig_fd, &si, sizeof(si)) == static_cast<ssize_t>(sizeof(si))) {
        if (si.ssi_signo == SIGHUP) {
          log.Log(LogLevel::kInfo, "daemon", "SIGHUP: reloading the config");
          auto r = (*core)->ReloadConfig();
          if (!r) {
            log.Log(LogLevel::kError, "config", "reload refused, nothing changed",
                    {{"error", r.error().message}});
          }
        } else {
          log.Log(LogLevel::kInfo, "daemon", "shutting down",
                  {{"signal", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT"}});
          stop = true;
        }
      }
    }
    if ((fds[1].revents & POLLIN) != 0) {
      for (;;) {
        const int cfd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) break;
        ucred cred{};
        socklen_t len = sizeof(cred);
        if (::getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
            (cred.uid != 0 && cred.uid != own_uid)) {
          const std::string line =
              FormatError(nullptr, {std::string(code::kPermissionDenied),
                                    "uid " + std::to_string(cred.uid) +
                                        " may not use this daemon (root or uid " +
                                        std::to_string(own_uid) + " only)"}) +
              "\n";
          (void)::send(cfd, line.data(), line.size(), MSG_NOSIGNAL);
          log.Log(LogLevel::kWarn, "control", "peer refused",
                  {{"uid", std::to_string(cred.uid)}, {"pid", std::to_string(cred.pid)}});
          ::close(cfd);
          continue;
        }
        Client c;
        c.fd = cfd;
        c.uid = cred.uid;
        c.pid = cred.pid;
        log.Log(LogLevel::kDebug, "control", "client connected",
                {{"uid", std::to_string(cred.uid)}, {"pid", std::to_string(cred.pid)}});
        clients.push_back(std::move(c));
      }
    }
    if (xfrm_sock && (fds[2].revents & POLLIN) != 0) {
      for (int round = 0; round < 64; ++round) {  // bounded: requests are served in between
        auto datagram = xfrm_sock->Receive(0);
        if (!datagram) {
          log.Log(LogLevel::kWarn, "xfrm", "receive failed", {{"error", datagram.error().message}});
          break;
        }
        if (datagram->empty()) break;
        (void)xfrm_link->bridge().HandleDatagram(*datagram);  // errors are logged by the bridge
      }
    }
    std::size_t i = first_client;
    for (Client& c : clients) {
      if (i >= fds.size() || fds[i].fd != c.fd) break;  // accepted during this round
      const std::int16_t rev = fds[i++].revents;
      if ((rev & (POLLIN | POLLHUP | POLLERR)) != 0 && !c.closing) {
        std::array<char, 16384> buf{};
        const ssize_t got = ::recv(c.fd, buf.data(), buf.size(), 0);
        if (got <= 0) {
          if (got == 0 || (errno != EAGAIN && errno != EINTR)) c.closing = true;
        } else {
          c.in.append(buf.data(), static_cast<std::size_t>(got));
          for (;;) {
            const std::size_t nl = c.in.find('\n');
            if (nl == std::string::npos) {
              if (!c.discarding && c.in.size() > kMaxLineBytes) {
                c.out += FormatError(nullptr, {std::string(code::kTooLarge),
                                               "request line exceeds " +
                                                   std::to_string(kMaxLineBytes) + " bytes"}) +
                         "\n";
                log.Log(LogLevel::kWarn, "control", "oversized request line discarded",
                        {{"pid", std::to_string(c.pid)}});
                c.discarding = true;
              }
              if (c.discarding) c.in.clear();
              break;
            }
            std::string line = c.in.substr(0, nl);
            c.in.erase(0, nl + 1);
            if (c.discarding) {
              c.discarding = false;
              continue;
            }
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.find_first_not_of(" \t") == std::string::npos) continue;
            bool subscribe = false;
            c.out += (*core)->HandleLine(line, &subscribe) + "\n";
            if (subscribe) c.monitor = true;
          }
        }
      }
      if (!c.out.empty()) {
        const ssize_t sent = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (sent > 0) {
          c.out.erase(0, static_cast<std::size_t>(sent));
        } else if (sent < 0 && errno != EAGAIN && errno != EINTR) {
          c.out.clear();
          c.closing = true;
        }
      }
      if (c.out.size() > kMaxOutBytes) {
        log.Log(LogLevel::kWarn, "control", "client not reading: dropped",
                {{"pid", std::to_string(c.pid)}});
        c.out.clear();
        c.closing = true;
      }
    }
    for (auto it = clients.begin(); it != clients.end();) {
      if (it->closing && it->out.empty()) {
        ::close(it->fd);
        it = clients.erase(it);
      } else {
        ++it;
      }
    }
    if (Clock::now() >= next_events) {
      (*core)->PollEvents();
      next_events = Clock::now() + kEventPoll;
    }
    if (Clock::now() >= next_save) {
      (void)(*core)->SaveCheckpoint(/*only_if_changed=*/true);
      if (xfrm_link) (void)xfrm_link->PushCounters();  // XFRM_MSG_NEWAE for changed counters
      next_save = Clock::now() + interval;
    }
  }
  (*core)->PollEvents();
  int rc = 0;
  if (o.checkpoint_path) {
    auto saved = (*core)->SaveCheckpoint();
    if (saved) {
      log.Log(
          LogLevel::kInfo, "checkpoint", "checkpoint written",
          {{"path", *o.checkpoint_path}, {"generation", std::to_string((*core)->generation())}});
    } else {
      rc = 1;
    }
  }
  for (const Client& c : clients) ::close(c.fd);
  ::close(listen_fd);
  ::unlink(path.c_str());
  ::close(sig_fd);
  log.Log(LogLevel::kInfo, "daemon", "stopped", {{"exit", std::to_string(rc)}});
  return rc;
}

}  // namespace espo::ikectl
