#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""strongSwan interop: espo decrypts what strongSwan sent and strongSwan accepts what espo sent.

  test_strongswan.py --ikectl PATH [--device model] [--device sim] [--keep] [-v]

Two network namespaces joined by a veth pair, one strongSwan 5.9 charon in each (kernel-libipsec:
ESP in userspace through a TUN device, because the kernel here may not install ESP SAs), PSK,
IKEv2, tunnel mode, two CHILD_SAs (aes128gcm16 and aes256gcm16), ESP in UDP 4500 (libipsec's
default). Steps (docs/STRONGSWAN.md):

  1. UDP echo traffic through both tunnels; tcpdump records the ESP on the veth and the plaintext
     on both TUN devices.
  2. The keys come from charon's own log (`chd` level 4 prints "encryption initiator/responder
     key"), the SPIs and counters from `swanctl --list-sas --raw`; both charons must agree.
  3. `ikectl process --dir in` on the ESP capture, per CHILD_SA and direction, with every
     --device given: the inner packets are byte-identical to what the receiving charon wrote to
     its TUN device, and carry the payloads the client sent.
  4. `ikectl process --dir out` with the A->B SA (oseq above what B has seen) encrypts new
     packets; they are injected on A's veth (scapy sendp); B's charon must count them
     (packets-in) and a UDP listener behind B's TUN must receive every payload.

