#!/usr/bin/python3
"""Integration test of tapflow's engine (decode, defrag, flow records) against
tshark, on real traffic made in network namespaces and on scapy fixtures.

For every pcap, `tapflow read` must report exactly tshark's flows (unordered
endpoint pair + protocol + outermost VLAN), with tshark's packet and byte counts
in each direction, tshark's Community ID, the client as source, the tunnel the
fixture built, start/end times of the first/last packet, TCP flags, handshake
RTT and end reasons. The same pcap read with 1, 2 and 4 workers gives the same
events. Malformed input exits 0 with valid events; a missing or unreadable file
exits 2 naming the file.

Usage: test_flows.py TAPFLOW [--no-traffic] [--keep DIR] [--only NAME[,NAME]]
"""

import collections
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ground_truth as gt  # noqa: E402
import harness  # noqa: E402

USAGE = __doc__.strip().splitlines()[-1]
PORT_PROTOS = (6, 17, 132)
# Read again with a two-flow table: flows are evicted and come back, sums hold.
# True where open flows overlap, so that eviction must happen (sequential TCP
# connections closed by FIN leave the table as "fin" instead).
EVICTION_PCAPS = {"real_http": False, "real_dns": True, "misc": True, "vlan": True}
TRANSPORT_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp"}


def event_key(ev):
    """The ground-truth flow key of a flow event (same rules as ground_truth.flow_key)."""
    net = ev["network"]
    proto = int(net["iana_number"])
    vlan = net["vlan"]["id"] if "vlan" in net else None
    src, dst = ev["source"], ev["destination"]
    if proto in PORT_PROTOS:
        sport, dport = src.get("port"), dst.get("port")
    elif proto in gt.ICMP_PROTOS:
        sport, dport = ev["icmp"]["type"], ev["icmp"]["code"]
    else:
        sport = dport = 0
    return gt.flow_key(proto, src["ip"], sport, dst["ip"], dport, vlan)


def endpoint_of(ev_end, flow, proto):
    """Maps an event's source/destination to the ground-truth endpoint tuple."""
    if proto in PORT_PROTOS:
        return (ev_end["ip"], ev_end.get("port"))
    for end in (flow.first_sender, flow.first_receiver):
        if end[0] == ev_end["ip"]:
            return end
    return (ev_end["ip"], None)


def split_instances(records):
    """Records of one key, in time order, cut into flow instances (each starts at sequence 0)."""
    records = sorted(records, key=lambda ev: (harness.parse_time(ev["event"]["start"]), ev["flow"]["sequence"]))
    instances = []
    for ev in records:
        if ev["flow"]["sequence"] == 0 or not instances:
            instances.append([])
        instances[-1].append(ev)
    return instances


def expected_reason(flow):
    if flow.proto == 6:
        if flow.rst_seen:
            return "rst"
        if len(flow.fins_from) == 2:
            return "fin"
    return "end_of_input"


def expected_client(flow):
    """The endpoint that must be the source, or None where the rules leave room."""
    if flow.proto == 6 and flow.syn_sender is not None:
        return flow.syn_sender
    if flow.proto in gt.ICMP_PROTOS:
        return flow.icmp_request_sender or flow.first_sender
    if flow.proto in PORT_PROTOS:
        first_port, other_port = flow.first_sender[1], flow.first_receiver[1]
        if first_port >= 32768:  # an ephemeral port is never the well-known side
            return flow.first_sender
        if first_port < 1024 and other_port >= 32768:
            return flow.first_receiver
        return None
    return flow.first_sender


def tcp_flag_letters(bits):
    return set(letter for bit, letter in gt.TCP_FLAG_LETTERS if bits & bit)


