// SPDX-License-Identifier: Apache-2.0
//
// Checkpoint: round trip, corruption, truncation, versions, atomic replacement under injected
// write failures, and the jump-ahead arithmetic at the 2^32 and 2^64 boundaries.
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "test_seed.hpp"

#include "espo/driver/bytes.hpp"
#include "espo/sdk/checkpoint.hpp"
#include "espo/sdk/random.hpp"

namespace espo::sdk {
namespace {

namespace fs = std::filesystem;

Checkpoint Sample(std::uint64_t generation = 7) {
  Checkpoint c;
  c.generation = generation;
  SaCheckpoint out;
  out.name = "site-a/lane0";
  out.spi = 0xc0010203;
  out.direction = SaDirection::kOutbound;
  out.esn = true;
  out.outbound_seq = 0x1'0000'0005;
  SaCheckpoint in;
  in.name = "site-a/lane0";
  in.spi = 0xc0010204;
  in.direction = SaDirection::kInbound;
  in.esn = false;
  in.replay_right_edge = 4'000'000'000;
  in.replay_window = 128;
  in.replay_bitmap = {0xffff'ffff'ffff'fffbULL, 0x8000'0000'0000'0001ULL};
  SaCheckpoint small;
  small.name = "site-b";
  small.spi = 0x1234;
  small.direction = SaDirection::kInbound;
  small.replay_right_edge = 99;
  small.replay_window = 32;
  small.replay_bitmap = {0x0000'0000'ffff'0001ULL};
  c.sas = {out, in, small};
  c.spis.ranges = {{0x1000, 0x1fff}, {0xc0000000, 0xc0ffffff}};
  c.spis.allocated = {0x1234, 0xc0010203, 0xc0010204};
  c.spis.retired = {0xc0010100};
  return c;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Sha256Hex(const std::string& text) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(text.data(), text.size(), md.data(), &len, EVP_sha256(), nullptr), 1);
  return ToHex(ByteSpan(md.data(), len));
}

void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

class CheckpointFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("espo-ckpt-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = dir_ / "state.json";
  }
  void TearDown() override { fs::remove_all(dir_); }
  int FilesInDir() const {
    int n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++n;
    return n;
  }

  fs::path dir_;
  fs::path path_;
};

TEST(Checkpoint, SerializeParseRoundTrip) {
  const Checkpoint c = Sample();
  auto text = SerializeCheckpoint(c);
  ASSERT_TRUE(text) << text.error().message;
  auto back = ParseCheckpoint(*text, "mem");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, c);
  // Deterministic: the same checkpoint gives the same bytes.
  EXPECT_EQ(*SerializeCheckpoint(*back), *text);
}

TEST(Checkpoint, RandomRoundTrips) {
  SeededRng rng(espo::testing::TestSeed());
  for (int iter = 0; iter < 200; ++iter) {
    Checkpoint c;
    c.generation = rng.NextU64();
    c.spis.ranges = {{256, 0xffffffff}};
    const auto n = rng.Uniform(0, 20);
    for (std::uint64_t i = 0; i < n; ++i) {
      SaCheckpoint sa;
      sa.name = "sa" + std::to_string(i);
      sa.spi = static_cast<std::uint32_t>(256 + i);
      sa.esn = rng.Uniform(0, 1) == 1;
      sa.direction = rng.Uniform(0, 1) == 1 ? SaDirection::kInbound : SaDirection::kOutbound;
      if (sa.direction == SaDirection::kOutbound) {
        sa.outbound_seq = rng.Uniform(0, LastUsableSequence(sa.esn));
      } else {
        sa.replay_window = static_cast<std::uint32_t>(1U << rng.Uniform(sa.esn ? 0 : 0, 10));
        sa.replay_right_edge = rng.Uniform(0, LastUsableSequence(sa.esn));
        sa.replay_bitmap.resize((sa.replay_window + 63) / 64);
        for (auto& w : sa.replay_bitmap) w = rng.NextU64();
        if (sa.replay_window % 64 != 0) {
          sa.replay_bitmap.back() &= (std::uint64_t{1} << sa.replay_window) - 1;
        }
      }
      c.sas.push_back(sa);
      c.spis.allocated.push_back(sa.spi);
    }
    auto text = SerializeCheckpoint(c);
    ASSERT_TRUE(text) << text.error().message;
    auto back = ParseCheckpoint(*text, "random");
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(*back, c);
  }
}