Exit 0 = pass, 1 = failure, 77 = skipped (one line "SKIP: <reason>" on stdout). Only the
processes this script started are ended (by PID), and its namespaces are deleted, also on failure.
"""
import argparse
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

SKIP = 77
CHARON = "/usr/lib/ipsec/charon"
PLUGIN_DIR = pathlib.Path("/usr/lib/ipsec/plugins")
PLUGINS = ("random nonce openssl aes gcm sha1 sha2 hmac kdf pem pkcs1 x509 pubkey curve25519 gmp "
           "kernel-libipsec kernel-netlink socket-default vici")
PSK = "espo-interop-psk-5d1c9a0e7b"
OUTER = {"a": "192.0.2.1", "b": "192.0.2.2"}
# CHILD_SA name -> (ESP proposal, A's inner address, B's inner address)
CHILDREN = {
    "gcm128": ("aes128gcm16", "10.1.0.1", "10.2.0.1"),
    "gcm256": ("aes256gcm16", "10.1.0.2", "10.2.0.2"),
}
ECHO_PORT = 7777
INJECT_PORT = 7778
PACKETS_PER_CHILD = 6
INJECT_PER_DEVICE = 5

ARGS = None


def log(msg):
    if ARGS is None or ARGS.verbose:
        print(msg, flush=True)


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def preflight():
    """Everything whose absence means "cannot run here" rather than "espo is broken"."""
    if os.geteuid() != 0:
        skip("needs root (network namespaces, veth, TUN and charon's raw sockets)")
    for path, pkg in ((CHARON, "strongswan-charon"), ("/usr/sbin/swanctl", "strongswan-swanctl"),
                      (PLUGIN_DIR / "libstrongswan-kernel-libipsec.so", "libcharon-extra-plugins"),
                      (PLUGIN_DIR / "libstrongswan-gcm.so", "libstrongswan-standard-plugins"),
                      (PLUGIN_DIR / "libstrongswan-openssl.so", "libstrongswan-standard-plugins"),
                      (PLUGIN_DIR / "libstrongswan-vici.so", "strongswan-swanctl")):
        if not pathlib.Path(path).exists():
            skip(f"{path} missing (Debian package {pkg}; scripts/setup_debian.sh installs it)")
    for tool, pkg in (("ip", "iproute2"), ("tcpdump", "tcpdump")):
        if shutil.which(tool) is None:
            skip(f"'{tool}' not found (Debian package {pkg})")
    if not pathlib.Path("/dev/net/tun").exists():
        skip("/dev/net/tun missing: kernel-libipsec needs a TUN device")
    try:
        import scapy.all  # noqa: F401
    except ImportError:
        skip("python3-scapy not installed")
    probe = f"espo-ssprobe{os.getpid()}"
    res = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if res.returncode != 0:
        skip(f"cannot create a network namespace: {res.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)


class Lab:
    """Namespaces, veth, charons, captures. Everything it starts is recorded for teardown()."""

    def __init__(self):
        tag = f"{os.getpid() % 100000}"
        self.ns = {"a": f"espo-ss{tag}-a", "b": f"espo-ss{tag}-b"}
        self.veth = {"a": f"essa{tag}", "b": f"essb{tag}"}
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="espo-strongswan-"))
        self.procs = []  # (name, Popen)
        self.created_ns = []
        self.charon = {}

    # -- helpers ---------------------------------------------------------------------------
    def run(self, *cmd, ns=None, check=True, env=None, timeout=60):
        full = (["ip", "netns", "exec", self.ns[ns]] if ns else []) + [str(c) for c in cmd]
        res = subprocess.run(full, capture_output=True, text=True, env=env, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(full)} failed ({res.returncode}):\n"
                                 f"{res.stdout}{res.stderr}")
        return res

    def spawn(self, name, cmd, ns, env=None, stdout=None):
        full = ["ip", "netns", "exec", self.ns[ns]] + [str(c) for c in cmd]
        out = open(self.dir / f"{name}.out", "wb") if stdout is None else stdout
        err = open(self.dir / f"{name}.err", "wb")
        # `ip netns exec` execs the command, so the PID we record is the process itself.
        proc = subprocess.Popen(full, stdout=out, stderr=err, env=env, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def stop(self, proc, sig=signal.SIGTERM, wait=10):
        if proc.poll() is not None:
            return
        try:
            os.kill(proc.pid, sig)
            proc.wait(timeout=wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass

    def teardown(self):
        for _, proc in reversed(self.procs):
            self.stop(proc)
        for ns in self.created_ns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        if ARGS.keep:
            print(f"kept {self.dir}", flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- network -----------------------------------------------------------------------------
    def build_network(self):
        for side in "ab":
            self.run("ip", "netns", "add", self.ns[side])
            self.created_ns.append(self.ns[side])
        self.run("ip", "link", "add", self.veth["a"], "type", "veth", "peer", "name",
                 self.veth["b"])
        for side in "ab":
            self.run("ip", "link", "set", self.veth[side], "netns", self.ns[side])
            self.run("ip", "addr", "add", f"{OUTER[side]}/24", "dev", self.veth[side], ns=side)
            self.run("ip", "link", "set", self.veth[side], "up", ns=side)
            self.run("ip", "link", "set", "lo", "up", ns=side)
            for _, (_, a_in, b_in) in CHILDREN.items():
                self.run("ip", "addr", "add", f"{a_in if side == 'a' else b_in}/32", "dev", "lo",
                         ns=side)
            # The TUN device is the reverse path of the inner addresses only by policy routing.
            self.run("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0",
                     "net.ipv4.conf.default.rp_filter=0", ns=side)
            # veth leaves UDP checksums to "hardware" (CHECKSUM_PARTIAL), so a capture would
            # hold wrong checksums, which espo (rightly) drops as malformed. A real NIC
            # delivers correct ones: turn the offload off.
            if shutil.which("ethtool"):
                self.run("ethtool", "-K", self.veth[side], "tx", "off", ns=side)
        self.mac = {}
        for side in "ab":
            text = self.run("cat", f"/sys/class/net/{self.veth[side]}/address", ns=side).stdout
            self.mac[side] = text.strip()

    # -- strongSwan --------------------------------------------------------------------------
    def charon_env(self, side):
        env = dict(os.environ)
        env["STRONGSWAN_CONF"] = str(self.dir / side / "strongswan.conf")
        return env

    def uri(self, side):
        return f"unix://{self.dir / side / 'charon.vici'}"

    def write_configs(self, side):
        d = self.dir / side
        d.mkdir()
        for sub in ("x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl", "pubkey",
                    "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12"):
            (d / sub).mkdir()
        (d / "strongswan.conf").write_text(f"""# generated by {pathlib.Path(__file__).name}
