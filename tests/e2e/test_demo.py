#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs `ikectl demo ... --json` and checks the summary (tests/e2e/demo.cmake).

With --tshark the run also writes --pcap and --wireshark files and tshark (with HOME pointing to
a temporary directory holding .config/wireshark/esp_sa) must decrypt every ESP packet of the
capture; exit 77 (SKIP) when tshark is not installed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ikectl", required=True)
    ap.add_argument("--tshark", action="store_true")
    ap.add_argument("--collisions", action="store_true", help="require collisions > 0")
    ap.add_argument("demo_args", nargs="*")
    args = ap.parse_args()
    if args.tshark and shutil.which("tshark") is None:
        print("SKIP: tshark not installed")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [args.ikectl, "demo", "--json"] + args.demo_args
        pcap = os.path.join(tmp, "a_to_b.pcap")
        home = os.path.join(tmp, "home")
        esp_sa = os.path.join(home, ".config", "wireshark", "esp_sa")
        if args.tshark:
            os.makedirs(os.path.dirname(esp_sa))
            cmd += ["--pcap", pcap, "--wireshark", esp_sa]
        print("+ " + " ".join(cmd), flush=True)
        run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sys.stderr.write(run.stderr)
        lines = [ln for ln in run.stdout.splitlines() if ln.strip()]
        if len(lines) != 1:
            fail("expected exactly one JSON line on stdout, got %d" % len(lines))
        j = json.loads(lines[0])
        t = j["traffic"]
        print("sent %d delivered %d lost %d reordered %d reused %d; rekeys %d soft %d "
              "collisions %d lost SAs %d fallbacks %d; %.1f s" %
              (t["sent"], t["delivered"], t["lost"], t["reordered"], t["reused_seq"],
               j["rekeys_completed"], j["soft_events"], j["collisions"], j["lost_sas"],
               j["fallbacks"], j["wall_seconds"]))
        if run.returncode != 0:
            fail("exit code %d: %s" % (run.returncode, j.get("failure")))
        for key in ("lost", "reordered", "corrupted", "reused_seq", "tx_drops", "rx_drops"):
            if t[key] != 0:
                fail("traffic.%s = %d" % (key, t[key]))
        if t["sent"] == 0 or t["delivered"] != t["sent"]:
            fail("delivered %d of %d" % (t["delivered"], t["sent"]))
        if j["lost_sas"] != 0:
            fail("lost_sas = %d" % j["lost_sas"])
        if j["rekeys_completed"] <= 0 or j["soft_events"] <= 0:
            fail("no rekeys (%d) or no soft events (%d)" %
                 (j["rekeys_completed"], j["soft_events"]))
        if args.collisions and j["collisions"] <= 0:
            fail("no collisions with --tie")
        if j["selectors_rekeyed"] != j["sas"]:
            fail("only %d of %d selectors rekeyed" % (j["selectors_rekeyed"], j["sas"]))
        for name, gw in j["gateways"].items():
            if gw["drops"].get("events_lost", 0) != 0:
                fail("gateway %s lost events" % name)
        if not j["passed"]:
            fail("passed = false: " + j["failure"])
        if args.tshark:
            ws = j["wireshark"]
            if ws["verified"] != ws["sas"] or ws["sas"] == 0:
                fail("wireshark keys verified %d of %d" % (ws["verified"], ws["sas"]))
            env = dict(os.environ, HOME=home)
            out = subprocess.run(
                ["tshark", "-r", pcap, "-o", "esp.enable_encryption_decode:TRUE",
                 "-T", "fields", "-e", "esp.spi", "-e", "udp.dstport", "-e", "ip.dst"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            if out.returncode != 0:
                fail("tshark: " + out.stderr.strip())
            rows = [r.split("\t") for r in out.stdout.splitlines() if r.strip()]
            # Decrypted: the inner UDP header (dport 9) and the inner destination 10.2.x.y.
            decrypted = sum(1 for r in rows if len(r) >= 3 and r[1] == "9" and "10.2." in r[2])
            print("tshark decrypted %d of %d ESP packets" % (decrypted, len(rows)))
            if len(rows) != j["pcap"]["packets"] or decrypted != len(rows):
                fail("tshark decrypted %d of %d packets (pcap holds %d)" %
                     (decrypted, len(rows), j["pcap"]["packets"]))
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
