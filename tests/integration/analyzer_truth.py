#!/usr/bin/python3
"""Application-layer ground truth from tshark, independent of tapflow's
analyzers: HTTP transactions, SIP messages and calls, DNS transactions and TLS
hellos, read from tshark's PDML (its full dissection tree as XML), which keeps
each message of a frame apart (pipelined requests, several SIP messages in one
TCP segment) and says which section a DNS record is in.

HTTP is dissected with http.desegment_body off: tshark 4.0 pairs pipelined
responses with the last request instead of each one's own, so it would expect a
body after the answer to a pipelined HEAD and swallow the next answer. Without
body reassembly each message is dissected where its header starts, in order,
and requests and final answers are paired by position in their connection, as
HTTP/1.1 itself pairs them.

Run by hand: analyzer_truth.py http|sip|dns|tls FILE.pcap prints what it found.
"""

import collections
import decimal
import hashlib
import ipaddress
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

TSHARK_TIMEOUT = 300
DNS_RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 6: "YXDOMAIN",
              7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}
# DNS header flags as ECS names them, with tshark's field for each.
DNS_FLAGS = (("AA", "dns.flags.authoritative"), ("TC", "dns.flags.truncated"), ("RD", "dns.flags.recdesired"),
             ("RA", "dns.flags.recavail"), ("AD", "dns.flags.authenticated"), ("CD", "dns.flags.checkdisable"))
# Where tshark puts the data of each record type it decodes.
DNS_DATA_FIELDS = {"A": "dns.a", "AAAA": "dns.aaaa", "CNAME": "dns.cname", "NS": "dns.ns", "PTR": "dns.ptr.domain_name",
                   "MX": "dns.mx.mail_exchange", "TXT": "dns.txt"}
TLS_VERSIONS = {0x0304: "1.3", 0x0303: "1.2", 0x0302: "1.1", 0x0301: "1.0", 0x0300: "3.0"}
JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2", 0xfeff: "d1",
                0xfefd: "d2", 0xfefc: "d3"}


class TruthError(Exception):
    pass


# -- reading tshark's PDML ----------------------------------------------------

class Field:
    """A PDML <field> or <proto>: name, show, showname and children, in order."""
    __slots__ = ("name", "show", "showname", "children")

    def __init__(self, elem):
        self.name = elem.get("name", "")
        self.show = elem.get("show", "")
        self.showname = elem.get("showname", "")
        self.children = [Field(c) for c in elem if c.tag in ("field", "proto")]

    def walk(self):
        """Every descendant, depth first in document order (an explicit stack: no recursion)."""
        stack = list(reversed(self.children))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def all(self, name):
        return [f.show for f in self.walk() if f.name == name]

    def first(self, name, default=None):
        for f in self.walk():
            if f.name == name:
                return f.show
        return default

    def find(self, name):
        return [f for f in self.walk() if f.name == name]

    def child(self, name):
        for c in self.children:
            if c.name == name:
                return c
        return None


class Frame:
    """One packet: its number, time, endpoints, transport and protocol trees."""

    def __init__(self, elem):
        protos = [Field(p) for p in elem if p.tag == "proto"]
        self.protos = protos
        by_name = collections.defaultdict(list)
        for p in protos:
            by_name[p.name].append(p)
        frame = by_name["frame"][0]
        self.number = int(frame.first("frame.number"))
        self.ts_ns = int(decimal.Decimal(frame.first("frame.time_epoch")) * 1000000000)
        ip = (by_name.get("ip") or by_name.get("ipv6") or [None])[0]
        if ip is None:
            raise TruthError("frame %d: no IP layer" % self.number)
        v = "ip" if ip.name == "ip" else "ipv6"
        self.src_ip, self.dst_ip = ip.first(v + ".src"), ip.first(v + ".dst")
        self.transport = "tcp" if by_name.get("tcp") else "udp" if by_name.get("udp") else None
        if self.transport is None:
            raise TruthError("frame %d: neither TCP nor UDP" % self.number)
        t = by_name[self.transport][0]
        self.src = (self.src_ip, int(t.first(self.transport + ".srcport")))
        self.dst = (self.dst_ip, int(t.first(self.transport + ".dstport")))
        self.tcp_stream = int(t.first("tcp.stream")) if self.transport == "tcp" else None

    def layers(self, name):
        """Every protocol tree of that name in the frame, nested ones included (SDP in SIP)."""
        out = []
        for p in self.protos:
            if p.name == name:
                out.append(p)
            out.extend(f for f in p.walk() if f.name == name)
        return out


