// SPDX-License-Identifier: Apache-2.0
#include "espo/sdk/checkpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "espo/driver/bytes.hpp"

namespace espo::sdk {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kFormatTag = "espo-checkpoint";

std::string Hex32(std::uint32_t v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}

std::string RecordName(const SaCheckpoint& sa) {
  return "sa '" + sa.name + "' (" + std::string(ToString(sa.direction)) + " spi " + Hex32(sa.spi) +
         ")";
}

tl::unexpected<Error> Invalid(const std::string& message) {
  return MakeError(Errc::kInvalidArgument, message);
}

std::size_t BitmapWords(std::uint32_t window) { return (window + 63U) / 64U; }

Result<std::string> Sha256Hex(std::string_view text) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (EVP_Digest(text.data(), text.size(), md.data(), &md_len, EVP_sha256(), nullptr) != 1) {
    return MakeError(Errc::kCrypto, "checkpoint: EVP_Digest(SHA-256) failed");
  }
  return ToHex(ByteSpan(md.data(), md_len));
}

Status ValidateRecord(const SaCheckpoint& sa) {
  const std::string who = "checkpoint " + RecordName(sa);
  if (sa.name.empty()) return Invalid("checkpoint sa (spi " + Hex32(sa.spi) + "): empty name");
  if (sa.spi < 256) return Invalid(who + ": spi must be >= 256 (0..255 are reserved)");
  const std::uint64_t last = LastUsableSequence(sa.esn);
  if (sa.direction == SaDirection::kOutbound) {
    if (sa.outbound_seq > last) {
      return Invalid(who + ": outbound_seq " + std::to_string(sa.outbound_seq) +
                     " exceeds 2^32 - 1 without ESN");
    }
    if (sa.replay_right_edge != 0 || sa.replay_window != 0 || !sa.replay_bitmap.empty()) {
      return Invalid(who + ": an outbound SA carries no replay state");
    }
    return Ok();
  }
  if (sa.outbound_seq != 0) return Invalid(who + ": an inbound SA has no outbound_seq");
  const std::uint32_t w = sa.replay_window;
  if (w > kMaxReplayWindow || (w & (w - 1)) != 0) {
    return Invalid(who + ": replay_window must be 0 or a power of two <= 1024, got " +
                   std::to_string(w));
  }
  if (w == 0 && sa.esn) return Invalid(who + ": replay_window 0 is not allowed with ESN");
  if (sa.replay_right_edge > last) {
    return Invalid(who + ": replay_right_edge " + std::to_string(sa.replay_right_edge) +
                   " exceeds 2^32 - 1 without ESN");
  }
  if (sa.replay_bitmap.size() != BitmapWords(w)) {
    return Invalid(who + ": replay_bitmap has " + std::to_string(sa.replay_bitmap.size()) +
                   " words, window " + std::to_string(w) + " needs " +
                   std::to_string(BitmapWords(w)));
  }
  if (w % 64 != 0 && w != 0 && (sa.replay_bitmap.back() >> (w % 64)) != 0) {
    return Invalid(who + ": replay_bitmap has bits set beyond the window");
  }
  return Ok();
}

// ---- JSON decoding without exceptions: every access is type-checked first ----

Result<const Json*> Field(const Json& obj, const std::string& key, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key)) {
    return MakeError(Errc::kParse, where + ": missing field \"" + key + "\"");
  }
  return &obj.at(key);
}

Result<std::uint64_t> GetU64(const Json& obj, const std::string& key, const std::string& where) {
  ESPO_ASSIGN_OR_RETURN(const Json* v, Field(obj, key, where));
  if (!v->is_number_unsigned()) {
    return MakeError(Errc::kParse, where + ": \"" + key + "\" must be a non-negative integer");
  }
  return v->get<std::uint64_t>();
}

