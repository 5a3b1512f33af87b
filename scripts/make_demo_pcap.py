#!/usr/bin/env python3
"""Writes config/demo.pcap: a small, deterministic capture for the quick start.

Standard library only (no scapy), so the first README command needs nothing
beyond what the build installs. Holds an HTTP exchange over IPv4 and IPv6, a
DNS query, a ping, a fragmented UDP datagram, a VLAN-tagged flow and a flow
inside VXLAN, so `tapflow read config/demo.pcap` shows each kind of record.
"""
import struct
import sys

T0 = 1_764_000_000  # fixed capture time: the output is the same on every run
MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def ipv4(src, dst, proto, payload, ident=1, frag=0):
    total = 20 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, frag, 64, proto, 0,
                      bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    return hdr + payload


def ipv6(src, dst, proto, payload):
    import ipaddress
    return (struct.pack("!IHBB", 6 << 28, len(payload), proto, 64) + ipaddress.IPv6Address(src).packed +
            ipaddress.IPv6Address(dst).packed + payload)


def tcp(sport, dport, seq, ack, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0) + data


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def ether(payload, ethertype=0x0800, vlan=None):
    if vlan is not None:
        return MAC_B + MAC_A + struct.pack("!HHH", 0x8100, vlan, ethertype) + payload
    return MAC_B + MAC_A + struct.pack("!H", ethertype) + payload


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def tcp_conversation(mk_ip, client, server, cport, sport, request, response, t, vlan=None, ethertype=0x0800):
    c, s = 1000, 5000
    frames = []

    def add(dt, from_client, flags, seq, ack, data=b""):
        src, dst = (client, server) if from_client else (server, client)
        sp, dp = (cport, sport) if from_client else (sport, cport)
        frames.append((t + dt, ether(mk_ip(src, dst, 6, tcp(sp, dp, seq, ack, flags, data)), ethertype, vlan)))

    add(0.000, True, SYN, c, 0)
    add(0.002, False, SYN | ACK, s, c + 1)
    add(0.0025, True, ACK, c + 1, s + 1)
    add(0.003, True, PSH | ACK, c + 1, s + 1, request)
    add(0.010, False, PSH | ACK, s + 1, c + 1 + len(request), response)
    add(0.011, True, FIN | ACK, c + 1 + len(request), s + 1 + len(response))
    add(0.012, False, FIN | ACK, s + 1 + len(response), c + 2 + len(request))
    add(0.013, True, ACK, c + 2 + len(request), s + 2 + len(response))
    return frames


def main(path):
    http_req = b"GET /index.html HTTP/1.1\r\nHost: web\r\nUser-Agent: demo\r\n\r\n"
    http_resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    frames = []
    frames += tcp_conversation(ipv4, "10.0.0.1", "10.0.0.2", 40001, 80, http_req, http_resp, T0 + 0.1)
    frames += tcp_conversation(ipv6, "fd00::1", "fd00::2", 40002, 8080, http_req, http_resp, T0 + 0.2,
                               ethertype=0x86DD)
    frames += tcp_conversation(ipv4, "10.0.5.1", "10.0.5.2", 40003, 443, b"\x16\x03\x01hello", b"\x16\x03\x03hi",
                               T0 + 0.3, vlan=100)

    dns_q = bytes.fromhex("abcd01000001000000000000") + b"\x03web\x00\x00\x01\x00\x01"
    dns_r = bytes.fromhex("abcd81800001000100000000") + b"\x03web\x00\x00\x01\x00\x01" + \
        bytes.fromhex("c00c000100010000003c00040a000002")
    frames.append((T0 + 0.4, ether(ipv4("10.0.0.1", "10.0.0.53", 17, udp(53001, 53, dns_q)))))
    frames.append((T0 + 0.401, ether(ipv4("10.0.0.53", "10.0.0.1", 17, udp(53, 53001, dns_r)))))

    echo = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"ping" * 8
    reply = struct.pack("!BBHHH", 0, 0, 0, 7, 1) + b"ping" * 8
    frames.append((T0 + 0.5, ether(ipv4("10.0.0.1", "10.0.0.2", 1, echo))))
    frames.append((T0 + 0.5005, ether(ipv4("10.0.0.2", "10.0.0.1", 1, reply))))

    # A 3000-byte SIP-sized UDP datagram, fragmented to fit a 1500-byte MTU.
    big = udp(5060, 5060, b"INVITE sip:bob@example SIP/2.0\r\n" + b"x" * 2967)
    for i, off in enumerate(range(0, len(big), 1480)):
        chunk = big[off:off + 1480]
        more = 0x2000 if off + 1480 < len(big) else 0
        frames.append((T0 + 0.6 + i * 0.0001, ether(ipv4("10.0.0.7", "10.0.0.8", 17, chunk, ident=77,
                                                         frag=more | (off // 8)))))

    # A TCP exchange between pods, carried in VXLAN between two nodes.
    inner = tcp_conversation(ipv4, "10.244.1.5", "10.244.2.9", 40004, 6379, b"PING\r\n", b"+PONG\r\n", T0 + 0.7)
    for ts, frame in inner:
        vxlan = struct.pack("!II", 0x08000000, 42 << 8) + frame
        frames.append((ts, ether(ipv4("192.168.1.10", "192.168.1.11", 17, udp(48000, 4789, vxlan)))))

    frames.sort(key=lambda f: f[0])
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, frame in frames:
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            out.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "config/demo.pcap")