TEST_F(CheckpointFileTest, FileRoundTripAndReplace) {
  FileCheckpointStore store(path_);
  auto none = store.Load();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Errc::kNotFound);
  ASSERT_TRUE(store.Save(Sample(1)));
  ASSERT_TRUE(store.Save(Sample(2)));
  auto loaded = store.Load();
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(*loaded, Sample(2));
  EXPECT_EQ(FilesInDir(), 1);  // no temp files left behind
  // A second store on the same path reads it (a restart).
  FileCheckpointStore again(path_);
  auto reloaded = again.Load();
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->generation, 2U);
}

TEST_F(CheckpointFileTest, CorruptedByteIsDetected) {
  FileCheckpointStore store(path_);
  ASSERT_TRUE(store.Save(Sample()));
  std::string text = ReadFile(path_);
  // Change one digit of a value inside the body: still valid JSON, wrong checksum.
  const std::size_t pos = text.find("4000000000");
  ASSERT_NE(pos, std::string::npos);
  text[pos] = '5';
  WriteFile(path_, text);
  auto loaded = store.Load();
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, Errc::kParse);
  EXPECT_NE(loaded.error().message.find("SHA-256 mismatch"), std::string::npos)
      << loaded.error().message;
  EXPECT_NE(loaded.error().message.find(path_.string()), std::string::npos);
}

TEST_F(CheckpointFileTest, TruncatedFileIsRefused) {
  FileCheckpointStore store(path_);
  ASSERT_TRUE(store.Save(Sample()));
  const std::string text = ReadFile(path_);
  for (const std::size_t keep :
       {std::size_t{0}, std::size_t{1}, text.size() / 3, text.size() / 2, text.size() - 3}) {
    WriteFile(path_, text.substr(0, keep));
    auto loaded = store.Load();
    ASSERT_FALSE(loaded) << "kept " << keep;
    EXPECT_EQ(loaded.error().code, Errc::kParse);
    EXPECT_NE(loaded.error().message.find("truncated"), std::string::npos)
        << loaded.error().message;
  }
}

TEST(Checkpoint, VersionsAndFormat) {
  auto text = SerializeCheckpoint(Sample());
  ASSERT_TRUE(text);
  nlohmann::json j = nlohmann::json::parse(*text);
  j["version"] = 2;
  auto future = ParseCheckpoint(j.dump(), "future");
  ASSERT_FALSE(future);
  EXPECT_EQ(future.error().code, Errc::kUnsupported);
  EXPECT_NE(future.error().message.find("version 2"), std::string::npos);
  j["version"] = 0;
  EXPECT_EQ(ParseCheckpoint(j.dump(), "zero").error().code, Errc::kParse);
  j["version"] = "1";
  EXPECT_EQ(ParseCheckpoint(j.dump(), "string").error().code, Errc::kParse);
  j = nlohmann::json::parse(*text);
  j["format"] = "something-else";
  EXPECT_EQ(ParseCheckpoint(j.dump(), "tag").error().code, Errc::kParse);
  // An ill-typed field inside a correctly hashed body is a parse error, not an exception.
  j = nlohmann::json::parse(*text);
  j["body"]["sas"][0]["spi"] = "not a number";
  j["sha256"] = Sha256Hex(j["body"].dump());  // correctly hashed, so the type check is reached
  auto typed = ParseCheckpoint(j.dump(), "typed");
  ASSERT_FALSE(typed);
  EXPECT_EQ(typed.error().code, Errc::kParse);
  EXPECT_NE(typed.error().message.find("\"spi\""), std::string::npos) << typed.error().message;
  EXPECT_EQ(ParseCheckpoint("[1, 2, 3]", "array").error().code, Errc::kParse);
}

TEST_F(CheckpointFileTest, FailedWriteKeepsTheOldFile) {
  {
    FileCheckpointStore good(path_);
    ASSERT_TRUE(good.Save(Sample(1)));
  }
  const std::string before = ReadFile(path_);
  for (const WriteStep step :
       {WriteStep::kCreateTemp, WriteStep::kWrite, WriteStep::kSyncFile, WriteStep::kRename}) {
    SCOPED_TRACE(std::string(ToString(step)));
    FileCheckpointStore faulty(path_, [step](WriteStep s) -> Status {
      if (s == step) return MakeError(Errc::kIo, "injected failure");
      return Ok();
    });
    auto saved = faulty.Save(Sample(2));
    ASSERT_FALSE(saved);
    EXPECT_EQ(saved.error().code, Errc::kIo);
    EXPECT_NE(saved.error().message.find(std::string(ToString(step))), std::string::npos);
    EXPECT_EQ(ReadFile(path_), before);  // byte for byte
    EXPECT_EQ(FilesInDir(), 1);          // the temp file was removed
    auto loaded = faulty.Load();
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->generation, 1U);
  }
  // A failure after the rename (directory fsync) reports an error but the new file is complete.
  FileCheckpointStore late(path_, [](WriteStep s) -> Status {
    return s == WriteStep::kSyncDir ? Status(MakeError(Errc::kIo, "injected")) : Ok();
  });
  EXPECT_FALSE(late.Save(Sample(3)));
  auto loaded = late.Load();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->generation, 3U);
}

