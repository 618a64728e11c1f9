// SPDX-License-Identifier: Apache-2.0
//
// `ikectl sa export --wireshark FILE`: prints the SAs of an SA file as Wireshark esp_sa UAT
// lines (save as ~/.config/wireshark/esp_sa, or pass with -o "uat:esp_sa:..." to tshark).
// `ikectl sa check FILE`: validates an SA file and prints its canonical lines.
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "espo/driver/sa_file.hpp"
#include "espo/ikectl/commands.hpp"

namespace espo::ikectl {

void RegisterSa(CLI::App& app, int& exit_code) {
  CLI::App* sa = app.add_subcommand("sa", "SA files and SAs");
  sa->require_subcommand(1);

  auto export_file = std::make_shared<std::string>();
  auto columns = std::make_shared<std::string>("4.0");
  CLI::App* exp = sa->add_subcommand("export", "Export the SAs of an SA file");
  exp->add_option("--wireshark", *export_file, "SA file to print as Wireshark esp_sa UAT lines")
      ->required();
  exp->add_option("--wireshark-version", *columns,
                  "4.0: 8 columns (Wireshark <= 4.0, Debian 12); 4.2: adds the SN/ESN columns")
      ->check(CLI::IsMember({"4.0", "4.2"}))
      ->capture_default_str();
  exp->callback([export_file, columns, &exit_code] {
    auto sas = driver::LoadSaFile(*export_file);
    if (!sas) {
      std::cerr << "ikectl sa export: " << sas.error().message << "\n";
      exit_code = 2;
      return;
    }
    std::cout << driver::FormatWiresharkEspSaFile(
        *sas, *columns == "4.2" ? driver::WiresharkUat::kEsn : driver::WiresharkUat::kClassic);
    exit_code = 0;
  });

  auto check_file = std::make_shared<std::string>();
  CLI::App* check = sa->add_subcommand("check", "Validate an SA file; print its canonical lines");
  check->add_option("FILE", *check_file, "SA file")->required();
  check->callback([check_file, &exit_code] {
    auto sas = driver::LoadSaFile(*check_file);
    if (!sas) {
      std::cerr << "ikectl sa check: " << sas.error().message << "\n";
      exit_code = 2;
      return;
    }
    for (const auto& s : *sas) std::cout << driver::FormatSaLine(s) << "\n";
    exit_code = 0;
  });
}

}  // namespace espo::ikectl
