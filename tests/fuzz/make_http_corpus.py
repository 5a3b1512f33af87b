#!/usr/bin/python3
"""Writes the seed corpus of fuzz_http: one file per conversation, each a
script of records in the format described at the top of fuzz_http.cc
(byte 0 = url mode and split seed; records = control byte, length, bytes).
Run: python3 tests/fuzz/make_http_corpus.py
The crash-* files beside the seeds are inputs the fuzzer once failed on; they
are kept as regression tests and this script leaves them alone."""

import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "http")
C, S = 0, 1  # client to server, server to client
FIN, RST, DEPTH, FLOW_END = 0, 1, 2, 3


def data(direction, payload):
    """Data records of at most 255 bytes each."""
    if isinstance(payload, str):
        payload = payload.encode("latin-1")
    out = b""
    for off in range(0, len(payload), 255):
        part = payload[off:off + 255]
        out += bytes([direction, len(part)]) + part
    return out


def gap(direction, length):
    """A gap of length bytes (rounded down to 3k+1, the format's steps)."""
    return bytes([direction | 2, max(0, (length - 1) // 3)])


def end(direction, reason=FIN):
    return bytes([direction | 4 | (reason << 3), 0])


def get(path, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: h.example\r\nUser-Agent: ua/1\r\n{extra}\r\n"


def ok(body="", extra=""):
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n{body}"


CHUNKED = ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n")

SEEDS = {
    "simple": data(C, get("/a?b=c", "X-A: 1\r\n")) + data(S, ok("hello", "X-A: s\r\n")) + end(C) + end(S),
    "keep_alive": data(C, get("/1")) + data(S, ok("x")) + data(C, get("/2")) + data(S, ok("yy")),
    "pipelined": data(C, get("/1") + get("/2") + get("/3")) + data(S, ok("a") + ok("b") + ok("c")),
    "pipeline_overflow": data(C, get("/1") + get("/2") + get("/3") + get("/4") + get("/5")) +
                         data(S, ok() * 5),
    "post_length": data(C, "POST /p HTTP/1.1\r\nContent-Length: 7\r\n\r\npayload") + data(S, ok()),
    "post_chunked": data(C, "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n") +
                    data(S, "HTTP/1.1 204 No Content\r\n\r\n"),
    "chunked_trailers": data(C, get("/")) + data(S, CHUNKED),
    "close_delimited": data(C, "GET / HTTP/1.0\r\n\r\n") + data(S, "HTTP/1.0 200 OK\r\n\r\nuntil close") + end(S),
    "close_delimited_rst": data(C, get("/")) + data(S, "HTTP/1.1 200 OK\r\n\r\nabc") + end(S, RST),
    "head": data(C, "HEAD / HTTP/1.1\r\n\r\n" + get("/x")) + data(S, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + ok("z")),
    "continue": data(C, "PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n") +
                data(S, "HTTP/1.1 100 Continue\r\n\r\n") + data(C, "data") +
                data(S, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
    "no_body_codes": data(C, get("/a") + get("/b")) +
                     data(S, "HTTP/1.1 204 No\r\nContent-Length: 9\r\n\r\nHTTP/1.1 304 NM\r\n\r\n"),
    "websocket": data(C, get("/ws", "Upgrade: websocket\r\nConnection: Upgrade\r\n")) +
                 data(S, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi") +
                 data(C, "\x81\x82abcd"),
    "connect": data(C, "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n") +
               data(S, "HTTP/1.1 200 Connection established\r\n\r\n") + data(C, "\x16\x03\x01\x00\x05hello"),
    "connect_refused": data(C, "CONNECT h:443 HTTP/1.1\r\n\r\n") +
                       data(S, "HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n") + data(C, get("/after")),
    "gap_in_body": data(C, "POST /p HTTP/1.1\r\nContent-Length: 20\r\n\r\nab") + gap(C, 10) +
                   data(C, "cdefghij" + get("/n")) + data(S, ok("12")),
    "gap_in_request_head": data(C, "GET /lost HTTP/1.1\r\nHo") + gap(C, 13) + data(C, "x: y\r\n\r\n" + get("/f")) +
                           data(S, ok() + ok()),
    "gap_in_response_head": data(C, get("/a") + get("/b")) + data(S, "HTTP/1.1 200 OK\r\nCon") + gap(S, 7) +
                            data(S, "th: 1\r\n\r\nx" + ok("y")),
    "gap_in_chunk": data(C, get("/")) + data(S, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nab") +
                    gap(S, 7) + data(S, "\r\n0\r\n\r\n"),
    "gap_past_body": data(C, "POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\na") + gap(C, 16) +
                     data(C, "HTTP/1.1\r\n\r\n" + get("/n")),
    "gap_close_delimited": data(C, get("/")) + data(S, "HTTP/1.1 200 OK\r\n\r\nab") + gap(S, 100) +
                           data(S, "cd") + end(S),
    "bad_request_line": data(C, "\x16\x03\x01junk\r\nmore\r\n" + get("/ok")) + data(S, ok() + ok()),
    "bad_status_line": data(C, get("/a") + get("/b")) + data(S, "HTTP/2.0 200 OK\r\n\r\n" + ok()),
    "bad_header": data(C, "GET /a HTTP/1.1\r\nno colon\r\n\r\n" + get("/b")),
    "folded_header": data(C, "GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n") + data(S, ok()),
    "long_head": data(C, "GET /a HTTP/1.1\r\nX-Big: " + "x" * 200 + "\r\n\r\n" + get("/b")),
    "long_url": data(C, "GET /" + "u" * 150 + " HTTP/1.1\r\n\r\n" + get("/b")),
    "bad_length": data(C, "POST /a HTTP/1.1\r\nContent-Length: 1x\r\n\r\n" +
                       "POST /b HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n" +
                       "POST /c HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nzz"),
    "bad_encoding": data(C, "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" + get("/b")),
    "length_and_chunked": data(C, "POST /a HTTP/1.1\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "1\r\nx\r\n0\r\n\r\n"),
    "bad_chunk_size": data(C, get("/a") + get("/b")) +
                      data(S, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + ok()),
    "huge_chunk_size": data(C, get("/")) +
                       data(S, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n"),
    "bad_chunk_end": data(C, get("/")) + data(S, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc"),
    "long_trailers": data(C, get("/")) +
                     data(S, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " + "t" * 150 + "\r\n\r\n"),
    "response_first": data(S, ok("hi")) + data(C, get("/late")),
    "bare_lf": data(C, "\r\n\r\nGET /a HTTP/1.1\nHost: x\n\n") + data(S, "HTTP/1.1 200 OK\nContent-Length: 1\n\nz"),
    "truncated_heads": data(C, get("/a")) + data(S, "HTTP/1.1 200 OK\r\nCont") + end(S) +
                       data(C, "GET /b HT") + end(C, FLOW_END),
    "request_cut_by_end": data(C, "POST /p HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc") + end(C, DEPTH) + end(S),
    "status_anchor_mid_line": data(C, get("/a") + get("/b")) + data(S, "HTTP/1.1 200 OK\r\nX") + gap(S, 4) +
                              data(S, "junk tail" + ok("b")),
    "webdav_methods": data(C, "PROPFIND /d HTTP/1.1\r\nDepth: 1\r\n\r\n") + gap(C, 1) +
                      data(C, "xxPROPPATCH /d HTTP/1.1\r\n\r\n") + data(S, ok() + ok()),
    "absolute_form": data(C, "GET http://h.example/p?q=1#f HTTP/1.1\r\nhost: h.example\r\n\r\n") + data(S, ok()),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for i, (name, script) in enumerate(sorted(SEEDS.items())):
        header = bytes([(i % 3) | ((i * 4) & 0xfc)])  # url modes and split seeds vary
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(header + script)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
