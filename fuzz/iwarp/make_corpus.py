#!/usr/bin/env python3
"""Regenerates the seed corpora in fuzz/corpus/<target>/ from the captures in tests/iwarp/data.

mpa_frame: selector byte + each captured MPA frame.   fpdu: flags + chunk + FPDU stream after the frame.
terminate: every Terminate ULPDU found.               mpa_setup: selector + 'bytes' commands with frames.
"""
import os, struct, sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
data = os.path.join(root, "tests", "iwarp", "data")
out = os.path.join(root, "fuzz", "corpus")

def streams(path):
    b = open(path, "rb").read()
    at, res, nxt = 24, {}, {}
    while at + 16 <= len(b):
        incl = struct.unpack_from("<I", b, at + 8)[0]; at += 16
        p = b[at:at + incl]; at += incl
        if len(p) < 54 or p[12:14] != b"\x08\x00" or p[23] != 6: continue
        ihl = (p[14] & 15) * 4; tot = struct.unpack_from(">H", p, 16)[0]
        t = 14 + ihl; thl = (p[t + 12] >> 4) * 4
        key = (p[26:30], p[t:t + 2], p[30:34], p[t + 2:t + 4])
        seq = struct.unpack_from(">I", p, t + 4)[0]
        payload = p[t + thl:14 + tot]
        if p[t + 13] & 2: nxt[key] = seq + 1; continue
        if not payload: continue
        if nxt.get(key, seq) != seq: continue
        res[key] = res.get(key, b"") + payload; nxt[key] = seq + len(payload)
    return res

def write(target, name, blob):
    d = os.path.join(out, target); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), "wb").write(blob)

n = 0
for f in sorted(os.listdir(data)):
    full = os.path.join(data, f)
    if f.endswith(".bin"):
        raw = open(full, "rb").read()
        write("mpa_frame", f, b"\x00" + raw); write("mpa_frame", "rep-" + f, b"\x04" + raw)
        write("mpa_setup", f, b"\x80" + b"\x00" + bytes([len(raw)]) + raw + b"\x05\x01")
        continue
    if not f.endswith(".pcap"): continue
    crc_any = False
    for key, s in streams(full).items():
        if len(s) >= 20 and s[16] & 0x40: crc_any = True
    for i, (key, s) in enumerate(streams(full).items()):
        if len(s) < 20: continue
        flen = 20 + struct.unpack_from(">H", s, 18)[0]
        frame, rest = s[:flen], s[flen:]
        is_req = frame[:16] == b"MPA ID Req Frame"
        write("mpa_frame", f"{f}-{i}", (b"\x00" if is_req else b"\x04") + frame)
        sel = b"\x80" if is_req else b"\x00"
        write("mpa_setup", f"{f}-{i}", sel + b"\x00" + bytes([min(len(frame), 255)]) + frame[:255] + b"\x05\x02" +
              b"\x01" + bytes([min(len(rest), 255)]) + rest[:255])
        if rest:
            write("fpdu", f"{f}-{i}", bytes([1 if crc_any else 0, 0xFF]) + rest[:4096])
            write("fpdu", f"{f}-{i}-c7", bytes([3 if crc_any else 2, 6]) + rest[:4096])
            at = 0
            while at + 2 <= len(rest):
                u = struct.unpack_from(">H", rest, at)[0]
                ulpdu = rest[at + 2:at + 2 + u]
                if len(ulpdu) >= 2 and ulpdu[1] & 15 == 7:
                    write("terminate", f"{f}-{i}-{at}", ulpdu)
                at += 2 + u + ((4 - (2 + u) % 4) % 4) + 4
        n += 1
print("streams:", n)