def check_exact(chk, pcap, run, name=None, evicting=False, must_evict=False):
    """evicting: the run had a tiny flow table, so flows may be cut into several
    evicted records; their sums must still match."""
    fx = pcap.fixture
    exclude = fx.exclude_datagrams if fx else []
    name = name or pcap.name
    try:
        truth, unattributed = gt.ground_truth(pcap.path, exclude)
    except gt.GroundTruthError as exc:
        chk.check("%s: tshark ground truth" % name, False, str(exc))
        return
    chk.check("%s: tshark sees flows" % name, len(truth) > 0)
    if exclude:
        chk.check("%s: the dropped datagrams' fragments are not attributed to flows" % name,
                  len(unattributed) > 0, "no fragments excluded")

    by_key = collections.defaultdict(list)
    for ev in run.events:
        try:
            by_key[event_key(ev)].append(ev)
        except (KeyError, TypeError, ValueError) as exc:
            chk.check("%s: event has the fields of a flow key" % name, False, "%s in %s" % (exc, ev))
    truth_by_key = {f.key: f for f in truth}
    missing = [truth_by_key[k].describe() for k in truth_by_key if k not in by_key]
    extra = ["%s (%s)" % (k, by_key[k][0]["network"]["community_id"]) for k in by_key if k not in truth_by_key]
    chk.check("%s: same flows as tshark (%d)" % (name, len(truth)), not missing and not extra,
              "missing in tapflow: %s; not in tshark: %s" % (missing, extra))

    for key, flow in truth_by_key.items():
        records = by_key.get(key)
        if not records:
            continue
        label = "%s: %s" % (name, flow.describe())
        check_flow(chk, label, fx, flow, records, evicting)
    if must_evict:
        reasons = collections.Counter(ev["event"]["reason"] for ev in run.events)
        chk.check("%s: some flows were evicted" % name, reasons["evicted"] > 0, str(dict(reasons)))


