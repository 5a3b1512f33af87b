#!/usr/bin/python3
"""Kubernetes enrichment end to end (issue 6): real traffic between network
namespaces standing in for pods, the pods, services, EndpointSlices and nodes
served by fake_kube_api.py (HTTPS, a kubeconfig with certificate-authority-data
and a token), and `tapflow read` / `tapflow run` with kubernetes.enabled.

  enrich       tcpdump's capture of curl -> nginx (IPv4, IPv6), dig -> dnsmasq
               (UDP, TCP), UDP and ICMP to an address the API does not know and
               to the node's InternalIP, UDP from both into the client pod;
               plus scapy-made packets to Service ClusterIPs (IPv4, IPv6), to a
               CoreDNS pod on another node, from outside to a service and to
               the node. Every flow, http and dns event: the kubernetes fields
               of both ends (pod, namespace, node, workload, services, the
               allow-listed labels; service; node) and the direction, against
               what the test told the fake API server; the same events as
               without kubernetes once those fields are taken out; `tapflow
               run` on the same pcap counts no event unenriched.
  unreachable  the API server stopped, and a kubeconfig naming a closed port,
               with initial_list_timeout 1s: `tapflow read` emits every event
               (same count as without kubernetes), none enriched; `tapflow run`
               on the pcap shows tapflow_kubernetes_events_unenriched_total
               equal to the number of events, and the watch counters.

Needs root (namespaces, tcpdump), nginx, dnsmasq, curl, dig, python3-scapy.
Usage: test_k8s_enrich.py TAPFLOW [--keep DIR] [--only enrich,unreachable]
"""

import collections
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_kube_api as fk  # noqa: E402
import traffic  # noqa: E402
from harness import Checker, run_tapflow  # noqa: E402
import test_schema  # noqa: E402  (the event schema's validator)
from traffic import CLIENT_MAC, CLIENT_V4, CLIENT_V6, PYTHON, SERVER_MAC, SERVER_V4, SERVER_V6  # noqa: E402

THIS_FILE = os.path.abspath(__file__)
TOKEN = "enrich-token-7f3a"

# Extra addresses in the server namespace: node-a's InternalIP (also the IP of
# a host-network pod), and one the API server knows nothing about.
NODE_IP = "10.77.0.3"
UNKNOWN_IP = "10.77.0.9"
# Only in scapy-made packets, never sent.
SERVICE_V4, SERVICE_V6 = "10.96.0.20", "fd00:96::20"
KUBE_DNS_IP = "10.96.0.10"
COREDNS_IP = "10.244.2.3"
OUTSIDE_IP = "192.0.2.50"
OTHER_OUTSIDE_IP = "198.51.100.7"

CLIENT_POD = "checkout-5d8f7c9b4-q7w2x"
SERVER_POD = "web-0"
COREDNS_POD = "coredns-5d78c9869d-8xk2m"

# What each address must be in events (labels allow-list: [app]).
CLIENT_KUBE = {"namespace": "shop", "pod": CLIENT_POD, "node": "node-a",
               "workload": {"kind": "Deployment", "name": "checkout"}, "labels": {"app": "checkout"}}
SERVER_KUBE = {"namespace": "shop", "pod": SERVER_POD, "node": "node-b",
               "workload": {"kind": "StatefulSet", "name": "web"}, "services": ["web", "web-headless"],
               "labels": {"app": "web"}}
# CoreDNS: no allow-listed label (k8s-app only), so no "labels".
COREDNS_KUBE = {"namespace": "kube-system", "pod": COREDNS_POD, "node": "node-b",
                "workload": {"kind": "Deployment", "name": "coredns"}, "services": ["kube-dns"]}
EXPECT = {
    CLIENT_V4: CLIENT_KUBE, CLIENT_V6: CLIENT_KUBE,
    SERVER_V4: SERVER_KUBE, SERVER_V6: SERVER_KUBE,
    COREDNS_IP: COREDNS_KUBE,
    SERVICE_V4: {"namespace": "shop", "service": "web"}, SERVICE_V6: {"namespace": "shop", "service": "web"},
    KUBE_DNS_IP: {"namespace": "kube-system", "service": "kube-dns"},
    NODE_IP: {"node": "node-a"},
}


def kind_of(ip):
    k = EXPECT.get(ip)
    if k is None:
        return None
    return "pod" if "pod" in k else "service" if "service" in k else "node"


