#!/usr/bin/python3
"""Writes the seed corpus of fuzz_dns: one file per scenario, each an 8-byte
control header (flags, gap offset and length, piece-size seed; see
fuzz_dns.cc) followed by a TCP stream of length-prefixed DNS messages laid out
as real ones are (dig with EDNS, compression into the question and rdata),
plus crafted hostile names: pointer loops, forward pointers, pointers into the
header, long pointer chains, over-long names, extended labels.
Run: /usr/bin/python3 tests/fuzz/make_dns_corpus.py"""

import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "dns")

A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, CAA, AXFR = 1, 2, 5, 6, 12, 15, 16, 28, 33, 257, 252
QUERY_RD, RESPONSE_RD_RA = 0x0100, 0x8180


class Msg:
    """A DNS message under construction; offsets are message offsets."""

    def __init__(self, ident, flags, qd, an, ns=0, ar=0):
        self.b = bytearray(struct.pack(">HHHHHH", ident, flags, qd, an, ns, ar))
        self.rdlength_at = 0

    def name(self, dotted, ptr=None):
        at = len(self.b)
        for label in (dotted.split(".") if dotted else []):
            self.b += bytes([len(label)]) + label.encode()
        self.b += struct.pack(">H", 0xC000 | ptr) if ptr is not None else b"\0"
        return at

    def question(self, dotted, qtype, qclass=1):
        self.name(dotted)
        self.b += struct.pack(">HH", qtype, qclass)
        return self

    def rr(self, rtype, ttl, rclass=1):
        self.b += struct.pack(">HHIH", rtype, rclass, ttl, 0)
        self.rdlength_at = len(self.b) - 2
        return self

    def raw(self, data):
        self.b += data
        return self

    def end_rdata(self):
        struct.pack_into(">H", self.b, self.rdlength_at, len(self.b) - self.rdlength_at - 2)
        return self

    def tcp(self):
        return struct.pack(">H", len(self.b)) + bytes(self.b)


def control(gap=False, to_client=False, gap_at=0, gap_len=1, seed=0x12345678):
    return struct.pack(">BHBI", gap | (to_client << 1), gap_at, gap_len - 1, seed)


def query(ident, dotted, qtype, flags=QUERY_RD):
    return Msg(ident, flags, 1, 0).question(dotted, qtype)


def a_response(ident, dotted, octets, qtype=A):
    r = Msg(ident, RESPONSE_RD_RA, 1, len(octets)).question(dotted, qtype)
    for o in octets:
        r.name("", 12)
        r.rr(A, 60).raw(bytes([192, 0, 2, o])).end_rdata()
    return r


def stream(*msgs):
    return b"".join(m.tcp() if isinstance(m, Msg) else m for m in msgs)


# dig www.example.com A and its answer, as captured (EDNS cookie, OPT in the answer).
DIG_QUERY = bytes.fromhex(
    "8c2f 0120 0001 0000 0000 0001"
    "03777777 076578616d706c65 03636f6d 00 0001 0001"
    "00 0029 1000 00000000 000c 000a0008 d51c1e7e4b3a9c02")
DIG_RESPONSE = bytes.fromhex(
    "8c2f 8180 0001 0001 0000 0001"
    "03777777 076578616d706c65 03636f6d 00 0001 0001"
    "c00c 0001 0001 00000c9f 0004 5db8d70e"
    "00 0029 04d0 00000000 0000")


def framed(raw):
    return struct.pack(">H", len(raw)) + raw


def cname_chain():
    r = Msg(0x1D3C, RESPONSE_RD_RA, 1, 3).question("www.microsoft.com", A)
    r.name("", 12)
    r.rr(CNAME, 3600)
    target1 = r.name("www.microsoft.com-c-3.edgekey.net")
    r.end_rdata()
    net = target1 + 4 + 10 + 8 + 8
    r.name("", target1)
    r.rr(CNAME, 900)
    target2 = r.name("e13678.dscb.akamaiedge", net)
    r.end_rdata()
    r.name("", target2)
    r.rr(A, 20).raw(bytes([23, 45, 232, 205])).end_rdata()
    return stream(query(0x1D3C, "www.microsoft.com", A), r)


def nxdomain():
    r = Msg(0x4242, 0x8183, 1, 0, 1, 0).question("nonexistent.example.com", A)
    r.name("", 24)
    r.rr(SOA, 3600)
    r.name("ns.icann.org")
    r.name("noc.dns", len(r.b) - 11)
    r.raw(struct.pack(">IIIII", 2024010101, 7200, 3600, 1209600, 3600)).end_rdata()
    return stream(query(0x4242, "nonexistent.example.com", A), r)


def aaaa():
    r = Msg(7, RESPONSE_RD_RA, 1, 1).question("example.com", AAAA)
    r.name("", 12)
    r.rr(AAAA, 300).raw(bytes.fromhex("26062800021fcb07682080daaf6b8b2c")).end_rdata()
    return stream(query(7, "example.com", AAAA), r)


