// SPDX-License-Identifier: Apache-2.0
//
// ikectl daemon core: protocol parsing (malformed, wrong version, unknown command, missing
// arguments, oversized), the SA table (unknown and duplicate SPIs, bad key length, full table,
// reserved SPIs), checkpoint restore with jump-ahead, all-or-nothing config reload, monitor
// events, and a device that goes away (a wrapper failing every call).
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "espo/driver/model_device.hpp"
#include "espo/ikectl/daemon.hpp"

namespace espo::ikectl {
namespace {

using Json = nlohmann::json;

constexpr const char* kKey = "0x000102030405060708090a0b0c0d0e0f10111213";

std::string OutLine(std::uint32_t spi, const std::string& extra = "") {
  return "sa spi " + FormatSpi(spi) +
         " dir out mode tunnel src 192.0.2.1 dst 198.51.100.7 aead rfc4106(gcm(aes)) " + kKey +
         " 128" + extra;
}
std::string InLine(std::uint32_t spi) {
  return "sa spi " + FormatSpi(spi) +
         " dir in mode tunnel src 198.51.100.7 dst 192.0.2.1 aead rfc4106(gcm(aes)) " + kKey +
         " 128";
}

// A Device that forwards to a model until told to fail; then every call is Errc::kDevice.
class FailingDevice final : public driver::Device {
 public:
  FailingDevice(std::unique_ptr<driver::Device> inner, std::shared_ptr<bool> fail)
      : inner_(std::move(inner)), fail_(std::move(fail)) {}
  std::string_view kind() const override { return "failing-model"; }
  Result<std::uint32_t> ReadReg(std::uint32_t offset) override {
    if (*fail_) return Gone();
    return inner_->ReadReg(offset);
  }
  Status WriteReg(std::uint32_t offset, std::uint32_t value) override {
    if (*fail_) return Gone();
    return inner_->WriteReg(offset, value);
  }
  Result<driver::DmaBuffer> AllocBuffer(std::size_t bytes) override {
    if (*fail_) return Gone();
    return inner_->AllocBuffer(bytes);
  }
  Status WriteBuffer(const driver::DmaBuffer& b, std::size_t off, ByteSpan data) override {
    if (*fail_) return Gone();
    return inner_->WriteBuffer(b, off, data);
  }
  Status ReadBuffer(const driver::DmaBuffer& b, std::size_t off, MutableByteSpan out) override {
    if (*fail_) return Gone();
    return inner_->ReadBuffer(b, off, out);
  }
  void FreeBuffer(const driver::DmaBuffer& b) override { inner_->FreeBuffer(b); }
  Status RunBatch(std::chrono::milliseconds timeout) override {
    if (*fail_) return Gone();
    return inner_->RunBatch(timeout);
  }