def expected_direction(client, server):
    """The contract's rule, written out independently of tapflow."""
    c, s = kind_of(client), kind_of(server)
    if c == "pod" and s == "pod":
        return "pod-to-pod"
    if c == "pod" and s == "service":
        return "pod-to-service"
    if c == "pod":
        return "egress"
    if s in ("pod", "service"):
        return "ingress"
    return None


# -- the cluster the fake API server reports ------------------------------------------

def populate(api):
    api.put("nodes", fk.node("node-a", NODE_IP))
    api.put("nodes", fk.node("node-b", "10.0.0.2", "203.0.113.2"))
    # The two pods the namespaces stand in for, dual-stack.
    api.put("pods", fk.pod("shop", CLIENT_POD, "node-a", [CLIENT_V4, CLIENT_V6],
                           {"app": "checkout", "tier": "web", "pod-template-hash": "5d8f7c9b4"},
                           ("ReplicaSet", "checkout-5d8f7c9b4"), host_ip=NODE_IP))
    api.put("pods", fk.pod("shop", SERVER_POD, "node-b", [SERVER_V4, SERVER_V6],
                           {"app": "web", "controller-revision-hash": "web-6c5d8b7f9",
                            "statefulset.kubernetes.io/pod-name": SERVER_POD},
                           ("StatefulSet", "web"), ports=(80,), host_ip="10.0.0.2"))
    # Extra objects a real cluster has.
    api.put("pods", fk.pod("shop", "web-1", "node-a", [], {"app": "web"}, ("StatefulSet", "web"),
                           phase="Pending", ports=(80,), host_ip=NODE_IP))
    api.put("pods", fk.pod("kube-system", "node-exporter-8kq4z", "node-a", [NODE_IP],
                           {"app": "node-exporter"}, ("DaemonSet", "node-exporter"), host_network=True,
                           ports=(9100,), host_ip=NODE_IP))
    api.put("pods", fk.pod("kube-system", COREDNS_POD, "node-b", [COREDNS_IP],
                           {"k8s-app": "kube-dns", "pod-template-hash": "5d78c9869d"},
                           ("ReplicaSet", "coredns-5d78c9869d"), ports=(53,), host_ip="10.0.0.2"))
    api.put("pods", fk.pod("batch", "report-28391520-xk2lp", "node-b", ["10.244.2.9"], {"app": "report"},
                           ("Job", "report-28391520"), phase="Succeeded", host_ip="10.0.0.2"))
    api.put("services", fk.service("shop", "web", [SERVICE_V4, SERVICE_V6], ports=((80, 80),)))
    api.put("services", fk.service("shop", "web-headless", [], ports=((80, 80),), selector={"app": "web"}))
    api.put("services", fk.service("kube-system", "kube-dns", [KUBE_DNS_IP], ports=((53, 53),),
                                   selector={"k8s-app": "kube-dns"}))
    api.put("endpointslices", fk.endpoint_slice("shop", "web-4kz8p", "web", [(SERVER_V4, SERVER_POD, "node-b")], 80))
    api.put("endpointslices", fk.endpoint_slice("shop", "web-9xq2w", "web", [(SERVER_V6, SERVER_POD, "node-b")], 80))
    api.put("endpointslices", fk.endpoint_slice("shop", "web-headless-t6m4r", "web-headless",
                                                [(SERVER_V4, SERVER_POD, "node-b")], 80))
    api.put("endpointslices", fk.endpoint_slice("kube-system", "kube-dns-h2v8c", "kube-dns",
                                                [(COREDNS_IP, COREDNS_POD, "node-b")], 53))


# -- traffic -------------------------------------------------------------------------

