// SPDX-License-Identifier: Apache-2.0
//
// `ikectl sa export --wireshark FILE`: prints the SAs of an SA file as Wireshark esp_sa UAT
// lines (save as ~/.config/wireshark/esp_sa, or pass with -o "uat:esp_sa:..." to tshark).
// `ikectl sa check FILE`: validates an SA file and prints its canonical lines.
// `ikectl sa add|update|del|list|show|load|send`: the SA table of the daemon (or of an
// in-process device when no daemon answers), docs/IKECTL.md. RegisterSa also registers the
// top-level `daemon`, `info`, `stats` and `monitor` commands (RegisterDaemonCommands).
#include <array>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "espo/driver/sa_file.hpp"
#include "espo/ikectl/commands.hpp"
#include "espo/ikectl/daemon.hpp"

namespace espo::ikectl {

namespace {

using Json = nlohmann::json;

void PrintOneSa(const Json& sa) {
  PrintSaTable(Json::array({sa}));
  std::cout << "line: " << sa.value("line", std::string()) << "\n";
  const Json& l = sa["limits"];
  std::cout << "limits: soft-packets " << l["soft_packets"].dump() << ", hard-packets "
            << l["hard_packets"].dump() << ", soft-bytes " << l["soft_bytes"].dump()
            << ", hard-bytes " << l["hard_bytes"].dump() << " (0 = none)\n";
  if (sa.contains("next_seq")) std::cout << "next sequence number: " << sa["next_seq"] << "\n";
  std::cout << "source: " << sa.value("source", std::string()) << "\n";
}

// `sa del|show|update|send SPI [--dir in|out]`: the shared SPI/dir arguments.
struct SpiArgs {
  std::string spi;
  std::string dir;
  Json ToJson() const {
    Json a = {{"spi", spi}};
    if (!dir.empty()) a["dir"] = dir;
    return a;
  }
};

void AddSpiArgs(CLI::App& cmd, SpiArgs& a) {
  cmd.add_option("SPI", a.spi, "SPI (0x... or decimal)")->required();
  cmd.add_option("--dir", a.dir, "in or out (needed when both directions use the SPI)")
      ->check(CLI::IsMember({"in", "out"}));
}

void RegisterTableCommands(CLI::App* sa, int& exit_code) {
  {
    auto opt = std::make_shared<ClientOptions>();
    auto words = std::make_shared<std::vector<std::string>>();
    CLI::App* add = sa->add_subcommand(
        "add", "Install one SA, written as an SA-file line (with or without the leading 'sa')");
    AddClientOptions(*add, *opt);
    add->add_option("WORDS", *words, "the SA line, e.g. spi 0x1000 dir out mode tunnel ...")
        ->required();
    add->callback([opt, words, &exit_code] {
      std::string line;
      for (const auto& w : *words) line += (line.empty() ? "" : " ") + w;
      exit_code = RunControlCommand(*opt, "sa.add", Json{{"line", line}, {"source", "sa add"}},
                                    [](const Json& r) {
                                      std::cout << "installed:\n";
                                      PrintSaTable(Json::array({r["sa"]}));
                                    });
    });
  }
  {
    auto opt = std::make_shared<ClientOptions>();
    auto a = std::make_shared<SpiArgs>();
    auto lim = std::make_shared<std::array<std::optional<std::uint64_t>, 4>>();
    CLI::App* up = sa->add_subcommand("update", "Change the lifetime limits of an installed SA");
    AddClientOptions(*up, *opt);
    AddSpiArgs(*up, *a);
    up->add_option("--soft-packets", (*lim)[0], "soft packet limit (0: none)");
    up->add_option("--hard-packets", (*lim)[1], "hard packet limit (0: none)");
    up->add_option("--soft-bytes", (*lim)[2], "soft byte limit (0: none)");
    up->add_option("--hard-bytes", (*lim)[3], "hard byte limit (0: none)");
    up->callback([opt, a, lim, &exit_code] {
      Json args = a->ToJson();
      const std::array<const char*, 4> names = {"soft_packets", "hard_packets", "soft_bytes",
                                                "hard_bytes"};
      for (std::size_t i = 0; i < names.size(); ++i) {
        if ((*lim)[i]) args[names[i]] = *(*lim)[i];
      }
      exit_code = RunControlCommand(*opt, "sa.update", args, [](const Json& r) {
        std::cout << "updated:\n";
        PrintOneSa(r["sa"]);
      });
    });
  }
  {
    auto opt = std::make_shared<ClientOptions>();
    auto a = std::make_shared<SpiArgs>();
    CLI::App* del = sa->add_subcommand("del", "Remove an installed SA");
    AddClientOptions(*del, *opt);
    AddSpiArgs(*del, *a);
    del->callback([opt, a, &exit_code] {
      exit_code = RunControlCommand(*opt, "sa.del", a->ToJson(), [](const Json& r) {
        std::cout << "removed:\n";
        PrintSaTable(Json::array({r["removed"]}));
      });
    });
  }
  {
    auto opt = std::make_shared<ClientOptions>();
    CLI::App* list = sa->add_subcommand("list", "List the installed SAs");
    AddClientOptions(*list, *opt);
    list->callback([opt, &exit_code] {
      exit_code = RunControlCommand(*opt, "sa.list", Json::object(),
                                    [](const Json& r) { PrintSaTable(r["sas"]); });
    });
  }
  {
    auto opt = std::make_shared<ClientOptions>();
    auto a = std::make_shared<SpiArgs>();
    CLI::App* show = sa->add_subcommand("show", "Show one installed SA (key redacted)");
    AddClientOptions(*show, *opt);
    AddSpiArgs(*show, *a);
    show->callback([opt, a, &exit_code] {
      exit_code = RunControlCommand(*opt, "sa.show", a->ToJson(),
                                    [](const Json& r) { PrintOneSa(r["sa"]); });
    });
  }
  {
    auto opt = std::make_shared<ClientOptions>();
    auto file = std::make_shared<std::string>();
    CLI::App* load = sa->add_subcommand("load", "Install every SA of an SA file (all or nothing)");
    AddClientOptions(*load, *opt);
    load->add_option("FILE", *file, "SA file")->required();
    load->callback([opt, file, &exit_code] {
      std::ifstream in(*file, std::ios::binary);
      if (!in) {
        std::cerr << "ikectl sa load: " << *file << ": cannot read the file\n";
        exit_code = 2;
        return;
      }
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      exit_code = RunControlCommand(*opt, "sa.load", Json{{"text", text}, {"name", *file}},
                                    [](const Json& r) {
                                      std::cout << "installed " << r["installed"] << " SAs:\n";
                                      PrintSaTable(r["sas"]);
                                    });
    });
  }
  {
    auto opt = std::make_shared<ClientOptions>();
    auto a = std::make_shared<SpiArgs>();
    auto count = std::make_shared<std::uint64_t>(1);
    auto size = std::make_shared<std::uint64_t>(64);
    CLI::App* send = sa->add_subcommand(
        "send", "Send generated UDP packets through an outbound SA (smoke test, counters)");
    AddClientOptions(*send, *opt);
    send->add_option("SPI", a->spi, "SPI of the dir out SA")->required();
    send->add_option("--count", *count, "packets")->capture_default_str();
    send->add_option("--size", *size, "inner packet bytes")->capture_default_str();
    send->callback([opt, a, count, size, &exit_code] {
      Json args = {{"spi", a->spi}, {"dir", "out"}, {"count", *count}, {"size", *size}};
      exit_code = RunControlCommand(*opt, "sa.send", args, [](const Json& r) {
        std::cout << "sent " << r["sent"] << " packets on SPI " << r["spi"].get<std::string>()
                  << ": " << r["status"].dump() << "; next sequence number " << r["next_seq"]
                  << "\n";
      });
    });
  }
}

}  // namespace

void RegisterSa(CLI::App& app, int& exit_code) {
  CLI::App* sa = app.add_subcommand("sa", "SA files and SAs");
  sa->require_subcommand(1);
  RegisterTableCommands(sa, exit_code);
  // main.cpp registers the subcommand groups; the control commands live with the daemon.
  RegisterDaemonCommands(app, exit_code);

  auto export_file = std::make_shared<std::string>();
  auto columns = std::make_shared<std::string>("4.0");
  CLI::App* exp = sa->add_subcommand("export", "Export the SAs of an SA file");
  exp->add_option("--wireshark", *export_file, "SA file to print as Wireshark esp_sa UAT lines")
      ->required();
  exp->add_option("--wireshark-version", *columns,
                  "4.0: 8 columns (Wireshark <= 4.0, Debian 12); 4.2: adds the SN/ESN columns")
      ->check(CLI::IsMember({"4.0", "4.2"}))
      ->capture_default_str();
  auto export_json = std::make_shared<bool>(false);
  exp->add_flag("--json", *export_json,
                R"(one JSON object: {"format":"wireshark-esp_sa","columns":..,"records":[..]})");
  exp->callback([export_file, columns, export_json, &exit_code] {
    auto sas = driver::LoadSaFile(*export_file);
    if (!sas) {
      std::cerr << "ikectl sa export: " << sas.error().message << "\n";
      exit_code = 2;
      return;
    }
    const auto uat =
        *columns == "4.2" ? driver::WiresharkUat::kEsn : driver::WiresharkUat::kClassic;
    if (*export_json) {
      nlohmann::json records = nlohmann::json::array();
      for (const auto& s : *sas) records.push_back(driver::FormatWiresharkEspSa(s, uat));
      std::cout << nlohmann::json{{"format", "wireshark-esp_sa"},
                                  {"columns", *columns},
                                  {"file", *export_file},
                                  {"records", records}}
                       .dump()
                << "\n";
    } else {
      std::cout << driver::FormatWiresharkEspSaFile(*sas, uat);
    }
    exit_code = 0;
  });

  auto check_file = std::make_shared<std::string>();
  CLI::App* check = sa->add_subcommand("check", "Validate an SA file; print its canonical lines");
  check->add_option("FILE", *check_file, "SA file")->required();
  auto check_json = std::make_shared<bool>(false);
  check->add_flag("--json", *check_json, R"(one JSON object: {"file":..,"sas":N,"lines":[..]})");
  check->callback([check_file, check_json, &exit_code] {
    auto sas = driver::LoadSaFile(*check_file);
    if (!sas) {
      std::cerr << "ikectl sa check: " << sas.error().message << "\n";
      exit_code = 2;
      return;
    }
    if (*check_json) {
      nlohmann::json lines = nlohmann::json::array();
      for (const auto& s : *sas) lines.push_back(driver::FormatSaLine(s));
      std::cout
          << nlohmann::json{{"file", *check_file}, {"sas", sas->size()}, {"lines", lines}}.dump()
          << "\n";
    } else {
      for (const auto& s : *sas) std::cout << driver::FormatSaLine(s) << "\n";
    }
    exit_code = 0;
  });
}

}  // namespace espo::ikectl
