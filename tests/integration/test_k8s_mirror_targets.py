#!/usr/bin/python3
"""Integration test of mirror mode with targets (issue 6, "Targeting"): the set
of mirrored pod interfaces follows `targets:` as pods start, change labels and
stop, and nothing of tapflow is left on an interface a target left.

Network namespaces stand in for pods, wired the way Calico wires them: each
pod namespace has eth0 with its /32 (and /128) address and a default route via
169.254.1.1 (fe80::1), and its peer, the pod's host-side veth, lives in a
"node" namespace that routes the pod's address to it and forwards between the
pods (ip_forward, IPv6 forwarding: set in the node namespace only, which the
test owns and deletes). tapflow runs in the node namespace with capture.source
mirror, mirror.capture afxdp and no mirror.interfaces: the targets choose.
fake_kube_api.py answers on 127.0.0.1 inside the node namespace (its socket is
opened there, setns around its creation).

  pods   shop/web-a  app=web     targeted at start
         shop/api-b  app=api     joins when relabelled app=web; its host veth
                                 carries someone else's clsact and filter
         shop/db-c   app=db      never targeted
         shop/cli-k  app=client  never targeted; the client of every request
         shop/web-e  app=web     starts mid-test (namespace, veth, API ADDED),
                                 then is deleted from the API, then its veth goes

Checked: only the targeted pods' host veths carry tapflow's filters (`tc filter
show dev X ingress/egress`); only their traffic is in the events, while every
pod's traffic keeps flowing (curl, ping); a relabel moves a pod in and another
out, the filters follow and the traffic appears/disappears in the events within
a generous bound (the measured times are printed); a pod's veth recreated
under a new ifindex is mirrored again; a pod deleted from the API leaves no
filter and no clsact qdisc tapflow created, and someone else's qdisc and
filter stay; a SIGHUP removing the targets leaves nothing mirrored (no
mirror.interfaces), one bringing them back mirrors api-b again; the mirror
metrics; at exit no tapflow veth pair, filter or clsact qdisc tapflow created
remains.

Usage: test_k8s_mirror_targets.py TAPFLOW [--keep DIR]
"""

import os
import re
import shutil
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_kube_api as fk  # noqa: E402
import harness  # noqa: E402
import k8s_testbed  # noqa: E402
import live_run  # noqa: E402
import traffic  # noqa: E402
from k8s_testbed import settled_after, wait_for  # noqa: E402

USAGE = __doc__.strip().splitlines()[-1]
NODE = "node-a"
GATEWAY_V4, GATEWAY_V6 = "169.254.1.1", "fe80::1"
# name: (labels, v4, v6, letter of its interface names)
PODS = {
    "web-a": ({"app": "web"}, "10.77.0.11", "fd00:77::11", "a"),
    "api-b": ({"app": "api"}, "10.77.0.12", "fd00:77::12", "b"),
    "db-c": ({"app": "db"}, "10.77.0.13", "fd00:77::13", "c"),
    "cli-k": ({"app": "client"}, "10.77.0.10", "fd00:77::10", "k"),
}
LATE_POD = ("web-e", {"app": "web"}, "10.77.0.15", "fd00:77::15", "e")
TEST_IPS = {p[1] for p in PODS.values()} | {p[2] for p in PODS.values()} | {LATE_POD[2], LATE_POD[3]}
# Generous bounds for "capture follows": the keeper looks every 200 ms, the
# snapshot every 100 ms; the measured times are printed.
FOLLOW_LIMIT_S = 3.0
# How `tc filter show` prints the foreign filter's "match ip dst 10.77.9.9/32".
FOREIGN_MATCH = "0a4d0909/ffffffff"

CAPTURE = """capture:
  source: mirror
  mirror:
    veth_name: {veth}
    rescan_interval: 1s
    capture: afxdp
  afxdp:
    xdp_mode: auto
"""
TARGETS = """targets:
  - namespaces: [shop]
    selector: "app=web"
"""

def mac(kind, letter):
    """Fixed MACs: static neighbours both ways, no ARP or ND between pods and node."""
    return "02:00:00:77:%02x:%02x" % (kind, ord(letter))


