// SPDX-License-Identifier: Apache-2.0
//
// `ikectl bench` (espo/ikectl/bench.hpp): argument parsing and a small run on ModelDevice.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "espo/driver/model_device.hpp"
#include "espo/ikectl/bench.hpp"

namespace espo::ikectl {
namespace {

std::unique_ptr<driver::Device> Model(std::uint32_t slots = 64) {
  driver::ModelOptions options;
  options.sa_slots = slots;
  return std::move(*driver::OpenModelDevice(options));
}

TEST(BenchSizes, ParsesSizesAndImix) {
  auto sizes = ParseBenchSizes("64,1500,imix");
  ASSERT_TRUE(sizes) << sizes.error().message;
  EXPECT_EQ(*sizes, (std::vector<std::size_t>{64, 1500, 0}));
}

TEST(BenchSizes, RejectsBadItemsByName) {
  for (const std::string bad : {"", "64,", "abc", "27", "9001", "64x", "-1"}) {
    auto sizes = ParseBenchSizes(bad);
    ASSERT_FALSE(sizes) << bad;
    EXPECT_EQ(sizes.error().code, Errc::kInvalidArgument);
    EXPECT_NE(sizes.error().message.find("--sizes"), std::string::npos) << sizes.error().message;
  }
}

TEST(Bench, RejectsMoreSasThanSlots) {
  BenchParams p;
  p.sas = 65;
  auto report = RunBench(Model(64), "model", p);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, Errc::kInvalidArgument);
  EXPECT_NE(report.error().message.find("--sas"), std::string::npos);
}

TEST(Bench, SmallRunProducesEveryRowWithVerifiedPackets) {
  BenchParams p;
  p.sizes = {64, 0};
  p.packets = 60;
  p.sas = 7;
  p.installs = 100;
  auto report = RunBench(Model(), "model", p);
  ASSERT_TRUE(report) << report.error().message;
  // sa-install + 2 sizes x 2 directions x (device + software).
  ASSERT_EQ(report->rows.size(), 9U);
  std::set<std::string> seen;
  for (const BenchRow& r : report->rows) {
    seen.insert(r.backend + "/" + r.operation + "/" + r.size);
    EXPECT_GT(r.per_second, 0) << r.backend << " " << r.operation;
    EXPECT_EQ(r.count, r.operation == "sa-install" ? 100U : 60U);
  }
  EXPECT_TRUE(seen.count("model/in/imix"));
  EXPECT_TRUE(seen.count("software/out/64"));
  const auto json = BenchToJson(*report);
  EXPECT_EQ(json["results"].size(), 9U);
  EXPECT_EQ(json["params"]["sizes"][1], "imix");
  EXPECT_EQ(BenchToCsv(*report).find("backend,operation,size"), 0U);
}

TEST(Bench, OutboundOnlySkipsInboundRows) {
  BenchParams p;
  p.sizes = {1500};
  p.packets = 10;
  p.installs = 0;
  p.inbound = false;
  p.software = false;
  auto report = RunBench(Model(), "model", p);
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->rows.size(), 1U);
  EXPECT_EQ(report->rows[0].operation, "out");
}

}  // namespace
}  // namespace espo::ikectl
