// SPDX-License-Identifier: Apache-2.0
//
// Client side of the control protocol and the `ikectl daemon|info|stats|monitor` commands
// (docs/IKECTL.md). A command talks to the daemon when its socket answers, else runs the same
// request on an in-process ControlCore over a fresh device (state lasts one command).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "espo/ikectl/commands.hpp"
#include "espo/ikectl/daemon.hpp"

namespace espo::ikectl {
namespace {

using Json = nlohmann::json;

std::string CommandName(const std::string& cmd) {
  std::string s = "ikectl " + cmd;
  std::replace(s.begin(), s.end(), '.', ' ');
  return s;
}

// Reads one line from `fd` (blocking); false on EOF or error.
bool ReadLine(int fd, std::string& pending, std::string& line) {
  for (;;) {
    const std::size_t nl = pending.find('\n');
    if (nl != std::string::npos) {
      line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      return true;
    }
    std::array<char, 8192> buf{};
    const ssize_t got = ::recv(fd, buf.data(), buf.size(), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    pending.append(buf.data(), static_cast<std::size_t>(got));
  }
}

std::string Text(const Json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

// Prints rows as columns, each as wide as its widest cell; numbers right-aligned (unless
// `align_numbers` is false: key/value lists).
void PrintTable(const std::vector<std::vector<std::string>>& rows, bool align_numbers = true) {
  if (rows.empty()) return;
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], r[i].size());
    }
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) {
      const bool numeric = align_numbers && !r[i].empty() &&
                           r[i].find_first_not_of("0123456789") == std::string::npos;
      const std::string pad(width[i] - r[i].size(), ' ');
      line += (i == 0 ? "" : "  ") + (numeric ? pad + r[i] : r[i] + (i + 1 < r.size() ? pad : ""));
    }
    std::cout << line << "\n";
  }
}

std::string Uint(const Json& j, const char* key) {
  return j.contains(key) ? Text(j[key]) : std::string("-");
}

}  // namespace

std::optional<int> ConnectDaemon(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) return std::nullopt;
  std::memcpy(static_cast<char*>(addr.sun_path), socket_path.c_str(), socket_path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  return fd;
}

Result<Json> CallDaemon(int fd, const std::string& cmd, const Json& args) {
  const std::string line =
      Json{{"v", kProtocolVersion}, {"id", 1}, {"cmd", cmd}, {"args", args}}.dump() + "\n";
  std::size_t off = 0;
  std::string send_error;
  while (off < line.size()) {
    const ssize_t sent = ::send(fd, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) {
      send_error = std::string("send: ") + std::strerror(errno);  // NOLINT(concurrency-mt-unsafe)
      break;  // the daemon may have refused us with an error line first: read it
    }
    off += static_cast<std::size_t>(sent);
  }
  std::string pending;
  std::string reply;
  if (!ReadLine(fd, pending, reply)) {
    return MakeError(Errc::kIo, send_error.empty()
                                    ? "the daemon closed the connection without a response"
                                    : send_error);
  }
  Json j = Json::parse(reply, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return MakeError(Errc::kParse, "the daemon sent a line that is not a JSON object");
  }
  return j;
}

void AddClientOptions(CLI::App& cmd, ClientOptions& o) {
  cmd.add_option("--socket", o.socket_path,
                 "control socket of the daemon (default $ESPO_SOCKET, $XDG_RUNTIME_DIR/espo.sock "
                 "or /run/espo/espo.sock)");
  cmd.add_option("--device", o.device, "device for in-process use when no daemon answers")
      ->check(CLI::IsMember({"sim", "model", "xrt"}))
      ->capture_default_str();
  cmd.add_option("--slots", o.slots, "SA slots per direction of an in-process model device")
      ->capture_default_str();
  cmd.add_flag("--json", o.json, "print JSON instead of a table");
}

