#!/usr/bin/env python3
"""Writes the seeds of fuzz_perf_wire to fuzz/corpus/perf_wire (byte 0 selects the parser, see
fuzz_perf_wire.cpp; the messages are tools/ndk/perf/wire.h's, little-endian as the tools send them)."""
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "perf_wire")
os.makedirs(out, exist_ok=True)
TCP, PEER, CTL, HELLO, BUF = 0x4E444B54, 0x4E444B50, 0x4E444B43, 0x4E444B48, 0x4E444B42
seeds = {
    "config_tcp": b"\x00" + b'{"tcp":true,"ndk":false}',
    "config_full": b"\x00" + b'{"ndk":true,"tcp":true,"max_size":65536,"outstanding":16,"inline":0,'
                             b'"poll":true,"qps":2,"bidir":true,"reverse_ports":[7175,7176]}',
    # byte 1: the max_size the target checks against (1 + byte << 18)
    "tcp_round": b"\x01\x00" + struct.pack("<6I2Q", TCP, 1, 0, 1, 1, 0, 64, 1000),
    "tcp_round_2p36": b"\x01\x00" + struct.pack("<6I2Q", TCP, 1, 0, 0, 0, 0, 1 << 36, 1),  # issue 16
    "tcp_quit": b"\x01\x00" + struct.pack("<6I2Q", TCP, 2, 0, 0, 0, 0, 0, 0),
    "peer_info": b"\x02" + struct.pack("<IIQQII", PEER, 7, 0x10000, 4096, 64, 0),
    "ctl_begin": b"\x03" + struct.pack("<4I3Q", CTL, 1, 0, 1, 4096, 100, 0),
    "ctl_credit": b"\x03" + struct.pack("<4I3Q", CTL, 5, 0, 0, 0, 0, 16),
    "hello": b"\x04\x01" + struct.pack("<IIQ", HELLO, 4, 64),
    "bufmsg": b"\x04\x00" + struct.pack("<IIQQQ", BUF, 7, 0x10000, 64, 0),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
