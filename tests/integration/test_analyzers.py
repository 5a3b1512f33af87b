#!/usr/bin/python3
"""Integration test of tapflow's protocol analyzers (HTTP/1.x, SIP, DNS, TLS
hellos) on real traffic made in network namespaces (analyzer_traffic.py),
against tshark's dissection of the same pcaps (analyzer_truth.py) and against
what the traffic's own clients saw (status codes, body sizes, answers).

For each pcap, the events `tapflow read` prints besides its flow records must
be exactly tshark's transactions:
  http      (method, uri, host, status) per TCP connection, in order; request
            version, user agent; body sizes as the client sent and received
            them; a 100 Continue is never the reported status
  sip       every message exactly once (transport, direction, method or status,
            Call-ID, CSeq), with tags, branch, user agent and SDP media
  sip_call  one per call: final status (200 or 486), end reason, who hung up
  dns       (name, type, rcode, answers as a set) per query, flags, latency
  tls       (server name, JA3, chosen version, cipher) per connection, and the
            JA3 string, JA4, ALPN and supported versions of the ClientHello
Every application event carries the common fields (times, network, endpoints
with the client as source, the flow's Community ID), and --workers 1 gives the
same application events as the default.

--truth-only makes the pcaps and prints tshark's transactions without running
tapflow; --no-traffic reuses the pcaps a previous --keep DIR run left there.

Usage: test_analyzers.py TAPFLOW [--no-traffic] [--keep DIR] [--only http,sip,dns,tls] [--truth-only]
"""

import collections
import ipaddress
import json
import os
import shutil
import sys
import tempfile
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import analyzer_traffic  # noqa: E402
import analyzer_truth as truth  # noqa: E402
import ground_truth as gt  # noqa: E402
import harness  # noqa: E402

USAGE = __doc__.strip().splitlines()[-1]
APP_TYPES = ("http", "sip", "sip_call", "dns", "tls")
# The application events each scenario's pcap may give: anything else is an
# analyzer that claimed traffic that is not its own.
TYPES_OF_SCENARIO = {"http": {"http"}, "sip": {"sip", "sip_call"}, "dns": {"dns"}, "tls": {"tls"}}
IANA = {"tcp": 6, "udp": 17}
MAX_DIFF_LINES = 12


# -- helpers ------------------------------------------------------------------

def get(obj, path, default=None):
    """obj["a"]["b"] for path "a.b"; default when any step is missing."""
    for key in path.split("."):
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def endpoint(ev_end):
    return (normal_ip(ev_end["ip"]), ev_end.get("port"))


def normal_ip(text):
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def fmt_end(end):
    ip, port = end
    return "[%s]:%s" % (ip, port) if ":" in ip else "%s:%s" % (ip, port)


def fmt_conn(client, server):
    return "%s -> %s" % (fmt_end(client), fmt_end(server))


def diff_lines(want, got, describe=repr):
    """Lines naming what is only in `want` (tshark) and only in `got` (tapflow), as multisets."""
    w, g = collections.Counter(want), collections.Counter(got)
    lines = ["  missing in tapflow: %s" % describe(x) for x in sorted((w - g).elements(), key=repr)]
    lines += ["  only in tapflow:    %s" % describe(x) for x in sorted((g - w).elements(), key=repr)]
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + ["  ... and %d more" % (len(lines) - MAX_DIFF_LINES)]
    return lines


def check_multiset(chk, name, want, got, describe=repr):
    lines = diff_lines(want, got, describe)
    return chk.check(name, not lines, "\n" + "\n".join(lines))


def check_list(chk, name, problems, compared=None):
    """One check over a list of problems; with `compared`, also fails when nothing
    was compared (no event lined up with the ground truth)."""
    if compared is not None:
        name = "%s (%d compared)" % (name, compared)
        if compared == 0 and not problems:
            problems = ["nothing to compare: no tapflow event lines up with tshark's"]
    shown = problems[:MAX_DIFF_LINES] + (["... and %d more" % (len(problems) - MAX_DIFF_LINES)]
                                         if len(problems) > MAX_DIFF_LINES else [])
    return chk.check(name, not problems, "\n" + "\n".join("  " + p for p in shown))


