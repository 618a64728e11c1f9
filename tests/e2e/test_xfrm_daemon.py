#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""`ikectl daemon --xfrm` against the live kernel (docs/XFRM_BRIDGE.md "In the daemon").

  test_xfrm_daemon.py --ikectl PATH [-v]

Creates a network namespace of its own (unique name), starts `ikectl daemon --device model
--xfrm` inside it (`ip netns exec`) and `ikectl monitor --json` on its socket, adds an XFRM
policy with an ESP tunnel template and sends one UDP datagram that matches it: the kernel has
no SA, sends XFRM_MSG_ACQUIRE, and the monitor must print an "xfrm-acquire" event with the
template's addresses. Also: `ikectl info --json` answers from the daemon, the daemon log says
"bridge subscribed", SIGTERM ends the daemon with exit 0. The kernel here cannot install ESP
SAs, so SA mirroring is covered by tests/unit/test_xfrm_bridge.cpp (DaemonXfrm.*).

Skips (unittest.SkipTest, exit 0, reason printed) when not root or `ip netns` does not work.
Only the namespace and the processes this script started are removed / ended (by PID), also on
failure.
"""
import argparse
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None
NETNS = f"espo-xd-{os.getpid()}-{int(time.time() * 1000) % 1000000}"
TUNNEL_SRC = "192.0.2.1"
TUNNEL_DST = "198.51.100.7"
KEY = "0x000102030405060708090a0b0c0d0e0f10111213"
POLICY = ["src", "10.0.0.0/24", "dst", "10.0.1.0/24", "dir", "out", "tmpl", "src", TUNNEL_SRC,
          "dst", TUNNEL_DST, "proto", "esp", "reqid", "7", "mode", "tunnel"]
# The one datagram, sent from inside the namespace; with no SA the kernel may refuse the send
# (EAGAIN while the larval state waits for the key manager), which does not matter here.
SEND_UDP = ("import socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.bind(('10.0.0.1', 0))\n"
            "try:\n"
            "    s.sendto(b'acquire me', ('10.0.1.2', 9))\n"
            "except OSError as e:\n"
            "    print('sendto:', e)\n")


def run(*cmd, check=True, timeout=30):
    p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: rc {p.returncode}: {p.stderr.strip()}")
    return p


def in_netns(*cmd):
    return ["ip", "netns", "exec", NETNS, *cmd]


def end_process(proc, sig=signal.SIGTERM, timeout=20):
    """Ends one process this script started (by PID); returns its exit status."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    return proc.returncode


