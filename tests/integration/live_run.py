"""Live capture runs for the integration tests of the AF_PACKET and mirror
sources: `tapflow run` started inside a test namespace with a config file,
its /metrics scraped from inside that namespace, its flow records compared
with those `tapflow read` makes from a tcpdump capture of the same traffic.
"""

import collections
import json
import re
import signal
import subprocess
import time

import harness
import traffic

# Flows between the test namespaces' own addresses; anything else on the link
# (MLD reports after an address was added) is no traffic a test made.
TEST_IPS = {traffic.CLIENT_V4, traffic.SERVER_V4, traffic.CLIENT_V6, traffic.SERVER_V6}
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def write_config(path, body):
    with open(path, "w") as f:
        f.write(body)
    return path


class LiveTapflow:
    """`tapflow run ARGS` in namespace `ns`, JSON log on stderr, events in `events_path`."""

    def __init__(self, tb, ns, tapflow, args, events_path):
        self.tb = tb
        self.ns = ns
        self.events_path = events_path
        self.stderr_path = events_path + ".stderr"
        self._stderr = open(self.stderr_path, "w+")
        self.proc = tb.popen(ns, [tapflow, "run"] + list(args) + ["-o", events_path], stderr=self._stderr)
        self.port = None

    def log_lines(self):
        self._stderr.flush()
        with open(self.stderr_path) as f:
            return f.read().splitlines()

    def log_entries(self, msg=None):
        """The JSON log lines so far (those whose message is `msg`), parsed."""
        return harness.log_entries(self.stderr_text(), msg)

    def stderr_text(self):
        return "\n".join(self.log_lines())

    def wait_log(self, pattern, timeout=20):
        """The first JSON log line whose message matches, or None when tapflow exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.log_entries():
                if re.search(pattern, entry.get("msg", "")):
                    return entry
            if self.proc.poll() is not None:
                return None
            time.sleep(0.05)
        return None

    def wait_started(self, timeout=20):
        """Waits for "capture started"; returns False when tapflow exited instead."""
        serving = self.wait_log("serving /metrics", timeout)
        if serving is not None:
            self.port = int(serving["port"])
        return self.wait_log("^capture started$", timeout) is not None

    def metrics(self):
        """{(family, frozenset(labels)): value} from /metrics, read inside the namespace."""
        out = self.tb.ns_run(self.ns, ["curl", "-sS", "--max-time", "5",
                                       "http://127.0.0.1:%d/metrics" % self.port]).stdout
        return parse_metrics(out)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Sends `sig` to tapflow (`ip netns exec` execs it: its process group is
        tapflow's); returns its exit code, None if it had to be killed."""
        return traffic._stop_process(self.proc, sig, timeout)

    def events(self):
        with open(self.events_path) as f:
            return [json.loads(line) for line in f if line.strip()]