class Node(traffic.Namespaces):
    """The node namespace, the pod namespaces and their host veths, the web
    servers; has the popen/ns_run/workdir that live_run.LiveTapflow uses."""

    def __init__(self):
        self.tag = "%d" % (os.getpid() % 100000)
        self.node_ns = "mtgn-" + self.tag
        self.veth = "mtgv" + self.tag
        self.pod_ns = {}
        self.host_if = {}
        super().__init__("tapflow-mirror-targets-")
        try:
            self.add_ns(self.node_ns)
            for key in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv4.conf.all.rp_filter=0",
                        "net.ipv4.conf.default.rp_filter=0"):
                self.ns_run(self.node_ns, ["sysctl", "-q", "-w", key])
            for name, p in PODS.items():
                self.add_pod(name, p[3])
        except BaseException:
            self.close()
            raise

    def add_pod(self, name, letter, serve=True):
        """A pod namespace wired like Calico: a host veth, /32 and /128 routes to it."""
        ns = "mtgp-%s-%s" % (self.tag, letter)
        self.add_ns(ns)
        self.pod_ns[name] = ns
        self.add_veth(name, letter)
        if serve:
            k8s_testbed.start_pod_server(self, ns, name)

    def add_veth(self, name, letter):
        """The pod's eth0 and its host veth "mtg<letter><tag>", routed; again after delete_veth."""
        host = "mtg%s%s" % (letter, self.tag)
        self.host_if[name] = host
        v4, v6 = self.addresses(name)
        ns = self.pod_ns[name]
        traffic.run(["ip", "link", "add", "eth0", "address", mac(0, letter), "netns", ns, "type", "veth",
                     "peer", "name", host, "address", mac(1, letter), "netns", self.node_ns])
        self.ns_run(ns, ["ip", "addr", "add", v4 + "/32", "dev", "eth0"])
        self.ns_run(ns, ["ip", "-6", "addr", "add", v6 + "/128", "dev", "eth0", "nodad"])
        self.ns_run(ns, ["ip", "link", "set", "eth0", "up"])
        self.ns_run(ns, ["ip", "route", "add", GATEWAY_V4, "dev", "eth0", "scope", "link"])
        self.ns_run(ns, ["ip", "route", "add", "default", "via", GATEWAY_V4, "dev", "eth0"])
        self.ns_run(ns, ["ip", "-6", "route", "add", "default", "via", GATEWAY_V6, "dev", "eth0"])
        for gw in (GATEWAY_V4, GATEWAY_V6):
            self.ns_run(ns, ["ip", "neigh", "replace", gw, "lladdr", mac(1, letter), "dev", "eth0", "nud", "permanent"])
        self.ns_run(self.node_ns, ["ip", "link", "set", host, "up"])
        self.ns_run(self.node_ns, ["ip", "route", "replace", v4 + "/32", "dev", host])
        self.ns_run(self.node_ns, ["ip", "-6", "route", "replace", v6 + "/128", "dev", host])
        for ip in (v4, v6):
            self.ns_run(self.node_ns, ["ip", "neigh", "replace", ip, "lladdr", mac(0, letter), "dev", host,
                                       "nud", "permanent"])

    def addresses(self, name):
        if name == LATE_POD[0]:
            return LATE_POD[2], LATE_POD[3]
        return PODS[name][1], PODS[name][2]

    def delete_veth(self, name):
        self.ns_run(self.node_ns, ["ip", "link", "del", self.host_if[name]])

    def ifindex(self, dev):
        text = self.ns_run(self.node_ns, ["ip", "-o", "link", "show", dev], check=False).stdout
        m = re.match(r"^(\d+):", text)
        return int(m.group(1)) if m else None

    def links(self):
        out = self.ns_run(self.node_ns, ["ip", "-o", "link", "show"]).stdout
        return set(re.findall(r"^\d+: ([^:@]+)[@:]", out, re.M))

    def tc(self, *args):
        return self.ns_run(self.node_ns, ["tc"] + list(args), check=False).stdout

    def tapflow_filters(self, dev):
        """tapflow's filters on both hooks of `dev`, as `tc filter show` lists them."""
        found = []
        for hook in ("ingress", "egress"):
            out = self.tc("filter", "show", "dev", dev, hook)
            found += ["%s: %s" % (hook, line.strip()) for line in out.splitlines() if "tapflow_mirror" in line]
        return found

    def has_clsact(self, dev):
        return "qdisc clsact" in self.tc("qdisc", "show", "dev", dev)

    def mirrored(self):
        """Names of the pods whose host veth carries tapflow's filters on both hooks."""
        return sorted(name for name, dev in self.host_if.items() if len(self.tapflow_filters(dev)) == 2)

    # -- traffic from the client pod -------------------------------------------------

    def curl(self, ip):
        host = "[%s]" % ip if ":" in ip else ip
        proc = self.ns_run(self.pod_ns["cli-k"], ["curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w",
                                                  "%{http_code}", "http://%s/" % host], check=False, timeout=20)
        return proc.stdout.strip() == "200"

    def ping(self, ip):
        return self.ns_run(self.pod_ns["cli-k"], [traffic.PYTHON, traffic.THIS_FILE, "ping", ip, "56", "2"],
                           check=False, timeout=20).returncode == 0

    def traffic_to(self, names):
        """curl over IPv4 and IPv6 and ping from cli-k to each pod; {what: ok}."""
        out = {}
        for name in names:
            v4, v6 = self.addresses(name)
            out["%s curl v4" % name] = self.curl(v4)
            out["%s curl v6" % name] = self.curl(v6)
            out["%s ping" % name] = self.ping(v4)
        return out