Result<std::uint32_t> GetU32(const Json& obj, const std::string& key, const std::string& where) {
  ESPO_ASSIGN_OR_RETURN(const std::uint64_t v, GetU64(obj, key, where));
  if (v > std::numeric_limits<std::uint32_t>::max()) {
    return MakeError(Errc::kParse, where + ": \"" + key + "\" does not fit 32 bits");
  }
  return static_cast<std::uint32_t>(v);
}

Result<std::string> GetString(const Json& obj, const std::string& key, const std::string& where) {
  ESPO_ASSIGN_OR_RETURN(const Json* v, Field(obj, key, where));
  if (!v->is_string()) return MakeError(Errc::kParse, where + ": \"" + key + "\" must be a string");
  return v->get<std::string>();
}

Result<bool> GetBool(const Json& obj, const std::string& key, const std::string& where) {
  ESPO_ASSIGN_OR_RETURN(const Json* v, Field(obj, key, where));
  if (!v->is_boolean())
    return MakeError(Errc::kParse, where + ": \"" + key + "\" must be a boolean");
  return v->get<bool>();
}

template <class T>
Result<std::vector<T>> GetUintArray(const Json& obj, const std::string& key,
                                    const std::string& where) {
  ESPO_ASSIGN_OR_RETURN(const Json* v, Field(obj, key, where));
  if (!v->is_array()) return MakeError(Errc::kParse, where + ": \"" + key + "\" must be an array");
  std::vector<T> out;
  out.reserve(v->size());
  for (const Json& item : *v) {
    if (!item.is_number_unsigned() || item.get<std::uint64_t>() > std::numeric_limits<T>::max()) {
      std::string message = where;
      message += ": \"" + key + "\" holds a value that is not a ";
      message += std::to_string(8 * sizeof(T)) + "-bit unsigned integer";
      return MakeError(Errc::kParse, std::move(message));
    }
    out.push_back(static_cast<T>(item.get<std::uint64_t>()));
  }
  return out;
}

Json Encode(const Checkpoint& c) {
  Json sas = Json::array();
  for (const SaCheckpoint& sa : c.sas) {
    Json record = {{"name", sa.name},
                   {"spi", sa.spi},
                   {"direction", std::string(ToString(sa.direction))},
                   {"esn", sa.esn},
                   {"outbound_seq", sa.outbound_seq},
                   {"replay_right_edge", sa.replay_right_edge},
                   {"replay_window", sa.replay_window},
                   {"replay_bitmap", sa.replay_bitmap}};
    if (sa.sa_id != 0) {
      record["manager"] = {
          {"sa_id", sa.sa_id},         {"selector", sa.selector}, {"state", sa.state},
          {"placement", sa.placement}, {"slot", sa.slot},         {"adopted", sa.adopted},
          {"current", sa.current},     {"packets", sa.packets},   {"bytes", sa.bytes}};
    }
    sas.push_back(std::move(record));
  }
  Json ranges = Json::array();
  for (const SpiRange& r : c.spis.ranges) ranges.push_back({{"first", r.first}, {"last", r.last}});
  Json body = {
      {"version", c.version},
      {"generation", c.generation},
      {"sas", sas},
      {"spi_allocator",
       {{"ranges", ranges}, {"allocated", c.spis.allocated}, {"retired", c.spis.retired}}}};
  if (c.next_sa_id != 0) body["next_sa_id"] = c.next_sa_id;
  return body;
}

