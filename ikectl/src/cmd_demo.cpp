// SPDX-License-Identifier: Apache-2.0
//
// `ikectl demo [--device sim|model] [--sas N] [--packets N] [--seed N] [--slots N]
//              [--headroom N] [--json] [--pcap FILE] [--wireshark FILE]`
// The README's main-job scenario (demo.hpp). Prints the final table (or one JSON object) on
// stdout; a progress bar on stderr when it is a terminal, else a plain line every few seconds.
// Exit 0 when no packet was lost, reordered, corrupted or sent with a reused sequence number and
// no SA was lost; 1 otherwise (the reason on stderr); 2 for usage and device errors.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "espo/ikectl/commands.hpp"
#include "espo/ikectl/demo.hpp"

namespace espo::ikectl {
namespace {

struct DemoArgs {
  DemoParams params;
  std::string device = "sim";
  bool json = false;
};

int RunDemoCommand(DemoArgs& args) {
  auto kind = driver::ParseDeviceKind(args.device);
  if (!kind || *kind == driver::DeviceKind::kXrt) {
    std::cerr << "ikectl demo: --device: expected sim or model, got '" << args.device << "'\n";
    return 2;
  }
  args.params.device = *kind;
  const bool tty = isatty(STDERR_FILENO) != 0;
  auto last_line = std::chrono::steady_clock::now();
  auto progress = [tty, &last_line](const DemoProgress& p) {
    if (tty) {
      const int width = 32;
      const int filled = static_cast<int>(p.fraction * width);
      std::string bar(static_cast<std::size_t>(filled), '#');
      bar.resize(width, '.');
      (void)std::fprintf(stderr, "\rdemo [%s] %5.1f%%  %-8s %9llu packets %6llu rekeys ",  // NOLINT
                         bar.c_str(), 100.0 * p.fraction, p.phase.c_str(),
                         static_cast<unsigned long long>(p.packets),  // NOLINT(google-runtime-int)
                         static_cast<unsigned long long>(p.rekeys));  // NOLINT(google-runtime-int)
      (void)std::fflush(stderr);
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_line < std::chrono::seconds(5) && p.fraction < 1.0) return;
    last_line = now;
    (void)std::fprintf(stderr, "demo: %5.1f%% %s, %llu packets, %llu rekeys\n",  // NOLINT
                       100.0 * p.fraction, p.phase.c_str(),
                       static_cast<unsigned long long>(p.packets),  // NOLINT(google-runtime-int)
                       static_cast<unsigned long long>(p.rekeys));  // NOLINT(google-runtime-int)
  };
  auto report = RunDemo(args.params, progress);
  if (tty) (void)std::fprintf(stderr, "\r%90s\r", "");  // NOLINT(cppcoreguidelines-pro-type-vararg)
  if (!report) {
    std::cerr << "ikectl demo: " << report.error().message << "\n";
    return 2;
  }
  if (args.json) {
    std::cout << DemoToJson(*report).dump() << "\n";
  } else {
    std::cout << FormatDemoTable(*report);
  }
  std::cout.flush();
  if (!report->passed) {
    std::cerr << "ikectl demo: FAIL: " << report->failure << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

void RegisterDemo(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Two gateways on the simulated card: hundreds of SAs, traffic both ways, count-based "
      "rekeys make-before-break, zero loss (the README's main job)");
  cmd->add_option("--device", args->device, "sim (the RTL under Verilator) or model")
      ->capture_default_str();
  cmd->add_option("--sas", args->params.sas, "Child SAs (selectors) per gateway")
      ->capture_default_str();
  cmd->add_option(
      "--packets", args->params.packets,
      "total packets, both directions (default 2 x 1.9 x 28 per SA; raised so that every SA "
      "has a lifetime of at least 20 packets)");
  cmd->add_option("--seed", args->params.seed, "seed of every random choice")
      ->capture_default_str();
  cmd->add_option("--slots", args->params.slots, "SA slots per direction (sim: 64 or 1024)")
      ->capture_default_str();
  cmd->add_option("--headroom", args->params.headroom, "slots per direction reserved for rekeys")
      ->capture_default_str();
  cmd->add_flag("--tie", args->params.tie,
                "equal rekey values: both gateways rekey at X_i, so rekeys cross (collisions)");
  cmd->add_flag("--json", args->json, "print one JSON object instead of the table");
  cmd->add_option("--pcap", args->params.pcap, "write gateway A's ESP output (A->B), raw IP");
  cmd->add_option("--wireshark", args->params.wireshark,
                  "write the matching Wireshark esp_sa file (~/.config/wireshark/esp_sa)");
  cmd->callback([args, &exit_code] { exit_code = RunDemoCommand(*args); });
}

}  // namespace espo::ikectl