def pod_name_of(ip):
    for name, p in PODS.items():
        if ip in (p[1], p[2]):
            return name
    if ip in (LATE_POD[2], LATE_POD[3]):
        return LATE_POD[0]
    return None


def flow_records(events):
    """Flow records between the test addresses: dicts pod (the server end), ip, transport, client_port, start."""
    out = []
    for ev in live_run.flows_between(events, TEST_IPS):
        src, dst = ev["source"], ev["destination"]
        server, client = (src, dst) if pod_name_of(dst["ip"]) == "cli-k" else (dst, src)
        out.append({"pod": pod_name_of(server["ip"]), "ip": server["ip"], "transport": ev["network"]["transport"],
                    "client_port": client.get("port"), "start": harness.parse_time(ev["event"]["start"]) / 1e9,
                    "packets": src["packets"] + dst["packets"]})
    return out


def pods_in(flows, t0, t1):
    return sorted({f["pod"] for f in flows if t0 <= f["start"] < t1})


def make_pod(fk, name, labels=None):
    if name == LATE_POD[0]:
        base, v4, v6 = LATE_POD[1], LATE_POD[2], LATE_POD[3]
    else:
        base, v4, v6 = PODS[name][0], PODS[name][1], PODS[name][2]
    return fk.pod("shop", name, NODE, [v4, v6], labels or base, ("ReplicaSet", name + "-rs"), ports=(80,))


def gauge(m, family, **labels):
    return live_run.metric_sum(m, family, **labels)