def app_events(run, kind):
    return [ev for ev in run.events if ev.get("type") == kind]


def by_connection(events):
    """{(client, server): [events in time order]}; ties keep tapflow's output order."""
    conns = collections.OrderedDict()
    for i, ev in enumerate(events):
        conns.setdefault((endpoint(ev["source"]), endpoint(ev["destination"])), []).append((i, ev))
    return {k: [ev for _, ev in sorted(v, key=lambda p: (harness.parse_time(p[1]["event"]["start"]), p[0]))]
            for k, v in conns.items()}


# -- checks common to every application event ---------------------------------

def check_common(chk, name, kind, run):
    """Only this scenario's event types; fields every application event has, and
    the same values as its flow."""
    types = collections.Counter(ev.get("type") for ev in run.events if ev.get("type") != "flow")
    chk.check("%s: only %s events besides flows" % (name, "/".join(sorted(TYPES_OF_SCENARIO[kind]))),
              set(types) <= TYPES_OF_SCENARIO[kind], str(dict(types)))
    problems = []
    for ev in run.events:
        if ev.get("type") not in APP_TYPES:
            continue
        where = "%s event %s" % (ev["type"], json.dumps(ev)[:200])
        try:
            start, end = harness.parse_time(ev["event"]["start"]), harness.parse_time(ev["event"]["end"])
            net, src, dst = ev["network"], ev["source"], ev["destination"]
            if ev.get("schema") != 1:
                problems.append("%s: schema %r" % (where, ev.get("schema")))
            if ev["event"]["duration"] != end - start or end < start:
                problems.append("%s: duration %r is not end - start >= 0" % (where, ev["event"]["duration"]))
            proto = IANA.get(net["transport"])
            if proto is None or str(net["iana_number"]) != str(proto):
                problems.append("%s: transport %r / iana_number %r" % (where, net["transport"], net["iana_number"]))
                continue
            version = ipaddress.ip_address(src["ip"]).version
            if net["type"] != "ipv%d" % version:
                problems.append("%s: network.type %r" % (where, net["type"]))
            want_cid = gt.community_id(proto, src["ip"], dst["ip"], src["port"], dst["port"])
            if net["community_id"] != want_cid:
                problems.append("%s: community_id %r, expected %r" % (where, net["community_id"], want_cid))
        except (KeyError, TypeError, ValueError) as exc:
            problems.append("%s: %s %s" % (where, type(exc).__name__, exc))
    check_list(chk, "%s: every application event has valid common fields and its flow's community_id" % name,
               problems)


def check_run(chk, name, run):
    ok = chk.check("%s: exit 0" % name, run.returncode == 0, "rc=%s stderr=%s" % (run.returncode, run.stderr[-800:]))
    chk.check("%s: every line is JSON" % name, not run.bad_lines, str(run.bad_lines[:2]))
    for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        chk.check("%s: no %s report" % (name, marker), marker not in run.stderr, run.stderr[-1500:])
    return ok


def check_workers(chk, tapflow, name, pcap, baseline):
    """--workers 1 gives the same application events as the default run (sorted lines)."""
    def app_lines(run):
        return sorted(line for line, ev in zip(run.lines, run.events) if ev.get("type") in APP_TYPES)
    if baseline.bad_lines:
        return
    run = harness.run_tapflow(tapflow, ["read", pcap, "--workers", "1"])
    a, b = app_lines(run), app_lines(baseline)
    chk.check("%s: --workers 1 gives the same application events" % name, run.returncode == 0 and a == b,
              "rc=%s; only with 1 worker: %s; only with the default: %s" % (
                  run.returncode, sorted(set(a) - set(b))[:2], sorted(set(b) - set(a))[:2]))


# -- HTTP ---------------------------------------------------------------------

def http_key(tx):
    return (tx["method"], tx["uri"], tx["host"], tx["status"])


def http_event_key(ev):
    return (get(ev, "http.request.method"), get(ev, "url.original"), get(ev, "url.domain"),
            get(ev, "http.response.status_code"))