 private:
  static tl::unexpected<Error> Gone() {
    return MakeError(Errc::kDevice, "device: PCIe link down (test)");
  }
  std::unique_ptr<driver::Device> inner_;
  std::shared_ptr<bool> fail_;
};

std::unique_ptr<driver::Device> Model(std::uint32_t slots = 4) {
  driver::ModelOptions mo;
  mo.sa_slots = slots;
  auto d = driver::OpenModelDevice(mo);
  EXPECT_TRUE(d.has_value());
  return std::move(*d);
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("espo_daemon_test_" + std::to_string(::getpid()) + "_" + std::to_string(Next()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  static int Next() {
    static int counter = 0;
    return counter++;
  }
  std::filesystem::path path_;
};

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}
std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const Logger& Quiet() {
  static const Logger kLog(LogLevel::kError);
  return kLog;
}

std::unique_ptr<ControlCore> MakeCore(std::unique_ptr<driver::Device> device,
                                      const CoreOptions& options = {}) {
  auto core = ControlCore::Create(std::move(device), options, Quiet());
  EXPECT_TRUE(core.has_value()) << (core ? "" : core.error().message);
  return core ? std::move(*core) : nullptr;
}

Json Call(ControlCore& core, const std::string& cmd, const Json& args = Json::object()) {
  static int id = 0;
  const std::string line = Json{{"v", 1}, {"id", ++id}, {"cmd", cmd}, {"args", args}}.dump();
  Json r = Json::parse(core.HandleLine(line));
  EXPECT_EQ(r["v"], 1);
  EXPECT_EQ(r["id"], id);
  return r;
}

std::string ErrorCode(const Json& r) { return r.value("ok", true) ? "" : r["error"]["code"]; }
std::string ErrorMessage(const Json& r) { return r.value("ok", true) ? "" : r["error"]["message"]; }

// ---------------------------------------------------------------- protocol parser

TEST(ControlProtocol, ParsesAWellFormedRequest) {
  auto r = ParseRequest(R"({"v":1,"id":42,"cmd":"sa.show","args":{"spi":"0x1000"}})");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, 42);
  EXPECT_EQ(r->cmd, "sa.show");
  EXPECT_EQ(r->args["spi"], "0x1000");
  auto no_args = ParseRequest(R"({"v":1,"cmd":"info"})");
  ASSERT_TRUE(no_args.has_value());
  EXPECT_TRUE(no_args->args.is_object());
  EXPECT_TRUE(no_args->id.is_null());
}

TEST(ControlProtocol, RejectsMalformedMessagesWithACode) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json at all", "parse"},
      {R"({"v":1,"cmd":"info")", "parse"},  // truncated
      {"", "parse"},
      {"[1,2]", "invalid-request"},
      {"42", "invalid-request"},
      {R"({"cmd":"info"})", "unsupported-version"},
      {R"({"v":2,"cmd":"info"})", "unsupported-version"},
      {R"({"v":"1","cmd":"info"})", "unsupported-version"},
      {R"({"v":-1,"cmd":"info"})", "unsupported-version"},
      {R"({"v":1})", "invalid-request"},
      {R"({"v":1,"cmd":7})", "invalid-request"},
      {R"({"v":1,"cmd":"sa.frobnicate"})", "unknown-command"},
      {R"({"v":1,"cmd":"info","args":[]})", "invalid-request"},
      {R"({"v":1,"id":{"x":1},"cmd":"info"})", "invalid-request"},
  };
  for (const auto& [line, want] : cases) {
    auto r = ParseRequest(line);
    ASSERT_FALSE(r.has_value()) << line;
    EXPECT_EQ(r.error().code, want) << line;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  }
}

TEST(ControlProtocol, RejectsOversizedLines) {
  const std::string big =
      R"({"v":1,"cmd":"sa.load","args":{"text":")" + std::string(kMaxLineBytes, 'a') + "\"}}";
  auto r = ParseRequest(big);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "too-large");
}

TEST(ControlProtocol, ErrorResponsesEchoTheIdAndAreOneLine) {
  auto core = MakeCore(Model());
  Json r = Json::parse(core->HandleLine(R"({"v":1,"id":"abc","cmd":"nope"})"));
  EXPECT_EQ(r["id"], "abc");
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["error"]["code"], "unknown-command");
  Json p = Json::parse(core->HandleLine("{{{{"));
  EXPECT_TRUE(p["id"].is_null());
  EXPECT_EQ(p["error"]["code"], "parse");
  const std::string line = core->HandleLine(R"({"v":3,"id":9,"cmd":"info"})");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(Json::parse(line)["id"], 9);
  EXPECT_EQ(Json::parse(line)["error"]["code"], "unsupported-version");
}

TEST(ControlProtocol, SpiArguments) {
  EXPECT_EQ(*ParseSpi(Json("0x1000"), "spi"), 0x1000U);
  EXPECT_EQ(*ParseSpi(Json("4096"), "spi"), 4096U);
  EXPECT_EQ(*ParseSpi(Json(4096), "spi"), 4096U);
  for (const Json& bad : {Json("0"), Json("0x"), Json("0x100000000"), Json("12a"), Json(-1),
                          Json(0), Json(1.5), Json(nullptr), Json("99999999999")}) {
    EXPECT_FALSE(ParseSpi(bad, "spi").has_value()) << bad.dump();
  }
}

