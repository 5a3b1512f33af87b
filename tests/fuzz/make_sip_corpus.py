#!/usr/bin/python3
"""Writes the seed corpus of fuzz_sip: one file per scenario, in the format described
at the top of fuzz_sip.cc (a config byte, then chunks separated by 0xFF, each a
control byte and SIP bytes). Run: /usr/bin/python3 tests/fuzz/make_sip_corpus.py
Files named crash-* beside the seeds are inputs the fuzzer once failed on; they are
kept as regression tests and this script leaves them alone."""

import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "sip")

KEEP, HASH, DROP = 0, 1, 2
UP, DOWN = 0, 1

OFFER = ("v=0\n"
         "o=user1 53655765 2353687637 IN IP4 192.168.1.1\n"
         "s=-\n"
         "c=IN IP4 192.168.1.1\n"
         "t=0 0\n"
         "m=audio 6000 RTP/AVP 0 8 101\n"
         "a=rtpmap:0 PCMU/8000\n"
         "a=rtpmap:101 telephone-event/8000\n")
ANSWER = ("v=0\n"
          "o=user2 1 2 IN IP4 192.168.1.2\n"
          "s=-\n"
          "t=0 0\n"
          "m=audio 6002 RTP/AVP 8\n"
          "c=IN IP4 192.168.1.2\n")
MULTI_SDP = ("v=0\n"
             "c=IN IP4 198.51.100.1/127\n"
             "m=audio 49170/2 RTP/AVP 0 97 18 96 13 3 4 9 15\n"
             "a=rtpmap:97 iLBC/8000\n"
             "a=rtpmap:96 opus/48000/2\n"
             "m=video 51372 RTP/SAVP 31 120\n"
             "c=IN IP6 2001:db8::7\n"
             "m=image 0 udptl t38\n"
             "m=audio 1 RTP/AVP 0\n"
             "m=audio 2 RTP/AVP 8\n")


def crlf(text):
    return text.replace("\n", "\r\n")


def message(start, headers, body=""):
    body = crlf(body)
    lines = [start] + headers
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return (crlf("\n".join(lines) + "\n\n") + body).encode()


class Dialog:
    def __init__(self, call_id="1-4242@192.168.1.1", user="sipp", callee="service"):
        self.call_id = call_id
        self.from_ = f"sipp <sip:{user}@192.168.1.1:5061>;tag=4242SIPpTag001"
        self.to = f"{callee} <sip:{callee}@192.168.1.2:5060>"
        self.to_tag = "1234SIPpTag012"

    def request(self, method, cseq, to_tag=False, body="", callee_sends=False):
        from_, to = self.from_, self.to + (f";tag={self.to_tag}" if to_tag else "")
        if callee_sends:
            from_, to = self.to + f";tag={self.to_tag}", self.from_
        return message(f"{method} sip:service@192.168.1.2:5060 SIP/2.0", [
            "Via: SIP/2.0/UDP 192.168.1.1:5061;branch=z9hG4bK-4242-1-0",
            f"From: {from_}", f"To: {to}", f"Call-ID: {self.call_id}", f"CSeq: {cseq} {method}",
            "Contact: sip:sipp@192.168.1.1:5061", "Max-Forwards: 70", "User-Agent: SIPp/3.6"], body)

    def response(self, status, reason, cseq, method, to_tag=True, body=""):
        return message(f"SIP/2.0 {status} {reason}", [
            "Via: SIP/2.0/UDP 192.168.1.1:5061;branch=z9hG4bK-4242-1-0;received=192.168.1.1",
            f"From: {self.from_}", f"To: {self.to}" + (f";tag={self.to_tag}" if to_tag else ""),
            f"Call-ID: {self.call_id}", f"CSeq: {cseq} {method}"], body)


def chunk(payload, direction=UP, expire=False, gap=False, step=1):
    """One chunk: control byte (see fuzz_sip.cc) then payload; 0xFF never appears in SIP text."""
    assert b"\xff" not in payload and 0 <= step < 32
    return bytes([direction | (expire << 1) | (gap << 2) | (step << 3)]) + payload


def seed(config, chunks, piece_seed=5):
    return bytes([config | (piece_seed << 2)]) + b"\xff".join(chunks)