class LineReader:
    """Lines of a child's stdout with a deadline."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""
        self.lines = []

    def wait_for(self, predicate, timeout):
        deadline = time.time() + timeout
        while True:
            for line in self.lines:
                if predicate(line):
                    return line
            left = deadline - time.time()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.2))
            if not ready:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                if self.proc.poll() is not None:
                    return None
                time.sleep(0.05)
                continue
            self.buf += chunk
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                self.lines.append(line.decode(errors="replace"))


def events(lines):
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


class XfrmDaemonLive(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (creates a network namespace with `ip netns add`)")
        if shutil.which("ip") is None:
            raise unittest.SkipTest("ip(8) not found (iproute2)")
        p = run("ip", "netns", "add", NETNS, check=False)
        if p.returncode != 0:
            raise unittest.SkipTest(f"`ip netns add` does not work here: {p.stderr.strip()}")
        cls.addClassCleanup(lambda: run("ip", "netns", "del", NETNS, check=False))
        probe = run(*in_netns("ip", "link", "set", "lo", "up"), check=False)
        if probe.returncode != 0:
            raise unittest.SkipTest(f"`ip netns exec` does not work here: {probe.stderr.strip()}")
        # A veth pair (no dummy module needed) with the policy's inner source and the
        # template's outer source address; the inner destination is routed out of it.
        for cmd in (["ip", "link", "add", "espo-v0", "type", "veth", "peer", "name", "espo-v1"],
                    ["ip", "link", "set", "espo-v0", "up"],
                    ["ip", "link", "set", "espo-v1", "up"],
                    ["ip", "addr", "add", "10.0.0.1/24", "dev", "espo-v0"],
                    ["ip", "addr", "add", f"{TUNNEL_SRC}/32", "dev", "espo-v0"],
                    ["ip", "route", "add", "10.0.1.0/24", "dev", "espo-v0"]):
            p = run(*in_netns(*cmd), check=False)
            if p.returncode != 0:
                raise unittest.SkipTest(f"cannot set up the namespace ({' '.join(cmd)}): "
                                        f"{p.stderr.strip()}")

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="espo_e2e_xfrm_daemon_")
        self.addCleanup(self.tmp.cleanup)
        self.sock = os.path.join(self.tmp.name, "espo.sock")
        self.ckpt = os.path.join(self.tmp.name, "espo.ckpt")
        self.log_path = os.path.join(self.tmp.name, "daemon.log")
        self.daemon = None
        self.monitor = None
        self.addCleanup(lambda: end_process(self.monitor, signal.SIGKILL))
        self.addCleanup(lambda: end_process(self.daemon, signal.SIGKILL))
        self.addCleanup(lambda: run(*in_netns("ip", "xfrm", "policy", "flush"), check=False))

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def ikectl(self, *args):
        return run(ARGS.ikectl, *args, "--socket", self.sock, "--json", check=False, timeout=60)

    def start_daemon(self):
        with open(self.log_path, "a") as log:
            self.daemon = subprocess.Popen(
                in_netns(ARGS.ikectl, "daemon", "--device", "model", "--slots", "4", "--xfrm",
                         "--socket", self.sock, "--checkpoint", self.ckpt, "--log-level",
                         "debug"),
                stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.daemon.poll() is not None:
                self.fail(f"daemon exited with {self.daemon.returncode}: {self.log()}")
            if "bridge subscribed" in self.log():
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.connect(self.sock)
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        self.fail(f"daemon did not subscribe and listen within 30 s: {self.log()}")

    def test_acquire_reaches_the_monitor(self):
        self.start_daemon()
        self.assertIn("bridge subscribed to XFRM notifications", self.log())

        info = self.ikectl("info")
        self.assertEqual(info.returncode, 0, info.stderr)
        result = json.loads(info.stdout)
        self.assertFalse(result["daemon"]["in_process"], result)
        self.assertEqual(result["daemon"]["pid"], self.daemon.pid)  # ip netns exec execs
        self.assertEqual(result["device"]["kind"], "model")

        self.monitor = subprocess.Popen(
            [ARGS.ikectl, "monitor", "--json", "--socket", self.sock],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        mon = LineReader(self.monitor)
        # Subscribed once an event shows: an operator SA added and removed.
        sa = (f"sa spi 0x00001000 dir out mode tunnel src {TUNNEL_SRC} dst {TUNNEL_DST} "
              f"aead rfc4106(gcm(aes)) {KEY} 128")
        added = None
        deadline = time.time() + 20
        while added is None and time.time() < deadline:
            r = self.ikectl("sa", "add", *sa.split())
            self.assertEqual(r.returncode, 0, r.stderr)
            added = mon.wait_for(lambda l: '"sa-added"' in l, 1.0)
            r = self.ikectl("sa", "del", "0x1000")
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNotNone(added, f"monitor printed no sa-added event: {mon.lines}")

        run(*in_netns("ip", "xfrm", "policy", "add", *POLICY))
        run(*in_netns(sys.executable, "-c", SEND_UDP))
        line = mon.wait_for(lambda l: '"xfrm-acquire"' in l, 10)
        self.assertIsNotNone(
            line, f"no xfrm-acquire event; monitor: {mon.lines}; daemon log: {self.log()}")
        ev = json.loads(line)
        self.assertEqual(ev["type"], "xfrm-acquire")
        self.assertEqual(ev["src"], TUNNEL_SRC)
        self.assertEqual(ev["dst"], TUNNEL_DST)
        self.assertIn("seq", ev)
        self.assertIn("time", ev)
        self.assertEqual(len([e for e in events(mon.lines) if e.get("type") == "xfrm-acquire"]),
                         1, mon.lines)
        self.assertIn(f"acquire for {TUNNEL_SRC} -> {TUNNEL_DST}", self.log())
        # No offload requested: the policy is the kernel's business, nothing reached the table.
        listed = self.ikectl("sa", "list")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertEqual(json.loads(listed.stdout)["sas"], [])

        self.assertEqual(end_process(self.daemon, signal.SIGTERM), 0, self.log())
        self.assertIn("shutting down", self.log())
        try:
            self.monitor.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("monitor did not end when the daemon did")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--ikectl", required=True)
    parser.add_argument("-v", action="store_true")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + (["-v"] if ARGS.v else []) + rest)


if __name__ == "__main__":
    main()
