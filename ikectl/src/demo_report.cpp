// SPDX-License-Identifier: Apache-2.0
//
// `ikectl demo`: the final table and the JSON object (see demo.hpp).
#include <array>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "espo/ikectl/demo.hpp"

namespace espo::ikectl {
namespace {

// snprintf into a std::string (numbers and short strings; lines are well below 512 bytes).
template <class... Args>
std::string Fmt(const char* format, Args... args) {
  std::array<char, 512> buf{};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg,cert-err33-c): printf-style numbers
  std::snprintf(buf.data(), buf.size(), format, args...);
  return buf.data();
}

std::uint64_t Get(const std::map<std::string, std::uint64_t>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

std::uint64_t Both(const DemoReport& r, std::map<std::string, std::uint64_t> GatewayReport::*m,
                   const std::string& key) {
  std::uint64_t n = 0;
  for (const GatewayReport& g : r.gateways) n += Get(g.*m, key);
  return n;
}

double Ratio(std::uint64_t a, std::uint64_t b) {
  return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
}

// Events the scheduler saw, e.g. "soft 812, state:rekeying 800, fallback 12".
std::string EventList(const std::map<std::string, std::uint64_t>& events) {
  std::string out;
  for (const auto& [k, v] : events) {
    if (!out.empty()) out += ", ";
    out += k + " " + std::to_string(v);
  }
  return out.empty() ? "-" : out;
}

}  // namespace

std::string FormatDemoTable(const DemoReport& r) {
  const bool sim = r.device_kind == "sim";
  const GatewayReport& a = r.gateways.at(0);
  const GatewayReport& b = r.gateways.at(1);
  const TrafficReport& t = r.traffic;
  std::string o;
  o += Fmt(
      "espo demo: two IPsec gateways, each an Engine over its own %s with %u SA slots per "
      "direction\n",
      sim ? "SimDevice (the RTL under Verilator)" : "ModelDevice (the C++ model)", r.params.slots);
  o +=
      Fmt("  %u Child SAs per gateway installed through the SDK (SaManager + RekeyScheduler), "
          "joined by LoopbackIke\n",
          r.params.sas);
  o += Fmt("  lifetime: Count Based SA Extension, hard %" PRIu64 " packets per SA; %s\n",
           r.lifetime_packets,
           r.params.tie ? "tie: both ends rekey at 80-85% (crossing rekeys, RFC 7296 2.8.1)"
                        : "A (rekeyer) rekeys at 80-85%, B at 90-95%");
  o +=
      Fmt("  headroom %u slots, pacing %u rekeys in flight + %.0f starts/s (burst %.0f); %u "
          "packets per direction per 10 ms round; seed %" PRIu64 "\n\n",
          r.params.headroom, r.max_concurrent, r.rekey_rate, r.rekey_burst, r.batch, r.params.seed);

  o += Fmt("%-9s %6s %8s %6s %6s %6s %8s %8s %8s %9s %7s\n", "phase", "rounds", "packets", "soft",
           "rekeys", "collis", "fallback", "migrated", "software", "peak in", "wall s");
  for (const PhaseReport& p : r.phases) {
    o += Fmt("%-9s %6" PRIu64 " %8" PRIu64 " %6" PRIu64 " %6" PRIu64 " %6" PRIu64 " %8" PRIu64
             " %8" PRIu64 " %8" PRIu64 " %10u %7.1f\n",
             p.name.c_str(), p.rounds, p.packets, p.soft_events, p.rekeys, p.collisions,
             p.fallbacks, p.migrations, p.sw_packets, p.peak_in_slots, p.wall_seconds);
  }
  o += "  (peak in: inbound slots in use, max of A and B)\n";
  o +=
      Fmt("  (fill: %u filler tunnels without traffic; %u of them found only the headroom and "
          "went to software)\n\n",
          r.fillers, r.fillers_software);

  o += "traffic (every packet tracked end to end)     A->B        B->A       total\n";
  o += Fmt("  sent                                  %10" PRIu64 "  %10" PRIu64 "  %10" PRIu64 "\n",
           t.sent_ab, t.sent_ba, t.sent);
  o += Fmt("  delivered                                                   %10" PRIu64 "\n",
           t.delivered);
  o += Fmt("  lost / reordered / corrupted / reused seq      %" PRIu64 " / %" PRIu64 " / %" PRIu64
           " / %" PRIu64 "\n",
           t.lost, t.reordered, t.corrupted, t.reused_seq);
  o += Fmt("  sent in software (tx / rx)                     %" PRIu64 " / %" PRIu64 "\n",
           t.software_tx, t.software_rx);
  o += Fmt("  inner bytes                                                 %10" PRIu64 "\n",
           t.inner_bytes);
  o += Fmt("  selectors rekeyed at least once                %u of %u\n\n", r.selectors_rekeyed,
           r.params.sas);

  o += "gateway                                             A           B\n";
  auto row = [&o](const char* name, std::uint64_t va, std::uint64_t vb) {
    o += Fmt("  %-40s %10" PRIu64 "  %10" PRIu64 "\n", name, va, vb);
  };
  auto row_pair = [&o](const char* name, std::uint64_t a1, std::uint64_t a2, std::uint64_t b1,
                       std::uint64_t b2) {
    o += Fmt("  %-40s %10s  %10s\n", name, (std::to_string(a1) + "/" + std::to_string(a2)).c_str(),
             (std::to_string(b1) + "/" + std::to_string(b2)).c_str());
  };
  row("packets through the device", a.hw_packets, b.hw_packets);
  row("inner bytes through the device", a.hw_bytes, b.hw_bytes);
  row("packets through SoftwareEsp", a.sw_packets, b.sw_packets);
  if (sim) {
    row("RTL cycles, packet batches", a.cycles_datapath, b.cycles_datapath);
    row("RTL cycles, total (incl. SA installs)", a.cycles_total, b.cycles_total);
    o += Fmt("  %-40s %10.2f  %10.2f\n", "inner bytes / batch cycle",
             Ratio(a.hw_bytes, a.cycles_datapath), Ratio(b.hw_bytes, b.cycles_datapath));
  }
  for (const char* d : {"auth", "replay", "no_sa", "malformed", "lifetime", "events_lost"}) {
    row((std::string("drops: ") + d).c_str(), Get(a.drops, d), Get(b.drops, d));
  }
  row("soft events", Get(a.rekey, "soft_events"), Get(b.rekey, "soft_events"));
  row("rekeys started (initiator)", Get(a.rekey, "started"), Get(b.rekey, "started"));
  row("  completed", Get(a.rekey, "completed"), Get(b.rekey, "completed"));
  row("rekeys answered (responder)", Get(a.rekey, "responded"), Get(b.rekey, "responded"));
  row("collisions (crossing rekey exchanges)", Get(a.rekey, "collisions"),
      Get(b.rekey, "collisions"));
  row("  redundant SAs deleted",
      Get(a.rekey, "collisions_lost") + Get(a.rekey, "redundant_deleted"),
      Get(b.rekey, "collisions_lost") + Get(b.rekey, "redundant_deleted"));
  row("rekeys failed", Get(a.rekey, "failed"), Get(b.rekey, "failed"));
  row("max rekeys in flight", Get(a.rekey, "max_in_flight"), Get(b.rekey, "max_in_flight"));
  row("  polls that left rekeys queued (pacing)", Get(a.rekey, "paced_waits"),
      Get(b.rekey, "paced_waits"));
  row("hard expiries", Get(a.rekey, "hard_removed"), Get(b.rekey, "hard_removed"));
  row("  lost SAs", Get(a.rekey, "lost_sas"), Get(b.rekey, "lost_sas"));
  row_pair("fallbacks to software / migrations back", Get(a.manager, "fallbacks"),
           Get(a.manager, "migrations"), Get(b.manager, "fallbacks"), Get(b.manager, "migrations"));
  row_pair("directions on software at the end (in/out)", Get(a.manager, "software_in"),
           Get(a.manager, "software_out"), Get(b.manager, "software_in"),
           Get(b.manager, "software_out"));
  row("hardware installs", Get(a.manager, "installs"), Get(b.manager, "installs"));
  row("hardware removes", Get(a.manager, "removes"), Get(b.manager, "removes"));
  row("live SAs at the end", Get(a.manager, "live_sas"), Get(b.manager, "live_sas"));
  for (const auto& [name, oa, ob] :
       {std::tuple{"inbound", &a.in, &b.in}, std::tuple{"outbound", &a.out, &b.out}}) {
    o += Fmt("  %-40s %10s  %10s\n", (std::string(name) + " slots peak/mean/final").c_str(),
             Fmt("%u/%.0f/%u", oa->peak, oa->mean, oa->final).c_str(),
             Fmt("%u/%.0f/%u", ob->peak, ob->mean, ob->final).c_str());
  }
  o += "  events A: " + EventList(a.events) + "\n";
  o += "  events B: " + EventList(b.events) + "\n\n";

  const double wall = r.wall_seconds;
  o += Fmt("throughput: %" PRIu64 " packets, %" PRIu64
           " inner bytes in %.1f s wall (%.0f "
           "packets/s), %.2f s simulated",
           t.sent, t.inner_bytes, wall, Ratio(t.sent, 1) / (wall > 0 ? wall : 1.0),
           static_cast<double>(r.simulated_ms) / 1000.0);
  if (sim) {
    o += Fmt("; RTL %.2f inner bytes/cycle over packet batches",
             Ratio(a.hw_bytes + b.hw_bytes, a.cycles_datapath + b.cycles_datapath));
  }
  o += "\n";
  if (!r.params.pcap.empty()) {
    o += Fmt("pcap: %s, %" PRIu64 " ESP packets A->B (raw IP)\n", r.params.pcap.c_str(),
             r.pcap_packets);
  }
  if (!r.params.wireshark.empty()) {
    o += Fmt("wireshark esp_sa: %s, %" PRIu64 " SAs, %" PRIu64
             " keys verified on a captured packet\n",
             r.params.wireshark.c_str(), r.wireshark_sas, r.wireshark_verified);
  }
  const std::uint64_t rekeys = Both(r, &GatewayReport::rekey, "completed");
  if (r.passed) {
    o += Fmt("PASS: %" PRIu64
             " packets, 0 lost, 0 reordered, 0 reused sequence numbers, "
             "0 SAs lost, %" PRIu64 " rekeys\n",
             t.sent, rekeys);
  } else {
    o += "FAIL: " + r.failure + "\n";
  }
  return o;
}

nlohmann::json DemoToJson(const DemoReport& r) {
  nlohmann::json j;
  j["device"] = r.device_kind;
  j["slots"] = r.params.slots;
  j["sas"] = r.params.sas;
  j["seed"] = r.params.seed;
  j["packets_planned"] = r.params.packets;
  j["lifetime_hard_packets"] = r.lifetime_packets;
  j["headroom"] = r.params.headroom;
  j["designation"] = r.params.tie ? "tie" : "a-rekeyer";
  j["batch"] = r.batch;
  j["fillers"] = r.fillers;
  j["fillers_software"] = r.fillers_software;
  j["wall_seconds"] = r.wall_seconds;
  j["install_seconds"] = r.install_seconds;
  j["simulated_seconds"] = static_cast<double>(r.simulated_ms) / 1000.0;
  const TrafficReport& t = r.traffic;
  j["traffic"] = {{"sent", t.sent},
                  {"sent_ab", t.sent_ab},
                  {"sent_ba", t.sent_ba},
                  {"delivered", t.delivered},
                  {"lost", t.lost},
                  {"reordered", t.reordered},
                  {"corrupted", t.corrupted},
                  {"reused_seq", t.reused_seq},
                  {"tx_drops", t.tx_drops},
                  {"rx_drops", t.rx_drops},
                  {"inner_bytes", t.inner_bytes},
                  {"software_tx", t.software_tx},
                  {"software_rx", t.software_rx}};
  j["selectors_rekeyed"] = r.selectors_rekeyed;
  j["rekeys_completed"] = Both(r, &GatewayReport::rekey, "completed");
  j["rekeys_started"] = Both(r, &GatewayReport::rekey, "started");
  j["soft_events"] = Both(r, &GatewayReport::rekey, "soft_events");
  j["collisions"] = Both(r, &GatewayReport::rekey, "collisions");
  j["lost_sas"] = Both(r, &GatewayReport::rekey, "lost_sas");
  j["fallbacks"] = Both(r, &GatewayReport::manager, "fallbacks");
  j["migrations"] = Both(r, &GatewayReport::manager, "migrations");
  nlohmann::json gws = nlohmann::json::object();
  for (const GatewayReport& g : r.gateways) {
    nlohmann::json gj;
    gj["cycles_total"] = g.cycles_total;
    gj["cycles_datapath"] = g.cycles_datapath;
    gj["hw_packets"] = g.hw_packets;
    gj["hw_bytes"] = g.hw_bytes;
    gj["sw_packets"] = g.sw_packets;
    gj["bytes_per_cycle"] = Ratio(g.hw_bytes, g.cycles_datapath);
    gj["drops"] = g.drops;
    gj["rekey"] = g.rekey;
    gj["events"] = g.events;
    gj["manager"] = g.manager;
    for (const auto& [name, occ] : {std::pair{"in_slots", &g.in}, std::pair{"out_slots", &g.out}}) {
      gj[name] = {
          {"size", occ->size}, {"peak", occ->peak}, {"mean", occ->mean}, {"final", occ->final}};
    }
    gws[g.name] = gj;
  }
  j["gateways"] = gws;
  nlohmann::json phases = nlohmann::json::array();
  for (const PhaseReport& p : r.phases) {
    phases.push_back({{"name", p.name},
                      {"rounds", p.rounds},
                      {"packets", p.packets},
                      {"soft_events", p.soft_events},
                      {"rekeys", p.rekeys},
                      {"collisions", p.collisions},
                      {"fallbacks", p.fallbacks},
                      {"migrations", p.migrations},
                      {"software_packets", p.sw_packets},
                      {"peak_in_slots", p.peak_in_slots},
                      {"wall_seconds", p.wall_seconds}});
  }
  j["phases"] = phases;
  if (!r.params.pcap.empty()) j["pcap"] = {{"file", r.params.pcap}, {"packets", r.pcap_packets}};
  if (!r.params.wireshark.empty()) {
    j["wireshark"] = {
        {"file", r.params.wireshark}, {"sas", r.wireshark_sas}, {"verified", r.wireshark_verified}};
  }
  j["passed"] = r.passed;
  j["failure"] = r.failure;
  return j;
}

}  // namespace espo::ikectl