TEST(ControlProtocol, ExitCodes) {
  EXPECT_EQ(ExitCodeFor("invalid-argument"), 2);
  EXPECT_EQ(ExitCodeFor("not-found"), 2);
  EXPECT_EQ(ExitCodeFor("exists"), 2);
  EXPECT_EQ(ExitCodeFor("device"), 1);
  EXPECT_EQ(ExitCodeFor("exhausted"), 1);
}

// ---------------------------------------------------------------- dispatcher and table

TEST(ControlCoreTest, InfoReportsTheDevice) {
  auto core = MakeCore(Model());
  Json r = Call(*core, "info");
  ASSERT_TRUE(r["ok"]);
  EXPECT_EQ(r["result"]["device"]["kind"], "model");
  EXPECT_EQ(r["result"]["device"]["out_slots"], 4);
  EXPECT_EQ(r["result"]["daemon"]["protocol"], 1);
}

TEST(ControlCoreTest, AddListShowUpdateDel) {
  auto core = MakeCore(Model());
  Json add = Call(*core, "sa.add", {{"line", OutLine(0x1000)}});
  ASSERT_TRUE(add["ok"]) << add.dump();
  EXPECT_EQ(add["result"]["sa"]["slot"], 0);
  EXPECT_EQ(add["result"]["sa"]["next_seq"], 1);
  // The words after `sa` are enough.
  Json add2 = Call(*core, "sa.add", {{"line", InLine(0x2001).substr(3)}});
  ASSERT_TRUE(add2["ok"]) << add2.dump();
  EXPECT_EQ(add2["result"]["sa"]["slot"], 0x2001 % 4);
  Json list = Call(*core, "sa.list");
  ASSERT_EQ(list["result"]["sas"].size(), 2U);
  // Keys never leave the daemon.
  EXPECT_EQ(list.dump().find("0e0f1011"), std::string::npos);
  Json show = Call(*core, "sa.show", {{"spi", "0x1000"}});
  ASSERT_TRUE(show["ok"]);
  EXPECT_EQ(show["result"]["sa"]["dir"], "out");
  Json up = Call(*core, "sa.update", {{"spi", 4096}, {"soft_packets", 10}, {"hard_packets", 20}});
  ASSERT_TRUE(up["ok"]) << up.dump();
  EXPECT_EQ(up["result"]["sa"]["limits"]["hard_packets"], 20);
  Json bad_up = Call(*core, "sa.update", {{"spi", 4096}, {"soft_packets", 30}});
  EXPECT_EQ(ErrorCode(bad_up), "invalid-argument");
  EXPECT_NE(ErrorMessage(bad_up).find("soft-packets"), std::string::npos) << ErrorMessage(bad_up);
  Json del = Call(*core, "sa.del", {{"spi", "0x1000"}, {"dir", "out"}});
  ASSERT_TRUE(del["ok"]);
  EXPECT_EQ(core->table().size(), 1U);
}

TEST(ControlCoreTest, UnknownSpiIsNotFound) {
  auto core = MakeCore(Model());
  for (const char* cmd : {"sa.del", "sa.show", "sa.update"}) {
    Json r = Call(*core, cmd, {{"spi", "0xdead"}, {"hard_packets", 5}});
    EXPECT_EQ(ErrorCode(r), "not-found") << cmd;
    EXPECT_NE(ErrorMessage(r).find("0x0000dead"), std::string::npos);
  }
}