def check_http_truth(chk, txs, expect):
    """tshark saw what the clients did: the scenario and the ground truth agree."""
    want = [(tuple(e["client"]), tuple(e["server"]), e["method"], e["uri"], e["host"], e["status"])
            for e in expect["http"]]
    got = [(client, server) + http_key(tx) for (client, server), conn in txs.items() for tx in conn]
    check_multiset(chk, "http truth: tshark's transactions are the ones the clients made (%d)" % len(want),
                   [(normal_ip(w[0][0]), w[0][1], normal_ip(w[1][0]), w[1][1]) + w[2:] for w in want],
                   [(g[0][0], g[0][1], g[1][0], g[1][1]) + g[2:] for g in got])


def check_http(chk, name, run, txs, expect):
    events = app_events(run, "http")
    conns = by_connection(events)
    # The main assertion: per connection, tapflow's transactions in order are tshark's.
    problems = []
    for key in list(txs) + [k for k in conns if k not in txs]:
        want = [http_key(tx) for tx in txs.get(key, [])]
        got = [http_event_key(ev) for ev in conns.get(key, [])]
        if want != got:
            problems.append("%s:\n      tshark  %s\n      tapflow %s" % (fmt_conn(*key), want, got))
    n = sum(len(v) for v in txs.values())
    check_list(chk, "%s: (method, uri, host, status) per connection in order, as tshark (%d transactions in %d "
               "connections)" % (name, n, len(txs)), problems)

    # Details of each transaction that lines up with tshark's.
    expected = {}
    for e in expect["http"]:
        expected.setdefault(((normal_ip(e["client"][0]), e["client"][1]), (normal_ip(e["server"][0]),
                                                                          e["server"][1])), []).append(e)
    detail, bodies, interim, timing = [], [], [], []
    compared = 0
    for key, conn in txs.items():
        evs = conns.get(key, [])
        exps = expected.get(key, [])
        for i, tx in enumerate(conn):
            if i >= len(evs) or http_event_key(evs[i]) != http_key(tx):
                continue
            ev = evs[i]
            compared += 1
            label = "%s #%d %s %s" % (fmt_conn(*key), i, tx["method"], tx["uri"])
            want = {"version": tx["version"], "user_agent": tx["user_agent"]}
            got = {"version": get(ev, "http.version"), "user_agent": get(ev, "user_agent.original")}
            if want != got:
                detail.append("%s: tapflow %s, tshark %s" % (label, got, want))
            if i < len(exps) and (exps[i]["method"], exps[i]["uri"]) == (tx["method"], tx["uri"]):
                want = (exps[i]["request_body"], exps[i]["response_body"])
                got = (get(ev, "http.request.body.bytes"), get(ev, "http.response.body.bytes"))
                if want != got:
                    bodies.append("%s: tapflow (request, response) body bytes %s, the client %s" % (label, got,
                                                                                                    want))
            else:
                bodies.append("%s: the scenario has no matching request" % label)
            latency = get(ev, "http.latency_us")
            if tx["status"] is not None and not (isinstance(latency, int) and
                                                 0 <= latency * 1000 <= ev["event"]["duration"] + 1000):
                timing.append("%s: latency_us %r not within the event's duration %r ns" % (
                    label, latency, ev["event"]["duration"]))
    check_list(chk, "%s: request version and user agent as tshark" % name, detail, compared)
    check_list(chk, "%s: request and response body bytes as the client sent and received them" % name, bodies,
               compared)
    # Whatever else differs: the status tapflow gives a request answered "100 Continue" first.
    for key, conn in txs.items():
        evs = conns.get(key, [])
        for i, tx in enumerate(conn):
            if tx["interim"]:
                got = get(evs[i], "http.response.status_code") if i < len(evs) else "no event"
                # Where tapflow names the interim answer too, it must be one tshark saw.
                informational = get(evs[i], "http.response.informational_status_code") if i < len(evs) else None
                if informational is not None and informational not in tx["interim"]:
                    got = "%s, informational_status_code %s" % (got, informational)
                interim.append(("%s #%d %s %s" % (fmt_conn(*key), i, tx["method"], tx["uri"]), tx["interim"],
                                tx["status"], got))
    chk.check("%s: the 100-continue upload is there, reported with its final status" % name,
              interim and all(want == got for _, _, want, got in interim),
              "; ".join("%s: interim %s, final %s, tapflow %s" % x for x in interim) or "no 1xx in the capture")
    check_list(chk, "%s: latency_us is an integer within the transaction" % name, timing, compared)
    chk.check("%s: the response object is present on every answered transaction" % name,
              all("response" in ev.get("http", {}) for ev in events))