TEST_F(CheckpointFileTest, MissingDirectoryIsAnIoError) {
  FileCheckpointStore store(dir_ / "no-such-dir" / "state.json");
  auto saved = store.Save(Sample());
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, Errc::kIo);
}

TEST_F(CheckpointFileTest, ReadOnlyDirectoryKeepsTheOldFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  FileCheckpointStore store(path_);
  ASSERT_TRUE(store.Save(Sample(1)));
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  auto saved = store.Save(Sample(2));
  fs::permissions(dir_, fs::perms::owner_all);
  ASSERT_FALSE(saved);
  EXPECT_EQ(store.Load()->generation, 1U);
}

TEST(Checkpoint, ValidationErrors) {
  const auto error_of = [](const Checkpoint& c) {
    auto r = SerializeCheckpoint(c);
    return r ? std::string() : r.error().message;
  };
  Checkpoint c = Sample();
  c.sas[1].replay_window = 100;
  EXPECT_NE(error_of(c).find("power of two"), std::string::npos);
  c = Sample();
  c.sas[1].replay_bitmap.pop_back();
  EXPECT_NE(error_of(c).find("replay_bitmap"), std::string::npos);
  c = Sample();
  c.sas[2].replay_bitmap[0] |= std::uint64_t{1} << 40U;  // window 32
  EXPECT_NE(error_of(c).find("beyond the window"), std::string::npos);
  c = Sample();
  c.sas[0].esn = false;  // 0x100000005 does not fit without ESN
  EXPECT_NE(error_of(c).find("2^32 - 1"), std::string::npos);
  c = Sample();
  c.sas[2].spi = c.sas[1].spi;
  EXPECT_NE(error_of(c).find("duplicate"), std::string::npos);
  c = Sample();
  c.sas[0].spi = 17;
  EXPECT_NE(error_of(c).find("reserved"), std::string::npos);
  c = Sample();
  c.spis.allocated.push_back(0x50000);
  EXPECT_NE(error_of(c).find("outside every range"), std::string::npos);
  c = Sample();
  c.sas[2].esn = true;
  c.sas[2].replay_window = 0;
  c.sas[2].replay_bitmap.clear();
  EXPECT_NE(error_of(c).find("ESN"), std::string::npos);
}

// The optional SaManager fields ("manager" object, next_sa_id): round trip, absent when unset
// (files without them read as before), and their validation.
TEST(Checkpoint, ManagerFields) {
  Checkpoint c = Sample();
  auto plain = SerializeCheckpoint(c);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->find("manager"), std::string::npos);
  EXPECT_EQ(plain->find("next_sa_id"), std::string::npos);
  c.next_sa_id = 12;
  c.sas[0].sa_id = 5;
  c.sas[0].selector = 77;
  c.sas[0].state = "rekeying";
  c.sas[0].placement = "hardware";
  c.sas[0].slot = 3;
  c.sas[0].current = true;
  c.sas[0].packets = 1000;
  c.sas[0].bytes = 64000;
  c.sas[1].sa_id = 5;
  c.sas[1].selector = 77;
  c.sas[1].state = "rekeying";
  c.sas[1].placement = "software";
  c.sas[2].sa_id = 11;
  c.sas[2].state = "larval";
  c.sas[2].placement = "hardware";
  c.sas[2].adopted = true;
  auto text = SerializeCheckpoint(c);
  ASSERT_TRUE(text.has_value()) << text.error().message;
  auto back = ParseCheckpoint(*text, "mem");
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(*back, c);

  const auto error_of = [](const Checkpoint& x) {
    auto r = SerializeCheckpoint(x);
    return r ? std::string() : r.error().message;
  };
  Checkpoint bad = c;
  bad.sas[0].state = "gone";
  EXPECT_NE(error_of(bad).find("state"), std::string::npos);
  bad = c;
  bad.sas[1].placement = "none";
  EXPECT_NE(error_of(bad).find("placement"), std::string::npos);
  bad = c;
  bad.sas[1].current = true;  // inbound
  EXPECT_NE(error_of(bad).find("only an outbound"), std::string::npos);
  bad = c;
  bad.sas[1].selector = 78;
  EXPECT_NE(error_of(bad).find("two selectors"), std::string::npos);
  bad = c;
  bad.sas[2].sa_id = 5;
  bad.sas[2].selector = 77;
  EXPECT_NE(error_of(bad).find("twice in this direction"), std::string::npos);
  bad = c;
  bad.next_sa_id = 11;
  EXPECT_NE(error_of(bad).find("next_sa_id"), std::string::npos);
}