def make_real_pcap(work):
    """One tcpdump capture of every real exchange. Returns (pcap, [(client, server,
    transport, server port)] of the flows made, expected http and dns event counts)."""
    pcap = os.path.join(work, "real.pcap")
    flows = []
    with traffic.Testbed(tag="k8") as tb:
        for addr in (NODE_IP, UNKNOWN_IP):
            tb.ns_run(tb.server_ns, ["ip", "addr", "add", addr + "/24", "dev", tb.server_if])
            tb.ns_run(tb.client_ns, ["ip", "neigh", "replace", addr, "lladdr", SERVER_MAC, "dev", tb.client_if,
                                     "nud", "permanent"])
        traffic._start_nginx(tb)
        d = os.path.join(tb.workdir, "dnsmasq")
        os.makedirs(d)
        tb.popen(tb.server_ns, ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                                "--user=root", "--group=root", "--pid-file=" + os.path.join(d, "pid"),
                                "--bind-interfaces", "--listen-address=" + SERVER_V4, "--except-interface=lo",
                                "--address=/www.tapflow.test/10.77.0.80", "--local=/nx.test/",
                                "--log-facility=" + os.path.join(d, "log")],
                 stderr=open(os.path.join(d, "stderr.log"), "w"))
        tb.wait_tcp(tb.client_ns, SERVER_V4, 53)
        # UDP echo servers bound to one address each, so answers come from it.
        for ns, addr, port in ((tb.server_ns, NODE_IP, 7777), (tb.server_ns, UNKNOWN_IP, 7777),
                               (tb.client_ns, CLIENT_V4, 7778)):
            echo = tb.popen(ns, [PYTHON, traffic.THIS_FILE, "udp-echo", "::ffff:" + addr, str(port)],
                            stdout=subprocess.PIPE, text=True)
            if echo.stdout.readline().strip() != "ready":
                raise RuntimeError("udp echo on %s did not start" % addr)
        cap = tb.capture(pcap)
        base4, base6 = "http://%s" % SERVER_V4, "http://[%s]" % SERVER_V6
        traffic._curl(tb, [base4 + "/", base4 + "/index.html", base4 + "/missing"], ["200", "200", "404"])
        flows.append((CLIENT_V4, SERVER_V4, "tcp", 80))
        traffic._curl(tb, [base4 + "/"], ["200"])
        flows.append((CLIENT_V4, SERVER_V4, "tcp", 80))
        traffic._curl(tb, [base6 + "/"], ["200"])
        flows.append((CLIENT_V6, SERVER_V6, "tcp", 80))
        http_events = 5
        for extra in ([], ["+tcp"]):
            out = tb.ns_run(tb.client_ns, ["dig", "+time=3", "+tries=1", "@" + SERVER_V4] + extra
                            + ["www.tapflow.test", "A"]).stdout
            if "status: NOERROR" not in out or "10.77.0.80" not in out:
                raise RuntimeError("dig %s: %s" % (extra, out))
            flows.append((CLIENT_V4, SERVER_V4, "tcp" if extra else "udp", 53))
        dns_events = 2
        # The pod to an address the API does not know, and to its node.
        for dst in (UNKNOWN_IP, NODE_IP):
            tb.ns_run(tb.client_ns, [PYTHON, traffic.THIS_FILE, "udp-send", dst, "7777", "200", "2"])
            flows.append((CLIENT_V4, dst, "udp", 7777))
        tb.ns_run(tb.client_ns, [PYTHON, traffic.THIS_FILE, "ping", UNKNOWN_IP, "56", "2"])
        flows.append((CLIENT_V4, UNKNOWN_IP, "icmp", None))
        # Into the pod from outside and from the node.
        for src in (UNKNOWN_IP, NODE_IP):
            tb.ns_run(tb.server_ns, [PYTHON, THIS_FILE, "udp-from", src, CLIENT_V4, "7778"])
            flows.append((src, CLIENT_V4, "udp", 7778))
        time.sleep(0.3)
        cap.stop()
    return pcap, flows, http_events, dns_events


