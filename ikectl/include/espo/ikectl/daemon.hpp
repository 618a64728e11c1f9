// SPDX-License-Identifier: Apache-2.0
//
// `ikectl daemon` and its control protocol (docs/CONTROL_PROTOCOL.md, docs/IKECTL.md).
//
//   ParseRequest     one JSON line -> Request, or a ControlError with a protocol error code
//   ControlCore      the daemon's state: one Engine (over one Device) run by the SDK's
//                    SaManager (slots, software fallback and migration back, limit events), the
//                    SA table (operator and XFRM SAs with their own SPIs, keyed by (dir, SPI)),
//                    the checkpoint and the monitor events; Dispatch() runs one request. The same
//                    core serves the socket (RunDaemon) and the in-process fallback of the ikectl
//                    commands.
//   RunDaemon        the single-threaded poll loop: Unix socket, SO_PEERCRED check, signals
//                    (SIGTERM/SIGINT: checkpoint + exit 0; SIGHUP: reload the config file)
//   CallDaemon       client side: one request, one response
//
// Nothing here is thread-safe: the daemon runs one thread and owns the Device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "espo/driver/device.hpp"
#include "espo/driver/engine.hpp"
#include "espo/driver/result.hpp"
#include "espo/driver/sa_config.hpp"
#include "espo/sdk/checkpoint.hpp"
#include "espo/sdk/clock.hpp"
#include "espo/sdk/random.hpp"
#include "espo/sdk/sa_manager.hpp"

namespace espo::ikectl {

inline constexpr std::uint32_t kProtocolVersion = 1;
// Longest request line the daemon reads (bytes, newline excluded); longer lines get "too-large".
inline constexpr std::size_t kMaxLineBytes = std::size_t{64} * 1024;

// Protocol error codes (docs/CONTROL_PROTOCOL.md "Errors").
namespace code {
inline constexpr std::string_view kParse = "parse";
inline constexpr std::string_view kInvalidRequest = "invalid-request";
inline constexpr std::string_view kUnsupportedVersion = "unsupported-version";
inline constexpr std::string_view kUnknownCommand = "unknown-command";
inline constexpr std::string_view kTooLarge = "too-large";
inline constexpr std::string_view kPermissionDenied = "permission-denied";
inline constexpr std::string_view kInvalidArgument = "invalid-argument";
inline constexpr std::string_view kNotFound = "not-found";
inline constexpr std::string_view kExists = "exists";
inline constexpr std::string_view kExhausted = "exhausted";
inline constexpr std::string_view kDevice = "device";
inline constexpr std::string_view kIo = "io";
inline constexpr std::string_view kUnsupported = "unsupported";
inline constexpr std::string_view kInternal = "internal";
}  // namespace code

struct ControlError {
  std::string code;     // one of espo::ikectl::code
  std::string message;  // one line naming the input and the problem
};
// The protocol code of a driver/SDK error.
std::string_view CodeFor(Errc errc);
ControlError ToControlError(const Error& error);
// Back to an Error value: kInvalidArgument for input errors (exit code 2), else kDevice.
Error ToError(const ControlError& error);
// Exit status of an ikectl command that got this error: 2 for input errors, else 1.
int ExitCodeFor(std::string_view error_code);

template <class T>
using ControlResult = tl::expected<T, ControlError>;

struct Request {
  nlohmann::json id;  // a number, a string or null; echoed in the response
  std::string cmd;
  nlohmann::json args = nlohmann::json::object();
};

// Parses one request line (without its newline). Never throws.
ControlResult<Request> ParseRequest(std::string_view line);
// Response lines (no trailing newline).
std::string FormatOk(const nlohmann::json& id, const nlohmann::json& result);
std::string FormatError(const nlohmann::json& id, const ControlError& error);
// An event line of a monitor subscription.
std::string FormatEvent(const nlohmann::json& event);

// The commands the daemon knows ("info", "sa.add", ...).
const std::vector<std::string>& KnownCommands();

// "0x%08x".
std::string FormatSpi(std::uint32_t spi);
// An SPI given as a JSON number or a string ("0x1000", "4096"); `what` names it in errors.
ControlResult<std::uint32_t> ParseSpi(const nlohmann::json& value, std::string_view what);

enum class LogLevel : std::uint8_t { kDebug, kInfo, kWarn, kError };
ControlResult<LogLevel> ParseLogLevel(std::string_view text);

// Structured log lines on stderr: `2024-05-01T12:00:00.123Z info daemon message key=value ...`.
// Values with blanks or quotes are JSON-quoted. Keys are never passed to it.
class Logger {
 public:
  explicit Logger(LogLevel level = LogLevel::kInfo) : level_(level) {}
  void Log(LogLevel level, std::string_view component, std::string_view message,
           const std::vector<std::pair<std::string, std::string>>& fields = {}) const;
  LogLevel level() const { return level_; }

