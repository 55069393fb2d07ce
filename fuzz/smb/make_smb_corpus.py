#!/usr/bin/env python3
"""Seed corpus of fuzz_smbd_messages / fuzz_smb2_responses from an SMB Direct capture.

Reads the TCP payloads of an iWARP (MPA v2, no markers) connection to port 5445 as dumped by
  tshark -r CAP -T fields -e tcp.srcport -e tcp.seq -e tcp.payload 'tcp.len>0' > seg.txt
reassembles the server's byte stream, walks its FPDUs and writes every untagged Send payload
(one SMBD message each) to OUT/smbd-NNN and every reassembled SMB2 response to OUT/smb2-NNN.
"""
import struct
import sys


def stream(lines, port):
    segs = {}
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3 or parts[0] != port:
            continue
        segs[int(parts[1])] = bytes.fromhex(parts[2])
    out = bytearray()
    for seq in sorted(segs):
        if seq - 1 == len(out):
            out += segs[seq]
        elif seq - 1 < len(out):  # retransmission overlap
            d = segs[seq]
            out += d[len(out) - (seq - 1):]
    return bytes(out)


def sends(data):
    # MPA reply frame: 16-byte key, flags/rev, 2-byte private data length, private data.
    pd_len = struct.unpack(">H", data[18:20])[0]
    pos = 20 + pd_len
    while pos + 2 <= len(data):
        ulpdu = struct.unpack(">H", data[pos:pos + 2])[0]
        fpdu = 2 + ulpdu
        fpdu += (-fpdu) % 4
        body = data[pos + 2:pos + 2 + ulpdu]
        pos += fpdu + 4  # pad and CRC
        if len(body) < 2 or body[0] & 0x80:  # tagged (RDMA Write / Read Response)
            continue
        opcode = body[1] & 0x0F
        if opcode in (3, 4, 5, 6):  # Send, Send with Invalidate, with SE
            yield body[18:]


def main():
    seg, out = sys.argv[1], sys.argv[2]
    lines = open(seg).read().splitlines()
    msgs = list(sends(stream(lines, "5445")))
    smb2 = []
    pending = b""
    for i, m in enumerate(msgs):
        open(f"{out}/smbd-{i:03d}", "wb").write(m)
        if len(m) < 32:
            continue
        if i == 0:
            continue  # the negotiate response
        remaining, off, length = struct.unpack("<III", m[8:20])
        if length:
            pending += m[off:off + length]
        if remaining == 0 and pending:
            smb2.append(pending)
            pending = b""
    for i, s in enumerate(smb2):
        open(f"{out}/smb2-{i:03d}", "wb").write(s)
    print(f"{len(msgs)} SMBD messages, {len(smb2)} SMB2 responses")


if __name__ == "__main__":
    main()
