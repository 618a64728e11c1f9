// SPDX-License-Identifier: Apache-2.0
//
// The SA text syntax (docs/SA_SYNTAX.md), shared by SA files, `ikectl sa add/list/export` and
// the tests:
//
//   sa spi 0x00001000 dir out mode tunnel src 192.0.2.1 dst 198.51.100.7
//      aead rfc4106(gcm(aes)) 0x<AES key><4-byte salt> 128
//      [esn] [oseq N] [replay-window N] [replay-seq N] [encap espinudp SPORT DPORT]
//      [soft-packets N] [hard-packets N] [soft-bytes N] [hard-bytes N]
//
// (one logical line; a trailing backslash continues it on the next physical line).
//
// Parsing is all-or-nothing; every error is one line `FILE:LINE: <field>: <problem>`.
// Key bytes are decoded straight into KeyMaterial and the scratch buffers are cleansed; the
// strings returned by the Format* functions contain the key in hex, so callers must treat them
// like the key itself (no logging). All functions are thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "espo/driver/result.hpp"
#include "espo/driver/sa_config.hpp"

namespace espo::driver {

// Where a logical SA line starts; used only to prefix error messages.
struct SaLocation {
  std::string file = "<input>";
  std::uint32_t line = 1;  // 1-based; continuation lines count up from here
};

// Parses one logical SA line. `line` may contain `\`-newline continuations and `#` comments;
// it must hold exactly one SA. The result has passed Validate().
Result<SaConfig> ParseSaLine(std::string_view line, const SaLocation& where);

// Parses a whole SA file body: blank lines, `#` comments, `\` continuations, one SA per logical
// line. Fails on the first bad line and on a duplicate (spi, dir, dst).
Result<std::vector<SaConfig>> ParseSaText(std::string_view text, std::string_view file_name);

// Reads `path` and parses it with ParseSaText; errors name `path`.
Result<std::vector<SaConfig>> LoadSaFile(const std::string& path);

// Canonical one-line form (no trailing newline); ParseSaLine(FormatSaLine(sa)) gives back an SA
// equal to `sa` for every `sa` that passes Validate(). Options at their default are omitted.
std::string FormatSaLine(const SaConfig& sa);

// One record of Wireshark's `esp_sa` UAT file (no trailing newline), see sa_file.cpp for the
// field list and where it comes from.
// Column sets of Wireshark's esp_sa UAT: kClassic = the 8 columns of Wireshark <= 4.0 (Debian
// 12's tshark 4.0.17), kEsn = 10 columns with "SN" and "ESN High Bits" (Wireshark >= 4.2).
enum class WiresharkUat : std::uint8_t { kClassic, kEsn };
std::string FormatWiresharkEspSa(const SaConfig& sa, WiresharkUat uat = WiresharkUat::kClassic);

// A complete `esp_sa` file: Wireshark's header comment, then one record per SA, each ending in
// a newline.
std::string FormatWiresharkEspSaFile(std::span<const SaConfig> sas,
                                     WiresharkUat uat = WiresharkUat::kClassic);

// Field-by-field equality (SaConfig itself is not comparable because KeyMaterial is not). The key
// is compared in constant time.
bool SaConfigEqual(const SaConfig& a, const SaConfig& b);

}  // namespace espo::driver
