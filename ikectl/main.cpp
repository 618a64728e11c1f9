// SPDX-License-Identifier: Apache-2.0
//
// ikectl: operator's tool for the espo IPsec ESP offload engine.
#include <CLI/CLI.hpp>

#include "espo/ikectl/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"ikectl: control and test tool for the espo IPsec ESP offload engine"};
  app.require_subcommand(1);
  int exit_code = 0;
  espo::ikectl::RegisterSelftest(app, exit_code);
  espo::ikectl::RegisterProcess(app, exit_code);
  espo::ikectl::RegisterSa(app, exit_code);
  espo::ikectl::RegisterSimulate(app, exit_code);
  espo::ikectl::RegisterDemo(app, exit_code);
  espo::ikectl::RegisterBench(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return exit_code;
}
