#!/usr/bin/env python3
"""Seeds for fuzz_qp (fuzz/corpus/qp). Byte 0 = mode (bit 0: harness patches "STAG"/"VA_BASE_"
placeholders and recomputes CRCs), then the post-handshake stream of FPDUs."""
import os
import struct

out = os.path.join(os.path.dirname(__file__), "..", "corpus", "qp")
os.makedirs(out, exist_ok=True)


def fpdu(ulpdu: bytes) -> bytes:
    pad = (4 - ((2 + len(ulpdu)) & 3)) & 3
    return struct.pack(">H", len(ulpdu)) + ulpdu + b"\0" * pad + b"\0\0\0\0"  # CRC filled by harness


def send(msn: int, payload: bytes, op: int = 3, inv: bytes = b"\0\0\0\0") -> bytes:
    return bytes([0x41, 0x40 | op]) + inv + struct.pack(">III", 0, msn, 0) + payload


def write(payload: bytes) -> bytes:
    return bytes([0xC1, 0x40]) + b"STAG" + b"VA_BASE_" + payload


def read_req(msn: int, size: int) -> bytes:
    return (bytes([0x41, 0x41]) + b"\0\0\0\0" + struct.pack(">III", 1, msn, 0) +
            struct.pack(">IQI", 0x1234, 0, size) + b"STAG" + b"VA_BASE_")


seeds = {
    "send": b"\x01" + fpdu(send(1, b"hello")),
    "write": b"\x01" + fpdu(write(b"W" * 64)),
    "read_request": b"\x01" + fpdu(read_req(1, 64)),
    "write_send_read": b"\x01" + fpdu(write(b"x" * 100)) + fpdu(send(1, b"ping")) + fpdu(read_req(1, 32)) +
    fpdu(send(2, b"pong", op=5)),
    "send_invalidate": b"\x01" + fpdu(send(1, b"inv", op=4, inv=b"STAG")),
    "raw_bad_crc": b"\x00" + fpdu(send(1, b"crc")),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
