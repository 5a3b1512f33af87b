#!/usr/bin/python3
"""Traffic for the analyzer benchmark (perf/run_analyzer_bench.sh): an
HTTP-heavy and a SIP-heavy pcap, deterministic for a seed, each written with a
manifest (PCAP.manifest, key=value lines) of what it holds; and a counter of
tapflow's events that prints the same keys, so the two can be compared.

  make_analyzer_pcaps.py http OUT.pcap [--connections N] [--seed N]
  make_analyzer_pcaps.py sip OUT.pcap [--calls N] [--pairs N] [--seed N]
  make_analyzer_pcaps.py count EVENTS.jsonl

http: keep-alive HTTP/1.1 connections (handshake with MSS, SACK, timestamps and
window scale; 1-5 GET/POST/PUT/DELETE exchanges with realistic heads,
Content-Length and chunked bodies; FIN from either side), consistent sequence
and ACK numbers, segments of at most 1448 bytes, about 1% of data segments sent
out of order or twice. sip: calls over UDP between UA pairs (INVITE with SDP,
100, 180, 200, ACK, BYE, 200; some 486 Busy Here, some CANCELled), OPTIONS
pings, and a tenth of the pairs on one TCP connection each (some messages
split across segments, some segments with two messages).

Standard library only. Python's random.Random gives the same sequence for a
seed on every CPython 3 (random(), getrandbits() and what is built on them), so
a seed gives the same file.
"""

import json
import os
import struct
import sys
import time

from random import Random

EPOCH = 1767225600  # 2026-01-01T00:00:00Z: the first packet's second
MSS = 1448  # TCP payload per segment with the timestamp option (1460 - 12)
TCP_WINDOW = 502  # x 128 (window scale 7): 64256 bytes
SIP_PORT = 5060


# ---------------------------------------------------------------- packets

def checksum(data):
    """The Internet checksum. The ones'-complement sum of 16-bit words is the
    number the bytes spell, modulo 0xFFFF (2^16 = 1 mod 0xFFFF): one big-int
    operation instead of a Python loop over words."""
    if len(data) & 1:
        data += b"\0"
    s = int.from_bytes(data, "big") % 0xFFFF
    return 0xFFFF - s if s else 0  # s == 0 means a sum of 0xFFFF (data is never all zero here)


def ip_bytes(addr):
    return bytes(int(x) for x in addr.split("."))


class Host:
    """One IPv4 end: address, MAC, its IP ID counter and millisecond TCP clock."""

    def __init__(self, addr, mac_seed):
        self.addr = addr
        self.ip = ip_bytes(addr)
        self.mac = bytes([0x02, 0x42]) + struct.pack(">I", mac_seed & 0xFFFFFFFF)
        self.ip_id = mac_seed & 0xFFFF
        self.ts_base = (mac_seed * 7919) & 0x3FFFFFFF

    def next_id(self):
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        return self.ip_id


def ethernet_ipv4(src, dst, proto, l4):
    total = 20 + len(l4)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, src.next_id(), 0x4000, 64, proto, 0, src.ip, dst.ip)
    ip = ip[:10] + struct.pack(">H", checksum(ip)) + ip[12:]
    return dst.mac + src.mac + b"\x08\x00" + ip + l4


def udp_packet(src, dst, sport, dport, payload):
    length = 8 + len(payload)
    header = struct.pack(">HHHH", sport, dport, length, 0)
    pseudo = src.ip + dst.ip + struct.pack(">BBH", 0, 17, length)
    csum = checksum(pseudo + header + payload) or 0xFFFF
    return ethernet_ipv4(src, dst, 17, header[:6] + struct.pack(">H", csum) + payload)


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def tcp_packet(src, dst, sport, dport, seq, ack, flags, payload, t_us, tsecr, syn_options=False):
    tsval = (src.ts_base + t_us // 1000) & 0xFFFFFFFF
    if syn_options:  # Linux's SYN: MSS, SACK permitted, timestamps, NOP, window scale 7
        options = struct.pack(">BBHBBBBII", 2, 4, 1460, 4, 2, 8, 10, tsval, tsecr) + b"\x01\x03\x03\x07"
        window = 64240
    else:
        options = struct.pack(">BBBBII", 1, 1, 8, 10, tsval, tsecr)
        window = TCP_WINDOW
    offset = (20 + len(options)) // 4
    header = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF if flags & ACK else 0,
                         offset << 4, flags, window, 0, 0) + options
    length = len(header) + len(payload)
    pseudo = src.ip + dst.ip + struct.pack(">BBH", 0, 6, length)
    csum = checksum(pseudo + header + payload)
    return ethernet_ipv4(src, dst, 6, header[:16] + struct.pack(">H", csum) + header[18:] + payload)


