#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Independent oracle for espo's ESP processing (driver/src/esp*.cpp).

Usage: esp_scapy_oracle.py DIR
  reads  DIR/cpp_packets.json (written by esp_oracle_tool write): for every case, decrypts the
         packet espo built with scapy.layers.ipsec.SecurityAssociation and checks the inner
         packet and the outer header fields (SPEC 4.1, 5.1, 12.2, 12.3);
  writes DIR/py_packets.json: the same inner packets encrypted by scapy (random IV, as a peer
         may choose), for esp_oracle_tool verify.
Exit status 1 if any packet disagrees.

What scapy does not cover, and how this script handles it:
  * AES-GCM with an 8- or 12-byte ICV: scapy's 'AES-GCM' uses cryptography's AESGCM (16-byte
    tags only). A CryptAlgo with the same framing but cryptography's modes.GCM (which takes a
    truncated tag) is registered instead; ESP framing, padding and the AAD remain scapy's code.
  * AES-GMAC (RFC 4543) is not in scapy: those cases are checked with python3-cryptography
    directly (tag = GCM(key, salt || iv, aad || iv || payload..next header, empty)), with ESP
    header parsing and padding done here.
  * scapy's transport-mode decrypt mishandles UDP encapsulation over IPv6, so the UDP header is
    checked here and removed before scapy decrypts (IP protocol / Next Header set to 50).
  * scapy 2.5 writes UDP length 8 into IPv4 NAT-T packets it encrypts; that one field is
    repaired before espo sees the packet (espo rightly drops a wrong UDP length as malformed).
  * scapy's tunnel mode builds outer headers with its own defaults, so espo's outer header
    rules (TTL 64, DSCP/ECN copy, DF, ID, flow label, checksums) are checked here field by field.
"""
import json
import os
import struct
import sys

from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from scapy.compat import raw
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting
from scapy.layers.ipsec import CRYPT_ALGOS, ESP, CryptAlgo, SecurityAssociation

FAILURES = []
SCAPY_UDP_LENGTH_FIXES = []


def fail(case, message):
    FAILURES.append("case %d: %s" % (case["id"], message))


def crypt_algo(icv):
    """scapy's 'AES-GCM', or a registered truncated-tag variant with the same ESP framing."""
    if icv == 16:
        return "AES-GCM"
    name = "AES-GCM-%d" % icv
    if name not in CRYPT_ALGOS:
        CRYPT_ALGOS[name] = CryptAlgo(
            name,
            cipher=algorithms.AES,
            mode=modes.GCM,
            salt_size=4,
            block_size=1,
            iv_size=8,
            icv_size=icv,
            format_mode_iv=lambda sa, iv, **kw: sa.crypt_salt + iv,
        )
    return name


def make_sa(case, tunnel_header=None, nat_t=False):
    key = bytes.fromhex(case["key_and_salt"])
    esn_hi = case["seq"] >> 32 if case["esn"] else 0
    kwargs = dict(
        crypt_algo=crypt_algo(case["icv"]),
        crypt_key=key,
        crypt_icv_size=case["icv"],
        auth_algo=None,
        esn_en=case["esn"],
        esn=esn_hi,
    )
    if tunnel_header is not None:
        kwargs["tunnel_header"] = tunnel_header
    if nat_t:
        kwargs["nat_t_header"] = UDP(sport=case["sport"], dport=case["dport"])
    return SecurityAssociation(ESP, spi=case["spi"], **kwargs)


def addr(hexstr, v6):
    b = bytes.fromhex(hexstr)
    if v6:
        import ipaddress
        return str(ipaddress.IPv6Address(b))
    return ".".join(str(x) for x in b)


def inner_tc(inner):
    return inner[1] if inner[0] >> 4 == 4 else ((inner[0] & 0x0F) << 4) | (inner[1] >> 4)