 private:
  LogLevel level_;
};

struct CoreOptions {
  std::string device_name = "model";           // for `info`
  std::optional<std::string> checkpoint_path;  // FileCheckpointStore; none: no checkpoint
  std::optional<std::string> config_path;      // SA file loaded at start and on reload
  std::uint64_t jump_margin = 10'000'000;      // RestoreJumpAhead margin (packets)
  bool in_process = false;                     // `info` says so
  // SAs the software path (SoftwareEsp) may carry when no hardware slot is free: the slot an
  // inbound SPI encodes is taken, or the outbound table is full. 0 = no fallback: such an SA
  // is refused with "exhausted". Software SAs move to hardware when slots free up.
  std::uint32_t software_sas = 0;
};

// One installed SA of the table.
struct SaEntry {
  driver::SaConfig config;                 // as installed (oseq / replay-seq after any jump-ahead)
  sdk::SaId id = sdk::kNoSa;               // the SDK's SA (adopted)
  std::uint32_t slot = sdk::kNoSlotIndex;  // hardware slot; kNoSlotIndex on software
  bool software = false;                   // on SoftwareEsp (no slot was free)
  bool soft_seen = false;                  // a soft / hard event was published for it
  bool hard_seen = false;
  std::string origin;          // "config" (the --config file), "runtime" (sa add / sa load), "xfrm"
  std::string source;          // "sas.conf:3", "sa add", ...
  std::uint64_t last_seq = 0;  // last value read from the slot (checkpoint fallback)
};

class ControlCore {
 public:
  // Opens the engine on `device`. With a checkpoint path, loads the checkpoint (a missing file
  // is a fresh start; a corrupt one is an error: refusing to start is the only way to be sure no
  // outbound sequence number is reused). With a config path, installs its SAs (all-or-nothing),
  // applying the jump-ahead to SAs the checkpoint knows, then saves a checkpoint.
  static Result<std::unique_ptr<ControlCore>> Create(std::unique_ptr<driver::Device> device,
                                                     const CoreOptions& options,
                                                     const Logger& logger);
  ~ControlCore();
  ControlCore(const ControlCore&) = delete;
  ControlCore& operator=(const ControlCore&) = delete;
  ControlCore(ControlCore&&) = delete;
  ControlCore& operator=(ControlCore&&) = delete;

  // Runs one request. `subscribe` is set when the request was a successful "monitor".
  ControlResult<nlohmann::json> Dispatch(const Request& request, bool* subscribe = nullptr);
  // Parse + Dispatch + format: one response line.
  std::string HandleLine(std::string_view line, bool* subscribe = nullptr);

  // Table changes from other sources than requests (the XFRM bridge), with the same checks,
  // events, logs and checkpointing as sa.add / sa.update / sa.del.
  ControlResult<std::pair<driver::Direction, std::uint32_t>> AddSa(driver::SaConfig sa,
                                                                   const std::string& origin,
                                                                   const std::string& source);
  ControlResult<void> UpdateSaLimits(driver::Direction dir, std::uint32_t spi,
                                     const driver::SaLimits& limits);
  ControlResult<void> RemoveSa(driver::Direction dir, std::uint32_t spi);
  // Sends an event to the monitor subscribers (a "time" field is added).
  void PublishEvent(nlohmann::json event) { Publish(std::move(event)); }