TEST(ControlCoreTest, MissingAndIllTypedArguments) {
  auto core = MakeCore(Model());
  EXPECT_EQ(ErrorMessage(Call(*core, "sa.add")), "args.line: missing");
  EXPECT_EQ(ErrorCode(Call(*core, "sa.add", {{"line", 5}})), "invalid-argument");
  EXPECT_EQ(ErrorMessage(Call(*core, "sa.del")), "args.spi: missing");
  EXPECT_EQ(ErrorCode(Call(*core, "sa.del", {{"spi", "0x1000"}, {"dir", "sideways"}})),
            "invalid-argument");
  EXPECT_EQ(ErrorCode(Call(*core, "sa.load")), "invalid-argument");
  EXPECT_EQ(ErrorCode(Call(*core, "config.reload")), "unsupported");
}

TEST(ControlCoreTest, DuplicateSpiIsRefusedAndTableUnchanged) {
  auto core = MakeCore(Model());
  ASSERT_TRUE(Call(*core, "sa.add", {{"line", OutLine(0x1000)}})["ok"]);
  Json dup = Call(*core, "sa.add", {{"line", OutLine(0x1000, " oseq 5")}});
  EXPECT_EQ(ErrorCode(dup), "exists");
  EXPECT_NE(ErrorMessage(dup).find("already installed"), std::string::npos);
  // Two inbound SPIs with the same slot (SPI mod 4).
  ASSERT_TRUE(Call(*core, "sa.add", {{"line", InLine(0x2001)}})["ok"]);
  // Without a software path (CoreOptions::software_sas = 0) that SA finds no place.
  Json clash = Call(*core, "sa.add", {{"line", InLine(0x2005)}});
  EXPECT_EQ(ErrorCode(clash), "exhausted");
  EXPECT_NE(ErrorMessage(clash).find("inbound slot 1"), std::string::npos) << ErrorMessage(clash);
  EXPECT_EQ(core->table().size(), 2U);
}

// The daemon runs the SDK: a full table (or a taken inbound slot) puts the SA on the software path
// up to CoreOptions::software_sas, and a freed slot takes it back without reusing a number.
TEST(ControlCoreTest, FullTableFallsBackToSoftwareAndMovesBack) {
  CoreOptions o;
  o.software_sas = 3;
  auto core = MakeCore(Model(4), o);
  std::vector<Json> events;
  core->SetEventSink([&events](const Json& e) { events.push_back(e); });
  auto count = [&events](const std::string& type, const std::string& spi) {
    return std::count_if(events.begin(), events.end(), [&](const Json& e) {
      return e["type"] == type && e.value("spi", "") == spi;
    });
  };
  for (std::uint32_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(Call(*core, "sa.add", {{"line", OutLine(0x1000 + i)}})["ok"]);
  }
  Json sw = Call(*core, "sa.add", {{"line", OutLine(0x1004)}});
  ASSERT_TRUE(sw["ok"]) << sw;
  EXPECT_EQ(sw["result"]["sa"]["placement"], "software");
  EXPECT_TRUE(sw["result"]["sa"]["slot"].is_null());
  EXPECT_EQ(count("fallback", "0x00001004"), 1);
  Json sent = Call(*core, "sa.send", {{"spi", "0x1004"}, {"count", 5}});
  ASSERT_TRUE(sent["ok"]) << sent;
  EXPECT_EQ(sent["result"]["status"]["ok"], 5);
  EXPECT_EQ(sent["result"]["next_seq"], 6);
  // Inbound: the slot an SPI encodes (SPI mod 4) is taken -> software as well.
  ASSERT_TRUE(Call(*core, "sa.add", {{"line", InLine(0x2001)}})["ok"]);
  Json in_sw = Call(*core, "sa.add", {{"line", InLine(0x2005)}});
  ASSERT_TRUE(in_sw["ok"]) << in_sw;
  EXPECT_EQ(in_sw["result"]["sa"]["placement"], "software");
  ASSERT_TRUE(Call(*core, "sa.add", {{"line", OutLine(0x1005)}})["ok"]);
  // The software path is full now (3 of 3): refused, nothing installed.
  Json full = Call(*core, "sa.add", {{"line", OutLine(0x1006)}});
  EXPECT_EQ(ErrorCode(full), "exhausted");
  EXPECT_NE(ErrorMessage(full).find("software path is full (3 of 3 SAs)"), std::string::npos)
      << ErrorMessage(full);
  EXPECT_EQ(core->table().size(), 8U);
  Json stats = Call(*core, "stats");
  EXPECT_EQ(stats["result"]["software"]["out"], 2);
  EXPECT_EQ(stats["result"]["software"]["in"], 1);
  EXPECT_EQ(stats["result"]["software"]["fallbacks"], 3);

  // A slot frees up: the oldest software SA moves to it and continues above its numbers.
  ASSERT_TRUE(Call(*core, "sa.del", {{"spi", "0x1000"}})["ok"]);
  (void)Call(*core, "stats");  // any request polls the SDK
  EXPECT_EQ(count("migrated", "0x00001004"), 1);
  Json moved = Call(*core, "sa.show", {{"spi", "0x1004"}});
  EXPECT_EQ(moved["result"]["sa"]["placement"], "hardware");
  EXPECT_EQ(moved["result"]["sa"]["slot"], 0);
  Json more = Call(*core, "sa.send", {{"spi", "0x1004"}, {"count", 3}});
  EXPECT_EQ(more["result"]["status"]["ok"], 3);
  EXPECT_EQ(more["result"]["next_seq"], 9);  // 1..5 on software, 6..8 in the slot
  // The inbound SA moves into slot 1 once 0x2001 is gone.
  ASSERT_TRUE(Call(*core, "sa.del", {{"spi", "0x2001"}})["ok"]);
  (void)Call(*core, "stats");
  Json in_moved = Call(*core, "sa.show", {{"spi", "0x2005"}});
  EXPECT_EQ(in_moved["result"]["sa"]["placement"], "hardware");
  EXPECT_EQ(in_moved["result"]["sa"]["slot"], 1);
  EXPECT_EQ(count("migrated", "0x00002005"), 1);
}