def strip_udp(case, pkt_bytes):
    """Checks the RFC 3948 UDP header and returns the packet with it removed (protocol 50)."""
    v6 = case["outer_v6"]
    pkt = IPv6(pkt_bytes) if v6 else IP(pkt_bytes)
    udp = pkt[UDP]
    if udp.sport != case["sport"] or udp.dport != case["dport"]:
        fail(case, "UDP ports %d/%d" % (udp.sport, udp.dport))
    if udp.len != len(udp):
        fail(case, "UDP length %d != %d" % (udp.len, len(udp)))
    if not v6 and udp.chksum != 0:
        fail(case, "IPv4 UDP checksum must be 0, got %#x" % udp.chksum)
    if v6:
        clone = IPv6(pkt_bytes)
        stored = clone[UDP].chksum
        del clone[UDP].chksum
        recomputed = IPv6(raw(clone))[UDP].chksum
        if stored == 0 or stored != recomputed:
            fail(case, "IPv6 UDP checksum %#x, scapy computes %#x" % (stored, recomputed))
    ip_len = len(pkt_bytes) - len(raw(udp))
    header = bytearray(pkt_bytes[:ip_len])
    esp = raw(udp.payload)
    if v6:
        header[6] = 50  # UDP-ESP is never behind extension headers in these cases
        struct.pack_into("!H", header, 4, len(header) - 40 + len(esp))
        return IPv6(bytes(header) + esp)
    header[9] = 50
    struct.pack_into("!H", header, 2, len(header) + len(esp))
    struct.pack_into("!H", header, 10, 0)
    p = IP(bytes(header) + esp)
    del p.chksum
    return IP(raw(p))


def check_outer(case, pkt_bytes, inner):
    v6 = case["outer_v6"]
    pkt = IPv6(pkt_bytes) if v6 else IP(pkt_bytes)
    proto = 17 if case["udp"] else 50
    tunnel = case["mode"] == "tunnel"
    if v6:
        if tunnel:
            if pkt.nh != proto or pkt.hlim != 64 or pkt.fl != 0 or pkt.tc != inner_tc(inner):
                fail(case, "outer IPv6 fields nh=%d hlim=%d fl=%d tc=%#x" %
                     (pkt.nh, pkt.hlim, pkt.fl, pkt.tc))
        if pkt.plen != len(pkt_bytes) - 40:
            fail(case, "IPv6 payload length %d" % pkt.plen)
    else:
        clone = IP(pkt_bytes)
        stored = clone.chksum
        del clone.chksum
        if IP(raw(clone)).chksum != stored:
            fail(case, "outer IPv4 checksum")
        if pkt.len != len(pkt_bytes) or pkt.proto != proto:
            fail(case, "outer IPv4 len/proto %d/%d" % (pkt.len, pkt.proto))
        if tunnel:
            inner_df = (inner[6] & 0x40) != 0 if inner[0] >> 4 == 4 else True
            if (pkt.ttl != 64 or pkt.tos != inner_tc(inner) or pkt.id != 0x4242 or
                    bool(pkt.flags.DF) != inner_df or pkt.frag != 0 or pkt.ihl != 5):
                fail(case, "outer IPv4 fields ttl=%d tos=%#x id=%#x flags=%s" %
                     (pkt.ttl, pkt.tos, pkt.id, pkt.flags))
    if tunnel and (pkt.src != addr(case["src"], v6) or pkt.dst != addr(case["dst"], v6)):
        fail(case, "outer addresses %s -> %s" % (pkt.src, pkt.dst))
    esp = pkt[ESP]
    if esp.spi != case["spi"] or esp.seq != case["seq"] & 0xFFFFFFFF:
        fail(case, "ESP spi/seq %#x/%d" % (esp.spi, esp.seq))
    if esp.data[:8] != struct.pack("!Q", case["seq"]):
        fail(case, "IV is not the 64-bit sequence number: %s" % esp.data[:8].hex())


def gmac_open(case, esp_bytes):
    key = bytes.fromhex(case["key_and_salt"])
    spi, seq_lo = struct.unpack("!II", esp_bytes[:8])
    aad = struct.pack("!II", spi, case["seq"] >> 32) if case["esn"] else struct.pack("!I", spi)
    aad += struct.pack("!I", seq_lo)
    iv, body, icv = esp_bytes[8:16], esp_bytes[16:-16], esp_bytes[-16:]
    tag = AESGCM(key[:-4]).encrypt(key[-4:] + iv, b"", aad + iv + body)
    if tag != icv:
        return None
    return body