def read_frames(pcap, display_filter, prefs=()):
    """Frames tshark's display filter keeps, parsed from PDML one packet at a time."""
    cmd = ["tshark", "-n", "-r", pcap, "-Y", display_filter, "-T", "pdml"]
    for pref in prefs:
        cmd += ["-o", pref]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    frames = []
    try:
        for _event, elem in ET.iterparse(proc.stdout, events=("end",)):
            if elem.tag == "packet":
                frames.append(Frame(elem))
                elem.clear()
    except ET.ParseError as exc:
        proc.kill()
        raise TruthError("tshark gave no valid PDML for %s: %s" % (pcap, exc))
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.stderr.close()
        rc = proc.wait(timeout=TSHARK_TIMEOUT)
    if rc != 0:
        raise TruthError("tshark failed on %s (exit %d): %s" % (pcap, rc, err))
    return frames


def _showname_value(showname):
    """"Type: A (Host Address) (1)" -> "A"; "Cipher Suite: TLS_X (0x1302)" -> "TLS_X"."""
    value = showname.split(": ", 1)[1] if ": " in showname else showname
    return value.split(" ")[0]


def normal_ip(text):
    return str(ipaddress.ip_address(text))


# -- HTTP ---------------------------------------------------------------------

def http_transactions(pcap):
    """{(client, server): [transaction, ...] in order}; a transaction is a dict
    with method, uri, host, version, user_agent, status (None: no final
    answer), interim (the 1xx codes before it) and the frame times."""
    frames = read_frames(pcap, "http.request || http.response", ["http.desegment_body:FALSE"])
    conns = collections.OrderedDict()
    for fr in frames:
        for http in fr.layers("http"):
            method = http.first("http.request.method")
            code = http.first("http.response.code")
            if method is not None:
                conn = conns.setdefault((fr.src, fr.dst), {"requests": [], "answers": []})
                version = http.first("http.request.version", "")
                conn["requests"].append({
                    "method": method, "uri": http.first("http.request.uri"), "host": http.first("http.host"),
                    "version": version.split("/", 1)[1] if "/" in version else version,
                    "user_agent": http.first("http.user_agent"), "frame": fr.number, "ts_ns": fr.ts_ns})
            elif code is not None:
                conn = conns.setdefault((fr.dst, fr.src), {"requests": [], "answers": []})
                conn["answers"].append({"status": int(code), "frame": fr.number, "ts_ns": fr.ts_ns})
    result = collections.OrderedDict()
    for key, conn in conns.items():
        if not conn["requests"]:
            raise TruthError("HTTP answers without requests on %s -> %s" % key)
        finals = [a for a in conn["answers"] if a["status"] >= 200]
        interims = [a for a in conn["answers"] if a["status"] < 200]
        if len(finals) > len(conn["requests"]):
            raise TruthError("%d final answers to %d requests on %s -> %s" % (len(finals), len(conn["requests"]),
                                                                             key[0], key[1]))
        txs = []
        for i, req in enumerate(conn["requests"]):
            tx = dict(req)
            ans = finals[i] if i < len(finals) else None
            tx["status"] = ans["status"] if ans else None
            tx["response_ts_ns"] = ans["ts_ns"] if ans else None
            # 1xx answers between this request and its final answer belong to it.
            end = ans["frame"] if ans else float("inf")
            start = req["frame"]
            tx["interim"] = [a["status"] for a in interims if start <= a["frame"] <= end]
            txs.append(tx)
        result[key] = txs
    return result


# -- SIP ----------------------------------------------------------------------

def _sdp_media(sdp):
    """[{"type", "address", "port", "protocol", "codecs"}] from one SDP body, in order:
    a media-level c= overrides the session-level one."""
    session_addr = None
    media = []
    for node in sdp.children:
        if node.name == "sdp.connection_info":
            addr = node.first("sdp.connection_info.address")
            if media:
                media[-1]["address"] = addr
            else:
                session_addr = addr
        elif node.name == "sdp.media":
            media.append({"type": node.first("sdp.media.media"), "address": session_addr,
                          "port": int(node.first("sdp.media.port")), "protocol": node.first("sdp.media.proto"),
                          "codecs": []})
        elif node.name == "sdp.media_attr" and media:
            if node.first("sdp.media_attribute.field") == "rtpmap":
                # "rtpmap:0 PCMU/8000" -> "PCMU/8000"
                media[-1]["codecs"].append(node.show.split(" ", 1)[1] if " " in node.show else node.show)
    return media