def run_test(chk, tapflow, keep):
    node = Node()
    kube = None
    try:
        # Someone else's clsact and filter on api-b's host veth: tapflow must leave them.
        api_b_if = node.host_if["api-b"]
        node.tc("qdisc", "add", "dev", api_b_if, "clsact")
        node.ns_run(node.node_ns, ["tc", "filter", "add", "dev", api_b_if, "ingress", "pref", "100", "protocol",
                                   "ip", "u32", "match", "ip", "dst", "10.77.9.9/32", "flowid", "1:1"])
        if not chk.check("someone else's filter is on api-b's host veth",
                         FOREIGN_MATCH in node.tc("filter", "show", "dev", api_b_if, "ingress")):
            return

        # Every pod reaches every other through the node before tapflow starts.
        for name, p in PODS.items():
            node.wait_tcp(node.pod_ns["cli-k"], p[1], 80)

        kube = k8s_testbed.KubeTapflow(node, node.node_ns, "mirror-token", NODE, CAPTURE.format(veth=node.veth))
        api = kube.api
        api.put("nodes", fk.node(NODE, "10.0.0.1"))
        for name in PODS:
            api.put("pods", make_pod(fk, name))
        live = kube.start(tapflow, TARGETS)
        if not chk.check("tapflow run starts in mirror mode with targets and no mirror.interfaces",
                         live.wait_started(30), live.stderr_text()[-3000:]):
            return

        # -- start: only web-a's host veth is mirrored ------------------------------------
        t_start = time.time()
        got = wait_for(lambda: node.mirrored() == ["web-a"], 10)
        print("     web-a's veth mirrored %.3f s after \"capture started\" was seen" % (time.time() - t_start),
              flush=True)
        chk.check("start: tapflow's filters on both hooks of web-a's host veth, and on no other pod's",
                  got, repr({n: node.tapflow_filters(d) for n, d in node.host_if.items()}))
        chk.check("start: tapflow's veth pair exists while running", {node.veth, node.veth + "c"} <= node.links())
        chk.check("start: tapflow created the clsact qdisc on web-a's host veth",
                  node.has_clsact(node.host_if["web-a"]))
        chk.check("start: no clsact qdisc on the untargeted db-c's and cli-k's veths",
                  not node.has_clsact(node.host_if["db-c"]) and not node.has_clsact(node.host_if["cli-k"]))
        m = live.metrics()
        chk.equal("start: tapflow_mirror_interfaces is 1", gauge(m, "tapflow_mirror_interfaces", veth=node.veth), 1)
        chk.equal("start: tapflow_mirror_following_targets is 1",
                  gauge(m, "tapflow_mirror_following_targets", veth=node.veth), 1)
        chk.equal("start: tapflow_mirror_target_addresses{route=interface} is 2 (web-a's IPv4 and IPv6)",
                  gauge(m, "tapflow_mirror_target_addresses", veth=node.veth, route="interface"), 2)
        chk.equal("start: no targeted address local, unroutable or excluded",
                  sum(gauge(m, "tapflow_mirror_target_addresses", veth=node.veth, route=r)
                      for r in ("local", "unroutable", "excluded")), 0)

        # -- traffic: every pod answers, only web-a's traffic is captured --------------------
        t0 = time.time()
        results = node.traffic_to(["web-a", "api-b", "db-c"])
        time.sleep(0.5)
        t1 = time.time()
        chk.check("start: curl (IPv4, IPv6) and ping from cli-k to every pod complete",
                  all(results.values()), repr(results))
        # Only untargeted pods talking: nothing is cloned at all (no filter on their veths).
        m0 = live.metrics()
        results = node.traffic_to(["db-c"])
        time.sleep(0.5)
        m1 = live.metrics()
        cloned = (live_run.metric_sum(m1, "tapflow_mirror_program_packets_total", action="cloned") -
                  live_run.metric_sum(m0, "tapflow_mirror_program_packets_total", action="cloned"))
        chk.check("start: cli-k <-> db-c traffic flows and no packet of it is cloned (%d cloned)" % cloned,
                  all(results.values()) and cloned == 0, repr(results))

        # -- a targeted pod's veth recreated under a new ifindex --------------------------------
        web_a_if = node.host_if["web-a"]
        old_index = node.ifindex(web_a_if)
        node.delete_veth("web-a")
        node.add_veth("web-a", PODS["web-a"][3])
        t_recreate = time.time()
        again = wait_for(lambda: node.mirrored() == ["web-a"] and node.ifindex(web_a_if) != old_index, 10)
        print("     web-a's recreated veth (ifindex %s -> %s) mirrored within %.3f s" % (
            old_index, node.ifindex(web_a_if), time.time() - t_recreate), flush=True)
        chk.check("recreate: web-a's veth recreated under a new ifindex is mirrored again", again,
                  repr(node.mirrored()))
        chk.check("recreate: curl to web-a completes over its new veth", node.curl(PODS["web-a"][1]))
        m = live.metrics()
        chk.check("recreate: tapflow_mirror_vanished_total counts the deleted veth",
                  gauge(m, "tapflow_mirror_vanished_total", veth=node.veth) >= 1)

        # -- relabel: web-a leaves, api-b joins -----------------------------------------------
        ips = [PODS["web-a"][1], PODS["api-b"][1]]
        ticker = k8s_testbed.Ticker(node, node.pod_ns["cli-k"], ips, 6.0, 0.05)
        time.sleep(1.5)
        t_change = time.time()
        api.put("pods", make_pod(fk, "web-a", {"app": "old"}))
        api.put("pods", make_pod(fk, "api-b", {"app": "web"}))
        moved = wait_for(lambda: node.mirrored() == ["api-b"], 10)
        t_moved = time.time() - t_change
        print("     filters moved from web-a's veth to api-b's within %.3f s of the API change" % t_moved, flush=True)
        chk.check("relabel: the filters moved from web-a's host veth to api-b's within %.1f s" % FOLLOW_LIMIT_S,
                  moved and t_moved <= FOLLOW_LIMIT_S, "after %.3f s: %r" % (t_moved, node.mirrored()))
        ticks = ticker.results()
        chk.check("relabel: tapflow left no clsact qdisc on web-a's host veth (it had created it)",
                  not node.has_clsact(node.host_if["web-a"]), node.tc("qdisc", "show", "dev", node.host_if["web-a"]))
        shown = node.tc("filter", "show", "dev", api_b_if, "ingress")
        chk.check("relabel: api-b's host veth keeps someone else's filter next to tapflow's",
                  FOREIGN_MATCH in shown and "tapflow_mirror" in shown, shown)
        bad = [t for t in ticks if not t["ok"]]
        chk.check("relabel: every one of the %d requests to web-a and api-b completed" % len(ticks),
                  len(ticks) > 60 and not bad, "%d failed: %r" % (len(bad), bad[:5]))
        m = live.metrics()
        chk.equal("relabel: tapflow_mirror_interfaces is 1 (api-b)",
                  gauge(m, "tapflow_mirror_interfaces", veth=node.veth), 1)
        chk.check("relabel: tapflow_mirror_detached_total counts web-a's veth",
                  gauge(m, "tapflow_mirror_detached_total", veth=node.veth) >= 1)

        # -- pod start and delete: web-e -------------------------------------------------------
        name, labels, v4, v6, letter = LATE_POD
        node.add_pod(name, letter)
        t_add = time.time()
        api.put("pods", make_pod(fk, name))
        joined = wait_for(lambda: node.mirrored() == ["api-b", "web-e"], 10)
        print("     web-e mirrored within %.3f s of its ADDED" % (time.time() - t_add), flush=True)
        chk.check("pod start: web-e's host veth gains tapflow's filters", joined, repr(node.mirrored()))
        t_e0 = time.time()
        results = node.traffic_to(["web-e", "db-c"])
        time.sleep(0.5)
        t_e1 = time.time()
        chk.check("pod start: traffic to web-e and db-c completes", all(results.values()), repr(results))
        t_del = time.time()
        api.delete("pods", make_pod(fk, name))
        left = wait_for(lambda: node.mirrored() == ["api-b"], 10)
        print("     web-e's filters removed within %.3f s of its DELETED" % (time.time() - t_del), flush=True)
        web_e_if = node.host_if[name]
        chk.check("pod delete: web-e's host veth (still there) keeps no filter and no clsact qdisc",
                  left and not node.tapflow_filters(web_e_if) and not node.has_clsact(web_e_if),
                  node.tc("qdisc", "show", "dev", web_e_if))
        t_e2 = time.time()
        results = node.traffic_to(["web-e"])
        time.sleep(0.5)
        t_e3 = time.time()
        chk.check("pod delete: web-e still answers (untouched)", all(results.values()), repr(results))
        node.delete_veth(name)
        del node.host_if[name]

        m = live.metrics()
        chk.equal("metrics: tapflow_mirror_attach_failures_total is 0",
                  gauge(m, "tapflow_mirror_attach_failures_total", veth=node.veth), 0)
        chk.equal("metrics: tapflow_mirror_detach_failures_total is 0",
                  gauge(m, "tapflow_mirror_detach_failures_total", veth=node.veth), 0)
        chk.equal("metrics: tapflow_mirror_interfaces is 1 (api-b)",
                  gauge(m, "tapflow_mirror_interfaces", veth=node.veth), 1)
        chk.equal("metrics: tapflow_mirror_detached_total is 2 (web-a relabelled, web-e deleted)",
                  gauge(m, "tapflow_mirror_detached_total", veth=node.veth), 2)
        chk.equal("metrics: tapflow_mirror_vanished_total is 1 (web-a's veth recreated)",
                  gauge(m, "tapflow_mirror_vanished_total", veth=node.veth), 1)

        # -- SIGHUP without targets, then with them again ----------------------------------------
        kube.reload("")
        t_hup = time.time()
        emptied = wait_for(lambda: node.mirrored() == [], 10)
        print("     SIGHUP without targets: api-b's filters removed within %.3f s" % (time.time() - t_hup), flush=True)
        m = live.metrics()
        chk.check("SIGHUP without targets and without mirror.interfaces: nothing is mirrored, no clsact left "
                  "where tapflow made one, someone else's filter stays on api-b's veth",
                  emptied and not node.tapflow_filters(api_b_if) and FOREIGN_MATCH in
                  node.tc("filter", "show", "dev", api_b_if, "ingress"), repr(node.mirrored()))
        chk.check("SIGHUP without targets: tapflow_mirror_following_targets 0, tapflow_mirror_interfaces 0",
                  gauge(m, "tapflow_mirror_following_targets", veth=node.veth) == 0 and
                  gauge(m, "tapflow_mirror_interfaces", veth=node.veth) == 0)
        kube.reload(TARGETS)
        t_hup = time.time()
        back = wait_for(lambda: node.mirrored() == ["api-b"], 10)
        print("     SIGHUP with targets again: api-b mirrored within %.3f s" % (time.time() - t_hup), flush=True)
        m = live.metrics()
        chk.check("SIGHUP with targets again: api-b's veth is mirrored again, same process",
                  back and live.proc.poll() is None and
                  gauge(m, "tapflow_mirror_following_targets", veth=node.veth) == 1, repr(node.mirrored()))

        # -- exit: nothing of tapflow remains -----------------------------------------------------
        rc = live.stop()
        chk.equal("SIGTERM stops tapflow with exit code 0", rc, 0)
        left_filters = {n: node.tapflow_filters(d) for n, d in node.host_if.items() if node.tapflow_filters(d)}
        chk.check("exit: no tapflow filter on any host veth", not left_filters, repr(left_filters))
        chk.check("exit: tapflow's veth pair is gone", not ({node.veth, node.veth + "c"} & node.links()))
        chk.check("exit: no clsact qdisc left on a veth where tapflow created it",
                  not any(node.has_clsact(node.host_if[n]) for n in ("web-a", "db-c", "cli-k")))
        shown = node.tc("filter", "show", "dev", api_b_if, "ingress")
        chk.check("exit: someone else's clsact and filter on api-b's veth stay",
                  node.has_clsact(api_b_if) and FOREIGN_MATCH in shown, shown)

        events = live.events()
        flows = flow_records(events)
        if keep:
            shutil.copy(live.events_path, os.path.join(keep, "mirror-targets.jsonl"))
            shutil.copy(live.stderr_path, os.path.join(keep, "mirror-targets.stderr"))

        # -- judge the captured flows per phase --------------------------------------------------
        got = sorted({(f["pod"], f["transport"], f["ip"]) for f in flows if t0 <= f["start"] < t1}, key=str)
        a4, a6 = PODS["web-a"][1], PODS["web-a"][2]
        chk.equal("start: only web-a's flows captured (TCP over IPv4 and IPv6, ICMP)", got,
                  sorted({("web-a", "tcp", a4), ("web-a", "tcp", a6), ("web-a", "icmp", a4)}, key=str))
        chk.check("start: db-c and cli-k's other traffic never captured",
                  not [f for f in flows if f["pod"] == "db-c"], repr([f for f in flows if f["pod"] == "db-c"][:3]))
        # Client ports come round again within the run: a request is matched
        # to a flow of its address and port that started within a second of it.
        starts = {}
        for f in flows:
            if f["transport"] == "tcp":
                starts.setdefault((f["ip"], f["client_port"]), []).append(f["start"])
        for t in ticks:
            t["captured"] = any(abs(s - t["t"]) < 1.0 for s in starts.get((t["ip"], t["port"]), []))
        pre = [t for t in ticks if t["t"] < t_change - 0.3]
        chk.check("relabel: before the change every web-a request and no api-b request captured",
                  pre and all(t["captured"] == (t["ip"] == PODS["web-a"][1]) for t in pre),
                  repr([t for t in pre if t["captured"] != (t["ip"] == PODS["web-a"][1])][:5]))
        for pod, want in (("api-b", True), ("web-a", False)):
            mine = [t for t in ticks if t["ip"] == PODS[pod][1]]
            settled = settled_after(mine, t_change, want)
            print("     %s's traffic %s the events %.3f s after the API change" % (
                pod, "joined" if want else "left", -1 if settled is None else settled), flush=True)
            chk.check("relabel: %s's traffic %s the events within %.1f s" % (
                pod, "joins" if want else "leaves", FOLLOW_LIMIT_S),
                settled is not None and settled <= FOLLOW_LIMIT_S and
                len([t for t in mine if t["t"] >= t_change]) > 20, "settled %r" % settled)
        chk.equal("pod start: web-e's flows captured, db-c's not", pods_in(flows, t_e0, t_e1), ["web-e"])
        chk.equal("pod delete: web-e's traffic no longer captured", pods_in(flows, t_e2, t_e3), [])
    finally:
        if kube is not None:
            kube.close()
        node.close()


def main(argv):
    return k8s_testbed.main(argv, "k8s_mirror_targets", run_test, USAGE,
                            "network namespaces, tc, XDP, AF_XDP sockets")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