# -- SIP ----------------------------------------------------------------------

def sip_key(m):
    return (m["transport"], m["src"], m["dst"], m["method"] or m["status"], m["call_id"], m["cseq"])


def sip_event_key(ev):
    s = ev.get("sip", {})
    return (ev["network"]["transport"], endpoint(ev["source"]), endpoint(ev["destination"]),
            s.get("method") or s.get("status_code"), s.get("call_id"),
            (get(s, "cseq.number"), get(s, "cseq.method")))


def describe_sip(k):
    return "%s %s -> %s %s call %s cseq %s" % (k[0], fmt_end(k[1]), fmt_end(k[2]), k[3], k[4], k[5])


def sip_details(m):
    return {"reason": m["reason"], "from": (m["from_uri"], m["from_tag"]), "to": (m["to_uri"], m["to_tag"]),
            "branch": m["branch"], "user_agent": m["user_agent"],
            "media": [(x["type"], x["address"], x["port"], x["protocol"], tuple(x["codecs"])) for x in m["media"]]}


def sip_event_details(ev):
    s = ev.get("sip", {})
    return {"reason": s.get("reason"), "from": (get(s, "from.uri"), get(s, "from.tag")),
            "to": (get(s, "to.uri"), get(s, "to.tag")), "branch": get(s, "via.branch"),
            "user_agent": s.get("user_agent"),
            "media": [(x.get("type"), x.get("address"), x.get("port"), x.get("protocol"), tuple(x.get("codecs", [])))
                      for x in s.get("media", [])]}


def check_sip_truth(chk, msgs, expect):
    seen = collections.Counter("%s %s %s %s" % (c["status"], c["end_reason"], c["hangup"], c["transport"])
                               for c in truth.sip_calls(msgs).values())
    chk.equal("sip truth: tshark's calls are the ones sipp made (final status, end, hangup, transport)",
              dict(seen), expect["sip_calls"])


def check_sip(chk, name, run, msgs, expect):
    events = app_events(run, "sip")
    check_multiset(chk, "%s: every SIP message exactly once, as tshark (%d)" % (name, len(msgs)),
                   [sip_key(m) for m in msgs], [sip_event_key(ev) for ev in events], describe_sip)
    # Details, message by message, where the keys line up (in order of each key).
    want_by_key, got_by_key = collections.defaultdict(list), collections.defaultdict(list)
    for m in msgs:
        want_by_key[sip_key(m)].append(sip_details(m))
    for ev in events:
        got_by_key[sip_event_key(ev)].append(sip_event_details(ev))
    problems = []
    compared = 0
    for key, wants in want_by_key.items():
        for want, got in zip(wants, got_by_key.get(key, [])):
            compared += 1
            diffs = {f: (got[f], want[f]) for f in want if got[f] != want[f]}
            if diffs:
                problems.append("%s: %s" % (describe_sip(key), "; ".join(
                    "%s tapflow %r tshark %r" % (f, g, w) for f, (g, w) in diffs.items())))
    check_list(chk, "%s: reason, from/to uri and tag, via branch, user agent, SDP media as tshark" % name, problems,
               compared)

    calls = truth.sip_calls(msgs)
    call_events = app_events(run, "sip_call")
    got_ids = collections.Counter(get(ev, "sip.call_id") for ev in call_events)
    check_multiset(chk, "%s: one sip_call per call (%d)" % (name, len(calls)), list(calls), list(got_ids.elements()))
    problems = []
    compared = 0
    by_id = {get(ev, "sip.call_id"): ev for ev in call_events}
    for call_id, call in calls.items():
        ev = by_id.get(call_id)
        if ev is None:
            continue
        compared += 1
        want = {"status": call["status"], "end_reason": call["end_reason"], "hangup": call["hangup"],
                "from": call["from_uri"], "to": call["to_uri"], "transport": call["transport"]}
        got = {"status": get(ev, "sip.call.status"), "end_reason": get(ev, "sip.call.end_reason"),
               "hangup": get(ev, "sip.call.hangup"), "from": get(ev, "sip.from.uri"), "to": get(ev, "sip.to.uri"),
               "transport": get(ev, "network.transport")}
        if want["end_reason"] is None:  # still up at the end: either is right
            want["end_reason"] = got["end_reason"] if got["end_reason"] in ("timeout", "flush") else "timeout|flush"
        if want != got:
            problems.append("call %s: tapflow %s, tshark %s" % (call_id, got, want))
        for field in ("setup_us", "ring_us", "duration_us"):
            value = get(ev, "sip.call." + field)
            if value is not None and not (isinstance(value, int) and 0 <= value * 1000 <= ev["event"]["duration"]
                                          + 1000):
                problems.append("call %s: %s %r not within the call's %r ns" % (call_id, field, value,
                                                                               ev["event"]["duration"]))
        if call["status"] == 200 and get(ev, "sip.call.setup_us") is None:
            problems.append("call %s: an answered call without setup_us" % call_id)
    check_list(chk, "%s: each call's final status, end reason, hangup side, from/to as tshark" % name, problems,
               compared)