  // Re-reads the config file, all-or-nothing: a bad file or a failed install changes nothing.
  ControlResult<nlohmann::json> ReloadConfig();
  // Writes the checkpoint now (no-op without a checkpoint path). With `only_if_changed`, skips
  // the write when the records equal the last ones written (the periodic save).
  ControlResult<nlohmann::json> SaveCheckpoint(bool only_if_changed = false);
  // Drains the engine's event FIFO and publishes the events.
  void PollEvents();

  // Receives every monitor event (sa added/removed, soft/hard/seq-overflow, reload, ...).
  void SetEventSink(std::function<void(const nlohmann::json&)> sink) { sink_ = std::move(sink); }
  // Called for every soft / hard / seq-overflow event of an SA in the table, after it was
  // published (the XFRM bridge reports them to the kernel as XFRM_MSG_EXPIRE).
  using LimitHook =
      std::function<void(const std::pair<driver::Direction, std::uint32_t>& key,
                         const SaEntry& entry, driver::EventKind kind, const sdk::SaEvent& event)>;
  void SetLimitHook(LimitHook hook) { limit_hook_ = std::move(hook); }

  const std::map<std::pair<driver::Direction, std::uint32_t>, SaEntry>& table() const {
    return table_;
  }
  driver::Engine& engine() { return *engine_; }
  sdk::SaManager& sdk() { return *sdk_; }
  std::uint64_t generation() const { return generation_; }

 private:
  using Key = std::pair<driver::Direction, std::uint32_t>;
  ControlCore(std::unique_ptr<driver::Engine> engine, CoreOptions options, const Logger& logger);

  ControlResult<nlohmann::json> Info();
  ControlResult<nlohmann::json> SaAdd(const nlohmann::json& args);
  ControlResult<nlohmann::json> SaUpdate(const nlohmann::json& args);
  ControlResult<nlohmann::json> SaDel(const nlohmann::json& args);
  ControlResult<nlohmann::json> SaList();
  ControlResult<nlohmann::json> SaShow(const nlohmann::json& args);
  ControlResult<nlohmann::json> SaLoad(const nlohmann::json& args);
  ControlResult<nlohmann::json> SaSend(const nlohmann::json& args);
  ControlResult<nlohmann::json> Stats();

  // Installs a parsed SA (slot choice, checkpoint jump-ahead, device install, table entry).
  ControlResult<Key> Install(driver::SaConfig sa, std::string origin, std::string source);
  // Removes an entry from the device and the table (the outbound record stays in the
  // checkpoint so that a re-added SA with the same SPI resumes above it).
  ControlResult<void> Uninstall(const Key& key);
  // Installs a whole set or nothing; returns the keys installed.
  ControlResult<std::vector<Key>> InstallAll(std::vector<driver::SaConfig> sas,
                                             const std::string& origin,
                                             const std::vector<std::string>& sources);
  ControlResult<Key> FindEntry(const nlohmann::json& args) const;
  nlohmann::json Describe(const Key& key, const SaEntry& entry, bool with_counters);
  // Counters of an entry (SDK: hardware slot or software) and its state name.
  struct SaView {
    std::string state;
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    std::uint64_t seq = 0;
    bool seq_overflow = false;
  };
  ControlResult<SaView> ReadSa(const Key& key, SaEntry& entry);
  // Refreshes the slot / software placement of every entry after migrations.
  void RefreshPlacement();
  ControlError DeviceError(const Error& error, std::string_view during);
  void Publish(nlohmann::json event);
  // Why an SA found no slot: "outbound SA table full (4 of 4 slots in use)", "inbound slot 1
  // (SPI mod 4) already holds SA spi 0x00002001 dir in".
  std::string TableFull(driver::Direction dir, std::uint32_t spi) const;
  // The hardware entry holding the inbound slot `spi` encodes, or nullptr.
  const Key* InboundSlotHolder(std::uint32_t spi) const;
  // Checkpoint after a table change; failures are logged (the change stands).
  void CheckpointAfterChange();
  ControlResult<std::vector<driver::SaConfig>> ReadConfig(std::vector<std::string>* sources) const;