def make_synthetic_pcap(work):
    """scapy-made exchanges with addresses no namespace has: a pod to a Service
    ClusterIP (HTTP over IPv4 and IPv6, DNS to kube-dns), a pod to a pod on
    another node, from outside to a service and to the node, outside to outside."""
    from scapy.all import DNS, DNSQR, DNSRR, IP, TCP, UDP, Ether, IPv6, Raw, wrpcap  # noqa: PLC0415

    packets = []
    now = [1767225600.0]

    def add(pkt):
        now[0] += 0.001
        pkt.time = now[0]
        packets.append(pkt)

    def l3(src, dst):
        return IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)

    def eth(from_client):
        return Ether(src=CLIENT_MAC, dst=SERVER_MAC) if from_client else Ether(src=SERVER_MAC, dst=CLIENT_MAC)

    def tcp_exchange(client, cport, server, sport, request=b"", response=b""):
        c, s = 1000, 5000
        add(eth(True) / l3(client, server) / TCP(sport=cport, dport=sport, flags="S", seq=c))
        add(eth(False) / l3(server, client) / TCP(sport=sport, dport=cport, flags="SA", seq=s, ack=c + 1))
        c, s = c + 1, s + 1
        add(eth(True) / l3(client, server) / TCP(sport=cport, dport=sport, flags="A", seq=c, ack=s))
        if request:
            add(eth(True) / l3(client, server) / TCP(sport=cport, dport=sport, flags="PA", seq=c, ack=s) / Raw(request))
            c += len(request)
            add(eth(False) / l3(server, client) / TCP(sport=sport, dport=cport, flags="A", seq=s, ack=c))
        if response:
            add(eth(False) / l3(server, client) / TCP(sport=sport, dport=cport, flags="PA", seq=s, ack=c) / Raw(response))
            s += len(response)
            add(eth(True) / l3(client, server) / TCP(sport=cport, dport=sport, flags="A", seq=c, ack=s))
        add(eth(True) / l3(client, server) / TCP(sport=cport, dport=sport, flags="FA", seq=c, ack=s))
        add(eth(False) / l3(server, client) / TCP(sport=sport, dport=cport, flags="FA", seq=s, ack=c + 1))
        add(eth(True) / l3(client, server) / TCP(sport=cport, dport=sport, flags="A", seq=c + 1, ack=s + 1))

    def udp_exchange(client, cport, server, sport, request, response):
        add(eth(True) / l3(client, server) / UDP(sport=cport, dport=sport) / request)
        add(eth(False) / l3(server, client) / UDP(sport=sport, dport=cport) / response)

    body = b"<html>web</html>\n"
    response = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    flows = []
    for client, server, cport in ((CLIENT_V4, SERVICE_V4, 41000), (CLIENT_V6, SERVICE_V6, 41001)):
        host = server if ":" not in server else "[%s]" % server
        request = b"GET /api/cart HTTP/1.1\r\nHost: web.shop.svc:80\r\nUser-Agent: checkout\r\nX-Ip: %s\r\n\r\n" % host.encode()
        tcp_exchange(client, cport, server, 80, request, response)
        flows.append((client, server, "tcp", 80))
    tcp_exchange(OUTSIDE_IP, 42000, SERVICE_V4, 80)
    flows.append((OUTSIDE_IP, SERVICE_V4, "tcp", 80))
    for client, server, cport, qid in ((CLIENT_V4, KUBE_DNS_IP, 43000, 0x1234), (CLIENT_V4, COREDNS_IP, 43001, 0x1235)):
        q = DNS(id=qid, rd=1, qd=DNSQR(qname="web.shop.svc.cluster.local", qtype="A"))
        a = DNS(id=qid, qr=1, aa=1, rd=1, ra=1, qd=DNSQR(qname="web.shop.svc.cluster.local", qtype="A"),
                an=DNSRR(rrname="web.shop.svc.cluster.local", type="A", ttl=30, rdata=SERVICE_V4))
        udp_exchange(client, cport, server, 53, q, a)
        flows.append((client, server, "udp", 53))
    udp_exchange(OUTSIDE_IP, 44000, NODE_IP, 9100, Raw(b"ping"), Raw(b"pong"))
    flows.append((OUTSIDE_IP, NODE_IP, "udp", 9100))
    udp_exchange(OUTSIDE_IP, 44001, OTHER_OUTSIDE_IP, 9999, Raw(b"ping"), Raw(b"pong"))
    flows.append((OUTSIDE_IP, OTHER_OUTSIDE_IP, "udp", 9999))
    path = os.path.join(work, "synthetic.pcap")
    wrpcap(path, packets)
    return path, flows, 2, 2


# -- tapflow -------------------------------------------------------------------------

def kube_config(kubeconfig, timeout="10s", labels="[app]"):
    return ("kubernetes:\n  enabled: true\n  kubeconfig: %s\n  node_name: node-a\n  labels: %s\n"
            "  initial_list_timeout: %s\n" % (kubeconfig, labels, timeout))


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def strip_kube(event):
    """The event without what enrichment adds."""
    e = json.loads(json.dumps(event))
    e.pop("kubernetes", None)
    for end in ("source", "destination"):
        if isinstance(e.get(end), dict):
            e[end].pop("kubernetes", None)
    return e


def canonical(events):
    return collections.Counter(json.dumps(e, sort_keys=True) for e in events)