def gmac_seal(case, payload, next_header, iv):
    key = bytes.fromhex(case["key_and_salt"])
    pad = -(len(payload) + 2) % 4
    body = payload + bytes(range(1, pad + 1)) + bytes([pad, next_header])
    seq = case["seq"]
    hdr = struct.pack("!II", case["spi"], seq & 0xFFFFFFFF)
    aad = struct.pack("!III", case["spi"], seq >> 32, seq & 0xFFFFFFFF) if case["esn"] else hdr
    tag = AESGCM(key[:-4]).encrypt(key[-4:] + iv, b"", aad + iv + body)
    return hdr + iv + body + tag


def transport_split(inner_bytes):
    """(header bytes, next header, payload) where ESP goes, per scapy's split_for_transport."""
    from scapy.layers.ipsec import split_for_transport
    pkt = IPv6(inner_bytes) if inner_bytes[0] >> 4 == 6 else IP(inner_bytes)
    header, nh, payload = split_for_transport(pkt, 50)
    return header, nh, raw(payload)


def check_cpp_packet(case):
    pkt_bytes = bytes.fromhex(case["packet"])
    inner = bytes.fromhex(case["inner"])
    check_outer(case, pkt_bytes, inner)
    v6 = case["outer_v6"]
    pkt = strip_udp(case, pkt_bytes) if case["udp"] else (IPv6(pkt_bytes) if v6 else IP(pkt_bytes))
    tunnel = case["mode"] == "tunnel"
    if case["alg"] == "gmac":
        body = gmac_open(case, raw(pkt[ESP]))
        if body is None:
            fail(case, "GMAC tag mismatch")
            return
        pad, nh = body[-2], body[-1]
        if body[-2 - pad:-2] != bytes(range(1, pad + 1)):
            fail(case, "GMAC padding")
        payload = body[:-2 - pad]
        if tunnel:
            if payload != inner or nh != (41 if inner[0] >> 4 == 6 else 4):
                fail(case, "GMAC inner packet / next header differs")
            return
        _, expected_nh, expected_payload = transport_split(inner)
        if payload != expected_payload or nh != expected_nh:
            fail(case, "GMAC transport payload/next header")
        return
    tunnel_header = (IPv6() if v6 else IP()) if tunnel else None
    sa = make_sa(case, tunnel_header)
    work = pkt.__class__(raw(pkt))  # decrypt() mutates its argument
    try:
        out = sa.decrypt(work)
    except Exception as exc:  # noqa: BLE001 - any scapy failure is a disagreement
        fail(case, "scapy decrypt failed: %r" % exc)
        return
    if raw(out) != inner:
        fail(case, "inner packet differs:\n  got  %s\n  want %s" % (raw(out).hex(), inner.hex()))