TEST(ControlCoreTest, BadKeyLengthNamesTheField) {
  auto core = MakeCore(Model());
  std::string line = OutLine(0x1000);
  line.replace(line.find(kKey), std::string(kKey).size(), "0x0102030405");
  Json r = Call(*core, "sa.add", {{"line", line}});
  EXPECT_EQ(ErrorCode(r), "invalid-argument");
  EXPECT_EQ(ErrorMessage(r), "sa add: key: expected 20 or 36 bytes, got 5");
  EXPECT_TRUE(core->table().empty());
}

TEST(ControlCoreTest, ReservedSpiRefused) {
  auto core = MakeCore(Model());
  Json r = Call(*core, "sa.add", {{"line", OutLine(7)}});
  EXPECT_EQ(ErrorCode(r), "invalid-argument");
  EXPECT_NE(ErrorMessage(r).find("reserved"), std::string::npos);
}

TEST(ControlCoreTest, FullTableIsExhaustedAndLoadIsAllOrNothing) {
  auto core = MakeCore(Model(4));
  for (std::uint32_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(Call(*core, "sa.add", {{"line", OutLine(0x1000 + i)}})["ok"]);
  }
  Json full = Call(*core, "sa.add", {{"line", OutLine(0x1004)}});
  EXPECT_EQ(ErrorCode(full), "exhausted");
  EXPECT_NE(ErrorMessage(full).find("4 of 4"), std::string::npos);
  ASSERT_TRUE(Call(*core, "sa.del", {{"spi", "0x1003"}})["ok"]);
  // A file with two outbound SAs, only one slot free: nothing is installed.
  const std::string text = OutLine(0x3000) + "\n" + OutLine(0x3001) + "\n";
  Json load = Call(*core, "sa.load", {{"text", text}, {"name", "two.conf"}});
  EXPECT_EQ(ErrorCode(load), "exhausted");
  EXPECT_NE(ErrorMessage(load).find("two.conf"), std::string::npos) << ErrorMessage(load);
  EXPECT_EQ(core->table().size(), 3U);
  Json stats = Call(*core, "stats");
  EXPECT_EQ(stats["result"]["table"]["out"]["used"], 3);
  // A bad line in a file names file and line.
  Json bad = Call(*core, "sa.load", {{"text", "sa spi 0x4000 dir out\n"}, {"name", "b.conf"}});
  EXPECT_EQ(ErrorCode(bad), "parse");
  EXPECT_EQ(ErrorMessage(bad).rfind("b.conf:1:", 0), 0U) << ErrorMessage(bad);
}