TEST(Checkpoint, MemoryStore) {
  MemoryCheckpointStore store;
  EXPECT_EQ(store.Load().error().code, Errc::kNotFound);
  ASSERT_TRUE(store.Save(Sample(5)));
  EXPECT_EQ(*store.Load(), Sample(5));
}

// ---- jump-ahead ----

SaCheckpoint Outbound(std::uint64_t seq, bool esn) {
  // Designated initialisers: g++ 12 -O3 flags `name = "x"` with a false -Wrestrict.
  return SaCheckpoint{.name = std::string("outbound-sa"),
                      .spi = 0x1000,
                      .direction = SaDirection::kOutbound,
                      .esn = esn,
                      .outbound_seq = seq,
                      .replay_right_edge = 0,
                      .replay_window = 0,
                      .replay_bitmap = {}};
}

TEST(JumpAhead, Arithmetic32) {
  constexpr std::uint64_t kLast = 0xffffffff;
  auto j = RestoreJumpAhead(Outbound(1000, false), 500);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->outbound_seq, 1500U);
  EXPECT_EQ(j->remaining, kLast - 1500);
  EXPECT_FALSE(j->needs_rekey);
  // One number left: still installable.
  j = RestoreJumpAhead(Outbound(kLast - 101, false), 100);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->outbound_seq, kLast - 1);
  EXPECT_EQ(j->remaining, 1U);
  EXPECT_FALSE(j->needs_rekey);
  // Exactly at the last number: nothing left to send.
  j = RestoreJumpAhead(Outbound(kLast - 100, false), 100);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->outbound_seq, kLast);
  EXPECT_EQ(j->remaining, 0U);
  EXPECT_TRUE(j->needs_rekey);
  // Past it: clamped, never wraps.
  j = RestoreJumpAhead(Outbound(kLast - 10, false), 1'000'000);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->outbound_seq, kLast);
  EXPECT_TRUE(j->needs_rekey);
  // Without ESN 2^32 is not a valid saved value.
  EXPECT_FALSE(RestoreJumpAhead(Outbound(kLast + 1, false), 1));
  // With ESN the same numbers are far from the end.
  j = RestoreJumpAhead(Outbound(kLast - 10, true), 1'000'000);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->outbound_seq, kLast - 10 + 1'000'000);
  EXPECT_FALSE(j->needs_rekey);
}

TEST(JumpAhead, Arithmetic64) {
  constexpr std::uint64_t kLast = UINT64_MAX;
  auto j = RestoreJumpAhead(Outbound(kLast - 2, true), 1);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->outbound_seq, kLast - 1);
  EXPECT_EQ(j->remaining, 1U);
  EXPECT_FALSE(j->needs_rekey);
  j = RestoreJumpAhead(Outbound(kLast - 2, true), 2);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->outbound_seq, kLast);
  EXPECT_TRUE(j->needs_rekey);
  j = RestoreJumpAhead(Outbound(kLast - 2, true), UINT64_MAX);  // would overflow: saturates
  ASSERT_TRUE(j);
  EXPECT_EQ(j->outbound_seq, kLast);
  EXPECT_TRUE(j->needs_rekey);
  j = RestoreJumpAhead(Outbound(0, true), 0);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->outbound_seq, 0U);
  EXPECT_EQ(j->remaining, kLast);
}

TEST(JumpAhead, InboundIsRefused) {
  SaCheckpoint in = Outbound(0, false);
  in.direction = SaDirection::kInbound;
  EXPECT_EQ(RestoreJumpAhead(in, 10).error().code, Errc::kInvalidArgument);
}

TEST(JumpAhead, RecommendedMargin) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  EXPECT_EQ(RecommendedJumpMargin(1'000'000, seconds(1)), 2'000'000U);
  EXPECT_EQ(RecommendedJumpMargin(1'000'000, milliseconds(250), 1.0), 250'000U);
  EXPECT_EQ(RecommendedJumpMargin(3, milliseconds(500), 1.0), 2U);  // ceil(1.5)
  EXPECT_EQ(RecommendedJumpMargin(UINT64_MAX, seconds(10)), UINT64_MAX);
  EXPECT_EQ(RecommendedJumpMargin(100, seconds(-1)), 0U);
}

}  // namespace
}  // namespace espo::sdk
