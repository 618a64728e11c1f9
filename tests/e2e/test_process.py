#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of `ikectl process` against independent ESP implementations.

  test_process.py --ikectl PATH [--device model|sim] [-v]

Oracles: Debian python3-scapy (ESP AES-GCM encryption/decryption) and tshark (decrypts espo's
output with the SA file exported by `ikectl sa export --wireshark`). Every case builds its own
pcaps in a temporary directory.
"""
import argparse
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

import warnings
warnings.filterwarnings("ignore")
from scapy.all import IP, IPv6, UDP, TCP, Ether, Raw, rdpcap, wrpcap  # noqa: E402
from scapy.layers.ipsec import ESP, SecurityAssociation  # noqa: E402

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402

ARGS = None


def gcm_open_esp(esp_bytes, key_and_salt, icv_len):
    """Independent ESP AES-GCM decryption (python3-cryptography, truncated tags allowed):
    scapy's AEAD path cannot verify 8- or 12-byte ICVs. Returns (next_header, payload)."""
    spi_seq, iv = esp_bytes[:8], esp_bytes[8:16]
    ct, icv = esp_bytes[16:len(esp_bytes) - icv_len], esp_bytes[len(esp_bytes) - icv_len:]
    key, salt = key_and_salt[:-4], key_and_salt[-4:]
    dec = Cipher(algorithms.AES(key), modes.GCM(salt + iv, icv, min_tag_length=icv_len)).decryptor()
    dec.authenticate_additional_data(spi_seq)
    pt = dec.update(ct) + dec.finalize()
    pad_len, next_header = pt[-2], pt[-1]
    assert pt[-2 - pad_len:-2] == bytes(range(1, pad_len + 1)), "padding is not 1, 2, 3, ..."
    return next_header, pt[:-2 - pad_len]
KEY = bytes(range(16)) + bytes.fromhex("10111213")
KEY256 = bytes(range(32, 64)) + bytes.fromhex("a0a1a2a3")


def sa_line(spi, direction, key, icv_bits=128, mode="tunnel", src="192.0.2.1",
            dst="198.51.100.7", extra=""):
    return (f"sa spi 0x{spi:08x} dir {direction} mode {mode} src {src} dst {dst} \\\n"
            f"   aead rfc4106(gcm(aes)) 0x{key.hex()} {icv_bits} {extra}\n")


def inner_packets(count, v6=False, seed=0):
    rng = random.Random(seed)
    pkts = []
    for i in range(count):
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 1400)))
        if v6:
            pkts.append(IPv6(src="2001:db8::1", dst="2001:db8::2") /
                        UDP(sport=1000 + i, dport=7) / Raw(payload))
        else:
            pkts.append(IP(src="10.0.0.1", dst="10.0.1.2", id=i, tos=0x28) /
                        TCP(sport=1000 + i, dport=80, flags="PA") / Raw(payload))
    return pkts