charon {{
  load = {PLUGINS}
  port = 500
  port_nat_t = 4500
  filelog {{
    keys {{
      path = {d / 'charon.log'}
      default = 1
      # level 4 (private) of the CHILD_SA subsystem prints the derived ESP keys
      chd = 4
      ike = 2
      knl = 2
      flush_line = yes
    }}
  }}
  syslog {{
  }}
  plugins {{
    vici {{
      socket = {self.uri(side)}
    }}
  }}
}}
swanctl {{
  socket = {self.uri(side)}
}}
""")
        me, peer = ("a", "b") if side == "a" else ("b", "a")
        children = []
        for name, (prop, a_in, b_in) in CHILDREN.items():
            local, remote = (a_in, b_in) if side == "a" else (b_in, a_in)
            children.append(f"""      {name} {{
        mode = tunnel
        local_ts = {local}/32
        remote_ts = {remote}/32
        esp_proposals = {prop}
        start_action = none
      }}""")
        nl = "\n"
        (d / "swanctl.conf").write_text(f"""connections {{
  espo {{
    version = 2
    local_addrs = {OUTER[me]}
    remote_addrs = {OUTER[peer]}
    proposals = aes128gcm16-prfsha256-x25519
    encap = yes
    local {{
      auth = psk
      id = {me}@espo.test
    }}
    remote {{
      auth = psk
      id = {peer}@espo.test
    }}
    children {{
{nl.join(children)}
    }}
  }}
}}
secrets {{
  ike-espo {{
    id-a = a@espo.test
    id-b = b@espo.test
    secret = "{PSK}"
  }}
}}
""")

    def start_charon(self, side):
        self.write_configs(side)
        # charon's PID file is fixed at /var/run/charon.pid: give each charon its own /run in
        # the mount namespace `ip netns exec` creates (mounts there do not propagate back).
        proc = self.spawn(f"charon-{side}",
                          ["sh", "-c", f"mount -t tmpfs espo-run-{side} /var/run && "
                           f"exec {CHARON}"], ns=side, env=self.charon_env(side))
        self.charon[side] = proc
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                skip(f"charon in namespace {self.ns[side]} exited with {proc.returncode}: "
                     f"{self.charon_log_tail(side)}")
            res = subprocess.run(["swanctl", "--stats", "--uri", self.uri(side)],
                                 capture_output=True, text=True, env=self.charon_env(side))
            if res.returncode == 0:
                break
            time.sleep(0.2)
        else:
            skip(f"charon in namespace {self.ns[side]} did not open its VICI socket in 30 s: "
                 f"{self.charon_log_tail(side)}")
        # kernel-libipsec creates its TUN device at start; without it there is no data path.
        deadline = time.monotonic() + 10
        while self.run("ip", "link", "show", "ipsec0", ns=side, check=False).returncode != 0:
            if time.monotonic() > deadline:
                skip(f"kernel-libipsec created no TUN device (ipsec0) in {self.ns[side]}: "
                     f"{self.charon_log_tail(side)}")
            time.sleep(0.2)
        res = subprocess.run(["swanctl", "--load-all", "--noprompt", "--file",
                              self.dir / side / "swanctl.conf", "--uri", self.uri(side)],
                             capture_output=True, text=True, env=self.charon_env(side))
        if res.returncode != 0 or "successfully loaded 1 connections" not in res.stdout:
            raise AssertionError(f"swanctl --load-all ({side}) failed:\n{res.stdout}{res.stderr}")

    def charon_log_tail(self, side):
        for name in ("charon.log",):
            p = self.dir / side / name
            if p.exists():
                lines = [ln for ln in p.read_text(errors="replace").splitlines()
                         if re.search(r"fail|error|unable|cannot", ln, re.I)]
                if lines:
                    return lines[-1].strip()
        err = self.dir / f"charon-{side}.err"
        if err.exists() and err.read_text(errors="replace").strip():
            return err.read_text(errors="replace").strip().splitlines()[-1]
        return "no error logged"

    def swanctl(self, side, *args):
        res = subprocess.run(["swanctl", *map(str, args), "--uri", self.uri(side)],
                             capture_output=True, text=True, env=self.charon_env(side), timeout=60)
        if res.returncode != 0:
            raise AssertionError(f"swanctl {' '.join(map(str, args))} ({side}) failed:\n"
                                 f"{res.stdout}{res.stderr}")
        return res.stdout

    def child_sas(self, side):
        """CHILD_SA name -> attributes, from `swanctl --list-sas --raw`."""
        out = self.swanctl(side, "--list-sas", "--raw")
        result = {}
        for m in re.finditer(r"\{name=(\S+) ([^{}]*)\}", out):
            attrs = dict(re.findall(r"([\w-]+)=(\[[^\]]*\]|\S+)", m.group(2)))
            attrs["name"] = m.group(1)
            if attrs.get("state") == "INSTALLED":
                result[m.group(1)] = attrs
        return result

    # -- captures ----------------------------------------------------------------------------
    def start_capture(self, name, side, iface, bpf=None):
        path = self.dir / f"{name}.pcap"
        cmd = ["tcpdump", "-Z", "root", "-n", "-U", "--immediate-mode", "-i", iface, "-w", path]
        if bpf:
            cmd.append(bpf)
        proc = self.spawn(f"tcpdump-{name}", cmd, ns=side)
        err = self.dir / f"tcpdump-{name}.err"
        deadline = time.monotonic() + 15
        while "listening on" not in err.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"tcpdump on {iface} did not start: {err.read_text()}")
            time.sleep(0.1)
        return proc, path

    def stop_capture(self, proc, path, expect):
        # tcpdump counts packets "received by filter" before it has written them: wait until
        # the file holds the packets we expect (24-byte header + records), then stop it.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and count_pcap(path) < expect:
            time.sleep(0.2)
        time.sleep(0.3)
        self.stop(proc, signal.SIGINT)


def count_pcap(path):
    """Records in a (possibly still growing) classic pcap file."""
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError:
        return 0
    n, off = 0, 24
    while off + 16 <= len(data):
        off += 16 + int.from_bytes(data[off + 8:off + 12], "little")
        if off <= len(data):
            n += 1
    return n


def parse_keys(log_text):
    """Child SA keys from charon's chd-4 log.

    Returns a list of dicts {spi_in, spi_out, encr_i, encr_r, src, dst}, one per CHILD_SA
    installed, in log order. Lines are "NN[CHD] ..." with NN the thread; a thread derives and
    installs one CHILD_SA at a time, so the state is kept per thread.
    """
    state = {}
    found = []
    line_re = re.compile(r"^(\d+)\[(\w+)\] (.*)$")
    for line in log_text.splitlines():
        m = line_re.match(line)
        if not m:
            continue
        thread, group, text = m.groups()
        st = state.setdefault(thread, {"dump": None})
        km = re.match(r"encryption (initiator|responder) key => (\d+) bytes", text)
        if group == "CHD" and km:
            st["dump"] = ("encr_i" if km.group(1) == "initiator" else "encr_r", int(km.group(2)))
            st[st["dump"][0]] = b""
            continue
        hm = re.match(r"\s+\d+: ((?:[0-9A-F]{2} ?)+)", text)
        if group == "CHD" and hm and st["dump"]:
            key, size = st["dump"]
            st[key] += bytes.fromhex(hm.group(1)[:48].replace(" ", ""))
            if len(st[key]) >= size:
                st[key] = st[key][:size]
                st["dump"] = None
            continue
        st["dump"] = None
        am = re.match(r"adding (inbound|outbound) ESP SA", text)
        if group == "CHD" and am:
            st["adding"] = am.group(1)
            continue
        sm = re.match(r"\s+SPI 0x([0-9a-f]+), src (\S+) dst (\S+)", text)
        if group == "CHD" and sm and st.get("adding"):
            st["spi_" + ("in" if st["adding"] == "inbound" else "out")] = int(sm.group(1), 16)
            if st["adding"] == "outbound":
                st["src"], st["dst"] = sm.group(2), sm.group(3)
            st["adding"] = None
            if all(k in st for k in ("encr_i", "encr_r", "spi_in", "spi_out")):
                found.append({k: st[k] for k in ("encr_i", "encr_r", "spi_in", "spi_out",
                                                 "src", "dst")})
                state[thread] = {"dump": None}
    return found


def sa_line(spi, direction, src, dst, key, extra=""):
    return (f"sa spi 0x{spi:08x} dir {direction} mode tunnel src {src} dst {dst} "
            f"aead 'rfc4106(gcm(aes))' 0x{key.hex()} 128 encap espinudp 4500 4500 {extra}\n")


def ikectl(*args):
    cmd = [ARGS.ikectl, *map(str, args)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}):\n"
                             f"{res.stdout}{res.stderr}")
    import json
    return json.loads(res.stdout)


UDP_CLIENT = r"""
import socket, sys
src, dst, port, count, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
s.settimeout(5)
for i in range(count):
    payload = ("%s-%d-" % (tag, i)).encode() + bytes((i * 7 + j) & 0xFF for j in range(40 + 97 * i))
    s.sendto(payload, (dst, port))
    reply, _ = s.recvfrom(65535)
    assert reply == b"echo:" + payload, "bad echo"