def sip_messages(pcap):
    """Every SIP message, in capture order, as a dict: transport, src, dst, ts_ns,
    method or status/reason, call_id, cseq (number, method), from/to uri and tag,
    the first Via's branch, user_agent, media."""
    frames = read_frames(pcap, "sip")
    out = []
    for fr in frames:
        for sip in fr.layers("sip"):
            msg = {"frame": fr.number, "ts_ns": fr.ts_ns, "transport": fr.transport, "src": fr.src, "dst": fr.dst,
                   "method": sip.first("sip.Method"), "status": None, "reason": None,
                   "call_id": sip.first("sip.Call-ID"),
                   "cseq": (int(sip.first("sip.CSeq.seq", "-1")), sip.first("sip.CSeq.method")),
                   "from_uri": sip.first("sip.from.addr"), "from_tag": sip.first("sip.from.tag"),
                   "to_uri": sip.first("sip.to.addr"), "to_tag": sip.first("sip.to.tag"),
                   "branch": sip.first("sip.Via.branch"), "user_agent": sip.first("sip.User-Agent"),
                   "media": []}
            status_line = sip.first("sip.Status-Line")
            if status_line is not None:
                parts = status_line.split(" ", 2)
                msg["status"] = int(parts[1])
                msg["reason"] = parts[2] if len(parts) > 2 else ""
            for sdp in sip.find("sdp"):
                msg["media"] += _sdp_media(sdp)
            if msg["method"] is None and msg["status"] is None:
                raise TruthError("frame %d: a SIP message that is neither request nor response" % fr.number)
            out.append(msg)
    return out


def sip_calls(messages):
    """{call_id: {from_uri, to_uri, status, end_reason, hangup, transport}} for
    every Call-ID that has an INVITE, from the messages of sip_messages()."""
    by_call = collections.OrderedDict()
    for m in messages:
        by_call.setdefault(m["call_id"], []).append(m)
    calls = collections.OrderedDict()
    for call_id, msgs in by_call.items():
        invites = [m for m in msgs if m["method"] == "INVITE"]
        if not invites:
            continue
        invite = invites[0]
        caller = invite["src"]
        finals = [m for m in msgs if m["status"] is not None and m["status"] >= 200 and m["cseq"] == invite["cseq"]]
        status = finals[0]["status"] if finals else None
        byes = [m for m in msgs if m["method"] == "BYE"]
        cancels = [m for m in msgs if m["method"] == "CANCEL"]
        if byes:
            end_reason = "bye"
        elif cancels:
            end_reason = "cancel"
        elif status is not None and status >= 300:
            end_reason = "failure"
        else:
            end_reason = None  # still up at the end of the capture: tapflow decides (timeout or flush)
        hangup = "none"
        if byes:
            hangup = "caller" if byes[0]["src"] == caller else "callee"
        calls[call_id] = {"from_uri": invite["from_uri"], "to_uri": invite["to_uri"], "status": status,
                          "end_reason": end_reason, "hangup": hangup, "transport": invite["transport"],
                          "caller": caller}
    return calls


# -- DNS ----------------------------------------------------------------------

def _dns_records(section):
    out = []
    for rr in section.children:
        rtype = _showname_value(next((f.showname for f in rr.children if f.name == "dns.resp.type"), ""))
        field = DNS_DATA_FIELDS.get(rtype)
        data = rr.first(field) if field else None
        if data is None:
            data = rr.show  # tshark's one-line summary of a type this test does not decode
        if rtype in ("A", "AAAA"):
            data = normal_ip(data)
        out.append({"name": rr.first("dns.resp.name"), "type": rtype, "ttl": int(rr.first("dns.resp.ttl", "0")),
                    "data": data})
    return out


