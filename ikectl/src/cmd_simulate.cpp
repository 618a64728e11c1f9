// SPDX-License-Identifier: Apache-2.0
//
// `ikectl simulate`: the table-pressure study (docs/SIMULATE.md). Prints an aligned table (or,
// with --json, exactly one JSON object) on stdout; --csv and --plot write files; a progress bar
// goes to stderr when stderr is a terminal.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "espo/ikectl/commands.hpp"
#include "espo/ikectl/simulate.hpp"

namespace espo::ikectl {
namespace {

struct SimulateArgs {
  SimParams params;
  std::string scenario = "all";
  std::string policy = "all";
  bool json = false;
  std::string csv;
  std::string plot;
};

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

int RunSimulate(SimulateArgs& args) {
  auto scenarios = ParseScenarios(args.scenario);
  if (!scenarios) {
    std::cerr << "ikectl simulate: " << scenarios.error().message << "\n";
    return 2;
  }
  auto policies = ParsePolicies(args.policy);
  if (!policies) {
    std::cerr << "ikectl simulate: " << policies.error().message << "\n";
    return 2;
  }
  args.params.scenarios = *scenarios;
  args.params.policies = *policies;
  const bool tty = isatty(STDERR_FILENO) != 0;
  std::function<void(double)> progress;
  if (tty) {
    progress = [](double f) {
      const int width = 40;
      const int filled = static_cast<int>(f * width);
      std::string bar(static_cast<std::size_t>(filled), '#');
      bar.resize(width, '.');
      std::fprintf(stderr, "\rsimulate [%s] %5.1f%%", bar.c_str(), 100.0 * f);  // NOLINT
      std::fflush(stderr);
    };
  }
  auto report = RunSimulation(args.params, progress);
  if (tty) std::fprintf(stderr, "\r%60s\r", "");  // NOLINT(cppcoreguidelines-pro-type-vararg)
  if (!report) {
    std::cerr << "ikectl simulate: " << report.error().message << "\n";
    return report.error().code == Errc::kInvalidArgument ? 2 : 1;
  }
  if (args.json) {
    std::cout << ToJson(*report).dump() << "\n";
  } else {
    std::cout << FormatTable(*report);
  }
  if (!args.csv.empty() && !WriteFile(args.csv, FormatCsv(*report))) {
    std::cerr << "ikectl simulate: " << args.csv << ": cannot write\n";
    return 2;
  }
  if (!args.plot.empty() && !WriteFile(args.plot, FormatSvg(*report))) {
    std::cerr << "ikectl simulate: " << args.plot << ": cannot write\n";
    return 2;
  }
  return 0;
}

}  // namespace

void RegisterSimulate(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<SimulateArgs>();
  args->params.sas = 100000;
  args->params.slots = 105263;
  CLI::App* sim =
      app.add_subcommand("simulate",
                         "Table-pressure study: lifetime policies x scenarios over the real SDK "
                         "with a fake clock and counting devices (docs/SIMULATE.md)");
  SimParams& p = args->params;
  sim->add_option("--sas", p.sas, "M: Child SAs between the two gateways")->capture_default_str();
  sim->add_option("--slots", p.slots, "S: SA slots per direction per gateway")
      ->capture_default_str();
  sim->add_option("--hours", p.hours, "simulated hours")->capture_default_str();
  sim->add_option("--seed", p.seed, "random seed (traffic, fuzz, SPIs, nonces)")
      ->capture_default_str();
  sim->add_option("--scenario", args->scenario, "steady|cold-start|peer-reboot|burst|all")
      ->capture_default_str();
  sim->add_option("--policy", args->policy, "none|strongswan|libreswan|count-based|controller|all")
      ->capture_default_str();
  sim->add_flag("--json", args->json, "print exactly one JSON object instead of the table");
  sim->add_option("--csv", args->csv, "write one CSV row per result to FILE");
  sim->add_option("--plot", args->plot, "write an SVG of occupancy over time to FILE");
  // Model knobs beyond the fixed interface (defaults are the documented study's).
  sim->add_option("--lifetime", p.lifetime_hours, "hard time lifetime T of every policy, hours")
      ->capture_default_str();
  sim->add_option("--threads", p.threads, "worker threads (0 = one per core)")
      ->capture_default_str();
  sim->callback([args, &exit_code] { exit_code = RunSimulate(*args); });
}

}  // namespace espo::ikectl