int RunControlCommand(const ClientOptions& o, const std::string& cmd, const Json& args,
                      const std::function<void(const Json&)>& print) {
  const std::string name = CommandName(cmd);
  const std::string path = o.socket_path.empty() ? DefaultSocketPath() : o.socket_path;
  Json response;
  bool in_process = false;
  if (auto fd = ConnectDaemon(path)) {
    auto r = CallDaemon(*fd, cmd, args);
    ::close(*fd);
    if (!r) {
      std::cerr << name << ": daemon at " << path << ": " << r.error().message << "\n";
      return 1;
    }
    response = std::move(*r);
  } else {
    in_process = true;
    auto device = OpenNamedDevice(o.device, o.slots);
    if (!device) {
      std::cerr << name << ": no daemon on " << path << ", and " << device.error().message << "\n";
      return 1;
    }
    static const Logger kQuiet(LogLevel::kError);
    CoreOptions co;
    co.device_name = o.device;
    co.in_process = true;
    co.software_sas = 1024;  // as the daemon's default
    auto core = ControlCore::Create(std::move(*device), co, kQuiet);
    if (!core) {
      std::cerr << name << ": " << core.error().message << "\n";
      return 1;
    }
    Request req;
    req.id = 1;
    req.cmd = cmd;
    req.args = args;
    auto r = (*core)->Dispatch(req);
    response = r ? Json{{"ok", true}, {"result", *r}}
                 : Json{{"ok", false},
                        {"error", {{"code", r.error().code}, {"message", r.error().message}}}};
  }
  if (!response.value("ok", false)) {
    const Json err = response.value("error", Json::object());
    const std::string code_name = err.value("code", std::string(code::kInternal));
    std::string message = err.value("message", std::string("no message"));
    // "sa add: key: ..." under "ikectl sa add: " says the command once.
    const std::string own = name.substr(std::string("ikectl ").size()) + ": ";
    if (message.rfind(own, 0) == 0) message.erase(0, own.size());
    if (o.json) std::cout << Json{{"error", err}}.dump() << "\n";
    std::cerr << name << ": " << message << " (" << code_name << ")\n";
    return ExitCodeFor(code_name);
  }
  Json result = response.value("result", Json::object());
  if (o.json) {
    if (in_process && result.is_object()) result["in_process"] = true;
    std::cout << result.dump() << "\n";
    return 0;
  }
  if (in_process) {
    std::cout << "(no daemon on " << path << ": in-process " << o.device
              << " device; its state lasts this command only)\n";
  }
  print(result);
  return 0;
}

void PrintSaTable(const Json& sas) {
  std::vector<std::vector<std::string>> rows = {{"SPI", "DIR", "SLOT", "MODE", "SRC", "DST", "ALG",
                                                 "KEY", "ICV", "STATE", "PACKETS", "BYTES", "SEQ",
                                                 "ORIGIN"}};
  for (const Json& s : sas) {
    rows.push_back({Text(s["spi"]), Text(s["dir"]), Text(s["slot"]), Text(s["mode"]),
                    Text(s["src"]), Text(s["dst"]), Text(s["alg"]), Text(s["key_bits"]),
                    Text(s["icv_bits"]), Uint(s, "state"), Uint(s, "packets"), Uint(s, "bytes"),
                    Uint(s, "seq"), Text(s["origin"])});
  }
  PrintTable(rows);
  if (sas.empty()) std::cout << "(no SAs)\n";
}

namespace {

void PrintInfo(const Json& r) {
  const Json& d = r["device"];
  const Json& m = r["daemon"];
  std::vector<std::string> features;
  for (const Json& f : d["features"]) features.push_back(Text(f));
  std::string feat;
  for (const auto& f : features) feat += (feat.empty() ? "" : " ") + f;
  PrintTable({{"device", Text(d["kind"])},
              {"version", Text(d["version"]) + " (regmap " + Text(d["regmap_hash"]) + ", build " +
                              Text(d["build_id"]) + ")"},
              {"sa slots", "out " + Text(d["out_slots"]) + ", in " + Text(d["in_slots"])},
              {"datapath", Text(d["data_bytes"]) + " bytes/cycle, " + Text(d["aes_lanes"]) +
                               " AES lane(s), max packet " + Text(d["max_packet"])},
              {"replay", Text(d["replay_bits"]) + " bits; event FIFO " + Text(d["event_depth"])},
              {"features", feat},
              {"daemon", m.value("in_process", false)
                             ? std::string("none (in-process)")
                             : "pid " + Text(m["pid"]) + ", protocol v" + Text(m["protocol"])},
              {"sas", Text(m["sas"])},
              {"checkpoint", m["checkpoint"].is_null() ? "none"
                                                       : Text(m["checkpoint"]) + " (generation " +
                                                             Text(m["generation"]) + ")"},
              {"config", m["config"].is_null() ? "none" : Text(m["config"])}},
             /*align_numbers=*/false);
}

void PrintStats(const Json& r) {
  const Json& d = r["drops"];
  std::cout << "drops by reason:\n";
  PrintTable({{"auth", "replay", "no_sa", "malformed", "lifetime", "events_lost"},
              {Text(d["auth"]), Text(d["replay"]), Text(d["no_sa"]), Text(d["malformed"]),
               Text(d["lifetime"]), Text(r["events_lost"])}});
  std::cout << "released: out " << Text(r["released"]["out"]) << ", in "
            << Text(r["released"]["in"]) << "\n";
  std::cout << "table: out " << Text(r["table"]["out"]["used"]) << "/"
            << Text(r["table"]["out"]["slots"]) << ", in " << Text(r["table"]["in"]["used"]) << "/"
            << Text(r["table"]["in"]["slots"]) << " slots in use\n";
  std::vector<std::vector<std::string>> rows = {
      {"SPI", "DIR", "SLOT", "STATE", "PACKETS", "BYTES", "SEQ"}};
  for (const Json& s : r["sas"]) {
    rows.push_back({Text(s["spi"]), Text(s["dir"]), Text(s["slot"]), Text(s["state"]),
                    Text(s["packets"]), Text(s["bytes"]), Text(s["seq"])});
  }
  PrintTable(rows);
}

void PrintEvent(const Json& e) {
  std::string rest;
  for (const auto& [k, v] : e.items()) {
    if (k == "time" || k == "type") continue;
    rest += " " + k + "=" + Text(v);
  }
  std::printf("%-20s  %-16s %s\n", Text(e.value("time", Json(""))).c_str(),  // NOLINT
              Text(e.value("type", Json("?"))).c_str(), rest.c_str());
  (void)std::fflush(stdout);
}

int RunMonitor(const ClientOptions& o, std::uint64_t count) {
  const std::string path = o.socket_path.empty() ? DefaultSocketPath() : o.socket_path;
  auto fd = ConnectDaemon(path);
  if (!fd) {
    std::cerr << "ikectl monitor: no daemon answers on " << path
              << " (events need a running daemon: ikectl daemon)\n";
    return 1;
  }
  auto r = CallDaemon(*fd, "monitor", Json::object());
  if (!r || !r->value("ok", false)) {
    std::cerr << "ikectl monitor: "
              << (r ? r->value("error", Json::object()).value("message", std::string("refused"))
                    : r.error().message)
              << "\n";
    ::close(*fd);
    return 1;
  }
  if (!o.json) std::cout << "monitoring " << path << " (Ctrl-C to stop)\n" << std::flush;
  std::string pending;
  std::string line;
  std::uint64_t seen = 0;
  while ((count == 0 || seen < count) && ReadLine(*fd, pending, line)) {
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("event")) continue;
    ++seen;
    if (o.json) {
      std::cout << j["event"].dump() << "\n" << std::flush;
    } else {
      PrintEvent(j["event"]);
    }
  }
  ::close(*fd);
  if (count != 0 && seen < count) {
    std::cerr << "ikectl monitor: the daemon closed the connection\n";
    return 1;
  }
  return 0;
}

}  // namespace