class ProcessTest(unittest.TestCase):
    def setUp(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="espo-e2e-"))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def ikectl(self, *args, expect_rc=0):
        cmd = [ARGS.ikectl, *map(str, args)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        self.assertEqual(res.returncode, expect_rc,
                         f"{' '.join(cmd)}\nstdout: {res.stdout}\nstderr: {res.stderr}")
        return res

    def process(self, sa_file, direction, pin, pout, *extra):
        res = self.ikectl("process", "--sa", sa_file, "--dir", direction, "--in", pin,
                          "--out", pout, "--device", ARGS.device, "--json", *extra)
        return json.loads(res.stdout)

    def write(self, name, text):
        path = self.dir / name
        path.write_text(text)
        return path

    def test_round_trip_ethernet_and_raw_ip(self):
        sas = self.write("sas.conf", sa_line(0x1000, "out", KEY) +
                         sa_line(0x1000, "in", KEY, extra="replay-window 128"))
        for link in ("ether", "raw"):
            with self.subTest(link=link):
                pkts = inner_packets(60, seed=1)
                frames = [Ether() / p for p in pkts] if link == "ether" else pkts
                plain = self.dir / f"plain-{link}.pcap"
                wrpcap(str(plain), frames, linktype=1 if link == "ether" else 101)
                out = self.process(sas, "out", plain, self.dir / "esp.pcap")
                self.assertEqual(out["emitted"], 60)
                back = self.process(sas, "in", self.dir / "esp.pcap", self.dir / "back.pcap")
                self.assertEqual(back["emitted"], 60, back)
                self.assertEqual(sum(back["dropped"].values()), 0)
                got = rdpcap(str(self.dir / "back.pcap"))
                self.assertEqual([bytes(g) for g in got], [bytes(f) for f in frames])

    def test_scapy_decrypts_espo_output(self):
        for key, icv in ((KEY, 128), (KEY256, 128), (KEY, 64), (KEY, 96)):
            with self.subTest(key_bits=8 * (len(key) - 4), icv=icv):
                sas = self.write("sas.conf", sa_line(0x2000, "out", key, icv_bits=icv,
                                                     extra="oseq 1000"))
                pkts = inner_packets(20, seed=2)
                wrpcap(str(self.dir / "plain.pcap"), pkts, linktype=101)
                self.process(sas, "out", self.dir / "plain.pcap", self.dir / "esp.pcap")
                sa = SecurityAssociation(ESP, spi=0x2000, crypt_algo="AES-GCM", crypt_key=key,
                                         auth_algo=None, crypt_icv_size=icv // 8,
                                         tunnel_header=IP(src="192.0.2.1",
                                                          dst="198.51.100.7"))
                esp = rdpcap(str(self.dir / "esp.pcap"))
                self.assertEqual(len(esp), 20)
                for i, (e, p) in enumerate(zip(esp, pkts)):
                    e = IP(bytes(e))
                    self.assertEqual(e[ESP].seq, 1001 + i)
                    self.assertEqual(e.tos, p.tos, "DSCP/ECN copied to the outer header")
                    if icv == 128:
                        dec = sa.decrypt(e.copy())  # scapy verifies full-length ICVs only
                        self.assertEqual(bytes(dec), bytes(p))
                    next_header, inner = gcm_open_esp(bytes(e[ESP]), key, icv // 8)
                    self.assertEqual(next_header, 4)
                    self.assertEqual(inner, bytes(p))

    def test_espo_decrypts_scapy_esp_and_drops_bad_packets(self):
        sas = self.write("sas.conf", sa_line(0x3000, "in", KEY256, extra="replay-window 64"))
        sa = SecurityAssociation(ESP, spi=0x3000, crypt_algo="AES-GCM", crypt_key=KEY256,
                                 auth_algo=None,
                                 tunnel_header=IP(src="192.0.2.1", dst="198.51.100.7"))
        pkts = inner_packets(30, seed=3)
        enc = [sa.encrypt(p, seq_num=i + 1) for i, p in enumerate(pkts)]
        replayed = enc[4]
        tampered = IP(bytes(enc[7]))
        raw = bytearray(bytes(tampered))
        raw[-1] ^= 0x80
        stream = enc + [replayed, IP(bytes(raw)),
                        SecurityAssociation(ESP, spi=0x3001, crypt_algo="AES-GCM",
                                            crypt_key=KEY256, auth_algo=None,
                                            tunnel_header=IP(src="192.0.2.1",
                                                             dst="198.51.100.7")).encrypt(pkts[0])]
        wrpcap(str(self.dir / "esp.pcap"), stream, linktype=101)
        out = self.process(sas, "in", self.dir / "esp.pcap", self.dir / "inner.pcap")
        self.assertEqual(out["processed"], 33)
        self.assertEqual(out["emitted"], 30)
        self.assertEqual(out["dropped"], {"auth": 0, "replay": 2, "no_sa": 1, "malformed": 0,
                                          "lifetime": 0},
                         "the tampered packet reuses seq 8: replay pre-check comes first")
        got = rdpcap(str(self.dir / "inner.pcap"))
        self.assertEqual([bytes(g) for g in got], [bytes(p) for p in pkts])

    def test_tampered_icv_is_an_auth_drop(self):
        sas = self.write("sas.conf", sa_line(0x3100, "in", KEY))
        sa = SecurityAssociation(ESP, spi=0x3100, crypt_algo="AES-GCM", crypt_key=KEY,
                                 auth_algo=None,
                                 tunnel_header=IP(src="192.0.2.1", dst="198.51.100.7"))
        pkts = inner_packets(10, seed=4)
        stream = []
        for i, p in enumerate(pkts):
            raw = bytearray(bytes(sa.encrypt(p, seq_num=i + 1)))
            if i % 2:
                raw[-1 - (i % 16)] ^= 0x01
            stream.append(IP(bytes(raw)))
        wrpcap(str(self.dir / "esp.pcap"), stream, linktype=101)
        out = self.process(sas, "in", self.dir / "esp.pcap", self.dir / "inner.pcap")
        self.assertEqual(out["emitted"], 5)
        self.assertEqual(out["dropped"]["auth"], 5)

    @unittest.skipUnless(shutil.which("tshark"), "tshark is not installed (scripts/setup_debian.sh)")
    def test_tshark_decrypts_with_exported_sa_file(self):
        sas = self.write("sas.conf", sa_line(0x4000, "out", KEY, icv_bits=96,
                                             extra="encap espinudp 4500 4500"))
        pkts = inner_packets(5, seed=5)
        wrpcap(str(self.dir / "plain.pcap"), [Ether() / p for p in pkts])
        self.process(sas, "out", self.dir / "plain.pcap", self.dir / "esp.pcap")
        uat = self.ikectl("sa", "export", "--wireshark", sas).stdout
        home = self.dir / "home"
        (home / ".config/wireshark").mkdir(parents=True)
        (home / ".config/wireshark/esp_sa").write_text(uat)
        res = subprocess.run(["tshark", "-r", str(self.dir / "esp.pcap"), "-o",
                              "esp.enable_encryption_decode:TRUE", "-T", "fields", "-e",
                              "tcp.srcport", "-e", "esp.sequence"],
                             capture_output=True, text=True, env={**os.environ, "HOME": str(home)},
                             timeout=120)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertNotIn("UAT", res.stderr, "tshark rejected the exported esp_sa file")
        rows = [line.split("\t") for line in res.stdout.strip().splitlines()]
        self.assertEqual(rows, [[str(1000 + i), str(1 + i)] for i in range(5)],
                         "tshark could not decrypt (inner TCP ports missing)")

    def test_sa_export_and_check_json(self):
        sas = self.write("sas.conf", sa_line(0x4100, "out", KEY) + "\n" +
                         sa_line(0x4101, "in", KEY) + "\n")
        uat = self.ikectl("sa", "export", "--wireshark", sas).stdout
        exp = json.loads(self.ikectl("sa", "export", "--wireshark", sas, "--json").stdout)
        self.assertEqual(exp["format"], "wireshark-esp_sa")
        self.assertEqual(len(exp["records"]), 2)
        for record in exp["records"]:
            self.assertIn(record + "\n", uat)  # the same records as the UAT file
        chk = json.loads(self.ikectl("sa", "check", sas, "--json").stdout)
        self.assertEqual(chk["sas"], 2)
        self.assertEqual(chk["lines"], self.ikectl("sa", "check", sas).stdout.splitlines())

    def test_bad_inputs_exit_2_with_one_line_and_process_nothing(self):
        good = sa_line(0x5000, "out", KEY)
        cases = {
            "short key": sa_line(0x5000, "out", KEY[:5]),
            "spi 0": sa_line(0, "out", KEY),
            "bad icv": sa_line(0x5000, "out", KEY, icv_bits=100),
        }
        wrpcap(str(self.dir / "plain.pcap"), inner_packets(3), linktype=101)
        for what, text in cases.items():
            with self.subTest(what=what):
                sas = self.write("bad.conf", good + text)
                out = self.dir / "never.pcap"
                res = self.ikectl("process", "--sa", sas, "--dir", "out", "--in",
                                  self.dir / "plain.pcap", "--out", out, "--device",
                                  ARGS.device, "--spi", "0x5000", expect_rc=2)
                self.assertEqual(len(res.stderr.strip().splitlines()), 1, res.stderr)
                self.assertIn("bad.conf:", res.stderr)
                self.assertFalse(out.exists(), "output written despite a bad SA file")
        sas = self.write("sas.conf", good)
        res = self.ikectl("process", "--sa", sas, "--dir", "out", "--in", self.dir / "missing.pcap",
                          "--out", self.dir / "x.pcap", "--device", ARGS.device, expect_rc=2)
        self.assertIn("missing.pcap", res.stderr)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--ikectl", required=True)
    ap.add_argument("--device", default="model")
    ARGS, rest = ap.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest])


if __name__ == "__main__":
    main()