# -- DNS ----------------------------------------------------------------------

def dns_answer_set(answers, with_ttl=True):
    out = set()
    for a in answers or []:
        data = a.get("data")
        if a.get("type") in ("A", "AAAA"):
            data = normal_ip(data)
        out.add((a.get("name"), a.get("type"), a.get("ttl") if with_ttl else None, data))
    return frozenset(out)


def dns_key(tx):
    return (tx["transport"], tx["client"], tx["server"], tx["id"], tx["name"], tx["type"], tx["rcode"],
            dns_answer_set(tx["answers"]) if tx["rcode"] is not None else None)


def dns_event_key(ev):
    d = ev.get("dns", {})
    rcode = d.get("response_code")
    return (ev["network"]["transport"], endpoint(ev["source"]), endpoint(ev["destination"]), d.get("id"),
            get(d, "question.name"), get(d, "question.type"), rcode,
            dns_answer_set(d.get("answers")) if rcode is not None else None)


def describe_dns(k):
    answers = sorted("%s %s %s ttl=%s" % (a[0], a[1], a[3], a[2]) for a in k[7]) if k[7] is not None else None
    return "%s %s -> %s id=%s %s %s -> %s %s" % (k[0], fmt_end(k[1]), fmt_end(k[2]), k[3], k[4], k[5], k[6], answers)


def check_dns_truth(chk, txs, expect):
    want = sorted((e["name"], e["type"], e["rcode"], e["transport"], tuple(sorted(map(tuple, e["answers"]))))
                  for e in expect["dns"])
    got = sorted((tx["name"], tx["type"], tx["rcode"], tx["transport"],
                  tuple(sorted((a["type"], a["data"]) for a in tx["answers"] or []))) for tx in txs)
    check_multiset(chk, "dns truth: tshark's transactions are the ones dig asked and got (%d)" % len(want), want, got)
    keepopen = collections.Counter((tx["client"], tx["server"]) for tx in txs if tx["transport"] == "tcp")
    chk.check("dns truth: two queries on one TCP connection (+keepopen)", 2 in keepopen.values(), str(keepopen))