def mixed_types():
    r = Msg(9, 0x8400, 1, 7).question("example.com", 255)
    r.name("", 12)
    r.rr(NS, 1)
    r.name("a.iana-servers.net")
    r.end_rdata()
    r.name("", 12)
    r.rr(PTR, 2)
    r.name("host", 12)
    r.end_rdata()
    r.name("", 12)
    r.rr(MX, 3).raw(struct.pack(">H", 10))
    r.name("mail", 12)
    r.end_rdata()
    r.name("", 12)
    r.rr(TXT, 4).raw(b"\x06v=spf1\x05 -all\x00").end_rdata()
    r.name("_sip._tcp", 12)
    r.rr(SRV, 5).raw(struct.pack(">HHH", 1, 50, 5060))
    r.name("sip", 12)
    r.end_rdata()
    r.name("", 12)
    r.rr(SOA, 6)
    r.name("ns", 12)
    r.name("admin", 12)
    r.raw(struct.pack(">IIIII", 1, 2, 3, 4, 5)).end_rdata()
    r.name("", 12)
    r.rr(CAA, 7).raw(b"\x00\x05issueletsencrypt.org").end_rdata()
    return stream(query(9, "example.com", 255), r)


def big_axfr():
    r = Msg(9, 0x8400, 1, 40).question("zone.example", AXFR)
    for i in range(40):
        r.name("h%d" % i, 12)
        r.rr(A, 3600).raw(bytes([10, 9, 0, i])).end_rdata()
    return stream(query(9, "zone.example", AXFR), r, a_response(10, "after.example", [1]))


def hostile_question(body, qd=1, flags=0):
    """A query whose question section is `body` (name and type/class as given)."""
    m = Msg(1, flags, qd, 0)
    m.raw(body)
    return m


def pointer_chain(hops):
    """A response whose second answer's owner name is a chain of `hops`
    pointers, each to the one before, down to the root question name at 12.
    The chain sits in the rdata of a first answer of an unassigned type."""
    r = Msg(3, RESPONSE_RD_RA, 1, 2).question("", A)
    r.name("")
    r.rr(0xFF00, 1)
    prev = 12
    for _ in range(hops - 1):
        at = len(r.b)
        r.raw(struct.pack(">H", 0xC000 | prev))
        prev = at
    r.end_rdata()
    r.name("", prev)
    r.rr(A, 1).raw(bytes([9, 9, 9, 9])).end_rdata()
    return r


def long_name(extra):
    labels = ["a" * 63, "b" * 63, "c" * 63, "d" * (61 + extra)]
    return query(4, ".".join(labels), A)


def loop_in_answer():
    r = Msg(4, RESPONSE_RD_RA, 1, 2).question("example.com", A)
    r.name("", 12)
    r.rr(A, 1).raw(bytes([1, 1, 1, 1])).end_rdata()
    at = len(r.b)
    r.raw(struct.pack(">H", 0xC000 | at))
    r.rr(A, 1).raw(bytes([2, 2, 2, 2])).end_rdata()
    return stream(query(4, "example.com", A), r)


def loop_in_rdata():
    r = Msg(5, RESPONSE_RD_RA, 1, 1).question("example.com", CNAME)
    r.name("", 12)
    r.rr(CNAME, 1)
    at = len(r.b)
    r.raw(b"\x01x" + struct.pack(">H", 0xC000 | at)).end_rdata()
    return stream(query(5, "example.com", CNAME), r)


def bad_rdata():
    r = Msg(8, RESPONSE_RD_RA, 1, 4).question("example.com", A)
    r.name("", 12)
    r.rr(A, 1).raw(bytes([1, 2, 3, 4, 5])).end_rdata()
    r.name("", 12)
    r.rr(CNAME, 1)
    r.name("x", 12)
    r.raw(b"\0").end_rdata()
    r.name("", 12)
    r.rr(TXT, 1).raw(b"\x09short").end_rdata()
    r.name("", 12)
    r.rr(MX, 1).raw(struct.pack(">H", 5)).end_rdata()
    return stream(query(8, "example.com", A), r)


def long_txt():
    r = Msg(8, RESPONSE_RD_RA, 1, 1).question("big.example", TXT)
    r.name("", 12)
    r.rr(TXT, 1)
    for c in b"abc":
        r.raw(bytes([120]) + bytes([c]) * 120)
    r.end_rdata()
    return stream(query(8, "big.example", TXT), r)


def truncated_answer():
    """Three A answers announced, the third cut inside its rdata."""
    r = a_response(0x8C2F, "www.example.com", [1, 2, 3])
    return stream(query(0x8C2F, "www.example.com", A), framed(bytes(r.b[:-3])))


def answer_text_full():
    """Answers with long owner names and TXT data: their text outgrows the harness's 1024 bytes."""
    name = ".".join(["a" * 63, "b" * 63, "c" * 63]) + ".example"
    r = Msg(6, RESPONSE_RD_RA, 1, 3).question(name, TXT)
    for c in b"xyz":
        r.name("", 12)
        r.rr(TXT, 1)
        r.raw(bytes([200]) + bytes([c]) * 200 + bytes([200]) + bytes([c]) * 200).end_rdata()
    return stream(query(6, name, TXT), r)