  std::unique_ptr<driver::Engine> engine_;
  sdk::SteadyClock clock_;
  sdk::CryptoRng rng_;
  std::unique_ptr<sdk::SaManager> sdk_;  // references engine_, clock_, rng_ (declared after them)
  std::map<sdk::SaId, Key> by_id_;
  CoreOptions options_;
  const Logger& logger_;
  std::unique_ptr<sdk::FileCheckpointStore> store_;
  std::uint64_t generation_ = 0;
  std::map<Key, SaEntry> table_;
  // Checkpoint records of SAs not installed now (from the loaded checkpoint, or removed): an SA
  // added again with the same (dir, SPI) resumes above the saved number (jump-ahead).
  std::map<Key, sdk::SaCheckpoint> retained_;
  std::function<void(const nlohmann::json&)> sink_;
  LimitHook limit_hook_;
  std::vector<sdk::SaCheckpoint> last_saved_;
  std::uint64_t device_errors_ = 0;
  std::uint64_t events_seen_ = 0;
};

struct DaemonOptions {
  std::string device = "sim";
  std::uint32_t slots = 1024;
  std::string socket_path;   // empty: DefaultSocketPath()
  std::string socket_group;  // non-empty: mode 0660 and this group
  std::optional<std::string> checkpoint_path;
  std::optional<std::string> config_path;
  std::string log_level = "info";
  std::uint64_t jump_margin = 10'000'000;
  double checkpoint_interval_s = 5.0;
  std::uint32_t software_sas = 1024;  // CoreOptions::software_sas
  bool xfrm = false;                  // run the XFRM bridge (docs/XFRM_BRIDGE.md)
  std::string xfrm_dev;               // mirror only SAs offloaded to this netdev (empty: any)
};

// $ESPO_SOCKET, else $XDG_RUNTIME_DIR/espo.sock, else /run/espo/espo.sock.
std::string DefaultSocketPath();
// Opens the device a command or the daemon asked for ("model", "sim", "xrt"); `slots` for model.
Result<std::unique_ptr<driver::Device>> OpenNamedDevice(std::string_view name, std::uint32_t slots);
// Runs the daemon until SIGTERM/SIGINT; returns the process exit code.
int RunDaemon(const DaemonOptions& options);

// Client side. Connects to `socket_path`; nullopt when no daemon answers there.
std::optional<int> ConnectDaemon(const std::string& socket_path);
// Sends one request on `fd` and reads one response line (parsed). Errors are transport errors.
Result<nlohmann::json> CallDaemon(int fd, const std::string& cmd, const nlohmann::json& args);

// The options every control command takes.
struct ClientOptions {
  std::string socket_path;  // empty: DefaultSocketPath()
  std::string device = "sim";
  std::uint32_t slots = 1024;
  bool json = false;
};
void AddClientOptions(CLI::App& cmd, ClientOptions& options);
// Runs `cmd` on the daemon if one answers, else on an in-process core (and says so on stderr in
// human mode). `print` renders a successful result in human form. Returns the exit code.
int RunControlCommand(const ClientOptions& options, const std::string& cmd,
                      const nlohmann::json& args,
                      const std::function<void(const nlohmann::json&)>& print);
// Human renderings shared by the commands.
void PrintSaTable(const nlohmann::json& sas);

// Registers `daemon`, `info`, `stats` and `monitor` on the top-level app.
void RegisterDaemonCommands(CLI::App& app, int& exit_code);

}  // namespace espo::ikectl