TEST(ControlCoreTest, SendCountsAndMonitorEvents) {
  auto core = MakeCore(Model());
  std::vector<Json> events;
  core->SetEventSink([&events](const Json& e) { events.push_back(e); });
  ASSERT_TRUE(
      Call(*core, "sa.add", {{"line", OutLine(0x1000, " soft-packets 3 hard-packets 5")}})["ok"]);
  Json sent = Call(*core, "sa.send", {{"spi", "0x1000"}, {"count", 8}});
  ASSERT_TRUE(sent["ok"]) << sent.dump();
  EXPECT_EQ(sent["result"]["seq"], 5);
  EXPECT_EQ(sent["result"]["status"]["ok"], 5);
  EXPECT_EQ(sent["result"]["status"]["lifetime"], 3);
  std::vector<std::string> types;
  types.reserve(events.size());
  for (const Json& e : events) types.push_back(e["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"sa-added", "soft", "hard"}));
  Json stats = Call(*core, "stats");
  EXPECT_EQ(stats["result"]["drops"]["lifetime"], 3);
  EXPECT_EQ(stats["result"]["sas"][0]["packets"], 5);
  // Monitor is refused in-process and accepted by a daemon core.
  bool sub = false;
  Json mon = Json::parse(core->HandleLine(R"({"v":1,"id":1,"cmd":"monitor"})", &sub));
  EXPECT_TRUE(mon["ok"]);
  EXPECT_TRUE(sub);
}

// ---------------------------------------------------------------- checkpoint and restart

TEST(ControlCoreTest, RestartJumpsAheadAndNeverReusesASequenceNumber) {
  TempDir dir;
  Write(dir.File("sas.conf"), OutLine(0x1000) + "\n" + InLine(0x2001) + "\n");
  CoreOptions o;
  o.checkpoint_path = dir.File("espo.ckpt");
  o.config_path = dir.File("sas.conf");
  o.jump_margin = 1000;
  std::uint64_t used = 0;
  {
    auto core = MakeCore(Model(), o);
    ASSERT_TRUE(Call(*core, "sa.send", {{"spi", "0x1000"}, {"count", 40}})["ok"]);
    ASSERT_TRUE(Call(*core, "checkpoint")["ok"]);
    Json more = Call(*core, "sa.send", {{"spi", "0x1000"}, {"count", 10}});  // after the save
    used = more["result"]["seq"];
    EXPECT_EQ(used, 50U);
    // Runtime SA, removed again: its record stays in the checkpoint.
    ASSERT_TRUE(Call(*core, "sa.add", {{"line", OutLine(0x1100)}})["ok"]);
    ASSERT_TRUE(Call(*core, "sa.send", {{"spi", "0x1100"}, {"count", 7}})["ok"]);
    ASSERT_TRUE(Call(*core, "sa.del", {{"spi", "0x1100"}})["ok"]);
  }  // "killed": no save since the last table change
  const std::string ckpt = Read(dir.File("espo.ckpt"));
  auto core = MakeCore(Model(), o);
  Json show = Call(*core, "sa.show", {{"spi", "0x1000"}, {"dir", "out"}});
  ASSERT_TRUE(show["ok"]) << show.dump();
  const std::uint64_t next = show["result"]["sa"]["next_seq"];
  EXPECT_GT(next, used);
  EXPECT_GE(next, 40U + 1000U + 1U);
  // The runtime SA re-added with the same SPI resumes above its last number too.
  Json again = Call(*core, "sa.add", {{"line", OutLine(0x1100)}});
  ASSERT_TRUE(again["ok"]);
  EXPECT_GE(again["result"]["sa"]["next_seq"].get<std::uint64_t>(), 7U + 1000U + 1U);
  EXPECT_NE(Read(dir.File("espo.ckpt")), ckpt);  // rewritten after the restore
}

TEST(ControlCoreTest, CorruptCheckpointRefusesToStart) {
  TempDir dir;
  Write(dir.File("espo.ckpt"), R"({"format":"espo-checkpoint",)");
  CoreOptions o;
  o.checkpoint_path = dir.File("espo.ckpt");
  auto core = ControlCore::Create(Model(), o, Quiet());
  ASSERT_FALSE(core.has_value());
  EXPECT_NE(core.error().message.find("espo.ckpt"), std::string::npos) << core.error().message;
}

TEST(ControlCoreTest, SequenceSpaceUsedUpNeedsRekey) {
  TempDir dir;
  CoreOptions o;
  o.checkpoint_path = dir.File("espo.ckpt");
  o.jump_margin = 1000;
  {
    auto core = MakeCore(Model(), o);
    ASSERT_TRUE(Call(*core, "sa.add", {{"line", OutLine(0x1000, " oseq 4294967000")}})["ok"]);
  }
  auto core = MakeCore(Model(), o);
  Json r = Call(*core, "sa.add", {{"line", OutLine(0x1000)}});
  EXPECT_EQ(ErrorCode(r), "exhausted");
  EXPECT_NE(ErrorMessage(r).find("rekey"), std::string::npos);
  EXPECT_TRUE(core->table().empty());
}

TEST(ControlCoreTest, ConfigReloadIsAllOrNothing) {
  TempDir dir;
  Write(dir.File("sas.conf"), OutLine(0x1000) + "\n" + OutLine(0x1001) + "\n");
  CoreOptions o;
  o.config_path = dir.File("sas.conf");
  o.checkpoint_path = dir.File("espo.ckpt");
  auto core = MakeCore(Model(), o);
  ASSERT_EQ(core->table().size(), 2U);
  // A bad file changes nothing.
  Write(dir.File("sas.conf"), OutLine(0x1000) + "\nsa spi 0x1001 dir out bogus\n");
  const std::string before = Read(dir.File("espo.ckpt"));
  auto bad = core->ReloadConfig();
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("sas.conf:2:"), std::string::npos) << bad.error().message;
  EXPECT_EQ(core->table().size(), 2U);
  EXPECT_EQ(Read(dir.File("espo.ckpt")), before);
  // Too many SAs for the table: fails at install time and rolls back.
  std::string many;
  for (std::uint32_t i = 0; i < 5; ++i) many += OutLine(0x5000 + i) + "\n";
  Write(dir.File("sas.conf"), many);
  auto full = core->ReloadConfig();
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code, "exhausted");
  ASSERT_EQ(core->table().size(), 2U);
  EXPECT_EQ(core->table().count({driver::Direction::kOut, 0x1000}), 1U);
  EXPECT_EQ(core->table().count({driver::Direction::kOut, 0x1001}), 1U);
  // A good file: one kept with new limits, one removed, one added.
  Write(dir.File("sas.conf"), OutLine(0x1000, " hard-packets 99") + "\n" + OutLine(0x1002) + "\n");
  auto good = core->ReloadConfig();
  ASSERT_TRUE(good.has_value()) << good.error().message;
  EXPECT_EQ((*good)["added"], 1);
  EXPECT_EQ((*good)["removed"], 1);
  EXPECT_EQ((*good)["limits_updated"], 1);
  EXPECT_EQ(core->table().at({driver::Direction::kOut, 0x1000}).config.limits.hard_packets, 99U);
  // Runtime SAs are not taken over by the config.
  ASSERT_TRUE(Call(*core, "sa.add", {{"line", OutLine(0x1003)}})["ok"]);
  Write(dir.File("sas.conf"), OutLine(0x1003) + "\n");
  auto clash = core->ReloadConfig();
  ASSERT_FALSE(clash.has_value());
  EXPECT_EQ(clash.error().code, "exists");
  EXPECT_EQ(core->table().size(), 3U);
}

