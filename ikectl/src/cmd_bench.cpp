// SPDX-License-Identifier: Apache-2.0
//
// `ikectl bench`: device and software-path rates (espo/ikectl/bench.hpp, docs/IKECTL.md). An
// aligned table on stdout (or one JSON object with --json), --csv FILE, a progress line on stderr
// when stderr is a terminal. It opens its own in-process device: benchmarking the daemon's card
// while it carries traffic would measure neither.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "espo/ikectl/bench.hpp"
#include "espo/ikectl/commands.hpp"
#include "espo/ikectl/daemon.hpp"

namespace espo::ikectl {
namespace {

struct BenchArgs {
  std::string device = "model";
  std::uint32_t slots = 1024;
  std::string sizes = "64,576,1500,imix";
  std::string dir = "both";
  BenchParams params = [] {
    BenchParams p;
    p.packets = 0;  // auto, after the device
    return p;
  }();
  CLI::Option* installs_option = nullptr;  // not given: by device
  bool no_software = false;
  bool json = false;
  std::string csv;
};

int RunBenchCommand(BenchArgs& args) {
  auto sizes = ParseBenchSizes(args.sizes);
  if (!sizes) {
    std::cerr << "ikectl bench: " << sizes.error().message << "\n";
    return 2;
  }
  args.params.sizes = *sizes;
  if (args.dir != "in" && args.dir != "out" && args.dir != "both") {
    std::cerr << "ikectl bench: --dir: expected in, out or both, got '" << args.dir << "'\n";
    return 2;
  }
  args.params.outbound = args.dir != "in";
  args.params.inbound = args.dir != "out";
  args.params.software = !args.no_software;
  if (args.params.packets == 0) args.params.packets = args.device == "sim" ? 2000 : 20000;
  if (args.installs_option != nullptr && args.installs_option->count() == 0) {
    args.params.installs = args.device == "sim" ? 2000 : 200000;
  }
  auto device = OpenNamedDevice(args.device, args.slots);
  if (!device) {
    std::cerr << "ikectl bench: " << device.error().message << "\n";
    return device.error().code == Errc::kInvalidArgument ? 2 : 1;
  }
  const bool tty = isatty(STDERR_FILENO) != 0;
  auto progress = [tty](std::size_t done, std::size_t total) {
    if (!tty) return;
    std::fprintf(stderr, "\rbench %zu/%zu rows", done, total);  // NOLINT
    std::fflush(stderr);
  };
  auto report = RunBench(std::move(*device), args.device, args.params, progress);
  if (tty) std::fprintf(stderr, "\r\033[K");  // NOLINT
  if (!report) {
    std::cerr << "ikectl bench: " << report.error().message << "\n";
    return report.error().code == Errc::kInvalidArgument ? 2 : 1;
  }
  if (!args.csv.empty()) {
    std::ofstream out(args.csv, std::ios::binary | std::ios::trunc);
    out << BenchToCsv(*report);
    out.close();
    if (!out) {
      std::cerr << "ikectl bench: --csv " << args.csv << ": cannot write the file\n";
      return 1;
    }
  }
  if (args.json) {
    std::cout << BenchToJson(*report).dump() << "\n";
  } else {
    std::cout << BenchToTable(*report);
    std::cout << "device " << args.device << ", " << args.params.sas << " SA(s) per direction, "
              << args.params.packets << " packets per row, wall clock"
              << (args.device == "sim" ? " (Verilator model: simulation speed, not a card)" : "")
              << "\n";
  }
  return 0;
}

}  // namespace

void RegisterBench(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure SA install and ESP packet rates of a device and of the software path");
  cmd->add_option("--device", args->device, "model, sim or xrt (ESPO_XCLBIN names the xclbin)")
      ->capture_default_str();
  cmd->add_option("--slots", args->slots, "SA slots per direction (model and sim)")
      ->capture_default_str();
  cmd->add_option("--sizes", args->sizes, "inner IPv4 packet sizes in bytes, or imix (7:4:1)")
      ->capture_default_str();
  cmd->add_option("--packets", args->params.packets,
                  "packets per size and direction (0: 20000 on model/xrt, 2000 on sim)")
      ->capture_default_str();
  cmd->add_option("--sas", args->params.sas, "SAs per direction, packets spread round-robin")
      ->capture_default_str();
  args->installs_option =
      cmd->add_option("--installs", args->params.installs,
                      "SA install+remove pairs (0: skip; default 200000 on model/xrt, 2000 on sim)")
          ->capture_default_str();
  cmd->add_option("--dir", args->dir, "out, in or both")->capture_default_str();
  cmd->add_flag("--no-software", args->no_software, "skip the SoftwareEsp (OpenSSL) rows");
  cmd->add_flag("--json", args->json, "print exactly one JSON object instead of the table");
  cmd->add_option("--csv", args->csv, "also write the rows as CSV to FILE");
  cmd->callback([args, &exit_code] { exit_code = RunBenchCommand(*args); });
}

}  // namespace espo::ikectl