def basic_call(d=None, callee_hangs_up=False):
    d = d or Dialog()
    bye = d.request("BYE", 1, True, callee_sends=True) if callee_hangs_up else d.request("BYE", 2, True)
    return [chunk(d.request("INVITE", 1, False, OFFER)),
            chunk(d.response(100, "Trying", 1, "INVITE", False), DOWN),
            chunk(d.response(180, "Ringing", 1, "INVITE"), DOWN),
            chunk(d.response(200, "OK", 1, "INVITE", True, ANSWER), DOWN),
            chunk(d.request("ACK", 1, True)),
            chunk(bye, DOWN if callee_hangs_up else UP, step=20),
            chunk(d.response(200, "OK", 2, "BYE"), UP if callee_hangs_up else DOWN)]


def split_bytes(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)]


D = Dialog()
INVITE = D.request("INVITE", 1, False, OFFER)
BYE = D.request("BYE", 2, True)
OPTIONS = message("OPTIONS sip:h SIP/2.0", ["i: o@h", "CSeq: 1 OPTIONS", "f: <sip:a@h>;tag=1", "t: <sip:h>"])

SEEDS = {
    "call_basic": seed(KEEP, basic_call()),
    "call_callee_hangup": seed(KEEP, basic_call(callee_hangs_up=True)),
    "call_privacy_hash": seed(HASH, basic_call()),
    "call_privacy_drop": seed(DROP, basic_call(Dialog(user="+15551234567"))),
    "call_busy": seed(KEEP, [chunk(INVITE), chunk(D.response(100, "Trying", 1, "INVITE", False), DOWN),
                             chunk(D.response(486, "Busy Here", 1, "INVITE"), DOWN), chunk(INVITE),
                             chunk(D.request("ACK", 1, True))]),
    "call_cancel": seed(KEEP, [chunk(INVITE), chunk(D.response(180, "Ringing", 1, "INVITE"), DOWN),
                               chunk(D.request("CANCEL", 1, False)),
                               chunk(D.response(200, "OK", 1, "CANCEL"), DOWN),
                               chunk(D.response(487, "Request Terminated", 1, "INVITE"), DOWN),
                               chunk(D.request("ACK", 1, True))]),
    "call_auth_retry": seed(KEEP, [chunk(D.request("INVITE", 1)),
                                   chunk(D.response(407, "Proxy Authentication Required", 1, "INVITE"), DOWN),
                                   chunk(D.request("ACK", 1, True)), chunk(D.request("INVITE", 2)),
                                   chunk(D.response(200, "OK", 2, "INVITE"), DOWN),
                                   chunk(D.request("BYE", 3, True))]),
    "call_auth_abandoned": seed(KEEP, [chunk(D.request("INVITE", 1)),
                                       chunk(D.response(401, "Unauthorized", 1, "INVITE"), DOWN),
                                       chunk(b"\r\n\r\n", step=31, expire=True)]),
    "call_reinvite": seed(KEEP, [chunk(INVITE), chunk(D.response(200, "OK", 1, "INVITE"), DOWN),
                                 chunk(D.request("INVITE", 2, True, OFFER)),
                                 chunk(D.response(491, "Request Pending", 2, "INVITE"), DOWN),
                                 chunk(D.request("BYE", 3, True))]),
    "call_setup_timeout": seed(KEEP, [chunk(INVITE), chunk(D.response(180, "Ringing", 1, "INVITE"), DOWN),
                                      chunk(b"\r\n", expire=True, step=31), chunk(b"\r\n", expire=True, step=31)]),
    "call_established_timeout": seed(KEEP, [chunk(INVITE), chunk(D.response(200, "OK", 1, "INVITE"), DOWN)]
                                     + [chunk(b"\r\n", expire=True, step=31) for _ in range(4)]),
    "table_full": seed(KEEP, [chunk(Dialog(call_id=f"c{i}@h").request("INVITE", 1)) for i in range(7)]
                       + [chunk(Dialog(call_id="c0@h").response(603, "Decline", 1, "INVITE"), DOWN),
                          chunk(Dialog(call_id="c9@h").request("INVITE", 1))]),
    "long_call_id": seed(KEEP, basic_call(Dialog(call_id="x" * 150 + "@h", user="u" * 120))),
    "compact_forms": seed(KEEP, [chunk(message("INVITE sip:bob@biloxi.example.com SIP/2.0", [
        "v: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKabc, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKlower",
        "f: \"A <x>\" <sip:alice@atlanta.example.com>;tag=aa", "t: sip:bob@biloxi.example.com",
        "i: compact@h", "CSeq:\n  7 INVITE", "P-Asserted-Identity: <sip:alice@a>, <tel:+15550001>",
        "User-Agent: Soft\n Phone 1.0"], OFFER))]),
    "tel_uris": seed(HASH, [chunk(message("INVITE tel:+15551234567 SIP/2.0", [
        "From: <tel:+15550001;phone-context=example.com>;tag=1", "To: <tel:+15551234567>",
        "P-Asserted-Identity: \"Alice\" <sip:alice:pw@a.example>", "Call-ID: tel@h", "CSeq: 1 INVITE"]))]),
    "sdp_many_media": seed(KEEP, [chunk(D.request("INVITE", 1, False, MULTI_SDP))]),
    "missing_headers": seed(KEEP, [chunk(message("OPTIONS sip:h SIP/2.0", ["CSeq: 1 OPTIONS", "f: <sip:a@h>", "t: <sip:h>"])),
                                   chunk(message("OPTIONS sip:h SIP/2.0", ["i: x", "f: <sip:a@h>", "t: <sip:h>"])),
                                   chunk(message("OPTIONS sip:h SIP/2.0", ["i: x", "CSeq: 1", "f: <sip:a@h>", "t: <sip:h>"])),
                                   chunk(message("OPTIONS sip:h SIP/2.0", ["i: x", "CSeq: 1 OPTIONS", "t: <sip:h>"])),
                                   chunk(message("OPTIONS sip:h SIP/2.0", ["i: x", "CSeq: 1 OPTIONS", "f: <sip:a@h"])),
                                   chunk(message("SIP/2.0 99 Low", ["i: x"]))]),
    "datagram_lengths": seed(KEEP, [chunk(OPTIONS.replace(b"Content-Length: 0\r\n\r\n",
                                                          b"Content-Length: 5\r\n\r\nhello world")),
                                    chunk(OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 50")),
                                    chunk(OPTIONS.replace(b"Content-Length: 0", b"Content-Length: x")),
                                    chunk(OPTIONS.replace(b"\r\n\r\n", b"\r\n"))]),
    "keepalives": seed(KEEP, [chunk(b"\r\n\r\n"), chunk(b"\r\n"), chunk(b"\r\n\r\n" + OPTIONS + b"\r\n\r\n")]),
    "tcp_pipelined": seed(KEEP, [chunk(INVITE + b"\r\n\r\n" + D.request("ACK", 1, True) + OPTIONS + BYE)]),
    "tcp_split": seed(KEEP, [chunk(p) for p in split_bytes(INVITE, 37)] + [chunk(BYE)]),
    "tcp_gap_in_body": seed(KEEP, [chunk(INVITE[:-40]), chunk(INVITE[-21:] + BYE, gap=True, step=2)]),
    "tcp_gap_in_head": seed(KEEP, [chunk(INVITE[:30]), chunk(INVITE[130:] + BYE, gap=True, step=10)]),
    "tcp_garbage_resync": seed(KEEP, [chunk(b"HELLO there\r\nthis is not SIP\r\n" + BYE),
                                      chunk(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + OPTIONS)]),
    "tcp_bad_length": seed(KEEP, [chunk(crlf("INFO sip:h SIP/2.0\ni: m@h\nl: 12x\n\nSome body\n").encode() + BYE),
                                  chunk(crlf("INFO sip:h SIP/2.0\ni: m@h\nl: 1\nl: 2\n\nab").encode() + BYE)]),
    "tcp_too_long_body": seed(KEEP, [chunk(crlf("MESSAGE sip:h SIP/2.0\ni: m@h\nCSeq: 1 MESSAGE\n"
                                                "f: <sip:a@h>;tag=1\nt: <sip:h>\nl: 700\n\n").encode()
                                           + b"z" * 700 + BYE)]),
    "tcp_too_long_head": seed(KEEP, [chunk(b"OPTIONS sip:h SIP/2.0\r\n" + b"X-Filler: " + b"h" * 600 + b"\r\n\r\n"
                                           + BYE)]),
    "tcp_lf_only": seed(KEEP, [chunk(OPTIONS.replace(b"\r\n", b"\n") + BYE.replace(b"\r\n", b"\n"))]),
    "two_directions_interleaved": seed(HASH, [chunk(p, UP if i % 2 == 0 else DOWN)
                                              for i, p in enumerate(split_bytes(INVITE + BYE, 90))]),
    "empty_and_tiny": seed(DROP, [chunk(b""), chunk(b"S"), chunk(b"SIP/2.0 "), chunk(b"INVITE sip:a SIP/2.0")]),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
