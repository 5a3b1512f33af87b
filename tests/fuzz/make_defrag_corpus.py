#!/usr/bin/python3
"""Writes the seed corpus of fuzz_defrag: one file per scenario, each a script
of 8-byte fragment records in the format described at the top of
fuzz_defrag.cc. Run: /usr/bin/python3 tests/fuzz/make_defrag_corpus.py
The crash-* files beside the seeds are inputs the fuzzer once failed on; they
are kept as regression tests and this script leaves them alone."""

import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "defrag")


def rec(off, length, more, v6=False, expire=False, hbh=False, src=0, perturb=None, tscale=0,
        frag_id=0, tcp=False, option_words=0, tstep=1):
    """One fragment: offset in bytes (multiple of 8), payload length in bytes."""
    assert off % 8 == 0 and off // 8 < 0x2000 and length < 0x2000
    b0 = (v6 << 0) | (more << 1) | (expire << 2) | (hbh << 3) | (src << 4) | \
         ((perturb is not None) << 5) | (tscale << 6)
    b1 = (frag_id & 7) | (tcp << 3) | ((option_words & 3) << 4)
    return struct.pack(">BBHHBB", b0, b1, off // 8, length, perturb or 0, tstep)


def split(total, size, **kw):
    """Fragments of `size` bytes covering `total` bytes, in order."""
    out = []
    for off in range(0, total, size):
        n = min(size, total - off)
        out.append(rec(off, n, off + n < total, **kw))
    return out


SEEDS = {
    "ipv4_in_order": split(3000, 1000),
    "ipv4_reverse": split(2500, 800)[::-1],
    "ipv4_options_first_only": [rec(0, 800, True, option_words=2), rec(800, 800, True), rec(1600, 77, False)],
    "ipv6_in_order": split(3000, 1232, v6=True, frag_id=3),
    "ipv6_hop_by_hop_shuffled": [split(4000, 1000, v6=True, hbh=True)[i] for i in (2, 0, 3, 1)],
    "overlap_then_rest": [rec(0, 1000, True), rec(992, 1008, True), rec(1000, 1000, True), rec(2000, 500, False)],
    "duplicate_ipv6": [rec(1000, 1000, True, v6=True), rec(1000, 1000, True, v6=True),
                       rec(0, 1000, True, v6=True), rec(2000, 8, False, v6=True)],
    "timeout_then_retry": [rec(0, 1000, True), rec(0, 8, True, frag_id=1, tstep=200, tscale=3, expire=True),
                           rec(1000, 100, False)] + split(1100, 1000),
    "tracker_limit": [rec(0, 512, True, frag_id=i) for i in range(6)]
                     + [rec(512, 8, False, frag_id=i) for i in range(6)],
    "memory_limit": [rec(0, 8000, True), rec(8000, 8000, True), rec(16000, 100, False),
                     rec(0, 1000, True, v6=True), rec(1000, 8, False, v6=True)],
    "fragment_limit": split(80, 8) + split(64, 8, frag_id=1),
    "too_large": [rec(65512, 16, False), rec(0, 1000, True),
                  rec(0, 1000, True, v6=True, hbh=True, frag_id=2), rec(65520, 15, False, v6=True, frag_id=2)],
    "malformed": [rec(1000, 0, True), rec(0, 1001, True), rec(2000, 1000, False), rec(1000, 800, False),
                  rec(3000, 8, True), rec(0, 1000, True), rec(1000, 1000, True)],
    "perturbed": [rec(0, 1000, True, perturb=i, v6=bool(i & 1)) for i in range(8)] + split(2000, 1000),
    "atomic": [rec(0, 300, False), rec(0, 300, False, v6=True), rec(0, 300, False, v6=True, hbh=True)],
    "interleaved_families": [x for pair in zip(split(3000, 1000), split(3000, 1000, v6=True),
                                               split(3000, 1000, tcp=True), split(3000, 1000, src=1))
                             for x in pair],
    "expire_between": [rec(0, 1000, True, frag_id=i, tstep=10, tscale=3, expire=True) for i in range(8)]
                      + [rec(1000, 8, False, frag_id=7)],
    "zero_length_last": [rec(0, 1000, True), rec(2000, 0, False), rec(2000, 0, False), rec(1000, 1000, True)],
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, records in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(b"".join(records))
    print(f"wrote {len(SEEDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