def check_flow(chk, label, fx, flow, records, evicting=False):
    proto = flow.proto
    ips = frozenset(e[0] for e in (flow.first_sender, flow.first_receiver))

    # Record structure: sequences 0..n-1 per instance, interim records not final.
    instances = split_instances(records)
    want_records = (fx.records.get((ips, proto)) if fx else None) or 1
    structure_ok = True
    detail = []
    for inst in instances:
        seqs = [ev["flow"]["sequence"] for ev in inst]
        finals = [ev["flow"]["final"] for ev in inst]
        reasons = [ev["event"]["reason"] for ev in inst]
        ok = (seqs == list(range(len(inst))) and finals == [False] * (len(inst) - 1) + [True]
              and all(r == "active_timeout" for r in reasons[:-1]) and reasons[-1] != "active_timeout")
        structure_ok = structure_ok and ok
        detail.append("seq=%s final=%s reasons=%s" % (seqs, finals, reasons))
    if evicting:
        chk.check("%s: records well chained" % label, structure_ok, "; ".join(detail))
    else:
        chk.check("%s: %d record(s), well chained" % (label, want_records),
                  structure_ok and len(records) == want_records, "; ".join(detail))

    # Counts in each direction, summed over the records of this key.
    got_pkts, got_bytes = collections.Counter(), collections.Counter()
    totals_ok = True
    for ev in records:
        for side in ("source", "destination"):
            end = endpoint_of(ev[side], flow, proto)
            got_pkts[end] += ev[side]["packets"]
            got_bytes[end] += ev[side]["bytes"]
        net = ev["network"]
        totals_ok = totals_ok and net["packets"] == ev["source"]["packets"] + ev["destination"]["packets"] and \
            net["bytes"] == ev["source"]["bytes"] + ev["destination"]["bytes"]
    want_pkts = {e: flow.packets[e] for e in (flow.first_sender, flow.first_receiver)}
    want_bytes = {e: flow.bytes[e] for e in (flow.first_sender, flow.first_receiver)}
    chk.check("%s: packets per direction" % label, dict(got_pkts) == want_pkts,
              "tapflow %s, tshark %s" % (dict(got_pkts), want_pkts))
    chk.check("%s: bytes per direction" % label, dict(got_bytes) == want_bytes,
              "tapflow %s, tshark %s" % (dict(got_bytes), want_bytes))
    chk.check("%s: network totals are the sum of both directions" % label, totals_ok)

    first = records[0]
    net = first["network"]
    # Community ID: this test's implementation of the spec, and tshark's own.
    cids = set(ev["network"]["community_id"] for ev in records)
    chk.check("%s: community_id matches the spec" % label, cids == {flow.community_id},
              "tapflow %s, expected %s" % (cids, flow.community_id))
    if len(flow.tshark_cids) == 1:
        chk.check("%s: community_id matches tshark" % label, cids == flow.tshark_cids,
                  "tapflow %s, tshark %s" % (cids, flow.tshark_cids))
    elif flow.tshark_cids:
        chk.check("%s: tshark gives one community id" % label, False, str(flow.tshark_cids))

    chk.equal("%s: transport" % label, (net["transport"], net["iana_number"]),
              (TRANSPORT_NAMES.get(proto, str(proto)), str(proto)))
    chk.equal("%s: network.type" % label, net["type"], "ipv4" if flow.version == 4 else "ipv6")
    chk.equal("%s: vlan" % label, (net.get("vlan", {}).get("id"), net.get("inner", {}).get("vlan", {}).get("id")),
              (flow.vlan, flow.inner_vlan))

    # Orientation.
    client = expected_client(flow)
    if client is not None:
        got = [endpoint_of(ev["source"], flow, proto) for ev in records]
        chk.check("%s: source is the client %s:%s" % (label, client[0], client[1]), all(g == client for g in got),
                  "sources %s" % got)
    if proto in PORT_PROTOS:
        chk.check("%s: ports present" % label, all("port" in ev["source"] and "port" in ev["destination"]
                                                   for ev in records))
    else:
        chk.check("%s: no ports" % label, all("port" not in ev["source"] and "port" not in ev["destination"]
                                              for ev in records))

    # Times: the records span exactly the flow's first to last packet.
    starts = [harness.parse_time(ev["event"]["start"]) for ev in records]
    ends = [harness.parse_time(ev["event"]["end"]) for ev in records]
    chk.equal("%s: first start and last end are the first and last packet" % label, (min(starts), max(ends)),
              (flow.first_ts, flow.last_ts))
    chk.check("%s: duration is end - start" % label,
              all(ev["event"]["duration"] == e - s for ev, s, e in zip(records, starts, ends)))

    if evicting:
        return  # the rest describes whole flows, which eviction cuts up
    # End reason of the (last) final record, when the flow was not split by timeouts.
    if want_records == 1:
        chk.equal("%s: end reason" % label, records[-1]["event"]["reason"], expected_reason(flow))

    # Tunnel.
    want_tunnel = fx.tunnels.get((ips, proto)) if fx else None
    tunnels = [ev.get("tunnel") for ev in records]
    if want_tunnel is not None:
        got = dict(tunnels[0] or {})
        if "id" not in want_tunnel and got.get("id") == 0:
            del got["id"]  # no key / id on the wire: 0 or absent are both fine
        chk.check("%s: tunnel %s" % (label, want_tunnel), got == want_tunnel and all(t == tunnels[0] for t in tunnels),
                  "got %s" % tunnels)
    else:
        chk.check("%s: not tunnelled" % label, not flow.tunnelled and all(t is None for t in tunnels),
                  "tshark tunnelled=%s, tapflow %s" % (flow.tunnelled, tunnels))

    # ICMP type/code: the request's when one was seen, else the first packet's.
    if proto in gt.ICMP_PROTOS:
        want = flow.icmp_request or flow.icmp
        chk.equal("%s: icmp type/code" % label, set((ev["icmp"]["type"], ev["icmp"]["code"]) for ev in records),
                  {want})
    else:
        chk.check("%s: no icmp object" % label, all("icmp" not in ev for ev in records))

    # TCP details.
    if proto == 6:
        tcps = [ev.get("tcp") for ev in records]
        if not chk.check("%s: tcp object present" % label, all(tcps)):
            return
        client_end = endpoint_of(records[0]["source"], flow, proto)
        server_end = endpoint_of(records[0]["destination"], flow, proto)
        if len(records) == 1:
            got_flags = (set(tcps[0]["client"]["flags"]), set(tcps[0]["server"]["flags"]))
            want_flags = (tcp_flag_letters(flow.tcp_flags[client_end]), tcp_flag_letters(flow.tcp_flags[server_end]))
            chk.equal("%s: tcp flags per side" % label, got_flags, want_flags)
            for t in tcps:
                for side in ("client", "server"):
                    chk.check("%s: tcp %s flags written once each, in order" % (label, side),
                              t[side]["flags"] == "".join(sorted(set(t[side]["flags"]),
                                                                 key="SAFRPUEC".index)), t[side]["flags"])
            if flow.syn_ts is not None and flow.synack_ts is not None:
                want_rtt = {"server_us": (flow.synack_ts - flow.syn_ts) // 1000}
                if flow.handshake_ack_ts is not None:
                    want_rtt["client_us"] = (flow.handshake_ack_ts - flow.synack_ts) // 1000
                chk.equal("%s: handshake rtt" % label, tcps[0].get("rtt"), want_rtt)
            else:
                chk.check("%s: no rtt without a handshake" % label, "rtt" not in tcps[0], str(tcps[0]))
        want_counters = fx.tcp_counters.get((ips, 6)) if fx else None
        if want_counters is None and fx is not None:
            # Fixtures are made without anomalies unless they say so (tshark's
            # analysis would also see one flow repeated on two VLANs as retransmitted).
            want_counters = {side: {"retransmissions": 0, "out_of_order": 0, "zero_windows": 0}
                             for side in ("client", "server")}
        if want_counters is None:
            # Real traffic may retransmit (tail loss probes, a busy machine):
            # tshark's own TCP analysis of the same frames is the reference.
            want_counters = {side: {k: flow.tcp_analysis[end][k]
                                    for k in ("retransmissions", "out_of_order", "zero_windows")}
                             for side, end in (("client", client_end), ("server", server_end))}
        got_counters = {side: {k: sum(t[side][k] for t in tcps) for k in ("retransmissions", "out_of_order",
                                                                          "zero_windows")}
                        for side in ("client", "server")}
        if fx is None and got_counters != want_counters:
            # Real traffic: a segment that arrives below the next expected
            # sequence is "out-of-order" to tshark when it comes within the
            # connection's first RTT of the highest segment, else a
            # retransmission; tapflow (no per-segment times) calls it
            # out-of-order only when it fills the one hole it remembers. On a
            # real reordering the two can split one anomaly differently (seen
            # once in a CI run); how many anomalies each side had must agree.
            def anomalies(c):
                return {side: (c[side]["retransmissions"] + c[side]["out_of_order"], c[side]["zero_windows"])
                        for side in ("client", "server")}
            chk.equal("%s: tcp anomalies (retransmitted or out of order) and zero windows" % label,
                      anomalies(got_counters), anomalies(want_counters))
            print("note %s: tshark splits the anomalies %s, tapflow %s" % (label, want_counters, got_counters),
                  flush=True)
        else:
            chk.equal("%s: tcp retransmissions / out-of-order / zero windows" % label, got_counters,
                      want_counters)
    else:
        chk.check("%s: no tcp object" % label, all("tcp" not in ev for ev in records))


def check_workers(chk, tapflow, pcap, baseline, workdir):
    """--workers 1 and 4 give the same events as the default run, line for line (sorted)."""
    base = sorted(baseline.lines)
    for n in ("1", "4"):
        run = harness.run_tapflow(tapflow, ["read", pcap.path, "--workers", n] + harness.config_args(pcap, workdir))
        same = run.returncode == 0 and sorted(run.lines) == base
        detail = ""
        if not same:
            only_a = sorted(set(run.lines) - set(base))[:3]
            only_b = sorted(set(base) - set(run.lines))[:3]
            detail = "rc=%s; only with %s workers: %s; only with default: %s" % (run.returncode, n, only_a, only_b)
        chk.check("%s: --workers %s gives the same events" % (pcap.name, n), same, detail)


EVENT_TYPES = {"flow", "http", "sip", "sip_call", "dns", "tls"}


def check_run_basics(chk, pcap, run, name=None):
    name = name or pcap.name
    chk.check("%s: exit 0" % name, run.returncode == 0, "rc=%s stderr=%s" % (run.returncode, run.stderr[-500:]))
    chk.check("%s: every line is JSON" % name, not run.bad_lines, str(run.bad_lines[:2]))
    chk.check("%s: every event is a schema-1 event of a known type" % name,
              all(ev.get("type") in EVENT_TYPES and ev.get("schema") == 1 for ev in run.events))
    # Flow records are this test's subject; the analyzers' events are test_analyzers.py's.
    run.events = [ev for ev in run.events if ev.get("type") == "flow"]
    for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        chk.check("%s: no %s report" % (name, marker), marker not in run.stderr, run.stderr[-1500:])


def check_errors(chk, tapflow, workdir, sample_pcap):
    missing = os.path.join(workdir, "no-such-capture.pcap")
    run = harness.run_tapflow(tapflow, ["read", missing])
    chk.equal("missing pcap: exit 2", run.returncode, 2)
    chk.check("missing pcap: the error names the file", missing in run.stderr, run.stderr[-500:])
    chk.equal("missing pcap: no events", run.lines, [])

    garbage = os.path.join(workdir, "not-a-pcap.pcap")
    with open(garbage, "wb") as f:
        f.write(b"this is not a capture file\n" * 20)
    run = harness.run_tapflow(tapflow, ["read", garbage])
    chk.equal("not a pcap: exit 2", run.returncode, 2)
    chk.check("not a pcap: the error names the file", garbage in run.stderr, run.stderr[-500:])

    # -o PATH writes what stdout would have carried.
    out = os.path.join(workdir, "events.jsonl")
    run = harness.run_tapflow(tapflow, ["read", sample_pcap, "-o", out, "--workers", "1"])
    ref = harness.run_tapflow(tapflow, ["read", sample_pcap, "--workers", "1"])
    with open(out) if os.path.exists(out) else open(os.devnull) as f:
        written = [line for line in f.read().split("\n") if line]
    chk.check("-o FILE: exit 0, nothing on stdout, the same events in the file",
              run.returncode == 0 and not run.lines and sorted(written) == sorted(ref.lines) and written,
              "rc=%s stdout lines=%d file lines=%d" % (run.returncode, len(run.lines), len(written)))


def main(argv):
    opts = harness.parse_args(argv, USAGE)
    tapflow = opts["tapflow"]
    workdir = opts["keep"] or tempfile.mkdtemp(prefix="tapflow-it-flows-")
    os.makedirs(workdir, exist_ok=True)
    chk = harness.Checker("flows")
    try:
        pcaps = harness.make_all_pcaps(workdir, opts["traffic"])
        if opts["only"]:
            pcaps = [p for p in pcaps if p.name in opts["only"]]
        for pcap in pcaps:
            run = harness.run_tapflow(tapflow, ["read", pcap.path] + harness.config_args(pcap, workdir))
            if pcap.kind == "truncated_file":
                chk.check("%s: exit 0 or 2, no crash" % pcap.name, run.returncode in (0, 2),
                          "rc=%s stderr=%s" % (run.returncode, run.stderr[-500:]))
                if run.returncode == 2:
                    chk.check("%s: the error names the file" % pcap.name, pcap.path in run.stderr, run.stderr[-500:])
                chk.check("%s: every line is JSON" % pcap.name, not run.bad_lines)
                chk.check("%s: the flows before the cut are reported" % pcap.name, len(run.events) > 0)
                continue
            check_run_basics(chk, pcap, run)
            if pcap.kind == "exact":
                check_exact(chk, pcap, run)
            check_workers(chk, tapflow, pcap, run, workdir)
            if pcap.name in EVICTION_PCAPS:
                config = harness.write_config(workdir, pcap, "flows:\n  max_flows: 2\n")
                evict_run = harness.run_tapflow(tapflow, ["read", pcap.path, "-c", config, "--workers", "1"])
                check_run_basics(chk, pcap, evict_run, pcap.name + " (max_flows 2)")
                check_exact(chk, pcap, evict_run, name=pcap.name + " (max_flows 2)", evicting=True,
                            must_evict=EVICTION_PCAPS[pcap.name])
        sample = next((p.path for p in pcaps if p.kind == "exact"), None)
        if sample:
            check_errors(chk, tapflow, workdir, sample)
    finally:
        if not opts["keep"]:
            shutil.rmtree(workdir, ignore_errors=True)
    return chk.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