def check_dns(chk, name, run, txs, expect):
    events = app_events(run, "dns")
    check_multiset(chk, "%s: (name, type, rcode, answers) per query, as tshark (%d)" % (name, len(txs)),
                   [dns_key(tx) for tx in txs], [dns_event_key(ev) for ev in events], describe_dns)
    by_key = collections.defaultdict(list)
    for ev in events:
        by_key[dns_event_key(ev)].append(ev)
    problems = []
    compared = 0
    for tx in txs:
        evs = by_key.get(dns_key(tx))
        if not evs:
            continue
        compared += 1
        ev = evs.pop(0)
        d = ev["dns"]
        label = describe_dns(dns_key(tx))
        if get(d, "question.class") != "IN":
            problems.append("%s: question.class %r" % (label, get(d, "question.class")))
        if tx["rcode"] is None:
            continue
        if sorted(d.get("header_flags", [])) != tx["flags"]:
            problems.append("%s: header_flags %s, tshark %s" % (label, d.get("header_flags"), tx["flags"]))
        want_ips = sorted(normal_ip(a["data"]) for a in tx["answers"] if a["type"] in ("A", "AAAA"))
        got_ips = sorted(normal_ip(x) for x in d.get("resolved_ip", []))
        if want_ips != got_ips:
            problems.append("%s: resolved_ip %s, expected %s" % (label, got_ips, want_ips))
        latency = d.get("latency_us")
        if not isinstance(latency, int) or abs(latency - tx["latency_ns"] / 1000) > 1:
            problems.append("%s: latency_us %r, tshark %.3f" % (label, latency, tx["latency_ns"] / 1000))
    check_list(chk, "%s: question class, header flags, resolved_ip and latency as tshark" % name, problems, compared)


# -- TLS ----------------------------------------------------------------------

def tls_key(conn):
    ch, sh = conn["client_hello"], conn["server_hello"] or {}
    return (conn["client"], conn["server"], ch["server_name"], ch["ja3"], sh.get("version"), sh.get("cipher"))


def tls_event_key(ev):
    t = ev.get("tls", {})
    return (endpoint(ev["source"]), endpoint(ev["destination"]), get(t, "client.server_name"), get(t, "client.ja3"),
            t.get("version"), t.get("cipher"))


def describe_tls(k):
    return "%s sni=%s ja3=%s version=%s cipher=%s" % (fmt_conn(k[0], k[1]), k[2], k[3], k[4], k[5])


def check_tls_truth(chk, conns, expect):
    want = sorted((e["sni"] or "", e["version"]) for e in expect["tls"])
    got = sorted(((c["client_hello"]["server_name"] or ""), (c["server_hello"] or {}).get("version")) for c in conns)
    chk.equal("tls truth: tshark's handshakes are the ones the clients made (sni, version)", got, want)


def check_tls(chk, name, run, conns, expect):
    events = app_events(run, "tls")
    check_multiset(chk, "%s: (sni, ja3, version, cipher) per connection, as tshark (%d)" % (name, len(conns)),
                   [tls_key(c) for c in conns], [tls_event_key(ev) for ev in events], describe_tls)
    by_conn = {(endpoint(ev["source"]), endpoint(ev["destination"])): ev for ev in events}
    problems = []
    compared = 0
    for conn in conns:
        ev = by_conn.get((conn["client"], conn["server"]))
        if ev is None:
            continue
        compared += 1
        ch = conn["client_hello"]
        t = ev.get("tls", {})
        client = t.get("client", {})
        want = {"ja3_string": ch["ja3_string"], "ja4": ch["ja4"], "alpn": ch["alpn"],
                "supported_versions": ch["supported_versions"], "version_protocol": "tls",
                "server_name present": ch["server_name"] is not None}
        got = {"ja3_string": client.get("ja3_string"), "ja4": client.get("ja4"), "alpn": client.get("alpn", []),
               "supported_versions": client.get("supported_versions", []),
               "version_protocol": t.get("version_protocol"), "server_name present": "server_name" in client}
        diffs = ["%s tapflow %r tshark %r" % (f, got[f], want[f]) for f in want if got[f] != want[f]]
        if diffs:
            problems.append("%s: %s" % (fmt_conn(conn["client"], conn["server"]), "; ".join(diffs)))
    check_list(chk, "%s: JA3 string, JA4, ALPN, supported versions, version_protocol as tshark" % name, problems,
               compared)


# -- main ---------------------------------------------------------------------