def has_kube(obj):
    if isinstance(obj, dict):
        return "kubernetes" in obj or any(has_kube(v) for v in obj.values())
    if isinstance(obj, list):
        return any(has_kube(v) for v in obj)
    return False


def norm_kube(k):
    """services compared as a set: the contract does not order them."""
    if isinstance(k, dict) and isinstance(k.get("services"), list):
        k = dict(k, services=sorted(k["services"]))
    return k


def transport_of(event):
    return event.get("network", {}).get("transport")


def check_enriched(chk, label, events, flows, want_http, want_dns):
    """Every flow/http/dns event of `events` against the flows the test made."""
    by_type = collections.defaultdict(list)
    for e in events:
        by_type[e.get("type")].append(e)
    chk.equal("%s: flow events, one per flow made" % label, len(by_type["flow"]), len(flows))
    chk.equal("%s: http events" % label, len(by_type["http"]), want_http)
    chk.equal("%s: dns events" % label, len(by_type["dns"]), want_dns)
    made = collections.Counter((c, s, t, p) for c, s, t, p in flows)
    seen = collections.Counter()
    groups = collections.OrderedDict()
    for e in by_type["flow"] + by_type["http"] + by_type["dns"]:
        src, dst = e.get("source", {}), e.get("destination", {})
        client, server = src.get("ip"), dst.get("ip")
        if e["type"] == "flow":
            seen[(client, server, transport_of(e), dst.get("port"))] += 1
        group = groups.setdefault((e["type"], client, server), [0, []])
        group[0] += 1
        want_dir = expected_direction(client, server)
        problems = group[1]
        if not any(c == client and s == server for c, s, _, _ in flows):
            problems.append("source/destination %s -> %s is not a client -> server pair the test made"
                            % (client, server))
        for end, ip in (("source", client), ("destination", server)):
            got = norm_kube(e.get(end, {}).get("kubernetes"))
            want = norm_kube(EXPECT.get(ip))
            if got != want:
                problems.append("%s %s: kubernetes %r, want %r" % (end, ip, got, want))
        got_dir = e.get("kubernetes")
        want_top = {"direction": want_dir} if want_dir else None
        if got_dir != want_top:
            problems.append("top-level kubernetes %r, want %r" % (got_dir, want_top))
    for (etype, client, server), (count, problems) in groups.items():
        d = expected_direction(client, server)
        chk.check("%s: %d %s event(s) %s -> %s: both ends and direction %s" % (label, count, etype, client, server, d),
                  not problems, "; ".join(sorted(set(problems))[:4]))
    chk.equal("%s: flow events are exactly the flows made (client, server, transport, port)" % label,
              sorted(seen.items(), key=repr), sorted(made.items(), key=repr))