void RegisterDaemonCommands(CLI::App& app, int& exit_code) {
  auto dopt = std::make_shared<DaemonOptions>();
  auto checkpoint = std::make_shared<std::string>();
  auto config = std::make_shared<std::string>();
  CLI::App* d = app.add_subcommand("daemon", "Own the device and serve the control socket");
  d->add_option("--device", dopt->device, "sim, model or xrt")
      ->check(CLI::IsMember({"sim", "model", "xrt"}))
      ->capture_default_str();
  d->add_option("--slots", dopt->slots, "SA slots per direction (model device)")
      ->capture_default_str();
  d->add_option("--socket", dopt->socket_path, "control socket path (default: see ikectl info)");
  d->add_option("--socket-group", dopt->socket_group, "make the socket 0660 for this group");
  d->add_option("--checkpoint", *checkpoint, "checkpoint file (written atomically)");
  d->add_option("--config", *config, "SA file installed at start and reloaded on SIGHUP");
  d->add_option("--log-level", dopt->log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  d->add_option("--jump-margin", dopt->jump_margin,
                "outbound sequence numbers skipped after a restore (RFC 6027 3.4)")
      ->capture_default_str();
  d->add_option("--checkpoint-interval", dopt->checkpoint_interval_s,
                "seconds between periodic checkpoints")
      ->capture_default_str();
  d->add_option("--software-sas", dopt->software_sas,
                "SAs the software path may carry when no slot is free (0: refuse them)")
      ->capture_default_str();
  d->add_flag("--xfrm", dopt->xfrm,
              "mirror kernel XFRM SAs with packet offload into espo (docs/XFRM_BRIDGE.md)");
  d->add_option("--xfrm-dev", dopt->xfrm_dev,
                "with --xfrm: only SAs offloaded to this network device (default: any)");
  d->callback([dopt, checkpoint, config, &exit_code] {
    if (!checkpoint->empty()) dopt->checkpoint_path = *checkpoint;
    if (!config->empty()) dopt->config_path = *config;
    exit_code = RunDaemon(*dopt);
  });

  auto info_opt = std::make_shared<ClientOptions>();
  CLI::App* info = app.add_subcommand("info", "Device ID, version and capabilities");
  AddClientOptions(*info, *info_opt);
  info->callback([info_opt, &exit_code] {
    exit_code = RunControlCommand(*info_opt, "info", Json::object(), PrintInfo);
  });

  auto stats_opt = std::make_shared<ClientOptions>();
  CLI::App* stats = app.add_subcommand("stats", "Counters: global, per SA, drops, occupancy");
  AddClientOptions(*stats, *stats_opt);
  stats->callback([stats_opt, &exit_code] {
    exit_code = RunControlCommand(*stats_opt, "stats", Json::object(), PrintStats);
  });

  auto mon_opt = std::make_shared<ClientOptions>();
  auto count = std::make_shared<std::uint64_t>(0);
  CLI::App* mon = app.add_subcommand("monitor", "Stream the daemon's events");
  AddClientOptions(*mon, *mon_opt);
  mon->add_option("--count", *count, "stop after this many events (0: never)");
  mon->callback([mon_opt, count, &exit_code] { exit_code = RunMonitor(*mon_opt, *count); });
}

}  // namespace espo::ikectl
