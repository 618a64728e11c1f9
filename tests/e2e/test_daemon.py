#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of `ikectl daemon` and the control commands (docs/IKECTL.md,
docs/CONTROL_PROTOCOL.md).

  test_daemon.py --ikectl PATH [-v]

Each test starts its own daemon (--device model --slots 4) on a socket in a temporary directory
and kills every process it started, whatever happens.
"""
import argparse
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None
KEY = "0x000102030405060708090a0b0c0d0e0f10111213"


def out_sa(spi, extra=""):
    return (f"sa spi 0x{spi:08x} dir out mode tunnel src 192.0.2.1 dst 198.51.100.7 "
            f"aead rfc4106(gcm(aes)) {KEY} 128{extra}")


def in_sa(spi):
    return (f"sa spi 0x{spi:08x} dir in mode tunnel src 198.51.100.7 dst 192.0.2.1 "
            f"aead rfc4106(gcm(aes)) {KEY} 128")


class Daemon:
    """One `ikectl daemon` process; stderr goes to a log file."""

    def __init__(self, tmp, extra=()):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "espo.sock")
        self.ckpt = os.path.join(tmp, "espo.ckpt")
        self.conf = os.path.join(tmp, "sas.conf")
        self.log_path = os.path.join(tmp, "daemon.log")
        self.extra = list(extra)
        self.proc = None

    def start(self):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [ARGS.ikectl, "daemon", "--device", "model", "--slots", "4", "--socket", self.sock,
             "--checkpoint", self.ckpt, "--config", self.conf, "--jump-margin", "1000",
             "--checkpoint-interval", "0.5", "--log-level", "debug", "--software-sas", "1"]
            + self.extra,
            stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}: {self.log()}")
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.sock)
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("daemon did not listen within 30 s")

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def ikectl(d, *args, json_out=True, check=None):
    cmd = [ARGS.ikectl, *args, "--socket", d.sock if d else "/nonexistent/espo.sock"]
    if json_out:
        cmd.append("--json")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check is not None:
        assert p.returncode == check, f"{cmd}: rc {p.returncode}, stderr {p.stderr}"
    return p


def js(p):
    return json.loads(p.stdout)


class Raw:
    """A raw protocol connection."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(10)
        self.s.connect(path)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("daemon closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, obj):
        self.send((json.dumps(obj) + "\n").encode())
        return self.line()

    def close(self):
        self.s.close()


class DaemonTest(unittest.TestCase):
    def setUp(self):
        self.tmpdir = tempfile.TemporaryDirectory(prefix="espo_e2e_daemon_")
        self.tmp = self.tmpdir.name
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.kill(signal.SIGKILL)
        self.tmpdir.cleanup()

    def daemon(self, conf_lines, extra=()):
        d = Daemon(self.tmp, extra)
        if conf_lines is not None:
            with open(d.conf, "w") as f:
                f.write("\n".join(conf_lines) + "\n")
        self.daemons.append(d)
        return d.start()

    def test_commands_and_bad_input(self):
        d = self.daemon([out_sa(0x1000), in_sa(0x2001)])
        mode = stat.S_IMODE(os.stat(d.sock).st_mode)
        self.assertEqual(mode, 0o600)
        info = js(ikectl(d, "info", check=0))
        self.assertEqual(info["device"]["kind"], "model")
        self.assertNotIn("in_process", info)
        human = ikectl(d, "info", json_out=False, check=0).stdout
        self.assertIn("sa slots", human)
        self.assertNotIn("in-process", human)

        sas = js(ikectl(d, "sa", "list", check=0))["sas"]
        self.assertEqual({(s["spi"], s["dir"]) for s in sas},
                         {("0x00001000", "out"), ("0x00002001", "in")})
        self.assertNotIn("0e0f1011", json.dumps(sas))  # keys never leave the daemon
        table = ikectl(d, "sa", "list", json_out=False, check=0).stdout.splitlines()
        self.assertTrue(table[0].startswith("SPI"))
        col = table[0].index("DIR")  # aligned columns
        for row in table[1:]:
            self.assertTrue(row[col:].startswith(("out ", "in ")), table)

        # sa add: a file line and the words after `sa` are interchangeable.
        ikectl(d, "sa", "add", *out_sa(0x1001).split(), check=0)
        ikectl(d, "sa", "add", *out_sa(0x1002).split()[1:], check=0)
        dup = ikectl(d, "sa", "add", *out_sa(0x1001).split(), json_out=False, check=2)
        self.assertIn("already installed", dup.stderr)
        bad_key = out_sa(0x1003).replace(KEY, "0x0102030405").split()
        bad = ikectl(d, "sa", "add", *bad_key, json_out=False, check=2)
        self.assertIn("key: expected 20 or 36 bytes, got 5", bad.stderr)
        ikectl(d, "sa", "add", *out_sa(0x1003).split(), check=0)
        # The table is full: the next SA runs on the software path (--software-sas 1), the one
        # after that finds no place at all.
        sw = js(ikectl(d, "sa", "add", *out_sa(0x1004).split(), check=0))["sa"]
        self.assertEqual((sw["placement"], sw["slot"]), ("software", None))
        full = ikectl(d, "sa", "add", *out_sa(0x1005).split(), json_out=False, check=1)
        self.assertIn("outbound SA table full (4 of 4 slots in use) and the software path is full "
                      "(1 of 1 SAs)", full.stderr)
        self.assertIn("(exhausted)", full.stderr)
        nf = ikectl(d, "sa", "del", "0xdead", json_out=False, check=2)
        self.assertIn("no SA with SPI 0x0000dead", nf.stderr)
        ikectl(d, "sa", "show", "0xdead", check=2)
        self.assertEqual(len(js(ikectl(d, "sa", "list", check=0))["sas"]), 6)

        # sa load: all or nothing (the table is full: nothing from this file is installed).
        f = os.path.join(self.tmp, "more.conf")
        with open(f, "w") as fh:
            fh.write(in_sa(0x2002) + "\n" + out_sa(0x1005) + "\n")
        load = ikectl(d, "sa", "load", f, json_out=False, check=1)
        self.assertIn("more.conf", load.stderr)
        self.assertEqual(len(js(ikectl(d, "sa", "list", check=0))["sas"]), 6)
        ikectl(d, "sa", "load", "/nonexistent.conf", check=2)

        # Raw protocol errors; the connection survives each of them.
        r = Raw(d.sock)
        r.send(b"this is not json\n")
        self.assertEqual(r.line()["error"]["code"], "parse")
        self.assertEqual(r.call({"v": 2, "id": 1, "cmd": "info"})["error"]["code"],
                         "unsupported-version")
        e = r.call({"v": 1, "id": 2, "cmd": "sa.explode"})
        self.assertEqual((e["id"], e["error"]["code"]), (2, "unknown-command"))
        e = r.call({"v": 1, "id": 3, "cmd": "sa.add", "args": {}})
        self.assertEqual(e["error"], {"code": "invalid-argument", "message": "args.line: missing"})
        r.send(b'{"v":1,"id":4,"cmd":"sa.load","args":{"text":"' + b"a" * 70000 + b'"}}\n')
        self.assertEqual(r.line()["error"]["code"], "too-large")
        ok = r.call({"v": 1, "id": 5, "cmd": "sa.show", "args": {"spi": "0x1000"}})
        self.assertTrue(ok["ok"])
        self.assertEqual(ok["id"], 5)
        r.close()

        # Stats.
        ikectl(d, "sa", "send", "0x1001", "--count", "5", check=0)
        st = js(ikectl(d, "stats", check=0))
        self.assertEqual(st["table"]["out"], {"used": 4, "slots": 4})
        self.assertEqual((st["software"]["out"], st["software"]["fallbacks"]), (1, 1))
        self.assertEqual(st["released"]["out"], 5)
        self.assertIn("lifetime", st["drops"])
        self.assertIn("drops by reason", ikectl(d, "stats", json_out=False, check=0).stdout)

        # Update limits; bad limits name the field.
        ikectl(d, "sa", "update", "0x1001", "--soft-packets", "9", "--hard-packets", "12", check=0)
        bad = ikectl(d, "sa", "update", "0x1001", "--soft-packets", "50", json_out=False, check=2)
        self.assertIn("soft-packets", bad.stderr)
        self.assertEqual(d.proc.poll(), None)

    def test_monitor_streams_events(self):
        d = self.daemon([out_sa(0x1000)])
        mon = subprocess.Popen([ARGS.ikectl, "monitor", "--socket", d.sock, "--json", "--count",
                                "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)
            ikectl(d, "sa", "update", "0x1000", "--soft-packets", "2", "--hard-packets", "4",
                   check=0)
            ikectl(d, "sa", "send", "0x1000", "--count", "6", check=0)
            ikectl(d, "sa", "del", "0x1000", check=0)
            out, err = mon.communicate(timeout=30)
        finally:
            if mon.poll() is None:
                mon.kill()
                mon.wait()
        self.assertEqual(mon.returncode, 0, err)
        types = [json.loads(l)["type"] for l in out.splitlines()]
        self.assertEqual(types, ["sa-updated", "soft", "hard", "sa-removed"])
        # Without a daemon, monitor says so.
        p = ikectl(None, "monitor", json_out=False, check=1)
        self.assertIn("no daemon", p.stderr)

    def test_sighup_reload_and_sigterm(self):
        d = self.daemon([out_sa(0x1000), in_sa(0x2001)])
        with open(d.conf, "w") as f:
            f.write(out_sa(0x1000) + "\nsa spi 0x1001 dir out nonsense\n")
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        self.assertIsNone(d.proc.poll())
        refused = [l for l in d.log().splitlines() if "reload refused" in l]
        self.assertEqual(len(refused), 1, d.log())
        self.assertIn("sas.conf:2:", refused[0])
        self.assertRegex(refused[0], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z error config ")
        self.assertEqual(len(js(ikectl(d, "sa", "list", check=0))["sas"]), 2)
        with open(d.conf, "w") as f:
            f.write(out_sa(0x1000, " hard-packets 77") + "\n" + in_sa(0x2002) + "\n")
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        sas = {(s["spi"], s["dir"]): s for s in js(ikectl(d, "sa", "list", check=0))["sas"]}
        self.assertEqual(set(sas), {("0x00001000", "out"), ("0x00002002", "in")})
        self.assertEqual(sas[("0x00001000", "out")]["limits"]["hard_packets"], 77)
        ikectl(d, "sa", "send", "0x1000", "--count", "3", check=0)
        self.assertEqual(d.kill(signal.SIGTERM), 0, d.log())
        self.assertFalse(os.path.exists(d.sock))
        with open(d.ckpt) as f:
            ck = json.load(f)
        outs = [s for s in ck["body"]["sas"] if s["direction"] == "out" and s["spi"] == 0x1000]
        self.assertEqual(outs[0]["outbound_seq"], 3)
        self.assertIn("checkpoint written", d.log())

    def test_kill9_restart_never_reuses_a_sequence_number(self):
        d = self.daemon([out_sa(0x1000), in_sa(0x2001)])
        ikectl(d, "sa", "send", "0x1000", "--count", "30", check=0)
        time.sleep(1.5)  # a periodic checkpoint (every 0.5 s) records 30
        last = js(ikectl(d, "sa", "send", "0x1000", "--count", "20", check=0))["seq"]
        self.assertEqual(last, 50)
        d.kill(signal.SIGKILL)
        with open(d.ckpt) as f:
            ck = json.load(f)
        saved = [s for s in ck["body"]["sas"] if s["direction"] == "out"][0]["outbound_seq"]
        self.assertLessEqual(saved, 50)
        self.assertGreaterEqual(saved, 30)
        os.unlink(d.sock)  # a stale socket would be removed anyway; check both paths below
        d2 = Daemon(self.tmp)
        self.daemons.append(d2)
        d2.start()
        sa = js(ikectl(d2, "sa", "show", "0x1000", "--dir", "out", check=0))["sa"]
        self.assertGreaterEqual(sa["next_seq"], saved + 1000 + 1)
        self.assertGreater(sa["next_seq"], last)
        sent = js(ikectl(d2, "sa", "send", "0x1000", "--count", "1", check=0))
        self.assertGreater(sent["seq"], last)
        # Kill again without removing the socket: the restart removes the stale socket.
        d2.kill(signal.SIGKILL)
        d3 = Daemon(self.tmp)
        self.daemons.append(d3)
        d3.start()
        sa3 = js(ikectl(d3, "sa", "show", "0x1000", "--dir", "out", check=0))["sa"]
        self.assertGreater(sa3["next_seq"], sent["seq"])
        # A second daemon on a live socket refuses to start.
        d4 = Daemon(self.tmp)
        d4.log_path = os.path.join(self.tmp, "d4.log")
        p = subprocess.run([ARGS.ikectl, "daemon", "--device", "model", "--socket", d3.sock,
                            "--log-level", "error"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("another daemon", p.stderr)

    def test_corrupt_checkpoint_refuses_to_start(self):
        d = Daemon(self.tmp)
        with open(d.conf, "w") as f:
            f.write(out_sa(0x1000) + "\n")
        with open(d.ckpt, "w") as f:
            f.write('{"format": "espo-checkpoint", "trunc')
        p = subprocess.run([ARGS.ikectl, "daemon", "--device", "model", "--socket", d.sock,
                            "--checkpoint", d.ckpt, "--config", d.conf], capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("espo.ckpt", p.stderr)
        self.assertFalse(os.path.exists(d.sock))

    @unittest.skipUnless(os.geteuid() == 0, "needs root to connect as another uid")
    def test_peer_of_another_uid_is_refused(self):
        d = self.daemon([out_sa(0x1000)])
        os.chmod(self.tmp, 0o711)  # let uid 65534 reach the socket ...
        os.chmod(d.sock, 0o666)  # ... and connect; SO_PEERCRED must still refuse it
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                os.setgid(65534)
                os.setuid(65534)
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(5)
                s.connect(d.sock)
                time.sleep(0.3)  # the daemon answers at accept and closes
                try:
                    s.sendall(b'{"v":1,"id":1,"cmd":"info"}\n')
                except OSError:
                    pass
                data = s.recv(4096)
                os.write(w, data or b"EOF")
            except Exception as e:  # noqa: BLE001: reported through the pipe
                os.write(w, repr(e).encode())
            finally:
                os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        data = os.read(r, 4096)
        os.close(r)
        self.assertTrue(data.startswith(b"{"), data)
        resp = json.loads(data.split(b"\n")[0])
        self.assertEqual(resp["error"]["code"], "permission-denied")
        self.assertIn("peer refused", d.log())

    def test_in_process_fallback(self):
        p = ikectl(None, "info", "--device", "model", check=0)
        self.assertTrue(js(p)["in_process"])
        human = ikectl(None, "info", "--device", "model", json_out=False, check=0)
        self.assertIn("in-process model device", human.stdout)
        added = ikectl(None, "sa", "add", *out_sa(0x1000).split(), "--device", "model", check=0)
        self.assertEqual(js(added)["sa"]["slot"], 0)
        bad = ikectl(None, "sa", "add", *out_sa(0x1000).replace(KEY, "0x01").split(), "--device",
                     "model", json_out=False, check=2)
        self.assertIn("key: expected 20 or 36 bytes, got 1", bad.stderr)
        # In-process state lasts one command.
        self.assertEqual(js(ikectl(None, "sa", "list", "--device", "model", check=0))["sas"], [])


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--ikectl", required=True)
    parser.add_argument("-v", action="store_true")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + (["-v"] if ARGS.v else []) + rest)


if __name__ == "__main__":
    main()
