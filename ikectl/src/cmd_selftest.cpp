// SPDX-License-Identifier: Apache-2.0
//
// `ikectl selftest`: the AES-GCM known-answer vectors of ../shared/data through the OpenSSL
// reference and through the RTL AES-GCM core (Verilator), encrypt, decrypt and a tampered tag.
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "espo/driver/gcm_reference.hpp"
#include "espo/driver/kat_vectors.hpp"
#include "espo/ikectl/commands.hpp"
#include "espo/sim/gcm_core_sim.hpp"

namespace espo::ikectl {
namespace {

struct SelftestOptions {
  std::string data_dir;
  bool json = false;
};

struct Row {
  std::string name;
  int aes_bits = 0;
  std::size_t aad = 0;
  std::size_t text = 0;
  bool reference = false;
  bool rtl_encrypt = false;
  bool rtl_decrypt = false;
  bool rtl_bad_tag_rejected = false;
  bool Passed() const { return reference && rtl_encrypt && rtl_decrypt && rtl_bad_tag_rejected; }
};

const char* PassFail(bool ok) { return ok ? "pass" : "FAIL"; }

bool ReferenceMatches(const driver::GcmVector& v) {
  auto sealed = driver::GcmSeal(v.key, v.iv, v.aad, v.pt);
  if (!sealed || sealed->ciphertext != v.ct ||
      !std::equal(v.tag.begin(), v.tag.end(), sealed->tag.begin())) {
    return false;
  }
  auto opened = driver::GcmOpen(v.key, v.iv, v.aad, v.ct, v.tag);
  return opened && *opened == v.pt;
}

int RunSelftest(const SelftestOptions& opt) {
  auto vectors = driver::LoadGcmVectors(opt.data_dir);
  if (!vectors) {
    std::cerr << "ikectl selftest: " << vectors.error().message << "\n";
    return 2;
  }
  std::vector<Row> rows;
  std::vector<std::pair<std::string, std::string>> skipped;
  std::vector<sim::GcmJob> jobs;
  for (const auto& v : *vectors) {
    if (!v.iv_is_96bit) {
      skipped.emplace_back(v.name, "non-96-bit IV (ESP and the core use 96-bit nonces only)");
      continue;
    }
    if (v.aes_bits != 128 && v.aes_bits != 256) {
      skipped.emplace_back(v.name, "AES-" + std::to_string(v.aes_bits) +
                                       " is not an espo key size (AES-128/256 only)");
      continue;
    }
    Row row{v.name, v.aes_bits, v.aad.size(), v.pt.size()};
    row.reference = ReferenceMatches(v) == v.valid;
    rows.push_back(row);
    // Encrypt, decrypt, and decrypt with one tag bit flipped: three messages per vector.
    const auto job = [&v](bool decrypt) {
      sim::GcmJob j;
      j.decrypt = decrypt;
      j.key = v.key;
      j.iv = v.iv;
      j.aad = v.aad;
      j.text = decrypt ? v.ct : v.pt;
      if (decrypt) j.expected_tag = v.tag;
      return j;
    };
    sim::GcmJob bad = job(true);
    bad.expected_tag[rows.size() % bad.expected_tag.size()] ^= 0x01U;
    jobs.push_back(job(false));
    jobs.push_back(job(true));
    jobs.push_back(std::move(bad));
  }

  sim::GcmCoreSim core;
  sim::GcmRunStats stats;
  auto outcomes = core.Run(jobs, &stats);
  if (!outcomes) {
    std::cerr << "ikectl selftest: RTL core: " << outcomes.error().message << "\n";
    return 1;
  }
  std::size_t vi = 0;
  for (const auto& v : *vectors) {
    if (!v.iv_is_96bit || (v.aes_bits != 128 && v.aes_bits != 256)) continue;
    Row& row = rows[vi];
    const auto& enc = (*outcomes)[3 * vi];
    const auto& dec = (*outcomes)[3 * vi + 1];
    const auto& bad = (*outcomes)[3 * vi + 2];
    row.rtl_encrypt = enc.text == v.ct && std::equal(v.tag.begin(), v.tag.end(), enc.tag.begin());
    row.rtl_decrypt = dec.tag_ok == v.valid && (!v.valid || dec.text == v.pt);
    row.rtl_bad_tag_rejected = !bad.tag_ok;
    ++vi;
  }

  std::size_t passed = 0;
  for (const auto& r : rows) passed += r.Passed() ? 1 : 0;
  const std::size_t failed = rows.size() - passed;

  if (opt.json) {
    nlohmann::json out;
    out["data"] = opt.data_dir;
    for (const auto& r : rows) {
      out["vectors"].push_back({{"name", r.name},
                                {"aes_bits", r.aes_bits},
                                {"aad_bytes", r.aad},
                                {"text_bytes", r.text},
                                {"reference", PassFail(r.reference)},
                                {"rtl_encrypt", PassFail(r.rtl_encrypt)},
                                {"rtl_decrypt", PassFail(r.rtl_decrypt)},
                                {"rtl_bad_tag_rejected", PassFail(r.rtl_bad_tag_rejected)}});
    }
    out["skipped"] = nlohmann::json::array();
    for (const auto& [name, why] : skipped)
      out["skipped"].push_back({{"name", name}, {"why", why}});
    out["passed"] = passed;
    out["failed"] = failed;
    out["rtl_cycles"] = stats.cycles;
    std::cout << out.dump() << "\n";
  } else {
    std::cout << "espo selftest: AES-GCM known-answer vectors from " << opt.data_dir << "\n"
              << "reference = OpenSSL EVP; RTL = hw/rtl/gcm_core.sv under Verilator "
                 "(encrypt, decrypt, and decrypt with one tag bit flipped)\n\n";
    std::printf("%-28s %4s %5s %5s  %-9s %-7s %-7s %-8s\n", "vector", "AES", "AAD", "text",
                "reference", "RTL enc", "RTL dec", "bad tag");
    for (const auto& r : rows) {
      std::printf("%-28s %4d %5zu %5zu  %-9s %-7s %-7s %-8s\n", r.name.c_str(), r.aes_bits, r.aad,
                  r.text, PassFail(r.reference), PassFail(r.rtl_encrypt), PassFail(r.rtl_decrypt),
                  r.rtl_bad_tag_rejected ? "rejected" : "ACCEPTED");
    }
    if (!skipped.empty()) {
      std::cout << "\nskipped:\n";
      for (const auto& [name, why] : skipped)
        std::printf("  %-26s %s\n", name.c_str(), why.c_str());
    }
    std::printf(
        "\n%zu vectors: %zu passed, %zu failed, %zu skipped; RTL core ran %zu messages in "
        "%llu cycles\n",
        rows.size(), passed, failed, skipped.size(), jobs.size(),
        static_cast<unsigned long long>(stats.cycles));  // NOLINT(google-runtime-int)
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

void RegisterSelftest(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<SelftestOptions>();
#ifdef ESPO_SHARED_DATA
  opt->data_dir = ESPO_SHARED_DATA;
#endif
  CLI::App* cmd = app.add_subcommand(
      "selftest", "Run the AES-GCM known-answer tests on the reference and the simulated RTL core");
  cmd->add_option("--data", opt->data_dir, "folder with gcm_vectors.json and rfc4106_vectors.json")
      ->capture_default_str();
  cmd->add_flag("--json", opt->json, "print one JSON object instead of the table");
  cmd->callback([opt, &exit_code] { exit_code = RunSelftest(*opt); });
}

}  // namespace espo::ikectl
