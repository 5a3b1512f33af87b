#!/usr/bin/python3
"""Writes the seed corpus of fuzz_tcp_reassembly: one file per scenario, each a
6-byte header (ISN, caps, depth) and a script of 6-byte records in the format
described at the top of fuzz_tcp_reassembly.cc.
Run: python3 tests/fuzz/make_tcp_reassembly_corpus.py
Files named crash-* beside the seeds are inputs the fuzzer once failed on; they
are kept as regression tests and this script leaves them alone."""

import os
import random
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "tcp_reassembly")

DATA, SYN, RST, ACK, CLOSE, CORRUPT = 0, 3, 4, 5, 6, 7
ROOMY = 0b11_11_11_11  # largest caps of every kind
TIGHT = 0b01_01_01_01


def header(isn=1000, caps=ROOMY, depth=0):
    return struct.pack(">IBB", isn, caps, depth)


def rec(kind, offset=0, length=0, stream=0, fin=False, tstep=1):
    b0 = (stream & 3) | (kind << 2) | (fin << 5)
    return struct.pack(">BHHB", b0, offset, length, tstep)


def syn(stream=0, offset=0, length=0):
    return rec(SYN, offset, length, stream)


def data(offset, length, stream=0, fin=False):
    return rec(DATA, offset, length, stream, fin)


def ack(offset, stream=0):
    return rec(ACK, offset, 0, stream)


def close(stream=0, rst=False):
    return rec(CLOSE, 0, 0, stream, tstep=1 if rst else 0)


def split(start, total, size, stream=0):
    out = []
    for off in range(start, start + total, size):
        out.append(data(off, min(size, start + total - off), stream))
    return out