// ---------------------------------------------------------------- a device that goes away

TEST(ControlCoreTest, DeviceGoneGivesDeviceErrorsAndKeepsTableAndCheckpoint) {
  TempDir dir;
  auto fail = std::make_shared<bool>(false);
  CoreOptions o;
  o.checkpoint_path = dir.File("espo.ckpt");
  auto core = MakeCore(std::make_unique<FailingDevice>(Model(), fail), o);
  std::vector<Json> events;
  core->SetEventSink([&events](const Json& e) { events.push_back(e); });
  ASSERT_TRUE(Call(*core, "sa.add", {{"line", OutLine(0x1000)}})["ok"]);
  ASSERT_TRUE(Call(*core, "sa.send", {{"spi", "0x1000"}, {"count", 3}})["ok"]);
  ASSERT_TRUE(Call(*core, "checkpoint")["ok"]);
  const std::string ckpt = Read(dir.File("espo.ckpt"));

  *fail = true;
  Json add = Call(*core, "sa.add", {{"line", OutLine(0x1001)}});
  EXPECT_EQ(ErrorCode(add), "device");
  EXPECT_NE(ErrorMessage(add).find("SA spi 0x00001001 dir out"), std::string::npos);
  EXPECT_NE(ErrorMessage(add).find("PCIe link down"), std::string::npos);
  EXPECT_EQ(ErrorCode(Call(*core, "sa.send", {{"spi", "0x1000"}})), "device");
  EXPECT_EQ(ErrorCode(Call(*core, "stats")), "device");
  ASSERT_EQ(core->table().size(), 1U);  // the failed add changed nothing
  // A failed removal takes the SA out of service anyway; its slot is never reused (it may still
  // hold the key), which the error says.
  Json del = Call(*core, "sa.del", {{"spi", "0x1000"}});
  EXPECT_EQ(ErrorCode(del), "device");
  EXPECT_NE(ErrorMessage(del).find("out of service"), std::string::npos) << ErrorMessage(del);
  EXPECT_TRUE(core->table().empty());
  EXPECT_EQ(core->sdk().stats().stuck_slots, 1U);
  // The checkpoint still says what it said (or a later one with the same numbers).
  auto loaded = sdk::FileCheckpointStore(dir.File("espo.ckpt")).Load();
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->sas.size(), 1U);
  EXPECT_EQ(loaded->sas[0].outbound_seq, 3U);
  bool saw_device_error = false;
  for (const Json& e : events) saw_device_error = saw_device_error || e["type"] == "device-error";
  EXPECT_TRUE(saw_device_error);

  *fail = false;  // the device is back
  ASSERT_TRUE(Call(*core, "sa.add", {{"line", OutLine(0x1001)}})["ok"]);
  EXPECT_EQ(ErrorCode(Call(*core, "sa.del", {{"spi", "0x1000"}})), "not-found");
  // Added again, the SA resumes above the numbers it used (the checkpoint record was kept).
  Json again = Call(*core, "sa.add", {{"line", OutLine(0x1000)}});
  ASSERT_TRUE(again["ok"]) << again;
  EXPECT_GT(again["result"]["sa"]["next_seq"].get<std::uint64_t>(), 3U);
  EXPECT_EQ(core->table().size(), 2U);
  (void)ckpt;
}

}  // namespace
}  // namespace espo::ikectl