class Capture:
    """Packets of many conversations, each (time in µs, order of creation,
    frame), written sorted by time as a classic microsecond pcap."""

    def __init__(self):
        self.packets = []

    def add(self, t_us, frame):
        self.packets.append((t_us, len(self.packets), frame))

    def write(self, path):
        self.packets.sort()
        wire = 0
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            chunk = []
            for t_us, _, frame in self.packets:
                chunk.append(struct.pack("<IIII", EPOCH + t_us // 1000000, t_us % 1000000, len(frame), len(frame)))
                chunk.append(frame)
                wire += len(frame)
                if len(chunk) >= 8192:
                    f.write(b"".join(chunk))
                    chunk = []
            f.write(b"".join(chunk))
        first, last = self.packets[0][0], self.packets[-1][0]
        return len(self.packets), wire, (last - first) / 1e6


class TcpConn:
    """Both directions of one TCP connection: sequence numbers, the peer's
    latest timestamp, and how each side acknowledges what it receives. The
    capture point is next to the client: client packets are seen when sent,
    server packets when they arrive."""

    def __init__(self, cap, client, server, cport, sport, rng, stats):
        self.cap = cap
        self.ends = [(client, cport), (server, sport)]  # index 0: client, 1: server
        self.nxt = [rng.getrandbits(32), rng.getrandbits(32)]  # next sequence number each side sends
        self.rcv = [0, 0]  # what each side has received in order (its ACK number)
        self.last_ts = [0, 0]  # each side's latest TSval, echoed by the other
        self.rng = rng
        self.stats = stats
        self.last_time = 0  # of the latest packet made so far

    def packet(self, side, t_us, flags, seq, payload=b"", syn_options=False):
        (src, sport), (dst, dport) = self.ends[side], self.ends[1 - side]
        frame = tcp_packet(src, dst, sport, dport, seq, self.rcv[side], flags, payload, t_us,
                           self.last_ts[1 - side], syn_options)
        self.last_ts[side] = (src.ts_base + t_us // 1000) & 0xFFFFFFFF
        self.last_time = max(self.last_time, t_us)
        self.cap.add(t_us, frame)

    def handshake(self, t_us, rtt_us):
        self.packet(0, t_us, SYN, self.nxt[0], syn_options=True)
        self.nxt[0] += 1
        self.rcv[1] = self.nxt[0]
        self.packet(1, t_us + rtt_us, SYN | ACK, self.nxt[1], syn_options=True)
        self.nxt[1] += 1
        self.rcv[0] = self.nxt[1]
        self.packet(0, t_us + rtt_us + 15, ACK, self.nxt[0])
        return t_us + rtt_us + 15

    def send(self, side, data, t_us, gap_us, ack_delay_us, disorder=0.0, ack_last=True):
        """Sends `data` from `side` as MSS-sized segments from t_us, one every
        gap_us; a fraction `disorder` of them goes out of order (swapped with
        the next) or twice (the copy after the last segment, as a
        retransmission). The receiver acknowledges every second segment, at
        once anything out of order, and the last segment if ack_last (else
        its answer carries the ACK), ack_delay_us after the segment left.
        Returns the time of the last original segment."""
        base = self.nxt[side]
        segments = [(base + off, data[off:off + MSS]) for off in range(0, len(data), MSS)]
        self.nxt[side] = base + len(data)
        order = list(range(len(segments)))
        i = 0
        while i < len(order) - 1:
            if disorder and self.rng.random() < disorder / 2:
                order[i], order[i + 1] = order[i + 1], order[i]
                self.stats["tcp_segments_reordered"] += 1
                i += 2
            else:
                i += 1
        repeats = [k for k in range(len(segments)) if disorder and self.rng.random() < disorder / 2]
        self.stats["tcp_segments_retransmitted"] += len(repeats)

        held = {}  # the receiver's out-of-order segments: seq -> length
        rcv = self.rcv[1 - side]
        t = t_us
        unacked = 0
        last_original = t_us
        for n, k in enumerate(order + repeats):
            if n == len(segments):  # retransmissions come after a timeout
                t = last_original + 2 * ack_delay_us + 200
            seq, payload = segments[k]
            flags = ACK | (PSH if k == len(segments) - 1 else 0)
            self.packet(side, t, flags, seq, payload)
            if n < len(segments):
                last_original = t
            # The receiver's view: in-order data moves its ACK on.
            in_order = seq == rcv
            if in_order:
                rcv += len(payload)
                while rcv in held:
                    rcv += held.pop(rcv)
            elif seq > rcv:
                held[seq] = len(payload)
            unacked += 1
            last = n == len(segments) - 1
            if not in_order or unacked >= 2 or (last and ack_last) or n >= len(segments):
                self.rcv[1 - side] = rcv
                self.packet(1 - side, t + ack_delay_us, ACK, self.nxt[1 - side])
                unacked = 0
            t += gap_us
        self.rcv[1 - side] = rcv
        return last_original

    def close(self, side, t_us, rtt_us):
        """FIN from `side`, FIN+ACK back, last ACK."""
        self.packet(side, t_us, FIN | ACK, self.nxt[side])
        self.nxt[side] += 1
        self.rcv[1 - side] = self.nxt[side]
        answer = t_us + (rtt_us if side == 0 else 30)
        self.packet(1 - side, answer, FIN | ACK, self.nxt[1 - side])
        self.nxt[1 - side] += 1
        self.rcv[side] = self.nxt[1 - side]
        self.packet(side, answer + (15 if side == 0 else rtt_us), ACK, self.nxt[side])


def filler(rng, size):
    """Printable bytes to cut bodies from (JSON-looking is not needed; the
    analyzers count body bytes and do not look into them)."""
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,:{}\"[]=_-.\n"
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    return rng.randbytes(size).translate(table)


# ---------------------------------------------------------------- HTTP

USER_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Mobile/15E148 Safari/604.1",
    "curl/7.88.1",
    "Go-http-client/1.1",
    "python-requests/2.31.0",
    "okhttp/4.12.0",
    "kube-probe/1.28",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
]
HOSTS = ["shop.example.com", "api.example.com", "cdn.example.net", "catalog.default.svc.cluster.local",
         "payments.internal:8080", "auth.example.com", "static.example.org", "metrics.monitoring.svc"]
PATHS = ["/api/v1/items/{n}", "/api/v1/users/{n}/orders", "/static/js/app.{h}.js", "/images/{n}.jpg",
         "/search?q=item{n}&page={p}", "/healthz", "/v2/catalog/products?limit=50&offset={n}",
         "/index.html", "/api/v2/sessions/{h}", "/assets/css/site.{h}.css"]
STATUSES = [(200, "OK", 80), (304, "Not Modified", 5), (404, "Not Found", 5), (301, "Moved Permanently", 3),
            (500, "Internal Server Error", 2), (204, "No Content", 3), (302, "Found", 2)]
SERVERS = ["nginx/1.22.1", "Apache/2.4.57 (Debian)", "envoy", "gunicorn", "Jetty(9.4.53.v20231009)"]
CONTENT_TYPES = ["application/json", "text/html; charset=utf-8", "application/javascript", "image/jpeg",
                 "text/css", "application/octet-stream"]
DAYS = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]


def http_date(t_us):
    tm = time.gmtime(EPOCH + t_us // 1000000)
    return "%s, %02d Jan %d %02d:%02d:%02d GMT" % (DAYS[tm.tm_yday % 7 - 1], tm.tm_mday, tm.tm_year, tm.tm_hour,
                                                  tm.tm_min, tm.tm_sec)


def body_size(rng):
    """Response bodies: log-normal, median 1.2 KB, with a long tail (capped)."""
    return min(int(rng.lognormvariate(7.1, 1.5)), 512 * 1024)


def make_request(rng, host, ua, stats, blob):
    r = rng.random()
    method = "GET" if r < 0.78 else "POST" if r < 0.94 else "PUT" if r < 0.98 else "DELETE"
    path = rng.choice(PATHS).format(n=rng.randrange(1, 10 ** 6), p=rng.randrange(1, 40),
                                    h="%08x" % rng.getrandbits(32))
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: " + host, "User-Agent: " + ua]
    browser = ua.startswith("Mozilla")
    lines.append("Accept: " + ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" if browser
                               else "application/json" if rng.random() < 0.7 else "*/*"))
    if browser:
        lines += ["Accept-Language: en-US,en;q=0.9", "Accept-Encoding: gzip, deflate, br"]
        if rng.random() < 0.5:
            lines.append("Referer: https://%s/" % host)
    if rng.random() < 0.35:
        lines.append("Cookie: session=%032x; _ga=GA1.2.%d.%d" % (rng.getrandbits(128), rng.getrandbits(30),
                                                                 1700000000 + rng.getrandbits(20)))
    if rng.random() < 0.4:
        lines.append("X-Request-Id: %08x-%04x-4%03x-a%03x-%012x" % (
            rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.getrandbits(12), rng.getrandbits(48)))
    if rng.random() < 0.2:
        lines.append("Authorization: Bearer %064x%064x" % (rng.getrandbits(256), rng.getrandbits(256)))
    body = b""
    if method in ("POST", "PUT"):
        size = int(rng.lognormvariate(6.0, 1.2)) if rng.random() < 0.97 else rng.randrange(20000, 200000)
        body = blob_slice(blob, rng, size)
        lines.append("Content-Type: " + ("application/json" if rng.random() < 0.7
                                         else "application/x-www-form-urlencoded"))
        lines.append("Content-Length: %d" % size)
    lines.append("Connection: keep-alive")
    stats["http_method_" + method] += 1
    stats["http_request_body_bytes"] += len(body)
    return method, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def make_response(rng, method, t_us, server, close, stats, blob):
    if method in ("POST", "PUT"):
        status, reason = (201, "Created") if rng.random() < 0.5 else (200, "OK")
    elif method == "DELETE":
        status, reason = 204, "No Content"
    else:
        pick = rng.randrange(100)
        for status, reason, weight in STATUSES:
            if pick < weight:
                break
            pick -= weight
    lines = ["HTTP/1.1 %d %s" % (status, reason), "Date: " + http_date(t_us), "Server: " + server]
    has_body = status not in (204, 304)
    body = b""
    if status == 304 or rng.random() < 0.3:
        lines.append('ETag: "%016x"' % rng.getrandbits(64))
    if status in (301, 302):
        lines.append("Location: https://www.example.com/new/%d" % rng.randrange(10 ** 6))
    if has_body:
        size = body_size(rng) if status < 300 else rng.randrange(100, 600)
        lines.append("Content-Type: " + rng.choice(CONTENT_TYPES))
        lines.append("Cache-Control: " + rng.choice(["no-cache", "max-age=3600", "private, max-age=0"]))
        payload = blob_slice(blob, rng, size)
        if size > 0 and rng.random() < 0.15:  # chunked: a body of unknown length
            lines.append("Transfer-Encoding: chunked")
            parts = []
            off = 0
            while off < size:
                n = min(size - off, rng.randrange(256, 8193))
                parts.append(b"%x\r\n" % n + payload[off:off + n] + b"\r\n")
                off += n
            parts.append(b"0\r\n\r\n")
            body = b"".join(parts)
            stats["http_chunked_responses"] += 1
        else:
            lines.append("Content-Length: %d" % size)
            body = payload
        stats["http_response_body_bytes"] += size
    lines.append("Connection: close" if close else "Connection: keep-alive")
    stats["http_status_%d" % status] += 1
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def blob_slice(blob, rng, size):
    if size <= 0:
        return b""
    while size > len(blob):
        blob = blob + blob
    start = rng.randrange(len(blob) - size + 1)
    return blob[start:start + size]


def make_http(path, connections, seed):
    rng = Random(seed)
    blob = filler(rng, 1 << 20)
    cap = Capture()
    stats = Counter()
    span_us = 60 * 1000000
    clients = [Host("10.1.%d.%d" % (i // 250, 1 + i % 250), 0x0A010000 + i) for i in range(max(1, connections // 10))]
    servers = [Host("10.2.0.%d" % (1 + i), 0x0A020000 + i) for i in range(50)]
    next_port = {}
    for _ in range(connections):
        client = rng.choice(clients)
        server = rng.choice(servers)
        port = 8080 if server.ip[3] % 7 == 0 else 80
        cport = next_port.get(client.addr, 32768 + rng.randrange(20000))
        next_port[client.addr] = cport + 1 + rng.randrange(3)
        # In-cluster RTTs are sub-millisecond, outside ones tens of ms.
        rtt = int(rng.lognormvariate(5.5, 0.5)) if rng.random() < 0.6 else int(rng.lognormvariate(10.0, 0.6))
        rtt = max(50, min(rtt, 200000))
        rate_gap = rng.choice([12, 24, 60, 120])  # µs between full segments: 1 Gbit/s .. 100 Mbit/s
        conn = TcpConn(cap, client, server, cport, port, rng, stats)
        t = conn.handshake(rng.randrange(span_us), rtt)
        stats["connections"] += 1
        exchanges = rng.choices([1, 2, 3, 4, 5], weights=[35, 20, 15, 15, 15])[0]
        server_closes = rng.random() < 0.2
        ua = rng.choice(USER_AGENTS)
        host = rng.choice(HOSTS)
        srv = rng.choice(SERVERS)
        for x in range(exchanges):
            if x:
                t += min(int(rng.expovariate(1 / 40000)), 500000)  # think time
            method, request = make_request(rng, host, ua, stats, blob)
            t = conn.send(0, request, t, rate_gap, rtt, disorder=0.01, ack_last=False)
            t += rtt + min(int(rng.lognormvariate(7.5, 1.0)), 200000)  # server time
            close = server_closes and x == exchanges - 1
            response = make_response(rng, method, t, srv, close, stats, blob)
            t = conn.send(1, response, t, rate_gap, 40, disorder=0.01)
            stats["http_transactions"] += 1
        t = max(t, conn.last_time)
        if server_closes:
            conn.close(1, t + 50, rtt)
        else:
            conn.close(0, t + 200 + rng.randrange(5000), rtt)
    packets, wire, seconds = cap.write(path)
    stats["packets"] = packets
    stats["wire_bytes"] = wire
    return stats, seconds


# ---------------------------------------------------------------- SIP

SIP_AGENTS = ["Yealink SIP-T46S 66.86.0.15", "Grandstream GXP2170 1.0.11.23", "Asterisk PBX 18.10.0",
              "FreeSWITCH-mod_sofia/1.10.9", "Linphone/5.2.0 (belle-sip/5.2.0)", "Cisco-SIPGateway/IOS-15.x",
              "PolycomVVX-VVX_450-UA/6.4.3.5018"]
CODECS = [(0, "PCMU/8000"), (8, "PCMA/8000"), (9, "G722/8000"), (18, "G729/8000"), (111, "opus/48000/2")]


class SipUa:
    def __init__(self, host, user, name, agent):
        self.host, self.user, self.name, self.agent = host, user, name, agent

    def uri(self):
        return "sip:%s@%s" % (self.user, self.host.addr)


def sdp(rng, ua, session_id):
    codecs = [CODECS[0], CODECS[1]] + rng.sample(CODECS[2:], rng.randrange(0, 3))
    lines = ["v=0", "o=%s %d %d IN IP4 %s" % (ua.user, session_id, session_id, ua.host.addr), "s=Talk",
             "c=IN IP4 " + ua.host.addr, "t=0 0",
             "m=audio %d RTP/AVP %s 101" % (10000 + 2 * rng.randrange(5000), " ".join(str(p) for p, _ in codecs))]
    lines += ["a=rtpmap:%d %s" % (p, name) for p, name in codecs]
    lines += ["a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv"]
    return ("\r\n".join(lines) + "\r\n").encode()


def sip_message(start, headers, body=b"", content_type="application/sdp"):
    lines = [start] + headers
    if body:
        lines.append("Content-Type: " + content_type)
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Dialog:
    """One INVITE dialog's headers, from which its messages are made."""

    def __init__(self, rng, caller, callee, transport):
        self.rng = rng
        self.caller, self.callee, self.transport = caller, callee, transport
        self.call_id = "%016x%08x@%s" % (rng.getrandbits(64), rng.getrandbits(32), caller.host.addr)
        self.from_tag = "%08x" % rng.getrandbits(32)
        self.to_tag = "%08x" % rng.getrandbits(32)
        self.cseq = rng.randrange(1, 30000)
        self.callee_cseq = rng.randrange(1, 30000)

    def branch(self):
        return "z9hG4bK%016x" % self.rng.getrandbits(64)

    def via(self, ua, branch):
        return "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (self.transport.upper(), ua.host.addr, SIP_PORT, branch)

    def contact(self, ua):
        return "Contact: <sip:%s@%s:%d;transport=%s>" % (ua.user, ua.host.addr, SIP_PORT, self.transport)

    def from_to(self, sender, tagged):
        """From and To of a request sent by `sender` (and of its responses)."""
        caller, callee = self.caller, self.callee
        if sender is caller:
            return ['From: "%s" <%s>;tag=%s' % (caller.name, caller.uri(), self.from_tag),
                    "To: <%s>%s" % (callee.uri(), ";tag=" + self.to_tag if tagged else "")]
        return ["From: <%s>;tag=%s" % (callee.uri(), self.to_tag),
                'To: "%s" <%s>;tag=%s' % (caller.name, caller.uri(), self.from_tag)]

    def request(self, method, sender, branch, cseq, tagged, body=b"", extra=()):
        target = self.callee if sender is self.caller else self.caller
        headers = [self.via(sender, branch), "Max-Forwards: 70"] + self.from_to(sender, tagged)
        headers += ["Call-ID: " + self.call_id, "CSeq: %d %s" % (cseq, method)] + list(extra)
        headers.append("User-Agent: " + sender.agent)
        return sip_message("%s %s SIP/2.0" % (method, target.uri()), headers, body)

    def response(self, request_sender, branch, cseq, method, status, reason, tagged, body=b"", extra=()):
        responder = self.callee if request_sender is self.caller else self.caller
        headers = [self.via(request_sender, branch)] + self.from_to(request_sender, tagged)
        headers += ["Call-ID: " + self.call_id, "CSeq: %d %s" % (cseq, method)] + list(extra)
        headers.append("Server: " + responder.agent)
        return sip_message("SIP/2.0 %d %s" % (status, reason), headers, body)


ALLOW = "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY"


def make_call(rng, caller, callee, transport, t, stats, out):
    """Appends (time µs, sender is caller, message) for one call to `out`."""
    d = Dialog(rng, caller, callee, transport)
    stats["sip_calls"] += 1

    def emit(at, from_caller, msg):
        out.append((at, from_caller, msg))

    def req_stat(method):
        stats["sip_requests_" + method] += 1

    def resp_stat(status):
        stats["sip_responses_%d" % status] += 1

    invite_branch = d.branch()
    extra = [d.contact(caller), ALLOW, "Supported: replaces, timer", "Session-Expires: 1800"]
    if rng.random() < 0.5:
        extra.append("P-Asserted-Identity: <sip:%s@carrier.example.net>" % caller.user)
    emit(t, True, d.request("INVITE", caller, invite_branch, d.cseq, False, sdp(rng, caller, rng.getrandbits(31)),
                            extra))
    req_stat("INVITE")
    t += 2000 + rng.randrange(20000)
    emit(t, False, d.response(caller, invite_branch, d.cseq, "INVITE", 100, "Trying", False))
    resp_stat(100)
    # One ring in five comes at once after the Trying (the same instant: over
    # TCP the two go out in one segment).
    t += 0 if rng.random() < 0.2 else 30000 + rng.randrange(300000)
    emit(t, False, d.response(caller, invite_branch, d.cseq, "INVITE", 180, "Ringing", True,
                              extra=[d.contact(callee)]))
    resp_stat(180)
    fate = rng.random()
    t += 1000000 + rng.randrange(8000000)
    if fate < 0.15:  # busy: 486 and its ACK (same branch: part of the INVITE transaction)
        emit(t, False, d.response(caller, invite_branch, d.cseq, "INVITE", 486, "Busy Here", True))
        resp_stat(486)
        emit(t + 1000, True, d.request("ACK", caller, invite_branch, d.cseq, True))
        req_stat("ACK")
        stats["sip_calls_failure"] += 1
        return
    if fate < 0.20:  # the caller gives up: CANCEL, 200 to it, 487, ACK
        cancel_branch = invite_branch
        emit(t, True, d.request("CANCEL", caller, cancel_branch, d.cseq, False))
        req_stat("CANCEL")
        emit(t + 2000, False, d.response(caller, cancel_branch, d.cseq, "CANCEL", 200, "OK", True))
        resp_stat(200)
        emit(t + 3000, False, d.response(caller, invite_branch, d.cseq, "INVITE", 487, "Request Terminated", True))
        resp_stat(487)
        emit(t + 4000, True, d.request("ACK", caller, invite_branch, d.cseq, True))
        req_stat("ACK")
        stats["sip_calls_cancel"] += 1
        return
    emit(t, False, d.response(caller, invite_branch, d.cseq, "INVITE", 200, "OK", True,
                              sdp(rng, callee, rng.getrandbits(31)), extra=[d.contact(callee), ALLOW]))
    resp_stat(200)
    emit(t + 1000 + rng.randrange(5000), True, d.request("ACK", caller, d.branch(), d.cseq, True,
                                                         extra=[d.contact(caller)]))
    req_stat("ACK")
    t += 5000000 + rng.randrange(115000000)
    stats["sip_calls_bye"] += 1
    by_caller = rng.random() < 0.6
    bye_branch = d.branch()
    if by_caller:
        emit(t, True, d.request("BYE", caller, bye_branch, d.cseq + 1, True))
        emit(t + 1000 + rng.randrange(20000), False,
             d.response(caller, bye_branch, d.cseq + 1, "BYE", 200, "OK", True))
        stats["sip_calls_hangup_caller"] += 1
    else:
        emit(t, False, d.request("BYE", callee, bye_branch, d.callee_cseq, True))
        emit(t + 1000 + rng.randrange(20000), True,
             d.response(callee, bye_branch, d.callee_cseq, "BYE", 200, "OK", True))
        stats["sip_calls_hangup_callee"] += 1
    req_stat("BYE")
    resp_stat(200)


def make_options(rng, caller, callee, transport, t, stats, out):
    d = Dialog(rng, caller, callee, transport)
    branch = d.branch()
    out.append((t, True, d.request("OPTIONS", caller, branch, 1, False, extra=["Accept: application/sdp"])))
    out.append((t + 500 + rng.randrange(3000), False,
                d.response(caller, branch, 1, "OPTIONS", 200, "OK", True, extra=[ALLOW])))
    stats["sip_requests_OPTIONS"] += 1
    stats["sip_responses_200"] += 1


def send_sip_tcp(cap, rng, caller, callee, messages, stats):
    """One TCP connection from the caller's ephemeral port to the callee's 5060
    for all of a pair's messages, in time order. A message at the same instant
    as the one before it from the same side shares its segment; one in ten
    larger than 600 bytes is split across two segments."""
    conn = TcpConn(cap, caller.host, callee.host, 40000 + rng.randrange(20000), SIP_PORT, rng, stats)
    rtt = 300 + rng.randrange(3000)
    t = conn.handshake(messages[0][0] - rtt - 100, rtt)
    stats["sip_tcp_connections"] += 1
    pending_ack = [None, None]  # when each side owes the other a delayed ACK
    i = 0
    while i < len(messages):
        at, from_caller, msg = messages[i]
        side = 0 if from_caller else 1
        while i + 1 < len(messages) and messages[i + 1][0] == at and messages[i + 1][1] == from_caller \
                and len(msg) + len(messages[i + 1][2]) <= MSS:
            i += 1
            msg += messages[i][2]
            stats["sip_tcp_coalesced_segments"] += 1
        at = max(at, t + 1)
        for s in (0, 1):  # delayed ACKs that fall due first
            if pending_ack[s] is not None and pending_ack[s] < at:
                conn.rcv[s] = conn.nxt[1 - s]
                conn.packet(s, pending_ack[s], ACK, conn.nxt[s])
                pending_ack[s] = None
        pending_ack[side] = None  # this segment carries the ACK
        conn.rcv[side] = conn.nxt[1 - side]
        pieces = [msg]
        if len(msg) > 600 and rng.random() < 0.1:
            cut = rng.randrange(200, len(msg) - 100)
            pieces = [msg[:cut], msg[cut:]]
            stats["sip_tcp_split_messages"] += 1
        for k, piece in enumerate(pieces):
            conn.packet(side, at + 20 * k, ACK | PSH, conn.nxt[side], piece)
            conn.nxt[side] += len(piece)
        t = at + 20 * (len(pieces) - 1)
        pending_ack[1 - side] = t + 40000
        i += 1
    for s in (0, 1):
        if pending_ack[s] is not None:
            conn.rcv[s] = conn.nxt[1 - s]
            conn.packet(s, pending_ack[s], ACK, conn.nxt[s])
            t = max(t, pending_ack[s])
    conn.close(0, t + 1000, rtt)


def make_sip(path, calls, pairs, seed):
    rng = Random(seed)
    cap = Capture()
    stats = Counter()
    span_us = 600 * 1000000
    uas = []
    for i in range(pairs):
        a = Host("10.30.%d.%d" % (i // 250, 1 + i % 250), 0x0A1E0000 + i)
        b = Host("10.40.%d.%d" % (i // 250, 1 + i % 250), 0x0A280000 + i)
        caller = SipUa(a, "+1555%07d" % rng.randrange(10 ** 7), "User %d" % i, rng.choice(SIP_AGENTS))
        callee = SipUa(b, "+1444%07d" % rng.randrange(10 ** 7), "", rng.choice(SIP_AGENTS))
        transport = "tcp" if i % 10 == 9 else "udp"
        uas.append((caller, callee, transport))
    per_pair = [[] for _ in range(pairs)]
    for _ in range(calls):
        p = rng.randrange(pairs)
        caller, callee, transport = uas[p]
        make_call(rng, caller, callee, transport, rng.randrange(span_us - 150 * 1000000), stats, per_pair[p])
    for p in range(pairs):  # OPTIONS pings every 30 s
        caller, callee, transport = uas[p]
        t = rng.randrange(30 * 1000000)
        while t < span_us - 1000000:
            make_options(rng, caller, callee, transport, t, stats, per_pair[p])
            t += 30 * 1000000
    for p in range(pairs):
        caller, callee, transport = uas[p]
        messages = sorted(per_pair[p], key=lambda m: m[0])  # stable: same-time messages keep their order
        if not messages:
            continue
        stats["sip_messages"] += len(messages)
        stats["sip_messages_" + transport] += len(messages)
        if transport == "udp":
            for at, from_caller, msg in messages:
                src, dst = (caller.host, callee.host) if from_caller else (callee.host, caller.host)
                cap.add(at, udp_packet(src, dst, SIP_PORT, SIP_PORT, msg))
        else:
            send_sip_tcp(cap, rng, caller, callee, messages, stats)
    packets, wire, seconds = cap.write(path)
    stats["packets"] = packets
    stats["wire_bytes"] = wire
    return stats, seconds


# ---------------------------------------------------------------- counting

class Counter(dict):
    def __missing__(self, key):
        return 0


def count_events(path):
    """tapflow's events, counted under the manifest's keys (and a few more)."""
    c = Counter()
    with open(path, "rb") as f:
        for line in f:
            e = json.loads(line)
            kind = e.get("type")
            c["events_" + str(kind)] += 1
            if kind == "http":
                h = e["http"]
                req, resp = h.get("request"), h.get("response")
                if req and resp and not req.get("incomplete") and not resp.get("incomplete"):
                    c["http_transactions"] += 1
                else:
                    c["http_partial"] += 1
                if req:
                    c["http_method_" + req.get("method", "?")] += 1
                    c["http_request_body_bytes"] += req.get("body", {}).get("bytes", 0)
                if resp:
                    c["http_status_%s" % resp.get("status_code")] += 1
                    c["http_response_body_bytes"] += resp.get("body", {}).get("bytes", 0)
            elif kind == "sip":
                s = e["sip"]
                c["sip_messages"] += 1
                c["sip_messages_" + e.get("network", {}).get("transport", "?")] += 1
                if "method" in s:
                    c["sip_requests_" + s["method"]] += 1
                else:
                    c["sip_responses_%s" % s.get("status_code")] += 1
            elif kind == "sip_call":
                call = e["sip"]["call"]
                c["sip_calls"] += 1
                c["sip_calls_" + call.get("end_reason", "?")] += 1
                if call.get("hangup") in ("caller", "callee"):
                    c["sip_calls_hangup_" + call["hangup"]] += 1
    return c


# ---------------------------------------------------------------- main

def write_manifest(path, stats, seconds):
    with open(path + ".manifest.tmp", "w") as f:
        for key in sorted(stats):
            f.write("%s=%d\n" % (key, stats[key]))
        f.write("capture_seconds=%.3f\n" % seconds)
    os.replace(path + ".manifest.tmp", path + ".manifest")


def usage(code):
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    sys.exit(code)


def main(argv):
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        usage(0 if argv and argv[0] in ("-h", "--help") else 1)
    command, path = argv[0], argv[1]
    options = {"--connections": 20000, "--calls": 16000, "--pairs": 300, "--seed": 1}
    rest = argv[2:]
    while rest:
        if rest[0] not in options or len(rest) < 2 or not rest[1].isdigit():
            sys.stderr.write("make_analyzer_pcaps.py: bad argument %s\n" % rest[0])
            usage(1)
        options[rest[0]] = int(rest[1])
        rest = rest[2:]
    started = time.time()
    if command == "count":
        for key, value in sorted(count_events(path).items()):
            print("%s=%d" % (key, value))
        return
    if command == "http":
        stats, seconds = make_http(path, options["--connections"], options["--seed"])
    elif command == "sip":
        stats, seconds = make_sip(path, options["--calls"], max(1, options["--pairs"]), options["--seed"])
    else:
        usage(1)
    write_manifest(path, stats, seconds)
    sys.stderr.write("%s: %d packets, %d wire bytes, %.1f s of traffic, written in %.1f s\n" % (
        path, stats["packets"], stats["wire_bytes"], seconds, time.time() - started))


if __name__ == "__main__":
    main(sys.argv[1:])
