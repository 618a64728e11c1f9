// SPDX-License-Identifier: Apache-2.0
//
// Control protocol framing (docs/CONTROL_PROTOCOL.md): request parsing, response and event
// lines, error codes, SPI arguments, and the daemon's structured logger.
#include <sys/time.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "espo/ikectl/daemon.hpp"

namespace espo::ikectl {

std::string_view CodeFor(Errc errc) {
  switch (errc) {
    case Errc::kInvalidArgument:
      return code::kInvalidArgument;
    case Errc::kParse:
      return code::kParse;
    case Errc::kNotFound:
      return code::kNotFound;
    case Errc::kExists:
      return code::kExists;
    case Errc::kExhausted:
      return code::kExhausted;
    case Errc::kDevice:
      return code::kDevice;
    case Errc::kIo:
      return code::kIo;
    case Errc::kUnsupported:
      return code::kUnsupported;
    case Errc::kCrypto:
    case Errc::kAuth:
    case Errc::kInternal:
      break;
  }
  return code::kInternal;
}

ControlError ToControlError(const Error& error) {
  return ControlError{std::string(CodeFor(error.code)), error.message};
}

Error ToError(const ControlError& error) {
  return Error{ExitCodeFor(error.code) == 2 ? Errc::kInvalidArgument : Errc::kDevice,
               error.message};
}

int ExitCodeFor(std::string_view error_code) {
  for (const std::string_view input :
       {code::kParse, code::kInvalidRequest, code::kUnsupportedVersion, code::kUnknownCommand,
        code::kTooLarge, code::kInvalidArgument, code::kNotFound, code::kExists}) {
    if (error_code == input) return 2;
  }
  return 1;
}

const std::vector<std::string>& KnownCommands() {
  static const std::vector<std::string> kCommands = {
      "info",    "sa.add",  "sa.update", "sa.del",        "sa.list",    "sa.show",
      "sa.load", "sa.send", "stats",     "config.reload", "checkpoint", "monitor"};
  return kCommands;
}

namespace {

tl::unexpected<ControlError> Bad(std::string_view code_name, std::string message) {
  return tl::unexpected(ControlError{std::string(code_name), std::move(message)});
}

}  // namespace

ControlResult<Request> ParseRequest(std::string_view line) {
  if (line.size() > kMaxLineBytes) {
    return Bad(code::kTooLarge, "request of " + std::to_string(line.size()) +
                                    " bytes exceeds the limit of " + std::to_string(kMaxLineBytes));
  }
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad(code::kParse, "request is not valid JSON");
  if (!j.is_object()) return Bad(code::kInvalidRequest, "request is not a JSON object");
  Request req;
  if (auto it = j.find("id"); it != j.end()) {
    if (!it->is_number_integer() && !it->is_number_unsigned() && !it->is_string() &&
        !it->is_null()) {
      return Bad(code::kInvalidRequest, "id: expected an integer or a string");
    }
    req.id = *it;
  }
  auto v = j.find("v");
  if (v == j.end()) return Bad(code::kUnsupportedVersion, "v: missing (this daemon speaks v 1)");
  if (!v->is_number_integer() || v->get<std::int64_t>() != kProtocolVersion) {
    return Bad(code::kUnsupportedVersion,
               "v: version " + v->dump() + " not supported (this daemon speaks v 1)");
  }
  auto cmd = j.find("cmd");
  if (cmd == j.end() || !cmd->is_string()) {
    return Bad(code::kInvalidRequest, "cmd: missing or not a string");
  }
  req.cmd = cmd->get<std::string>();
  bool known = false;
  for (const auto& c : KnownCommands()) known = known || c == req.cmd;
  if (!known) {
    std::string shown = req.cmd.substr(0, 64);
    return Bad(code::kUnknownCommand, "cmd: unknown command " + nlohmann::json(shown).dump());
  }
  if (auto args = j.find("args"); args != j.end()) {
    if (!args->is_object()) return Bad(code::kInvalidRequest, "args: expected an object");
    req.args = *args;
  }
  return req;
}

std::string FormatOk(const nlohmann::json& id, const nlohmann::json& result) {
  nlohmann::json j = {{"v", kProtocolVersion}, {"id", id}, {"ok", true}, {"result", result}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string FormatError(const nlohmann::json& id, const ControlError& error) {
  nlohmann::json j = {{"v", kProtocolVersion},
                      {"id", id},
                      {"ok", false},
                      {"error", {{"code", error.code}, {"message", error.message}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string FormatEvent(const nlohmann::json& event) {
  nlohmann::json j = {{"v", kProtocolVersion}, {"event", event}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string FormatSpi(std::uint32_t spi) {
  std::array<char, 16> buf{};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg,cert-err33-c): bounded, always fits
  std::snprintf(buf.data(), buf.size(), "0x%08x", spi);
  return buf.data();
}

ControlResult<std::uint32_t> ParseSpi(const nlohmann::json& value, std::string_view what) {
  const std::string name(what);
  if (value.is_number_integer()) {  // signed or unsigned JSON integer
    const bool negative = !value.is_number_unsigned() && value.get<std::int64_t>() < 0;
    const std::uint64_t v = negative ? 0 : value.get<std::uint64_t>();
    if (v == 0 || v > 0xFFFFFFFFULL) {
      return Bad(code::kInvalidArgument, name + ": " + value.dump() + " is not an SPI");
    }
    return static_cast<std::uint32_t>(v);
  }
  if (!value.is_string()) {
    return Bad(code::kInvalidArgument, name + ": expected an SPI (number or \"0x...\")");
  }
  const auto text = value.get<std::string>();
  std::uint64_t v = 0;
  std::size_t i = 0;
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    i = 2;
  }
  bool ok = i < text.size() && text.size() - i <= (base == 16 ? 8U : 10U);
  for (; ok && i < text.size(); ++i) {
    const char c = text[i];
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0) ok = false;
    v = v * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d < 0 ? 0 : d);
  }
  if (!ok || v == 0 || v > 0xFFFFFFFFULL) {
    return Bad(code::kInvalidArgument,
               name + ": '" + text.substr(0, 32) + "' is not an SPI (1..0xffffffff)");
  }
  return static_cast<std::uint32_t>(v);
}

ControlResult<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return Bad(code::kInvalidArgument,
             "--log-level: expected debug, info, warn or error, got '" + std::string(text) + "'");
}

namespace {

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      break;
  }
  return "error";
}

std::string LogValue(const std::string& v) {
  bool plain = !v.empty();
  for (const char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      plain = false;
    }
  }
  return plain ? v
               : nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string OneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

void Logger::Log(LogLevel level, std::string_view component, std::string_view message,
                 const std::vector<std::pair<std::string, std::string>>& fields) const {
  if (level < level_) return;
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  tm utc{};
  ::gmtime_r(&tv.tv_sec, &utc);
  std::array<char, 40> stamp{};
  (void)std::strftime(stamp.data(), stamp.size(), "%Y-%m-%dT%H:%M:%S", &utc);
  std::array<char, 8> ms{};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg,cert-err33-c): bounded, always fits
  std::snprintf(ms.data(), ms.size(), ".%03dZ", static_cast<int>(tv.tv_usec / 1000));
  std::string line = std::string(stamp.data()) + ms.data() + " " + std::string(LevelName(level)) +
                     " " + std::string(component) + " " + OneLine(message);
  for (const auto& [k, v] : fields) line += " " + k + "=" + LogValue(v);
  line += "\n";
  std::cerr << line << std::flush;
}

}  // namespace espo::ikectl