def seeds():
    rng = random.Random(20240611)
    s = {}
    s["in_order"] = header() + b"".join([syn()] + split(1, 3000, 500) + [data(3001, 0, fin=True)])
    s["reverse"] = header() + b"".join([syn()] + split(1, 3000, 300)[::-1])
    s["one_byte_pieces"] = header() + b"".join([syn()] + split(1, 200, 1))
    s["shuffled"] = header() + b"".join([syn()] + rng.sample(split(1, 5000, 700), 8))
    s["duplicates"] = header() + b"".join([syn()] + split(1, 2000, 400) * 2 + [data(150, 900)])
    s["midstream_pickup"] = header() + b"".join(split(5000, 2000, 500) + [data(4000, 2000)])
    s["wrap"] = header(isn=0xFFFFF000) + b"".join([syn()] + split(1, 8000, 1000))
    s["wrap_shuffled"] = header(isn=0xFFFFFFF0) + b"".join([syn()] + rng.sample(split(1, 4000, 100), 40))
    s["wrap_at_isn"] = header(isn=0xFFFFFFFF) + b"".join([syn(), data(1, 10), data(20, 10), ack(25), close()])
    s["holes_acked"] = header() + b"".join([syn(), data(1, 100), data(300, 100), data(700, 50), ack(350), ack(800)])
    s["hole_closed"] = header() + b"".join([syn(), data(1, 100), data(300, 100), close()])
    s["hole_closed_rst"] = header() + b"".join([syn(), data(1, 100), data(300, 100), close(rst=True)])
    s["fin_ahead"] = header() + b"".join([syn(), data(200, 100, fin=True), data(1, 199)])
    s["fin_ahead_acked"] = header() + b"".join([syn(), data(200, 100, fin=True), ack(301)])
    s["data_past_fin"] = header() + b"".join([syn(), data(1, 50, fin=True), data(40, 100), data(51, 20)])
    s["fins_disagree"] = header() + b"".join([syn(), data(1, 50), data(100, 0, fin=True), data(90, 0, fin=True),
                                              data(20, 0, fin=True), close()])
    s["rst_releases"] = header() + b"".join([syn(), data(1, 10), data(50, 100), rec(RST, 11, 5)])
    s["rst_first"] = header() + b"".join([rec(RST, 0, 0), data(1, 10)])
    s["syn_resync"] = header() + b"".join([syn(), syn(offset=5000), data(5001, 100)])
    s["syn_with_data"] = header() + b"".join([syn(length=300), data(301, 300)])
    s["conflict_buffered"] = header() + b"".join([syn(), data(100, 100), rec(CORRUPT, 50, 200), data(1, 99)])
    s["conflict_delivered"] = header() + b"".join([syn(), data(1, 100), rec(CORRUPT, 1, 100), data(101, 10)])
    s["straddle"] = header() + b"".join([syn(), data(20, 5), data(40, 5), data(60, 5), data(10, 100), data(1, 9)])
    s["big_segments"] = header() + b"".join([syn(), data(4096, 4095), data(1, 4095), data(8191, 4095)])
    s["depth_limit"] = header(depth=10) + b"".join([syn()] + split(1, 3000, 200))
    s["depth_exact_fin"] = header(depth=2) + b"".join([syn(), data(1, 194, fin=True)])
    s["depth_with_gap"] = header(depth=1) + b"".join([syn(), data(1, 97), data(200, 10), close()])
    s["flow_segment_cap"] = header(caps=0b11_11_00_11) + b"".join([syn()] + [data(2 * i + 2, 1) for i in range(20)])
    s["flow_byte_cap"] = header(caps=0b11_11_11_00) + b"".join([syn(), data(100, 60), data(200, 60), data(300, 60)])
    s["flow_cap_too_big"] = header(caps=0b11_11_11_00) + b"".join([syn(), data(100, 65), data(1, 99)])
    s["flow_cap_inside_hole"] = header(caps=0b11_11_11_00) + b"".join([syn(), data(100, 60), data(20, 40)])
    s["worker_segment_cap"] = header(caps=0b00_11_11_11) + b"".join(
        [syn(st) for st in range(4)] + [data(10 + i, 1, st) for st in range(4) for i in (0, 5)])
    s["worker_block_cap"] = header(caps=0b11_00_11_11) + b"".join([syn(), data(10, 1), data(20, 1), data(30, 600)])
    s["tight_everything"] = header(caps=TIGHT) + b"".join(
        [syn(st) for st in range(4)] + [data(rng.randrange(1, 3000), rng.randrange(1, 300), rng.randrange(4))
                                        for _ in range(60)])
    s["four_streams_interleaved"] = header(isn=0x7FFFFF00) + b"".join(
        x for group in zip(*[[syn(st)] + split(1, 2000, 250, st)[::-1 if st % 2 else 1] for st in range(4)])
        for x in group)
    s["after_end"] = header() + b"".join([syn(), data(1, 10, fin=True), data(11, 10), data(1, 10), close()])
    s["close_twice"] = header() + b"".join([syn(), data(5, 5), close(), close(), data(1, 4)])
    s["acks_before_sync"] = header() + b"".join([ack(100), data(50, 10), ack(30), ack(60)])
    s["fin_only_first"] = header() + b"".join([data(10, 0, fin=True), data(10, 10)])
    for n in range(6):
        ops = [syn(st) for st in range(4) if rng.random() < 0.8]
        for _ in range(40):
            kind = rng.choice([DATA, DATA, DATA, DATA, ACK, CORRUPT, SYN, RST, CLOSE])
            ops.append(rec(kind, rng.randrange(0, 6000), rng.randrange(0, 1500), rng.randrange(4),
                           fin=rng.random() < 0.1, tstep=rng.randrange(256)))
        s[f"random_{n}"] = header(isn=rng.randrange(1 << 32), caps=rng.randrange(256),
                                  depth=rng.choice([0, 0, 5, 40])) + b"".join(ops)
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    written = seeds()
    for name, blob in written.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(blob)
    print(f"wrote {len(written)} seeds to {OUT}")


if __name__ == "__main__":
    main()