def parse_args(argv):
    args = list(argv[1:])
    opts = {"tapflow": None, "traffic": True, "keep": None, "only": list(analyzer_traffic.SCENARIOS),
            "truth_only": False}
    while args:
        a = args.pop(0)
        if a == "--no-traffic":
            opts["traffic"] = False
        elif a == "--truth-only":
            opts["truth_only"] = True
        elif a == "--keep" and args:
            opts["keep"] = os.path.abspath(args.pop(0))
        elif a == "--only" and args:
            opts["only"] = args.pop(0).split(",")
            unknown = set(opts["only"]) - set(analyzer_traffic.SCENARIOS)
            if unknown:
                sys.exit("unknown scenario(s) %s; known: %s" % (sorted(unknown), list(analyzer_traffic.SCENARIOS)))
        elif opts["tapflow"] is None and not a.startswith("-"):
            opts["tapflow"] = os.path.abspath(a)
        else:
            sys.exit(USAGE)
    if not opts["truth_only"]:
        if opts["tapflow"] is None:
            sys.exit(USAGE)
        if not os.access(opts["tapflow"], os.X_OK):
            sys.exit("not an executable: %s" % opts["tapflow"])
    if not opts["traffic"] and not opts["keep"]:
        sys.exit("--no-traffic needs --keep DIR holding the pcaps of an earlier run")
    return opts


# Per scenario: tshark's ground truth, its check against what the clients saw,
# and the check of tapflow's events against both.
LOAD_TRUTH = {"http": truth.http_transactions, "sip": truth.sip_messages, "dns": truth.dns_transactions,
              "tls": truth.tls_connections}
TRUTH_CHECKS = {"http": check_http_truth, "sip": check_sip_truth, "dns": check_dns_truth, "tls": check_tls_truth}
ANALYZER_CHECKS = {"http": check_http, "sip": check_sip, "dns": check_dns, "tls": check_tls}


def main(argv):
    opts = parse_args(argv)
    workdir = opts["keep"] or tempfile.mkdtemp(prefix="tapflow-it-analyzers-")
    os.makedirs(workdir, exist_ok=True)
    chk = harness.Checker("analyzers")
    try:
        if opts["traffic"]:
            if os.geteuid() != 0:
                sys.exit("the scenarios need root (network namespaces); run as root or reuse pcaps with "
                         "--no-traffic --keep DIR")
            pcaps = analyzer_traffic.make_pcaps(workdir, opts["only"])
        else:
            pcaps = {k: os.path.join(workdir, "analyzer_%s.pcap" % k) for k in opts["only"]}
            missing = [p for p in pcaps.values() if not os.path.exists(p + ".expect.json")]
            if missing:
                sys.exit("no pcap and expectation from an earlier run: %s" % missing)
        for kind, pcap in pcaps.items():
            name = "analyzer_" + kind
            chk.check("%s: pcap under 2 MB" % name, os.path.getsize(pcap) < 2 << 20, str(os.path.getsize(pcap)))
            expect = analyzer_traffic.read_expectation(pcap)
            try:
                facts = LOAD_TRUTH[kind](pcap)
            except truth.TruthError as exc:
                chk.check("%s: tshark's ground truth" % name, False, str(exc))
                continue
            if opts["truth_only"]:
                print("-- tshark: %s" % pcap, flush=True)
                truth.main(["analyzer_truth.py", kind, pcap])
            TRUTH_CHECKS[kind](chk, facts, expect)
            if opts["truth_only"]:
                continue
            run = harness.run_tapflow(opts["tapflow"], ["read", pcap])
            if not check_run(chk, name, run):
                continue
            check_common(chk, name, kind, run)
            try:
                ANALYZER_CHECKS[kind](chk, name, run, facts, expect)
            except (KeyError, TypeError, ValueError, AttributeError):
                # An event without a field the comparison needs: a failure, not a crash.
                chk.check("%s: events have the fields the comparison needs" % name, False,
                          traceback.format_exc(limit=-2))
            check_workers(chk, opts["tapflow"], name, pcap, run)
    finally:
        if not opts["keep"]:
            shutil.rmtree(workdir, ignore_errors=True)
    return chk.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
