#!/usr/bin/python3
"""Writes the seed corpus of fuzz_tls: one file per scenario, each a TLS
connection in the format described at the top of fuzz_tls.cc (flags byte,
client length, gap position, client bytes, server bytes).
Run: /usr/bin/python3 tests/fuzz/make_tls_corpus.py
The two captured conversations are the ones pinned in
tests/unit/proto/tls/tls_captured.h (curl and openssl s_client against a local
openssl s_server). Files named crash-* beside the seeds are inputs the fuzzer
once failed on; they are kept as regression tests and this script leaves them
alone."""

import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "tls")

CURL_CLIENT = (
    "1603010200010001fc0303d278933794d6d460234453d0969d20ee96784fe2b58c230d2730fb414abace12203b3fd079"
    "b87d2f4e2f2c44d1e57d4616de674748d2007a52c41f37735078e280003e130213031301c02cc030009fcca9cca8ccaa"
    "c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff01000175"
    "00000011000f00000c6578616d706c652e74657374000b000403000102000a00160014001d0017001e00190018010001"
    "010102010301040010000b000908687474702f312e31001600000017000000310000000d002a00280403050306030807"
    "08080809080a080b080408050806040105010601030303010302040205020602002b0009080304030303020301002d00"
    "020101003300260024001d00204dd3fb7c1d77b0c8e2b2dc0784a8eec2446807ebdee92426bed4b8ca5bb13055001500"
    "b4" + "00" * 180)
CURL_SERVER = (
    "160303007a0200007603039c60708b5f41709b1013cbb98c355f74132ea94ab0fc865f780c42eff64bcd1d203b3fd079"
    "b87d2f4e2f2c44d1e57d4616de674748d2007a52c41f37735078e280130200002e002b0002030400330024001d002095"
    "e548404ce29f756bfc8a150bfad0992c8de89daf3aa2c13e3ffa5e677c863014030300010117030300260ae02122c525"
    "a4dbf9a36f084af958")

HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def u16(v):
    return struct.pack(">H", v)


def ext(t, data):
    return u16(t) + u16(len(data)) + data


def sni(name):
    n = name.encode()
    return ext(0, u16(len(n) + 3) + b"\x00" + u16(len(n)) + n)


def alpn(protocols):
    lst = b"".join(bytes([len(p)]) + p.encode() for p in protocols)
    return ext(16, u16(len(lst)) + lst)


def u16_list_ext(t, values):
    return ext(t, u16(2 * len(values)) + b"".join(u16(v) for v in values))


def versions(values):
    return ext(43, bytes([2 * len(values)]) + b"".join(u16(v) for v in values))


def client_hello_body(version, ciphers, exts, with_ext=True):
    b = u16(version) + bytes(range(32)) + b"\x20" + bytes(range(64, 96))
    b += u16(2 * len(ciphers)) + b"".join(u16(c) for c in ciphers) + b"\x01\x00"
    if with_ext:
        block = b"".join(exts)
        b += u16(len(block)) + block
    return b


def server_hello_body(version, cipher, exts, random=b"\x11" * 32):
    block = b"".join(exts)
    return u16(version) + random + b"\x00" + u16(cipher) + b"\x00" + u16(len(block)) + block


def handshake(t, body):
    return bytes([t]) + struct.pack(">I", len(body))[1:] + body


def records(payload, fragment=16384, ctype=22, version=0x0301):
    out = b""
    for pos in range(0, len(payload), fragment):
        chunk = payload[pos:pos + fragment]
        out += bytes([ctype]) + u16(version) + u16(len(chunk)) + chunk
    return out


def seed(client, server, flags=0, gap=0):
    return bytes([flags]) + u16(len(client)) + bytes([gap]) + client + server


CHROME_LIKE = client_hello_body(0x0303, [0x5a5a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xcca9, 0x009c, 0x002f], [
    ext(0xdada, b""), ext(45, b"\x01\x01"), ext(51, b"\x00\x02\x00\x00"), alpn(["h2", "http/1.1"]),
    ext(23, b""), sni("www.example.com"), ext(11, b"\x01\x00"), u16_list_ext(10, [0x8a8a, 29, 23, 24]),
    versions([0x1a1a, 0x0304, 0x0303]), ext(65281, b"\x00"), ext(35, b""),
    u16_list_ext(13, [0x0403, 0x0804, 0x0401, 0x0503]), ext(0xeaea, b"\x00")])
CH = records(handshake(1, CHROME_LIKE))
SH12 = records(handshake(2, server_hello_body(0x0303, 0xc02f, [ext(65281, b"\x00"), ext(11, b"\x01\x00")])), 16384,
               22, 0x0303)
SH13 = records(handshake(2, server_hello_body(0x0303, 0x1301, [ext(43, b"\x03\x04"), ext(51, b"\x00\x1d")])),
               16384, 22, 0x0303)
HRR = records(handshake(2, server_hello_body(0x0303, 0x1302, [ext(43, b"\x03\x04"), ext(51, b"\x00\x17")],
                                             HRR_RANDOM)), 16384, 22, 0x0303)
CCS = records(b"\x01", 16384, 20, 0x0303)
APP = records(b"\xaa" * 40, 16384, 23, 0x0303)


def corrupt(data, offset, value):
    b = bytearray(data)
    b[offset] = value
    return bytes(b)