SEEDS = {
    "dig_a": control() + framed(DIG_QUERY) + framed(DIG_RESPONSE),
    "dig_a_to_client": control(to_client=True, seed=7) + framed(DIG_QUERY) + framed(DIG_RESPONSE),
    "aaaa": control(seed=1) + aaaa(),
    "nxdomain_soa": control(seed=2) + nxdomain(),
    "cname_chain": control(seed=3) + cname_chain(),
    "mixed_types": control(seed=4) + mixed_types(),
    "pointer_loop_self": control() + stream(hostile_question(b"\xc0\x0c\x00\x01\x00\x01")),
    "pointer_loop_two_names": control() + stream(
        hostile_question(b"\x01a\xc0\x10\x01b\xc0\x0c\x00\x01\x00\x01")),
    "pointer_loop_back_into_run": control() + stream(
        hostile_question(b"\x01a\xc0\x0c\xc0\x0c\x00\x01\x00\x01")),
    "pointer_loop_in_answer": control(seed=5) + loop_in_answer(),
    "pointer_loop_in_rdata": control(seed=6) + loop_in_rdata(),
    "pointer_forward": control() + stream(hostile_question(b"\xc0\x0e\x01a\x00\x00\x01\x00\x01")),
    "pointer_into_header": control() + stream(hostile_question(b"\xc0\x04\x00\x01\x00\x01")),
    "pointer_chain_128": control() + stream(pointer_chain(128)),
    "pointer_chain_129": control() + stream(pointer_chain(129)),
    "name_255": control() + stream(long_name(0), a_response(4, "a" * 63 + "." + "b" * 63, [4])),
    "name_256": control() + stream(long_name(1)),
    "bad_label_0x40": control() + stream(hostile_question(b"\x41a\x00\x00\x01\x00\x01")),
    "bad_label_0x80": control() + stream(hostile_question(b"\x01a\x80\x00\x00\x01\x00\x01")),
    "truncated_question": control() + stream(hostile_question(b"\x07example\x03co")),
    "truncated_type": control() + stream(hostile_question(b"\x07example\x03com\x00\x00")),
    "truncated_answer": control(seed=8) + truncated_answer(),
    "header_only": control() + stream(Msg(1, 0, 0, 0), Msg(1, 0x8180, 0, 0)),
    "qdcount0_formerr": control() + stream(query(0x55, "x.example", A), Msg(0x55, 0x8181, 0, 0)),
    "qdcount2": control() + stream(
        Msg(12, RESPONSE_RD_RA, 2, 0).question("first.example", A).question("second.example", AAAA)),
    "retransmit": control() + stream(query(3, "r.example", A), query(3, "r.example", A),
                                     a_response(3, "r.example", [3])),
    "case_insensitive": control() + stream(query(11, "wWw.ExAmPlE.cOm", A), a_response(11, "www.example.com", [11])),
    "pending_overflow": control(seed=9) + stream(*[query(i, "host%d.lan" % i, A) for i in range(7)],
                                                 a_response(6, "host6.lan", [6]), a_response(0, "host0.lan", [0])),
    "unanswered": control() + stream(query(1, "a.lan", A), query(2, "b.lan", AAAA), query(3, "c.lan", MX)),
    "response_alone": control() + stream(a_response(0x77, "alone.example", [1, 2])),
    "max_answers": control(seed=10) + stream(query(3, "pool.ntp.org", A), a_response(3, "pool.ntp.org", [1, 2, 3, 4, 5])),
    "big_axfr_capped": control(seed=11) + big_axfr(),
    "bad_rdata": control() + bad_rdata(),
    "long_txt": control() + long_txt(),
    "answer_text_full": control(seed=13) + answer_text_full(),
    "framing_short_prefix": control() + b"\x00\x05hello" + stream(query(1, "a.example", A)),
    "framing_zero_prefix": control() + b"\x00\x00" + stream(query(1, "a.example", A)),
    "incomplete_last": control() + stream(query(1, "a.example", A)) + query(2, "b.example", A).tcp()[:-3],
    "gap_inside_message": control(gap=True, gap_at=10, gap_len=5) + stream(query(1, "lost.example", A),
                                                                              query(2, "kept.example", A)),
    "gap_over_prefix": control(gap=True, gap_at=30, gap_len=3) + stream(query(1, "a.example", A),
                                                                         query(2, "b.example", A)),
    "gap_after_cap": control(gap=True, gap_at=620, gap_len=60, seed=12) + big_axfr(),
    "many_pieces": control(seed=0xDEADBEEF) + cname_chain() + aaaa() + nxdomain(),
    "notify": control() + stream(query(77, "zone.example", SOA, flags=0x2000), Msg(77, 0xA400, 1, 0)
                                 .question("zone.example", SOA)),
    "root_priming": control() + stream(query(1, "", NS), Msg(1, 0x8580, 1, 1).question("", NS)
                                       .raw(b"\x00").rr(NS, 518400).raw(b"\x01a\x0croot-servers\x03net\x00")
                                       .end_rdata()),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), OUT))


if __name__ == "__main__":
    main()