// The optional "manager" object of a record (SaManager::Snapshot).
Status DecodeManager(const Json& j, const std::string& at, SaCheckpoint& sa) {
  if (!j.is_object() || !j.contains("manager")) return Ok();
  const Json& m = j.at("manager");
  const std::string where = at + ".manager";
  if (!m.is_object()) return MakeError(Errc::kParse, where + ": must be an object");
  ESPO_ASSIGN_OR_RETURN(sa.sa_id, GetU64(m, "sa_id", where));
  ESPO_ASSIGN_OR_RETURN(sa.selector, GetU64(m, "selector", where));
  ESPO_ASSIGN_OR_RETURN(sa.state, GetString(m, "state", where));
  ESPO_ASSIGN_OR_RETURN(sa.placement, GetString(m, "placement", where));
  ESPO_ASSIGN_OR_RETURN(sa.slot, GetU32(m, "slot", where));
  ESPO_ASSIGN_OR_RETURN(sa.adopted, GetBool(m, "adopted", where));
  ESPO_ASSIGN_OR_RETURN(sa.current, GetBool(m, "current", where));
  ESPO_ASSIGN_OR_RETURN(sa.packets, GetU64(m, "packets", where));
  ESPO_ASSIGN_OR_RETURN(sa.bytes, GetU64(m, "bytes", where));
  if (sa.sa_id == 0) return MakeError(Errc::kParse, where + ": \"sa_id\" must not be 0");
  return Ok();
}

Result<Checkpoint> Decode(const Json& body, const std::string& where) {
  Checkpoint c;
  ESPO_ASSIGN_OR_RETURN(c.version, GetU32(body, "version", where));
  ESPO_ASSIGN_OR_RETURN(c.generation, GetU64(body, "generation", where));
  ESPO_ASSIGN_OR_RETURN(const Json* sas, Field(body, "sas", where));
  if (!sas->is_array()) return MakeError(Errc::kParse, where + ": \"sas\" must be an array");
  for (std::size_t i = 0; i < sas->size(); ++i) {
    const Json& j = (*sas)[i];
    const std::string at = where + ": sas[" + std::to_string(i) + "]";
    SaCheckpoint sa;
    ESPO_ASSIGN_OR_RETURN(sa.name, GetString(j, "name", at));
    ESPO_ASSIGN_OR_RETURN(sa.spi, GetU32(j, "spi", at));
    ESPO_ASSIGN_OR_RETURN(const std::string dir, GetString(j, "direction", at));
    auto direction = ParseSaDirection(dir);
    if (!direction) return MakeError(Errc::kParse, at + ": " + direction.error().message);
    sa.direction = *direction;
    ESPO_ASSIGN_OR_RETURN(sa.esn, GetBool(j, "esn", at));
    ESPO_ASSIGN_OR_RETURN(sa.outbound_seq, GetU64(j, "outbound_seq", at));
    ESPO_ASSIGN_OR_RETURN(sa.replay_right_edge, GetU64(j, "replay_right_edge", at));
    ESPO_ASSIGN_OR_RETURN(sa.replay_window, GetU32(j, "replay_window", at));
    ESPO_ASSIGN_OR_RETURN(sa.replay_bitmap, GetUintArray<std::uint64_t>(j, "replay_bitmap", at));
    ESPO_RETURN_IF_ERROR(DecodeManager(j, at, sa));
    c.sas.push_back(std::move(sa));
  }
  if (body.contains("next_sa_id")) {
    ESPO_ASSIGN_OR_RETURN(c.next_sa_id, GetU64(body, "next_sa_id", where));
  }
  const std::string at = where + ": spi_allocator";
  ESPO_ASSIGN_OR_RETURN(const Json* alloc, Field(body, "spi_allocator", where));
  ESPO_ASSIGN_OR_RETURN(const Json* ranges, Field(*alloc, "ranges", at));
  if (!ranges->is_array()) return MakeError(Errc::kParse, at + ": \"ranges\" must be an array");
  for (const Json& r : *ranges) {
    SpiRange range;
    ESPO_ASSIGN_OR_RETURN(range.first, GetU32(r, "first", at + ".ranges"));
    ESPO_ASSIGN_OR_RETURN(range.last, GetU32(r, "last", at + ".ranges"));
    c.spis.ranges.push_back(range);
  }
  ESPO_ASSIGN_OR_RETURN(c.spis.allocated, GetUintArray<std::uint32_t>(*alloc, "allocated", at));
  ESPO_ASSIGN_OR_RETURN(c.spis.retired, GetUintArray<std::uint32_t>(*alloc, "retired", at));
  return c;
}