SEEDS = {
    "curl_tls13": seed(bytes.fromhex(CURL_CLIENT), bytes.fromhex(CURL_SERVER)),
    "curl_tls13_end_each": seed(bytes.fromhex(CURL_CLIENT), bytes.fromhex(CURL_SERVER), flags=0x10),
    "curl_small_ja3": seed(bytes.fromhex(CURL_CLIENT), bytes.fromhex(CURL_SERVER), flags=0x02),
    "curl_too_long": seed(bytes.fromhex(CURL_CLIENT), bytes.fromhex(CURL_SERVER), flags=0x01),
    "curl_client_gap": seed(bytes.fromhex(CURL_CLIENT), bytes.fromhex(CURL_SERVER), flags=0x04, gap=100),
    "curl_server_gap_late": seed(bytes.fromhex(CURL_CLIENT), bytes.fromhex(CURL_SERVER), flags=0x08, gap=250),
    "chrome_like_tls13": seed(CH, SH13 + CCS + APP),
    "chrome_like_split_records": seed(records(handshake(1, CHROME_LIKE), 13), SH13, flags=0x20),
    "chrome_like_split_records_1": seed(records(handshake(1, CHROME_LIKE), 1), SH13, flags=0x40),
    "tls12": seed(CH, SH12 + records(b"\x0b" + b"\x00" * 30, 16384, 22, 0x0303)),
    "hello_retry": seed(CH, HRR + CCS),
    "client_only": seed(CH, b""),
    "server_only": seed(b"", SH12),
    "server_first_order": seed(CH, SH13, flags=0xe0),
    "no_extensions": seed(records(handshake(1, client_hello_body(0x0301, [4, 5, 10], [], False))),
                          records(handshake(2, server_hello_body(0x0301, 5, [])[:-2]))),
    "no_ciphers": seed(records(handshake(1, client_hello_body(0x0303, [], [u16_list_ext(13, [0x0403])]))), b""),
    "many_alpn": seed(records(handshake(1, client_hello_body(0x0303, [0x1301], [alpn(["p%d" % i for i in range(12)])]))),
                      SH13),
    "odd_alpn": seed(records(handshake(1, client_hello_body(0x0303, [0x1301], [alpn(["\x01x-", "h2"]), sni("a")]))),
                     SH13),
    "many_versions": seed(records(handshake(1, client_hello_body(0x0303, [0x1301], [versions(list(range(0x7f00, 0x7f14)))]))),
                          SH13),
    "many_ciphers": seed(records(handshake(1, client_hello_body(0x0303, list(range(0x100, 0x100 + 600)), []))), b""),
    "many_extensions": seed(records(handshake(1, client_hello_body(0x0303, [0x2f], [ext(t, b"") for t in range(0x100, 0x100 + 120)]))),
                            b""),
    "sslv2": seed(bytes.fromhex("802e0103010015000000100000390000380000350000160000130000") + b"\x01" * 16, SH12),
    "alert_reply": seed(CH, records(b"\x02\x46", 16384, 21, 0x0303)),
    "app_data_first": seed(APP, APP),
    "ccs_first": seed(CCS + CH, b""),
    "http_text": seed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n"),
    "alert_inside_split_hello": seed(records(handshake(1, CHROME_LIKE), 50)[:55] + records(b"\x02\x28", 16384, 21), SH13),
    "zero_length_record": seed(b"\x16\x03\x01\x00\x00" + CH, b""),
    "huge_record_length": seed(b"\x16\x03\x01\xff\xff" + CH[5:], b""),
    "bad_record_version": seed(corrupt(CH, 1, 2), SH13),
    "unexpected_message": seed(records(handshake(2, b"\x00" * 40)), records(handshake(1, b"\x00" * 40))),
    "truncated_client": seed(CH[:100], b""),
    "truncated_server": seed(CH, SH13[:30], flags=0x10),
    "bad_session_id": seed(records(handshake(1, corrupt(CHROME_LIKE, 34, 33))), SH13),
    "bad_cipher_len": seed(records(handshake(1, corrupt(CHROME_LIKE, 68, 3))), SH13),
    "bad_ext_block": seed(records(handshake(1, CHROME_LIKE + b"\x00")), SH13),
    "bad_sni": seed(records(handshake(1, client_hello_body(0x0303, [0x1301], [ext(0, b"\x00\x09\x00\x00\x05ab")]))), SH13),
    "bad_server_versions": seed(CH, records(handshake(2, server_hello_body(0x0303, 0x1301, [ext(43, b"\x03")])), 16384,
                                            22, 0x0303)),
    "bad_server_hello": seed(CH, records(handshake(2, b"\x03\x03" + b"\x00" * 20), 16384, 22, 0x0303)),
    "hello_length_lies": seed(b"\x16\x03\x01\x00\x08\x01\x00\x40\x00\x03\x03\x00\x00", b""),
    "two_hellos_in_one_record": seed(records(handshake(1, CHROME_LIKE) + handshake(1, CHROME_LIKE)), SH13 + SH12),
    "grease_only_versions": seed(records(handshake(1, client_hello_body(0x0303, [0x0a0a], [versions([0x0a0a]), ext(0x1a1a, b"")]))),
                                 SH13),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), OUT))


if __name__ == "__main__":
    main()