def scapy_packet(case):
    inner = bytes.fromhex(case["inner"])
    v6 = case["outer_v6"]
    tunnel = case["mode"] == "tunnel"
    iv = os.urandom(8)
    if case["alg"] == "gmac":
        if tunnel:
            esp = gmac_seal(case, inner, 41 if inner[0] >> 4 == 6 else 4, iv)
            src, dst = addr(case["src"], v6), addr(case["dst"], v6)
            outer = IPv6(src=src, dst=dst, tc=inner_tc(inner)) if v6 else IP(
                src=src, dst=dst, tos=inner_tc(inner))
        else:
            header, nh, payload = transport_split(inner)
            esp = gmac_seal(case, payload, nh, iv)
            outer = header
        if case["udp"]:
            outer = outer / UDP(sport=case["sport"], dport=case["dport"], chksum=0)
        return _attach(outer, esp)
    src, dst = addr(case["src"], v6), addr(case["dst"], v6)
    tunnel_header = None
    if tunnel:
        tunnel_header = IPv6(src=src, dst=dst, tc=inner_tc(inner)) if v6 else IP(
            src=src, dst=dst, tos=inner_tc(inner))
    sa = make_sa(case, tunnel_header, nat_t=case["udp"])
    pkt = IPv6(inner) if inner[0] >> 4 == 6 else IP(inner)
    out = raw(sa.encrypt(pkt, seq_num=case["seq"] & 0xFFFFFFFF, iv=iv))
    if case["udp"] and not v6:
        # scapy 2.5 freezes the IPv4 NAT-T UDP length at 8 (it rebuilds the IP header before the
        # ESP payload is attached); repair only that field so the rest stays scapy's work.
        data = bytearray(out)
        ihl = (data[0] & 0x0F) * 4
        if struct.unpack_from("!H", data, ihl + 4)[0] != len(data) - ihl:
            struct.pack_into("!H", data, ihl + 4, len(data) - ihl)
            SCAPY_UDP_LENGTH_FIXES.append(case["id"])
        out = bytes(data)
    return out


def _attach(outer, esp_bytes):
    """outer header chain (ending in UDP or with ESP next) + raw ESP bytes, lengths fixed."""
    data = raw(outer) + esp_bytes
    data = bytearray(data)
    if data[0] >> 4 == 4:
        ihl = (data[0] & 0x0F) * 4
        data[9] = 17 if outer.haslayer(UDP) else 50
        struct.pack_into("!H", data, 2, len(data))
        struct.pack_into("!H", data, 10, 0)
        p = IP(bytes(data))
        del p.chksum
        if outer.haslayer(UDP):
            struct.pack_into("!H", data, ihl + 4, len(data) - ihl)
            p = IP(bytes(data))
            del p.chksum
        return raw(p)
    struct.pack_into("!H", data, 4, len(data) - 40)
    if outer.haslayer(UDP):
        udp_off = len(raw(outer)) - 8
        struct.pack_into("!H", data, udp_off + 4, len(data) - udp_off)
        data[6] = 17  # no extension headers with UDP in these cases
    else:
        # ESP goes where split_for_transport put it: the last header's Next Header is 50.
        nh_off = _last_next_header_offset(bytes(data), len(raw(outer)))
        data[nh_off] = 50
    return bytes(data)


def _last_next_header_offset(data, esp_off):
    off, field, nh = 40, 6, data[6]
    while off < esp_off:
        field = off
        length = 8 if nh == 44 else (data[off + 1] + 1) * 8
        nh = data[off]
        off += length
    return field


def main():
    workdir = sys.argv[1]
    with open(os.path.join(workdir, "cpp_packets.json")) as f:
        cases = json.load(f)
    out = []
    for case in cases:
        check_cpp_packet(case)
        try:
            pkt = scapy_packet(case)
        except Exception as exc:  # noqa: BLE001
            fail(case, "scapy encrypt failed: %r" % exc)
            continue
        what = "%s %s%s icv%d%s%s" % (case["mode"], case["alg"], " v6" if case["outer_v6"] else
                                      " v4", case["icv"], " esn" if case["esn"] else "",
                                      " udp" if case["udp"] else "")
        out.append({"id": case["id"], "seq": case["seq"], "packet": pkt.hex(),
                    "inner": case["inner"], "what": what})
    with open(os.path.join(workdir, "py_packets.json"), "w") as f:
        json.dump(out, f, indent=1)
    n_gmac = sum(1 for c in cases if c["alg"] == "gmac")
    print("esp_scapy_oracle: %d espo packets checked (%d GCM via scapy, %d GMAC via "
          "python3-cryptography), %d packets written, %d disagreements" %
          (len(cases), len(cases) - n_gmac, n_gmac, len(out), len(FAILURES)))
    if SCAPY_UDP_LENGTH_FIXES:
        print("  (repaired scapy's IPv4 NAT-T UDP length in %d packets)" %
              len(SCAPY_UDP_LENGTH_FIXES))
    for line in FAILURES[:50]:
        print("  " + line)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