Status Errno(const std::string& what, const std::filesystem::path& path) {
  return MakeError(Errc::kIo, "checkpoint " + path.string() + ": " + what + ": " +
                                  std::strerror(errno));  // NOLINT(concurrency-mt-unsafe): message
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&&) = delete;
  Fd& operator=(Fd&&) = delete;
  int get() const { return fd_; }
  int Close() {
    const int rc = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(Errc::kIo, "write failed");
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Ok();
}

}  // namespace

Status ValidateCheckpoint(const Checkpoint& checkpoint) {
  if (checkpoint.version != kCheckpointFormatVersion) {
    return Invalid("checkpoint: version " + std::to_string(checkpoint.version) +
                   " (this build writes " + std::to_string(kCheckpointFormatVersion) + ")");
  }
  std::set<std::pair<SaDirection, std::uint32_t>> seen;
  std::map<std::uint64_t, const SaCheckpoint*> by_id;  // sa_id -> first record
  std::set<std::pair<std::uint64_t, SaDirection>> id_dirs;
  for (const SaCheckpoint& sa : checkpoint.sas) {
    ESPO_RETURN_IF_ERROR(ValidateRecord(sa));
    if (!seen.emplace(sa.direction, sa.spi).second) {
      return Invalid("checkpoint " + RecordName(sa) + ": duplicate SPI in this direction");
    }
    if (sa.sa_id == 0) continue;
    const std::string who = "checkpoint " + RecordName(sa) + ": manager";
    if (sa.state != "larval" && sa.state != "active" && sa.state != "rekeying" &&
        sa.state != "draining") {
      return Invalid(who + ": state \"" + sa.state +
                     "\" is not larval, active, rekeying or draining");
    }
    if (sa.placement != "hardware" && sa.placement != "software") {
      return Invalid(who + ": placement \"" + sa.placement + "\" is not hardware or software");
    }
    if (sa.current && sa.direction != SaDirection::kOutbound) {
      return Invalid(who + ": only an outbound SA can be current");
    }
    if (!id_dirs.emplace(sa.sa_id, sa.direction).second) {
      return Invalid(who + ": sa_id " + std::to_string(sa.sa_id) + " twice in this direction");
    }
    auto [it, fresh] = by_id.emplace(sa.sa_id, &sa);
    if (!fresh && it->second->selector != sa.selector) {
      return Invalid(who + ": sa_id " + std::to_string(sa.sa_id) +
                     " has two selectors in its two directions");
    }
    if (checkpoint.next_sa_id != 0 && sa.sa_id >= checkpoint.next_sa_id) {
      return Invalid(who + ": sa_id " + std::to_string(sa.sa_id) + " is not below next_sa_id " +
                     std::to_string(checkpoint.next_sa_id));
    }
  }
  for (const SpiRange& r : checkpoint.spis.ranges) {
    if (r.first < 256 || r.first > r.last) {
      return Invalid("checkpoint spi_allocator: bad range " + Hex32(r.first) + ".." +
                     Hex32(r.last) + " (need 256 <= first <= last)");
    }
  }
  const auto in_a_range = [&](std::uint32_t spi) {
    return std::ranges::any_of(checkpoint.spis.ranges, [spi](const SpiRange& r) {
      return spi >= r.first && spi <= r.last;
    });
  };
  for (const auto* list : {&checkpoint.spis.allocated, &checkpoint.spis.retired}) {
    for (const std::uint32_t spi : *list) {
      if (!in_a_range(spi)) {
        return Invalid("checkpoint spi_allocator: spi " + Hex32(spi) + " is outside every range");
      }
    }
  }
  return Ok();
}