def dns_messages(pcap):
    frames = read_frames(pcap, "dns")
    out = []
    for fr in frames:
        for dns in fr.layers("dns"):
            msg = {"frame": fr.number, "ts_ns": fr.ts_ns, "transport": fr.transport, "src": fr.src, "dst": fr.dst,
                   "id": int(dns.first("dns.id"), 16), "response": dns.first("dns.flags.response") == "1",
                   "rcode": DNS_RCODES.get(int(dns.first("dns.flags.rcode", "0")), dns.first("dns.flags.rcode")),
                   "flags": sorted(name for name, field in DNS_FLAGS if dns.first(field) == "1"),
                   "questions": [], "answers": []}
            for section in dns.children:
                if section.name != "":
                    continue
                if section.show == "Queries":
                    for q in section.children:
                        qtype = _showname_value(next((f.showname for f in q.children if f.name == "dns.qry.type"), ""))
                        msg["questions"].append((q.first("dns.qry.name"), qtype))
                elif section.show == "Answers":
                    msg["answers"] = _dns_records(section)
            out.append(msg)
    return out


def dns_transactions(pcap):
    """Queries paired with their responses (same transport, endpoints and id), in
    query order: dicts with client, server, transport, id, name, type, rcode (None
    without a response), answers, flags (the response's), latency_ns."""
    msgs = dns_messages(pcap)
    pending = collections.defaultdict(collections.deque)
    txs = []
    for m in msgs:
        if not m["response"]:
            if len(m["questions"]) != 1:
                raise TruthError("frame %d: a DNS query with %d questions" % (m["frame"], len(m["questions"])))
            tx = {"client": m["src"], "server": m["dst"], "transport": m["transport"], "id": m["id"],
                  "name": m["questions"][0][0], "type": m["questions"][0][1], "rcode": None, "answers": None,
                  "flags": None, "latency_ns": None, "query_ts_ns": m["ts_ns"]}
            pending[(m["transport"], m["src"], m["dst"], m["id"])].append(tx)
            txs.append(tx)
            continue
        queue = pending.get((m["transport"], m["dst"], m["src"], m["id"]))
        if not queue:
            raise TruthError("frame %d: a DNS response without its query" % m["frame"])
        tx = queue.popleft()
        tx.update(rcode=m["rcode"], answers=m["answers"], flags=m["flags"], latency_ns=m["ts_ns"] - tx["query_ts_ns"])
    return txs


# -- TLS ----------------------------------------------------------------------

def _is_grease(value):
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def _ints(values):
    return [int(v, 0) for v in values]


def ja4(version_values, handshake_version, sni, ciphers, extensions, alpn, sig_algs):
    """JA4 (FoxIO) of a TLS-over-TCP ClientHello, from its parts as integers and strings."""
    versions = [v for v in version_values if not _is_grease(v)]
    ver = max(versions) if versions else handshake_version
    ciphers = [c for c in ciphers if not _is_grease(c)]
    extensions = [e for e in extensions if not _is_grease(e)]
    if alpn:
        first = alpn[0]
        a = first[0] + first[-1]
        if not (first[0].isascii() and first[0].isalnum() and first[-1].isascii() and first[-1].isalnum()):
            hexed = first.encode().hex()
            a = hexed[0] + hexed[-1]
    else:
        a = "00"
    part_a = "t%s%s%02d%02d%s" % (JA4_VERSIONS.get(ver, "00"), "d" if sni else "i", min(len(ciphers), 99),
                                  min(len(extensions), 99), a)

    def digest(text):
        return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"

    part_b = digest(",".join("%04x" % c for c in sorted(ciphers)))
    ext_text = ",".join("%04x" % e for e in sorted(extensions) if e not in (0x0000, 0x0010))
    sig_algs = [s for s in sig_algs if not _is_grease(s)]
    if sig_algs and ext_text:
        ext_text += "_" + ",".join("%04x" % s for s in sig_algs)
    part_c = digest(ext_text)
    return "%s_%s_%s" % (part_a, part_b, part_c)