print("ok")
"""

UDP_SERVER = r"""
import socket, sys
addr, port, count, echo = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
s.settimeout(30)
print("ready", flush=True)
for _ in range(count):
    data, peer = s.recvfrom(65535)
    print(data.hex(), flush=True)
    if echo:
        s.sendto(b"echo:" + data, peer)
"""


def client_payloads(tag, count):
    return [("%s-%d-" % (tag, i)).encode() + bytes((i * 7 + j) & 0xFF for j in range(40 + 97 * i))
            for i in range(count)]


def start_server(lab, side, addr, port, count, echo, name):
    proc = lab.spawn(name, ["/usr/bin/python3", "-c", UDP_SERVER, addr, port, count,
                            "1" if echo else "0"], ns=side)
    out = lab.dir / f"{name}.out"
    deadline = time.monotonic() + 15
    while "ready" not in out.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"UDP server {name} did not start: "
                                 f"{(lab.dir / (name + '.err')).read_text()}")
        time.sleep(0.05)
    return proc, out


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--ikectl", required=True)
    ap.add_argument("--device", action="append", default=[])
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    ARGS = ap.parse_args()
    devices = ARGS.device or ["model"]
    preflight()

    from scapy.all import Ether, IP, UDP, Raw, rdpcap, wrpcap  # noqa: E402
    from scapy.layers.ipsec import ESP  # noqa: E402,F401

    lab = Lab()
    try:
        lab.build_network()
        for side in "ab":
            lab.start_charon(side)
        log(f"charons up in {lab.ns['a']} and {lab.ns['b']}")
        for child in CHILDREN:
            out = lab.swanctl("a", "--initiate", "--child", child, "--timeout", "30")
            assert "completed successfully" in out, out
        sas_a, sas_b = lab.child_sas("a"), lab.child_sas("b")
        assert set(sas_a) == set(CHILDREN) and set(sas_b) == set(CHILDREN), (sas_a, sas_b)
        for child, (prop, _, _) in CHILDREN.items():
            bits = prop[3:6]
            assert sas_a[child]["encr-alg"] == "AES_GCM_16", sas_a[child]
            assert sas_a[child]["encr-keysize"] == bits, sas_a[child]
            assert sas_a[child]["encap"] == "yes", sas_a[child]
            assert sas_a[child]["spi-in"] == sas_b[child]["spi-out"], (sas_a, sas_b)
            assert sas_a[child]["spi-out"] == sas_b[child]["spi-in"], (sas_a, sas_b)
        log("CHILD_SAs: " + ", ".join(
            f"{c} (in {sas_a[c]['spi-in']}, out {sas_a[c]['spi-out']}, "
            f"{sas_a[c]['encr-alg']}-{sas_a[c]['encr-keysize']})" for c in CHILDREN))

        # Keys: A initiated both CHILD_SAs, so A's outbound key is the initiator key. Both
        # charons log the same pair; check they agree.
        keys_a = parse_keys((lab.dir / "a" / "charon.log").read_text())
        keys_b = parse_keys((lab.dir / "b" / "charon.log").read_text())
        keys = {}
        for child in CHILDREN:
            spi_in, spi_out = int(sas_a[child]["spi-in"], 16), int(sas_a[child]["spi-out"], 16)
            ka = [k for k in keys_a if k["spi_in"] == spi_in and k["spi_out"] == spi_out]
            kb = [k for k in keys_b if k["spi_in"] == spi_out and k["spi_out"] == spi_in]
            assert len(ka) == 1 and len(kb) == 1, f"{child}: keys not found in charon logs"
            assert ka[0]["encr_i"] == kb[0]["encr_i"] and ka[0]["encr_r"] == kb[0]["encr_r"]
            expect = (16 if sas_a[child]["encr-keysize"] == "128" else 32) + 4
            assert len(ka[0]["encr_i"]) == expect, (child, len(ka[0]["encr_i"]))
            keys[child] = ka[0]
        log("keys: taken from both charon logs (chd 4), identical")

        # 1. Traffic with captures.
        esp_cap, esp_path = lab.start_capture("esp", "a", lab.veth["a"], "udp port 4500")
        tun_a, tun_a_path = lab.start_capture("tun-a", "a", "ipsec0")
        tun_b, tun_b_path = lab.start_capture("tun-b", "b", "ipsec0")
        for child, (_, a_in, b_in) in CHILDREN.items():
            srv, _ = start_server(lab, "b", b_in, ECHO_PORT, PACKETS_PER_CHILD, True,
                                  f"echo-{child}")
            res = lab.run("/usr/bin/python3", "-c", UDP_CLIENT, a_in, b_in, ECHO_PORT,
                          PACKETS_PER_CHILD, child, ns="a")
            assert res.stdout.strip() == "ok", res.stdout + res.stderr
            srv.wait(timeout=10)
        total = 2 * PACKETS_PER_CHILD * len(CHILDREN)
        for proc, path in ((esp_cap, esp_path), (tun_a, tun_a_path), (tun_b, tun_b_path)):
            lab.stop_capture(proc, path, total)
        esp_pkts = rdpcap(str(esp_path))
        tun_a_pkts = [bytes(p) for p in rdpcap(str(tun_a_path))]
        tun_b_pkts = [bytes(p) for p in rdpcap(str(tun_b_path))]
        log(f"captured {len(esp_pkts)} packets on {lab.veth['a']}, {len(tun_a_pkts)} on A's TUN, "
            f"{len(tun_b_pkts)} on B's TUN")

        # 2. + 3. Decrypt with espo, per CHILD_SA and direction, on every device.
        for child, (_, a_in, b_in) in CHILDREN.items():
            k = keys[child]
            cases = [
                # (name, SPI, outer src, outer dst, key, inner src, plaintext on the receiver)
                ("a->b", k["spi_out"], OUTER["a"], OUTER["b"], k["encr_i"], a_in, tun_b_pkts),
                ("b->a", k["spi_in"], OUTER["b"], OUTER["a"], k["encr_r"], b_in, tun_a_pkts),
            ]
            for name, spi, src, dst, key, inner_src, tun_pkts in cases:
                sa_file = lab.dir / f"{child}-{name.replace('>', '')}.sa"
                sa_file.write_text(sa_line(spi, "in", src, dst, key))
                expected = [p for p in tun_pkts if IP(p).src == inner_src]
                assert len(expected) == PACKETS_PER_CHILD, (child, name, len(expected))
                for device in devices:
                    out = lab.dir / f"{child}-{name.replace('>', '')}-{device}.pcap"
                    js = ikectl("process", "--sa", sa_file, "--dir", "in", "--in", esp_path,
                                "--out", out, "--device", device, "--json")
                    drops = js["dropped"]
                    assert js["emitted"] == PACKETS_PER_CHILD, (child, name, device, js)
                    assert drops["auth"] == drops["replay"] == drops["malformed"] == 0, js
                    inner = [bytes(p[IP]) for p in rdpcap(str(out))]
                    assert inner == expected, (f"{child} {name} {device}: espo's inner packets "
                                               "differ from the receiver's TUN capture")
                    if name == "a->b":
                        got = [bytes(IP(p)[UDP].payload) for p in inner]
                        assert got == client_payloads(child, PACKETS_PER_CHILD), "payloads"
                    log(f"decrypt {child} {name} SPI 0x{spi:08x} on {device}: "
                        f"{js['emitted']} inner packets == charon's TUN plaintext")

        # 4. espo encrypts, strongSwan decrypts.
        for child, (_, a_in, b_in) in CHILDREN.items():
            k = keys[child]
            for device in devices:
                seen = int(lab.child_sas("b")[child]["packets-in"])
                oseq = seen + 1000  # above everything B has seen; right of its replay window
                sa_file = lab.dir / f"{child}-inject-{device}.sa"
                sa_file.write_text(sa_line(k["spi_out"], "out", OUTER["a"], OUTER["b"],
                                           k["encr_i"], f"oseq {oseq}"))
                tag = f"espo-{device}-{child}"
                payloads = [f"{tag}-{i}".encode() * (i + 1) for i in range(INJECT_PER_DEVICE)]
                plain = [Ether(src=lab.mac["a"], dst=lab.mac["b"]) /
                         IP(src=a_in, dst=b_in, id=100 + i) /
                         UDP(sport=40000 + i, dport=INJECT_PORT) / Raw(p)
                         for i, p in enumerate(payloads)]
                plain_path = lab.dir / f"{child}-inject-{device}-plain.pcap"
                esp_out = lab.dir / f"{child}-inject-{device}-esp.pcap"
                wrpcap(str(plain_path), plain)
                js = ikectl("process", "--sa", sa_file, "--dir", "out", "--in", plain_path,
                            "--out", esp_out, "--device", device, "--json")
                assert js["emitted"] == INJECT_PER_DEVICE, js
                esp_frames = rdpcap(str(esp_out))
                seqs = [int.from_bytes(bytes(f[UDP].payload)[4:8], "big") for f in esp_frames]
                assert seqs == list(range(oseq + 1, oseq + 1 + INJECT_PER_DEVICE)), seqs
                srv, srv_out = start_server(lab, "b", b_in, INJECT_PORT, INJECT_PER_DEVICE,
                                            False, f"inject-{child}-{device}")
                lab.run("/usr/bin/python3", "-c",
                        "import sys; from scapy.all import rdpcap, sendp\n"
                        "sendp(rdpcap(sys.argv[1]), iface=sys.argv[2], verbose=0)",
                        esp_out, lab.veth["a"], ns="a")
                try:
                    srv.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
                received = [bytes.fromhex(ln) for ln in srv_out.read_text().split()[1:]]
                after = int(lab.child_sas("b")[child]["packets-in"])
                assert received == payloads, (f"{child} {device}: B's listener got "
                                              f"{len(received)} of {INJECT_PER_DEVICE} payloads")
                assert after - seen == INJECT_PER_DEVICE, (child, device, seen, after)
                log(f"inject {child} via {device}: seq {seqs[0]}..{seqs[-1]}, strongSwan "
                    f"packets-in {seen} -> {after}, {len(received)} payloads delivered")
        print(f"PASS: strongSwan interop ({', '.join(CHILDREN)}; devices {', '.join(devices)})")
        return 0
    except Exception:  # noqa: BLE001 - the test reports every failure the same way
        traceback.print_exc()
        for side in "ab":
            p = lab.dir / side / "charon.log"
            if p.exists():
                tail = [ln for ln in p.read_text(errors="replace").splitlines()
                        if "[CHD]    " not in ln][-15:]
                print(f"--- charon {side} log tail (key dumps omitted) ---\n" + "\n".join(tail))
        return 1
    finally:
        lab.teardown()


if __name__ == "__main__":
    sys.exit(main())
