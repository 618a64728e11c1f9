// SPDX-License-Identifier: Apache-2.0
#include "espo/driver/sa_file.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include <openssl/crypto.h>

#include "espo/driver/bytes.hpp"
#include "espo/driver/key_material.hpp"

namespace espo::driver {
namespace {

constexpr std::string_view kGcmName = "rfc4106(gcm(aes))";
constexpr std::string_view kGmacName = "rfc4543(gcm(aes))";
constexpr std::size_t kMaxEchoChars = 40;                     // longest token quoted in an error
constexpr std::size_t kMaxSaFileBytes = 64U * 1024U * 1024U;  // LoadSaFile refuses more

// One whitespace-separated word and the physical line (relative to the logical line) it is on.
struct Token {
  std::string_view text;
  std::uint32_t line_offset = 0;
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Strips a `#` comment and trailing blanks; reports whether the line ends in a `\` continuation
// (which is removed).
std::string_view CleanPhysicalLine(std::string_view line, bool* continues) {
  if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) {
    line = line.substr(0, hash);
  }
  line = TrimRight(line);
  *continues = !line.empty() && line.back() == '\\';
  if (*continues) line.remove_suffix(1);
  return line;
}

// Printable, bounded rendering of user text for error messages (keeps errors on one line).
std::string Echo(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, kMaxEchoChars)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7F ? c : '?');
  }
  if (text.size() > kMaxEchoChars) out += "...";
  return "'" + out + "'";
}

std::string Hex32(std::uint32_t v) {
  std::array<char, 11> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%08x", v);  // NOLINT(cppcoreguidelines-pro-type-vararg)
  return {buf.data()};
}

// Keywords that cannot be values: a value position holding one means the value is missing.
bool IsKeyword(std::string_view word) {
  static constexpr std::array<std::string_view, 16> kKeywords = {
      "sa",           "spi",          "dir",        "mode",          "src",        "dst",
      "aead",         "esn",          "oseq",       "replay-window", "replay-seq", "encap",
      "soft-packets", "hard-packets", "soft-bytes", "hard-bytes"};
  for (const std::string_view k : kKeywords) {
    if (k == word) return true;
  }
  return false;
}

class SaLineParser {
 public:
  SaLineParser(std::vector<Token> tokens, const SaLocation& where)
      : tokens_(std::move(tokens)), where_(where) {}

  Result<SaConfig> Parse();

 private:
  tl::unexpected<Error> Fail(std::uint32_t line_offset, std::string_view field,
                             const std::string& problem, Errc code = Errc::kParse) const {
    return MakeError(code, where_.file + ":" + std::to_string(where_.line + line_offset) + ": " +
                               std::string(field) + ": " + problem);
  }
  // The line offset of the next token, or of the last token when the line ended.
  std::uint32_t HereOffset() const {
    if (pos_ < tokens_.size()) return tokens_[pos_].line_offset;
    return tokens_.empty() ? 0 : tokens_.back().line_offset;
  }
  bool AtEnd() const { return pos_ >= tokens_.size(); }

  Status ExpectKeyword(std::string_view keyword);
  Result<Token> Value(std::string_view field);
  Result<std::uint64_t> Number(std::string_view field);
  Status ParseKey(SaConfig* sa);
  Status ParseOption(SaConfig* sa);

  std::vector<Token> tokens_;
  SaLocation where_;
  std::size_t pos_ = 0;
};

Status SaLineParser::ExpectKeyword(std::string_view keyword) {
  if (AtEnd()) {
    return Fail(HereOffset(), keyword, "expected '" + std::string(keyword) + "', got end of line");
  }
  const Token& t = tokens_[pos_];
  if (t.text != keyword) {
    return Fail(t.line_offset, keyword,
                "expected '" + std::string(keyword) + "', got " + Echo(t.text));
  }
  ++pos_;
  return Ok();
}

Result<Token> SaLineParser::Value(std::string_view field) {
  if (AtEnd() || IsKeyword(tokens_[pos_].text)) return Fail(HereOffset(), field, "missing value");
  return tokens_[pos_++];
}

Result<std::uint64_t> SaLineParser::Number(std::string_view field) {
  ESPO_ASSIGN_OR_RETURN(const Token t, Value(field));
  std::string_view digits = t.text;
  int base = 10;
  if (digits.starts_with("0x") || digits.starts_with("0X")) {
    digits.remove_prefix(2);
    base = 16;
  }
  std::uint64_t value = 0;
  const char* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, value, base);
  if (ec == std::errc::result_out_of_range) {
    return Fail(t.line_offset, field,
                "number " + Echo(t.text) + " out of range (max 18446744073709551615)");
  }
  if (digits.empty() || ec != std::errc() || ptr != end) {
    return Fail(t.line_offset, field, "not a number: " + Echo(t.text));
  }
  return value;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status SaLineParser::ParseKey(SaConfig* sa) {
  // The key token is never echoed into an error message.
  ESPO_ASSIGN_OR_RETURN(const Token t, Value("key"));
  std::string_view hex = t.text;
  if (!hex.starts_with("0x") && !hex.starts_with("0X")) {
    return Fail(t.line_offset, "key", "expected 0x followed by hex digits (key then 4-byte salt)");
  }
  hex.remove_prefix(2);
  if (hex.size() % 2 != 0) {
    return Fail(t.line_offset, "key",
                "odd number of hex digits (" + std::to_string(hex.size()) + ")");
  }
  const std::size_t n = hex.size() / 2;
  if (n != 20 && n != 36) {
    return Fail(t.line_offset, "key", "expected 20 or 36 bytes, got " + std::to_string(n),
                Errc::kInvalidArgument);
  }
  std::array<std::uint8_t, KeyMaterial::kMaxBytes> scratch{};
  for (std::size_t i = 0; i < n; ++i) {
    const int hi = HexDigit(hex[2 * i]);
    const int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      OPENSSL_cleanse(scratch.data(), scratch.size());
      return Fail(t.line_offset, "key",
                  "not a hex digit at position " + std::to_string(2 * i + (hi < 0 ? 0 : 1) + 2));
    }
    scratch.at(i) = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  auto key = KeyMaterial::FromBytes(ByteSpan(scratch.data(), n));
  OPENSSL_cleanse(scratch.data(), scratch.size());
  if (!key) return Fail(t.line_offset, "key", "invalid key material", Errc::kInvalidArgument);
  sa->key = std::move(*key);
  return Ok();
}

Status SaLineParser::ParseOption(SaConfig* sa) {
  const Token t = tokens_[pos_++];
  const std::string_view kw = t.text;
  if (kw == "esn") {
    sa->esn = true;
  } else if (kw == "oseq") {
    if (sa->dir != Direction::kOut) return Fail(t.line_offset, kw, "only valid for dir out");
    ESPO_ASSIGN_OR_RETURN(sa->oseq, Number(kw));
  } else if (kw == "replay-seq") {
    if (sa->dir != Direction::kIn) return Fail(t.line_offset, kw, "only valid for dir in");
    ESPO_ASSIGN_OR_RETURN(sa->replay_seq, Number(kw));
  } else if (kw == "replay-window") {
    ESPO_ASSIGN_OR_RETURN(const std::uint64_t w, Number(kw));
    if (w > 0xFFFFFFFFULL) {
      return Fail(t.line_offset, kw, std::to_string(w) + " is not 0 or a power of two <= 1024",
                  Errc::kInvalidArgument);
    }
    sa->replay_window = static_cast<std::uint32_t>(w);
  } else if (kw == "encap") {
    ESPO_ASSIGN_OR_RETURN(const Token type, Value(kw));
    if (type.text != "espinudp") {
      return Fail(type.line_offset, kw,
                  "unsupported encapsulation " + Echo(type.text) + " (only espinudp)");
    }
    UdpEncap encap;
    ESPO_ASSIGN_OR_RETURN(const std::uint64_t sport, Number("encap sport"));
    ESPO_ASSIGN_OR_RETURN(const std::uint64_t dport, Number("encap dport"));
    if (sport == 0 || sport > 0xFFFF || dport == 0 || dport > 0xFFFF) {
      return Fail(
          t.line_offset, kw,
          "ports must be 1..65535, got " + std::to_string(sport) + " " + std::to_string(dport),
          Errc::kInvalidArgument);
    }
    encap.sport = static_cast<std::uint16_t>(sport);
    encap.dport = static_cast<std::uint16_t>(dport);
    sa->encap = encap;
  } else if (kw == "soft-packets") {
    ESPO_ASSIGN_OR_RETURN(sa->limits.soft_packets, Number(kw));
  } else if (kw == "hard-packets") {
    ESPO_ASSIGN_OR_RETURN(sa->limits.hard_packets, Number(kw));
  } else if (kw == "soft-bytes") {
    ESPO_ASSIGN_OR_RETURN(sa->limits.soft_bytes, Number(kw));
  } else if (kw == "hard-bytes") {
    ESPO_ASSIGN_OR_RETURN(sa->limits.hard_bytes, Number(kw));
  } else {
    return Fail(t.line_offset, "option", "unknown keyword " + Echo(kw));
  }
  return Ok();
}

Result<SaConfig> SaLineParser::Parse() {
  SaConfig sa;
  if (AtEnd()) return Fail(0, "sa", "empty line, expected 'sa'");
  ESPO_RETURN_IF_ERROR(ExpectKeyword("sa"));

  ESPO_RETURN_IF_ERROR(ExpectKeyword("spi"));
  ESPO_ASSIGN_OR_RETURN(const std::uint64_t spi, Number("spi"));
  if (spi > 0xFFFFFFFFULL) {
    return Fail(HereOffset(), "spi", std::to_string(spi) + " does not fit 32 bits",
                Errc::kInvalidArgument);
  }
  sa.spi = static_cast<std::uint32_t>(spi);

  ESPO_RETURN_IF_ERROR(ExpectKeyword("dir"));
  ESPO_ASSIGN_OR_RETURN(const Token dir, Value("dir"));
  if (dir.text == "out") {
    sa.dir = Direction::kOut;
  } else if (dir.text == "in") {
    sa.dir = Direction::kIn;
  } else {
    return Fail(dir.line_offset, "dir", "expected 'in' or 'out', got " + Echo(dir.text));
  }

  ESPO_RETURN_IF_ERROR(ExpectKeyword("mode"));
  ESPO_ASSIGN_OR_RETURN(const Token mode, Value("mode"));
  if (mode.text == "tunnel") {
    sa.mode = Mode::kTunnel;
  } else if (mode.text == "transport") {
    sa.mode = Mode::kTransport;
  } else {
    return Fail(mode.line_offset, "mode",
                "expected 'tunnel' or 'transport', got " + Echo(mode.text));
  }

  for (const std::string_view field : {std::string_view("src"), std::string_view("dst")}) {
    ESPO_RETURN_IF_ERROR(ExpectKeyword(field));
    ESPO_ASSIGN_OR_RETURN(const Token addr, Value(field));
    auto ip = IpAddress::Parse(addr.text);
    if (!ip)
      return Fail(addr.line_offset, field, "not an IPv4 or IPv6 address: " + Echo(addr.text));
    (field == "src" ? sa.src : sa.dst) = *ip;
  }

  ESPO_RETURN_IF_ERROR(ExpectKeyword("aead"));
  ESPO_ASSIGN_OR_RETURN(const Token alg, Value("aead"));
  std::string_view name = alg.text;
  if (name.size() >= 2 && (name.front() == '\'' || name.front() == '"') &&
      name.back() == name.front()) {
    name = name.substr(1, name.size() - 2);
  }
  if (name == kGcmName) {
    sa.alg = Algorithm::kGcm;
  } else if (name == kGmacName) {
    sa.alg = Algorithm::kGmac;
  } else {
    return Fail(alg.line_offset, "aead",
                "unsupported algorithm " + Echo(alg.text) +
                    " (expected rfc4106(gcm(aes)) or rfc4543(gcm(aes)))",
                Errc::kUnsupported);
  }
  ESPO_RETURN_IF_ERROR(ParseKey(&sa));
  const std::uint32_t icv_offset = HereOffset();
  ESPO_ASSIGN_OR_RETURN(const std::uint64_t icv_bits, Number("icv"));
  if (icv_bits != 64 && icv_bits != 96 && icv_bits != 128) {
    return Fail(icv_offset, "icv", "expected 64, 96 or 128 bits, got " + std::to_string(icv_bits),
                Errc::kInvalidArgument);
  }
  sa.icv_bytes = static_cast<std::uint8_t>(icv_bits / 8);

  std::vector<std::string_view> seen;
  while (!AtEnd()) {
    const Token& t = tokens_[pos_];
    for (const std::string_view s : seen) {
      if (s == t.text) return Fail(t.line_offset, t.text, "given more than once");
    }
    seen.push_back(t.text);
    ESPO_RETURN_IF_ERROR(ParseOption(&sa));
  }

  if (auto ok = Validate(sa); !ok) {
    return MakeError(ok.error().code,
                     where_.file + ":" + std::to_string(where_.line) + ": " + ok.error().message);
  }
  return sa;
}

// Splits a logical line into tokens, honouring comments and continuations.
Result<std::vector<Token>> Tokenize(std::string_view text, const SaLocation& where) {
  std::vector<Token> tokens;
  std::uint32_t offset = 0;
  bool previous_continues = true;
  while (true) {
    const std::size_t nl = text.find('\n');
    const std::string_view physical = text.substr(0, nl);
    bool continues = false;
    const std::string_view line = CleanPhysicalLine(physical, &continues);
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && IsSpace(line[i])) ++i;
      const std::size_t start = i;
      while (i < line.size() && !IsSpace(line[i])) ++i;
      if (i > start) {
        if (!previous_continues) {
          return MakeError(Errc::kParse, where.file + ":" + std::to_string(where.line + offset) +
                                             ": sa: second SA on one logical line (missing '\\' "
                                             "at the end of the previous line?)");
        }
        tokens.push_back(Token{line.substr(start, i - start), offset});
      }
    }
    // A line with tokens and no `\` ends the SA; comment-only or blank lines in between do not.
    if (!continues && !tokens.empty()) previous_continues = false;
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
    ++offset;
  }
  return tokens;
}

using SaKey = std::tuple<std::uint32_t, std::uint8_t, bool, std::array<std::uint8_t, 16>>;

}  // namespace

Result<SaConfig> ParseSaLine(std::string_view line, const SaLocation& where) {
  ESPO_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(line, where));
  return SaLineParser(std::move(tokens), where).Parse();
}

Result<std::vector<SaConfig>> ParseSaText(std::string_view text, std::string_view file_name) {
  std::vector<SaConfig> out;
  std::map<SaKey, std::uint32_t> first_line;
  std::uint32_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::uint32_t start_line = line_no + 1;
    const std::size_t start = pos;
    bool has_content = false;
    bool continues = true;
    while (continues && pos < text.size()) {
      std::size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) nl = text.size();
      const std::string_view cleaned = CleanPhysicalLine(text.substr(pos, nl - pos), &continues);
      if (cleaned.find_first_not_of(" \t\r\v\f") != std::string_view::npos) has_content = true;
      ++line_no;
      pos = nl + 1;
      // A blank or comment-only line before any content is skipped on its own.
      if (!has_content && !continues) break;
    }
    if (!has_content) continue;
    const std::string_view logical = text.substr(start, std::min(pos, text.size()) - start);
    const SaLocation where{std::string(file_name), start_line};
    ESPO_ASSIGN_OR_RETURN(SaConfig sa, ParseSaLine(logical, where));
    const SaKey key{sa.spi, static_cast<std::uint8_t>(sa.dir), sa.dst.v6, sa.dst.bytes};
    const auto [it, inserted] = first_line.emplace(key, start_line);
    if (!inserted) {
      return MakeError(Errc::kExists, std::string(file_name) + ":" + std::to_string(start_line) +
                                          ": sa: duplicate SA (spi " + Hex32(sa.spi) + ", dir " +
                                          std::string(ToString(sa.dir)) + ", dst " +
                                          sa.dst.ToString() + "), first defined at line " +
                                          std::to_string(it->second));
    }
    out.push_back(std::move(sa));
  }
  return out;
}

Result<std::vector<SaConfig>> LoadSaFile(const std::string& path) {
  struct FileClose {
    void operator()(std::FILE* f) const {
      std::fclose(f);
    }  // NOLINT(cppcoreguidelines-owning-memory)
  };
  const std::unique_ptr<std::FILE, FileClose> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    const int err = errno;
    return MakeError(err == ENOENT ? Errc::kNotFound : Errc::kIo,
                     path + ": cannot open: " + std::generic_category().message(err));
  }
  std::string text;
  std::array<char, 4096> buf{};
  while (true) {
    const std::size_t n = std::fread(buf.data(), 1, buf.size(), file.get());
    text.append(buf.data(), n);
    if (text.size() > kMaxSaFileBytes) {
      OPENSSL_cleanse(text.data(), text.size());
      OPENSSL_cleanse(buf.data(), buf.size());
      return MakeError(Errc::kInvalidArgument, path + ": file larger than 64 MiB");
    }
    if (n < buf.size()) break;
  }
  OPENSSL_cleanse(buf.data(), buf.size());
  if (std::ferror(file.get()) != 0) {
    OPENSSL_cleanse(text.data(), text.size());
    return MakeError(Errc::kIo, path + ": read error");
  }
  auto result = ParseSaText(text, path);
  OPENSSL_cleanse(text.data(), text.size());  // the file holds keys
  return result;
}

std::string FormatSaLine(const SaConfig& sa) {
  std::string out = "sa spi " + Hex32(sa.spi) + " dir " + std::string(ToString(sa.dir)) + " mode " +
                    std::string(ToString(sa.mode)) + " src " + sa.src.ToString() + " dst " +
                    sa.dst.ToString() + " aead " + std::string(ToString(sa.alg)) + " 0x" +
                    ToHex(sa.key.key_and_salt()) + " " +
                    std::to_string(static_cast<unsigned>(sa.icv_bytes) * 8U);
  const auto add = [&out](std::string_view keyword, std::uint64_t value) {
    out += " ";
    out += keyword;
    out += " ";
    out += std::to_string(value);
  };
  if (sa.esn) out += " esn";
  if (sa.oseq != 0) add("oseq", sa.oseq);
  if (sa.replay_window != SaConfig{}.replay_window) add("replay-window", sa.replay_window);
  if (sa.replay_seq != 0) add("replay-seq", sa.replay_seq);
  if (sa.encap) {
    out += " encap espinudp " + std::to_string(sa.encap->sport) + " " +
           std::to_string(sa.encap->dport);
  }
  if (sa.limits.soft_packets != 0) add("soft-packets", sa.limits.soft_packets);
  if (sa.limits.hard_packets != 0) add("hard-packets", sa.limits.hard_packets);
  if (sa.limits.soft_bytes != 0) add("soft-bytes", sa.limits.soft_bytes);
  if (sa.limits.hard_bytes != 0) add("hard-bytes", sa.limits.hard_bytes);
  return out;
}

// Wireshark's ESP SA table (`esp_sa` UAT, epan/dissectors/packet-ipsec.c, esp_uat_flds[] in
// proto_register_ipsec(); checked against the 1g4-mirror/wireshark copy of packet-ipsec.c,
// Wireshark 4.2+) has ten columns, in this order (Wireshark 4.0, Debian 12's tshark, has only the
// first eight and warns about extra fields: WiresharkUat::kClassic, checked with tshark 4.0.17):
//   "Protocol" ("IPv4"/"IPv6"), "Src IP", "Dest IP", "SPI" ("0x%08x" accepted), "Encryption"
//   (esp_encryption_type_vals), "Encryption Key", "Authentication" (esp_authentication_type_vals),
//   "Authentication Key", "SN" ("32-bit"/"64-bit", esp_sn_length_vals), "ESN High Bits" (hex).
// Encryption strings used, verbatim from esp_encryption_type_vals[]:
//   "AES-GCM with 8 octet ICV [RFC4106]", "AES-GCM with 12 octet ICV [RFC4106]",
//   "AES-GCM with 16 octet ICV [RFC4106]", and "NULL".
// Wireshark has no RFC 4543 (ENCR_NULL_AUTH_AES_GMAC) entry at all; its own preference text says
// the NULL heuristic "Does not detect ENCR_NULL_AUTH_AES_GMAC (i.e. assumes 0 length IV)". A GMAC
// SA is therefore exported as Encryption "NULL" with Authentication
// "ANY 128 bit authentication [no checking]" (esp_authentication_type_vals[]) and no keys: the
// 16-byte ICV is skipped but not checked, and the 8-byte IV shows up at the start of the payload.
// UAT strings are written quoted, as uat_save() in epan/uat.c does.
std::string FormatWiresharkEspSa(const SaConfig& sa, WiresharkUat uat) {
  const auto q = [](std::string_view s) {
    std::string quoted;
    quoted.reserve(s.size() + 2);
    quoted.push_back('"');
    quoted.append(s);
    quoted.push_back('"');
    return quoted;
  };
  std::string encryption;
  std::string encryption_key;
  std::string authentication = "NULL";
  if (sa.alg == Algorithm::kGcm) {
    encryption = "AES-GCM with " + std::to_string(sa.icv_bytes) + " octet ICV [RFC4106]";
    encryption_key = "0x" + ToHex(sa.key.key_and_salt());
  } else {
    encryption = "NULL";
    authentication = "ANY 128 bit authentication [no checking]";
  }
  // ESN high bits of the first sequence number the capture should contain.
  const std::uint64_t first_seq = sa.dir == Direction::kOut ? sa.oseq + 1 : sa.replay_seq;
  std::array<char, 9> high{};
  std::snprintf(high.data(), high.size(), "%x",  // NOLINT(cppcoreguidelines-pro-type-vararg)
                sa.esn ? static_cast<std::uint32_t>(first_seq >> 32U) : 0U);
  std::string out = q(sa.src.v6 ? "IPv6" : "IPv4");
  for (const std::string& field : {q(sa.src.ToString()), q(sa.dst.ToString()), q(Hex32(sa.spi)),
                                   q(encryption), q(encryption_key), q(authentication), q("")}) {
    out += ",";
    out += field;
  }
  if (uat == WiresharkUat::kEsn) {  // the two ESN columns exist from Wireshark 4.2 on
    out += "," + q(sa.esn ? "64-bit" : "32-bit") + "," + q(high.data());
  }
  OPENSSL_cleanse(encryption_key.data(), encryption_key.size());
  return out;
}

std::string FormatWiresharkEspSaFile(std::span<const SaConfig> sas, WiresharkUat uat) {
  const bool esn = uat == WiresharkUat::kEsn;
  // Header as written by uat_save() (epan/uat.c) for the esp_sa table.
  std::string out =
      "# This file is automatically generated. BE CAREFUL MODIFYING.\n"
      "# You can add (but not modify or delete) records with the command line option:\n"
      "# -o 'uat:esp_sa:\"protocol\",\"srcIP\",\"dstIP\",\"spi\",\"encryption_algo\","
      "\"encryption_key_string\",\"authentication_algo\",\"authentication_key_string\"";
  out += esn ? ",\"sn_length\",\"sn_upper\"'\n" : "'\n";
  out +=
      "#\"Protocol\",\"Src IP\",\"Dest IP\",\"SPI\",\"Encryption\",\"Encryption Key\","
      "\"Authentication\",\"Authentication Key\"";
  out += esn ? ",\"SN\",\"ESN High Bits\"\n" : "\n";
  for (const SaConfig& sa : sas) {
    out += FormatWiresharkEspSa(sa, uat);
    out += "\n";
  }
  return out;
}

bool SaConfigEqual(const SaConfig& a, const SaConfig& b) {
  const ByteSpan ka = a.key.key_and_salt();
  const ByteSpan kb = b.key.key_and_salt();
  const bool keys_equal =
      ka.size() == kb.size() && (ka.empty() || CRYPTO_memcmp(ka.data(), kb.data(), ka.size()) == 0);
  return keys_equal && a.spi == b.spi && a.dir == b.dir && a.mode == b.mode && a.src == b.src &&
         a.dst == b.dst && a.alg == b.alg && a.icv_bytes == b.icv_bytes && a.esn == b.esn &&
         a.oseq == b.oseq && a.replay_window == b.replay_window && a.replay_seq == b.replay_seq &&
         a.encap == b.encap && a.limits == b.limits;
}

}  // namespace espo::driver