def _client_hello(hs):
    extensions, sig_algs = [], []
    for node in hs.children:
        ext_type = node.first("tls.handshake.extension.type") if node.name == "" else None
        if ext_type is None:
            continue
        extensions.append(int(ext_type))
        if int(ext_type) == 13:
            sig_algs = _ints(node.all("tls.handshake.sig_hash_alg"))
    versions = _ints(hs.all("tls.handshake.extensions.supported_version"))
    ciphers = _ints(hs.all("tls.handshake.ciphersuite"))
    sni = hs.first("tls.handshake.extensions_server_name")
    alpn = hs.all("tls.handshake.extensions_alpn_str")
    handshake_version = int(hs.first("tls.handshake.version", "0"), 0)
    return {"server_name": sni, "alpn": alpn,
            "supported_versions": [TLS_VERSIONS.get(v, "0x%04x" % v) for v in versions if not _is_grease(v)],
            "ja3": hs.first("tls.handshake.ja3"), "ja3_string": hs.first("tls.handshake.ja3_full"),
            "ja4": ja4(versions, handshake_version, sni, ciphers, extensions, alpn, sig_algs)}


def _server_hello(hs):
    chosen = _ints(hs.all("tls.handshake.extensions.supported_version"))
    version = chosen[0] if chosen else int(hs.first("tls.handshake.version"), 0)
    cipher = [f for f in hs.walk() if f.name == "tls.handshake.ciphersuite"]
    if len(cipher) != 1:
        raise TruthError("a ServerHello with %d cipher suites" % len(cipher))
    return {"version": TLS_VERSIONS.get(version, "0x%04x" % version), "cipher": _showname_value(cipher[0].showname),
            "cipher_id": int(cipher[0].show, 0), "alpn": hs.all("tls.handshake.extensions_alpn_str")}


def tls_connections(pcap):
    """[{client, server, client_hello: {...}, server_hello: {...} or None}] in order
    of the ClientHellos, one per TCP connection."""
    frames = read_frames(pcap, "tls.handshake.type == 1 || tls.handshake.type == 2")
    conns = collections.OrderedDict()
    for fr in frames:
        for tls in fr.layers("tls"):
            for hs in tls.find("tls.handshake"):
                kind = hs.first("tls.handshake.type")
                if kind == "1":
                    if (fr.src, fr.dst) in conns:
                        raise TruthError("frame %d: a second ClientHello on one connection" % fr.number)
                    conns[(fr.src, fr.dst)] = {"client": fr.src, "server": fr.dst, "client_hello": _client_hello(hs),
                                               "server_hello": None, "ts_ns": fr.ts_ns}
                elif kind == "2":
                    conn = conns.get((fr.dst, fr.src))
                    if conn is None:
                        raise TruthError("frame %d: a ServerHello without a ClientHello" % fr.number)
                    conn["server_hello"] = _server_hello(hs)
    return list(conns.values())


# -- by hand ------------------------------------------------------------------

def main(argv):
    if len(argv) != 3 or argv[1] not in ("http", "sip", "dns", "tls"):
        sys.exit("usage: analyzer_truth.py http|sip|dns|tls FILE.pcap")
    kind, pcap = argv[1], argv[2]
    if kind == "http":
        for (client, server), txs in http_transactions(pcap).items():
            print("%s:%d -> %s:%d" % (client + server))
            for tx in txs:
                print("  %-5s %-22s host=%-18s HTTP/%s -> %s%s" % (
                    tx["method"], tx["uri"], tx["host"], tx["version"], tx["status"],
                    " (after %s)" % tx["interim"] if tx["interim"] else ""))
    elif kind == "sip":
        msgs = sip_messages(pcap)
        for m in msgs:
            what = m["method"] or "%d %s" % (m["status"], m["reason"])
            print("%s %s:%d -> %s:%d %-16s %s cseq=%d %s%s" % ((m["transport"],) + m["src"] + m["dst"] + (
                what, m["call_id"], m["cseq"][0], m["cseq"][1], " media=%s" % m["media"] if m["media"] else "")))
        for call_id, call in sip_calls(msgs).items():
            print("call %s: %s" % (call_id, json.dumps(call)))
    elif kind == "dns":
        for tx in dns_transactions(pcap):
            answers = sorted("%s %s" % (a["type"], a["data"]) for a in tx["answers"] or [])
            print("%s %s:%d id=%d %s %s -> %s %s flags=%s" % ((tx["transport"],) + tx["client"] + (
                tx["id"], tx["name"], tx["type"], tx["rcode"], answers, tx["flags"])))
    else:
        for conn in tls_connections(pcap):
            print("%s:%d -> %s:%d" % (conn["client"] + conn["server"]))
            print("  client %s" % json.dumps(conn["client_hello"]))
            print("  server %s" % json.dumps(conn["server_hello"]))


if __name__ == "__main__":
    main(sys.argv)
