// SPDX-License-Identifier: Apache-2.0
//
// ikectl subcommands. Each Register* function adds one CLI11 subcommand whose callback runs the
// command and stores its process exit code in `exit_code`: 0 success, 1 the command ran and
// found a failure (e.g. a selftest vector failed), 2 usage or input error (one line on stderr).
#pragma once

#include <CLI/CLI.hpp>

namespace espo::ikectl {

void RegisterSelftest(CLI::App& app, int& exit_code);
void RegisterProcess(CLI::App& app, int& exit_code);
void RegisterSa(CLI::App& app, int& exit_code);
void RegisterSimulate(CLI::App& app, int& exit_code);
void RegisterDemo(CLI::App& app, int& exit_code);
void RegisterBench(CLI::App& app, int& exit_code);

}  // namespace espo::ikectl