Result<std::string> SerializeCheckpoint(const Checkpoint& checkpoint) {
  ESPO_RETURN_IF_ERROR(ValidateCheckpoint(checkpoint));
  const Json body = Encode(checkpoint);
  ESPO_ASSIGN_OR_RETURN(std::string sha, Sha256Hex(body.dump()));
  const Json file = {{"format", std::string(kFormatTag)},
                     {"version", checkpoint.version},
                     {"sha256", sha},
                     {"body", body}};
  return file.dump(1) + "\n";
}

Result<Checkpoint> ParseCheckpoint(std::string_view text, std::string_view source) {
  const std::string where = "checkpoint " + std::string(source);
  try {
    const Json file = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (file.is_discarded()) {
      return MakeError(Errc::kParse, where + ": not valid JSON (truncated or corrupted file)");
    }
    ESPO_ASSIGN_OR_RETURN(const std::string tag, GetString(file, "format", where));
    if (tag != kFormatTag) {
      return MakeError(Errc::kParse, where + ": format \"" + tag + "\" is not \"" +
                                         std::string(kFormatTag) + "\"");
    }
    ESPO_ASSIGN_OR_RETURN(const std::uint32_t version, GetU32(file, "version", where));
    if (version > kCheckpointFormatVersion) {
      return MakeError(Errc::kUnsupported, where + ": format version " + std::to_string(version) +
                                               " is newer than this build supports (" +
                                               std::to_string(kCheckpointFormatVersion) + ")");
    }
    if (version == 0) return MakeError(Errc::kParse, where + ": format version 0 is invalid");
    ESPO_ASSIGN_OR_RETURN(const std::string sha, GetString(file, "sha256", where));
    ESPO_ASSIGN_OR_RETURN(const Json* body, Field(file, "body", where));
    ESPO_ASSIGN_OR_RETURN(const std::string actual, Sha256Hex(body->dump()));
    if (sha != actual) {
      return MakeError(Errc::kParse, where + ": SHA-256 mismatch (corrupted file): stored " +
                                         sha.substr(0, 16) + "..., computed " +
                                         actual.substr(0, 16) + "...");
    }
    ESPO_ASSIGN_OR_RETURN(Checkpoint checkpoint, Decode(*body, where));
    if (checkpoint.version != version) {
      return MakeError(Errc::kParse, where + ": body version " +
                                         std::to_string(checkpoint.version) +
                                         " differs from header version " + std::to_string(version));
    }
    ESPO_RETURN_IF_ERROR(ValidateCheckpoint(checkpoint));
    return checkpoint;
  } catch (const Json::exception& e) {  // a boundary: nothing throws across the SDK API
    return MakeError(Errc::kParse, where + ": " + e.what());
  }
}

Status MemoryCheckpointStore::Save(const Checkpoint& checkpoint) {
  ESPO_ASSIGN_OR_RETURN(std::string text, SerializeCheckpoint(checkpoint));
  text_ = std::move(text);
  return Ok();
}

Result<Checkpoint> MemoryCheckpointStore::Load() {
  if (!text_) return MakeError(Errc::kNotFound, "checkpoint (memory): nothing saved yet");
  return ParseCheckpoint(*text_, "(memory)");
}

std::string_view ToString(WriteStep step) {
  switch (step) {
    case WriteStep::kCreateTemp:
      return "create-temp";
    case WriteStep::kWrite:
      return "write";
    case WriteStep::kSyncFile:
      return "fsync-file";
    case WriteStep::kRename:
      return "rename";
    case WriteStep::kSyncDir:
      return "fsync-dir";
  }
  return "unknown";
}

FileCheckpointStore::FileCheckpointStore(std::filesystem::path path, FaultInjector fault)
    : path_(std::move(path)), fault_(std::move(fault)) {}