def parse_metrics(text):
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            continue
        labels = frozenset(LABEL_RE.findall(m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def metric_sum(samples, family, **labels):
    """Sum of a family's samples whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (fam, ls), v in samples.items() if fam == family and want <= set(ls))


def metric_values(samples, family):
    return {ls: v for (fam, ls), v in samples.items() if fam == family}


def read_pcap(tapflow, pcap, out_path, workers=2):
    """Flow events of `tapflow read` on a capture, or raises with its stderr."""
    run = harness.run_tapflow(tapflow, ["read", pcap, "-o", out_path, "--workers", str(workers)])
    if run.returncode != 0:
        raise RuntimeError("tapflow read %s failed (%s): %s" % (pcap, run.returncode, run.stderr[-2000:]))
    with open(out_path) as f:
        return [json.loads(line) for line in f if line.strip()]


def flows_between(events, ips):
    """The flow records of `events` whose two ends are both among `ips`."""
    return [ev for ev in events if ev.get("type") == "flow" and ev["source"]["ip"] in ips and
            ev["destination"]["ip"] in ips]


def flows_between_test_ips(events):
    """Flow records between the test addresses, summed per community id:
    {community_id: {"transport", "ends": {(ip, port): [packets, bytes]}, "flags": {(ip, port): set}, "reasons"}}."""
    flows = {}
    for ev in flows_between(events, TEST_IPS):
        src, dst = ev["source"], ev["destination"]
        cid = ev["network"]["community_id"]
        f = flows.setdefault(cid, {"transport": ev["network"]["transport"], "ends": collections.defaultdict(
            lambda: [0, 0]), "flags": collections.defaultdict(set), "reasons": set(), "start": None, "end": None})
        for end, side in ((src, "client"), (dst, "server")):
            key = (end["ip"], end.get("port"))
            f["ends"][key][0] += end["packets"]
            f["ends"][key][1] += end["bytes"]
            if "tcp" in ev:
                f["flags"][key] |= set(ev["tcp"][side]["flags"])
        f["reasons"].add(ev["event"]["reason"])
        start, end_t = harness.parse_time(ev["event"]["start"]), harness.parse_time(ev["event"]["end"])
        f["start"] = start if f["start"] is None else min(f["start"], start)
        f["end"] = end_t if f["end"] is None else max(f["end"], end_t)
    for f in flows.values():
        f["ends"] = {k: tuple(v) for k, v in f["ends"].items()}
        f["flags"] = dict(f["flags"])
    return flows


# Outgoing TCP segments carry a departure time of the monotonic clock, which
# packet sockets do not use: each socket then reads the real-time clock itself
# as the segment passes, microseconds apart. Everything else is stamped once.
TCP_TIME_SLACK_NS = 2_000_000


def compare_flows(chk, name, live, offline, times=False):
    """Same flows, packets and bytes per direction, TCP flags per side; `times`:
    also the first and last packet times (the kernel's timestamps, which both
    sockets share: equal, within TCP_TIME_SLACK_NS for TCP)."""
    chk.check("%s: flows between the test addresses" % name, len(offline) > 0, "tcpdump saw none")
    missing = sorted(set(offline) - set(live))
    extra = sorted(set(live) - set(offline))
    chk.check("%s: same flows as tapflow read on the tcpdump capture (%d)" % (name, len(offline)),
              not missing and not extra, "missing live: %s; only live: %s" % (
                  [describe(offline[c]) for c in missing], [describe(live[c]) for c in extra]))
    bad_counts, bad_flags, bad_times = [], [], []
    for cid in sorted(set(live) & set(offline)):
        a, b = live[cid], offline[cid]
        if a["ends"] != b["ends"]:
            bad_counts.append("%s live %s, read %s" % (describe(b), a["ends"], b["ends"]))
        if a["flags"] != b["flags"]:
            bad_flags.append("%s live %s, read %s" % (describe(b), a["flags"], b["flags"]))
        slack = TCP_TIME_SLACK_NS if b["transport"] == "tcp" else 0
        if times and (abs(a["start"] - b["start"]) > slack or abs(a["end"] - b["end"]) > slack):
            bad_times.append("%s live %s, read %s" % (describe(b), (a["start"], a["end"]), (b["start"], b["end"])))
    chk.check("%s: packets and bytes per direction equal tapflow read's" % name, not bad_counts,
              "; ".join(bad_counts))
    chk.check("%s: TCP flags per side equal tapflow read's" % name, not bad_flags, "; ".join(bad_flags))
    if times:
        chk.check("%s: first and last packet times are the kernel's, as tapflow read got them" % name, not bad_times,
                  "; ".join(bad_times))
    return not missing and not extra and not bad_counts


def describe(flow):
    return "%s %s" % (flow["transport"], " <-> ".join("%s:%s" % e for e in sorted(flow["ends"], key=str)))


def packets_in(flows):
    return sum(p for f in flows.values() for p, _ in f["ends"].values())


def start_servers(tb, settle=0.0):
    """nginx and a UDP echo (port 7777) in the server namespace; `settle`
    seconds let the link go quiet after address changes (MLD reports)."""
    traffic._start_nginx(tb)
    echo = tb.popen(tb.server_ns, [traffic.PYTHON, traffic.THIS_FILE, "udp-echo", "::", "7777"],
                    stdout=subprocess.PIPE, text=True)
    if echo.stdout.readline().strip() != "ready":
        raise RuntimeError("udp echo server did not start")
    if settle:
        time.sleep(settle)