class Daemon:
    """`tapflow run -c CONF`; stderr (JSON log lines) read by a thread so it never blocks."""

    def __init__(self, tapflow, config):
        self.proc = subprocess.Popen([tapflow, "run", "-c", config], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stderr:
            with self.lock:
                self.lines.append(line)

    def wait_log(self, pattern, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                for line in self.lines:
                    if re.search(pattern, line):
                        try:
                            return json.loads(line)
                        except ValueError:
                            return {"line": line}
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise TimeoutError("no log line matching %r; log:\n%s" % (pattern, "".join(self.lines[-20:])))

    def stop(self):
        """SIGTERM; the exit code, None when it had to be killed."""
        code = traffic._stop_process(self.proc, timeout=15)
        self.thread.join(timeout=5)
        return code


def metrics_sum(text, family, label_filter=""):
    """Sum of the samples of `family` whose labels contain label_filter; None if none."""
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith(family + "{") or line.startswith(family + " "):
            if label_filter in line.split(" ")[0]:
                total += float(line.rsplit(" ", 1)[1])
                found = True
    return total if found else None


def run_daemon(chk, tapflow, work, name, pcap, kube_yaml):
    """`tapflow run` on the pcap; returns (events, /metrics text) once the source ended."""
    events_path = os.path.join(work, name + ".jsonl")
    conf = write(os.path.join(work, name + ".yaml"),
                 "capture:\n  source: pcap\n  pcap:\n    path: %s\noutputs:\n  - type: jsonl\n    path: %s\n"
                 "metrics:\n  listen: 127.0.0.1:0\n%s" % (pcap, events_path, kube_yaml))
    d = Daemon(tapflow, conf)
    try:
        serving = d.wait_log("serving /metrics")
        port = int(serving["port"])
        d.wait_log("source ended")
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            text = r.read().decode()
    finally:
        rc = d.stop()
    chk.equal("%s: tapflow run exits 0 on SIGTERM" % name, rc, 0)
    with open(events_path) as f:
        events = [json.loads(line) for line in f if line.strip()]
    return events, text


def read(chk, tapflow, name, pcap, conf, timeout=60):
    args = ["read", pcap] + (["-c", conf] if conf else [])
    t0 = time.monotonic()
    r = run_tapflow(tapflow, args, timeout=timeout)
    r.seconds = time.monotonic() - t0
    chk.check("%s: tapflow read exits 0" % name, r.returncode == 0 and not r.bad_lines,
              "exit %r, %d bad lines; stderr: %s" % (r.returncode, len(r.bad_lines), r.stderr[-1500:]))
    return r


def app_events(events):
    """What workers send (no periodic stats events)."""
    return [e for e in events if e.get("type") != "stats"]


# -- the two parts --------------------------------------------------------------------

def test_enrich(chk, tapflow, work, pcaps):
    api = fk.FakeKubeApi(work, token=TOKEN)
    schema, validator = test_schema.make_validator()
    seen_kube_paths = set()
    try:
        populate(api)
        kubeconfig = fk.write_kubeconfig(os.path.join(work, "kubeconfig"), api.url, api.cert, TOKEN)
        conf = write(os.path.join(work, "enrich.yaml"), kube_config(kubeconfig))
        for name, (pcap, flows, http, dns) in pcaps.items():
            plain = read(chk, tapflow, name + " without kubernetes", pcap, None)
            r = read(chk, tapflow, name + " enriched", pcap, conf)
            events = app_events(r.events)
            check_enriched(chk, name, events, flows, http, dns)
            # test_schema's pcaps have no cluster: the kubernetes fields are validated here.
            invalid = [(test_schema.first_error(validator, e), e) for e in r.events]
            invalid = [(err, e) for err, e in invalid if err]
            chk.check("%s: every enriched event is valid against docs/events.schema.json (%d)" % (
                name, len(r.events)), not invalid, "first: %s in %s" % (invalid[0] if invalid else ("", "")))
            seen_kube_paths.update(p for e in r.events for p in test_schema.event_paths(e) if "kubernetes" in p)
            chk.check("%s: the same events as without kubernetes, once its fields are taken out" % name,
                      canonical(strip_kube(e) for e in events) == canonical(app_events(plain.events)),
                      "%d enriched vs %d plain" % (len(events), len(app_events(plain.events))))
        chk.check("the lists were read through the kubeconfig's token",
                  {r["resource"] for r in api.requests_matching(watch=False) if r["status"] == 200}
                  == {"pods", "services", "endpointslices", "nodes"}
                  and all(r["token"] == TOKEN for r in api.requests_matching()),
                  repr(sorted({(r["resource"], r["status"]) for r in api.requests_matching()})))
        # Both ends share one definition: each of its fields on either end is enough
        # (a service address is never the client here).
        def end_free(paths):
            return {re.sub(r"^(source|destination)\.", "END.", p) for p in paths}
        want_kube_paths = end_free(p for p in test_schema.schema_paths(schema) if "kubernetes" in p)
        seen_kube_paths = end_free(seen_kube_paths)
        chk.check("every kubernetes field of the schema appears in some flow event (%d)" % len(want_kube_paths),
                  want_kube_paths <= seen_kube_paths, "never seen: %s" % sorted(want_kube_paths - seen_kube_paths))
        pcap, flows, http, dns = pcaps["real"]
        events, text = run_daemon(chk, tapflow, work, "run-enriched", pcap, kube_config(kubeconfig))
        events = app_events(events)
        check_enriched(chk, "tapflow run", events, flows, http, dns)
        chk.equal("tapflow run with the API server up: tapflow_kubernetes_events_unenriched_total",
                  metrics_sum(text, "tapflow_kubernetes_events_unenriched_total"), 0.0)
        chk.equal("tapflow run: tapflow_kube_watch_lists_total counts one list per resource",
                  [metrics_sum(text, "tapflow_kube_watch_lists_total", 'resource="%s"' % res)
                   for res in ("pods", "services", "endpointslices", "nodes")], [1.0] * 4)
    finally:
        api.close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable(chk, tapflow, work, pcaps):
    api = fk.FakeKubeApi(work, token=TOKEN)
    try:
        populate(api)
        stopped_config = fk.write_kubeconfig(os.path.join(work, "kubeconfig-stopped"), api.url, api.cert, TOKEN)
    finally:
        api.close()  # the server is gone: its port refuses connections
    closed_config = fk.write_kubeconfig(os.path.join(work, "kubeconfig-closed"),
                                        "https://127.0.0.1:%d" % closed_port(), api.cert, TOKEN)
    for name, (pcap, _, _, _) in pcaps.items():
        plain = app_events(read(chk, tapflow, name + " without kubernetes", pcap, None).events)
        for how, kubeconfig in (("API server stopped", stopped_config), ("closed port", closed_config)):
            conf = write(os.path.join(work, "unreach-%s.yaml" % how.split()[0]), kube_config(kubeconfig, "1s"))
            label = "%s, %s" % (name, how)
            r = read(chk, tapflow, label, pcap, conf)
            events = app_events(r.events)
            chk.equal("%s: every event still emitted (same count as without kubernetes)" % label,
                      len(events), len(plain))
            chk.equal("%s: no event enriched" % label, sum(1 for e in events if has_kube(e)), 0)
            chk.check("%s: the same events as without kubernetes" % label, canonical(events) == canonical(plain))
            chk.check("%s: waited about initial_list_timeout (1s), no more" % label, 0.9 <= r.seconds < 8,
                      "took %.1f s" % r.seconds)
    pcap = pcaps["real"][0]
    events, text = run_daemon(chk, tapflow, work, "run-unreachable", pcap, kube_config(stopped_config, "1s"))
    events = app_events(events)
    plain = app_events(read(chk, tapflow, "real without kubernetes (for run)", pcap, None).events)
    chk.equal("tapflow run, API server stopped: every event written", len(events), len(plain))
    chk.equal("tapflow run, API server stopped: none enriched", sum(1 for e in events if has_kube(e)), 0)
    chk.equal("tapflow_kubernetes_events_unenriched_total equals the number of events",
              metrics_sum(text, "tapflow_kubernetes_events_unenriched_total"), float(len(events)))
    for res in ("pods", "services", "endpointslices", "nodes"):
        lists = metrics_sum(text, "tapflow_kube_watch_lists_total", 'resource="%s"' % res)
        errors = metrics_sum(text, "tapflow_kube_watch_errors_connect_total", 'resource="%s"' % res)
        chk.check("watch counters for %s: no list, connection errors counted" % res,
                  lists == 0 and errors is not None and errors >= 1, "lists %r, errors_connect %r" % (lists, errors))
    chk.equal("tapflow_kube_watch_connected is 0 for every resource",
              metrics_sum(text, "tapflow_kube_watch_connected"), 0.0)


# -- main ------------------------------------------------------------------------------

def tool_udp_from(src, dst, port):
    """Two UDP datagrams from src (bound) to dst:port, each echoed back."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((src, 0))
    sock.settimeout(3)
    for i in range(2):
        data = bytes((i + j) & 0xFF for j in range(150))
        sock.sendto(data, (dst, port))
        if sock.recv(2048) != data:
            raise SystemExit("udp echo mismatch")


def main(argv):
    if len(argv) > 1 and argv[1] == "udp-from":
        tool_udp_from(argv[2], argv[3], int(argv[4]))
        return 0
    args = argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__)
        return 2
    tapflow = os.path.abspath(args[0])
    only = set(args[args.index("--only") + 1].split(",")) if "--only" in args else None
    keep = args[args.index("--keep") + 1] if "--keep" in args else None
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces, tcpdump)")
    work = keep or tempfile.mkdtemp(prefix="tapflow-k8s-enrich-")
    os.makedirs(work, exist_ok=True)
    chk = Checker("k8s_enrich")
    try:
        pcaps = {}

        def make():
            pcaps["real"] = make_real_pcap(work)
            pcaps["synthetic"] = make_synthetic_pcap(work)

        chk.guarded("traffic", make)
        if len(pcaps) == 2:
            for name, fn in (("enrich", test_enrich), ("unreachable", test_unreachable)):
                if only and name not in only:
                    continue
                sub = os.path.join(work, name)
                os.makedirs(sub, exist_ok=True)
                chk.guarded(name, fn, chk, tapflow, sub, pcaps)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return chk.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