Status FileCheckpointStore::Save(const Checkpoint& checkpoint) {
  ESPO_ASSIGN_OR_RETURN(const std::string text, SerializeCheckpoint(checkpoint));
  const auto inject = [&](WriteStep step) -> Status {
    if (!fault_) return Ok();
    Status s = fault_(step);
    if (!s) {
      return MakeError(s.error().code, "checkpoint " + path_.string() + ": " +
                                           std::string(ToString(step)) + ": " + s.error().message);
    }
    return Ok();
  };
  std::filesystem::path dir = path_.parent_path();
  if (dir.empty()) dir = ".";
  const std::filesystem::path temp =
      path_.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(temp_counter_++);

  ESPO_RETURN_IF_ERROR(inject(WriteStep::kCreateTemp));
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): POSIX open
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Errno("create " + temp.filename().string(), path_);
  // From here on, any failure removes the temp file; the old checkpoint stays untouched.
  const auto fail = [&](Status status) -> Status {
    fd.Close();
    ::unlink(temp.c_str());
    return status;
  };
  if (Status s = inject(WriteStep::kWrite); !s) {
    // Simulate a torn write: half of the bytes reach the temp file.
    const std::string_view all = text;
    if (!WriteAll(fd.get(), all.substr(0, all.size() / 2))) return fail(s);
    return fail(s);
  }
  if (!WriteAll(fd.get(), text)) return fail(Errno("write " + temp.filename().string(), path_));
  if (Status s = inject(WriteStep::kSyncFile); !s) return fail(s);
  if (::fsync(fd.get()) != 0) return fail(Errno("fsync " + temp.filename().string(), path_));
  if (fd.Close() != 0) return fail(Errno("close " + temp.filename().string(), path_));
  if (Status s = inject(WriteStep::kRename); !s) return fail(s);
  if (::rename(temp.c_str(), path_.c_str()) != 0) return fail(Errno("rename", path_));
  // The new file is in place; make the rename durable.
  ESPO_RETURN_IF_ERROR(inject(WriteStep::kSyncDir));
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): POSIX open
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) return Errno("open directory " + dir.string(), path_);
  if (::fsync(dir_fd.get()) != 0) return Errno("fsync directory " + dir.string(), path_);
  return Ok();
}

Result<Checkpoint> FileCheckpointStore::Load() {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) {
    return MakeError(Errc::kNotFound, "checkpoint " + path_.string() + ": no such file");
  }
  std::ifstream in(path_, std::ios::binary);
  if (!in) return MakeError(Errc::kIo, "checkpoint " + path_.string() + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return MakeError(Errc::kIo, "checkpoint " + path_.string() + ": read failed");
  return ParseCheckpoint(text.str(), path_.string());
}

Result<JumpAhead> RestoreJumpAhead(const SaCheckpoint& record, std::uint64_t margin) {
  if (record.direction != SaDirection::kOutbound) {
    return Invalid("jump-ahead " + RecordName(record) + ": only outbound SAs jump ahead");
  }
  const std::uint64_t last = LastUsableSequence(record.esn);
  if (record.outbound_seq > last) {
    return Invalid("jump-ahead " + RecordName(record) + ": saved outbound_seq " +
                   std::to_string(record.outbound_seq) + " is beyond the sequence space");
  }
  JumpAhead out;
  if (margin >= last - record.outbound_seq) {  // saved + margin >= last, without overflow
    out.outbound_seq = last;
    out.remaining = 0;
    out.needs_rekey = true;
    return out;
  }
  out.outbound_seq = record.outbound_seq + margin;
  out.remaining = last - out.outbound_seq;
  return out;
}

std::uint64_t RecommendedJumpMargin(std::uint64_t max_packets_per_second, Duration save_interval,
                                    double safety_factor) {
  const long double seconds = static_cast<long double>(save_interval.count()) / 1e9L;
  const long double factor = safety_factor < 1.0 ? 1.0L : static_cast<long double>(safety_factor);
  const long double m = std::ceil(static_cast<long double>(max_packets_per_second) *
                                  (seconds < 0 ? 0 : seconds) * factor);
  if (!(m < 18446744073709551615.0L)) return std::numeric_limits<std::uint64_t>::max();
  return static_cast<std::uint64_t>(m);
}

}  // namespace espo::sdk
