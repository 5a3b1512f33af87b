#!/usr/bin/python3
"""`tapflow run -i IFACE` as tcpdump is run: live capture from the command
line, with or without a config, on a veth pair with two queues in test
namespaces and real traffic. Checks that every mode the command line names
captures the packets sent, that SIGTERM and SIGINT stop a run within 2 s with
exit code 0 and every event written, that a missing interface or capability
ends the run with exit code 2 and one error line naming it, that flags win
over the config file, and that usage errors exit 1. AF_XDP also runs as a
non-root user with exactly the documented capabilities (CAP_NET_ADMIN,
CAP_NET_RAW, CAP_BPF, CAP_IPC_LOCK): it captures, and SIGTERM leaves no XDP
program on the interface.

Usage: test_live_cli.py /path/to/tapflow   (as root)
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import traffic  # noqa: E402

PACKETS = 40                 # datagrams per scenario: few enough to count exactly
CLIENT_PORT, SERVER_PORT = 41000, 9999
STOP_WITHIN = 2.0            # seconds from the signal to the exit
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
# What docs/capture.md says AF_XDP needs, and nothing more: no CAP_SYS_ADMIN
# (looking programs up by id), no CAP_PERFMON (relaxed verifier).
MINIMAL_AFXDP_CAPS = {"net_admin": 12, "net_raw": 13, "ipc_lock": 14, "bpf": 39}
_MINIMAL = "-all," + ",".join("+" + c for c in sorted(MINIMAL_AFXDP_CAPS))
NOBODY_MINIMAL_AFXDP = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=" + _MINIMAL,
                        "--ambient-caps=" + _MINIMAL, "--bounding-set=" + _MINIMAL]

SENDER = r"""
import socket, sys, time
src, sport, dst, dport, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((src, sport))
for i in range(count):
    s.sendto(bytes([i & 0xFF]) * 200, (dst, dport))
    time.sleep(0.002)
"""


class LiveRun:
    """A `tapflow run` in a namespace; stderr (JSON log lines) collected by a thread."""

    def __init__(self, ns, argv, stdout_path=None):
        self.argv = argv
        self._stdout = open(stdout_path, "w") if stdout_path else subprocess.DEVNULL
        # `ip netns exec` execs the command: the pid is tapflow's own.
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdout=self._stdout,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, pattern, timeout=20):
        """Waits for a log line matching pattern; returns it, or None if the run ended or timed out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if re.search(pattern, line):
                        return line
                if self.proc.poll() is not None and not self._reader.is_alive():
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.2))

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Sends sig; returns (exit code, seconds to exit), exit code None when it did not exit."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        return rc, time.monotonic() - started

    def finish(self, timeout=30):
        """Waits for a run that ends by itself; returns its exit code (None on a hang)."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        if self._stdout is not subprocess.DEVNULL:
            self._stdout.close()

    def log(self, level):
        out = []
        for line in self.lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("level") == level:
                out.append(entry)
        return out

    def stderr(self):
        return "\n".join(self.lines)


def send(tb, count=PACKETS, sport=CLIENT_PORT):
    tb.ns_run(tb.client_ns, [traffic.PYTHON, "-c", SENDER, traffic.CLIENT_V4, str(sport), traffic.SERVER_V4,
                             str(SERVER_PORT), str(count)])


def read_events(path):
    events = []
    if not os.path.exists(path):
        return events
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                events.append(json.loads(line))
    return events


def test_flow_packets(events, sport=CLIENT_PORT):
    """Packets of the test's UDP flow, summed over its records (None when absent)."""
    total = None
    for e in events:
        if e.get("type") != "flow" or e.get("network", {}).get("transport") != "udp":
            continue
        ports = {e.get("source", {}).get("port"), e.get("destination", {}).get("port")}
        if ports == {sport, SERVER_PORT}:
            total = (total or 0) + e["network"]["packets"]
    return total


def xdp_attached(tb):
    out = tb.ns_run(tb.server_ns, ["ip", "-d", "link", "show", "dev", tb.server_if]).stdout
    return re.search(r"\bxdp(generic|drv|offload)?\b|prog/xdp", out) is not None


def capture_and_stop(ck, tb, name, argv, events_path=None, stdout_path=None, sig=signal.SIGTERM,
                     expect_source=None, sport=CLIENT_PORT, while_running=None):
    """Starts a run, sends PACKETS datagrams, stops it with sig; checks exit, timing and the flow."""
    run = LiveRun(tb.server_ns, argv, stdout_path)
    try:
        started = run.wait_for(r'"msg":"capture started"')
        if not ck.check(name + ": capture starts", started is not None, run.stderr()[-3000:]):
            return run
        if expect_source:
            ck.equal(name + ": capture source", json.loads(started).get("source"), expect_source)
        send(tb, sport=sport)
        if while_running:
            while_running(run)
        time.sleep(0.3)  # the last datagrams cross the ring before the signal
        rc, seconds = run.stop(sig)
        ck.equal(name + ": %s exits with code 0" % signal.Signals(sig).name, rc, 0)
        ck.check(name + ": exits within %.0f s of the signal" % STOP_WITHIN, seconds < STOP_WITHIN,
                 "took %.2f s" % seconds)
        ck.equal(name + ": no error logged", [e["msg"] for e in run.log("error")], [])
        events = read_events(events_path or stdout_path)
        ck.equal(name + ": every datagram sent is in the flow events", test_flow_packets(events, sport), PACKETS)
        reasons = {e["event"]["reason"] for e in events if e.get("type") == "flow"}
        ck.check(name + ": open flows are flushed with reason shutdown", "shutdown" in reasons, str(reasons))
    finally:
        run.kill()
    return run


def expect_failure(ck, tb, name, argv, exit_code, must_name, ns=None):
    """A run that must end by itself with exit_code and one error line naming every string of must_name."""
    run = LiveRun(ns or tb.server_ns, argv)
    try:
        rc = run.finish()
        run._reader.join(timeout=5)  # its last lines may still be in the pipe
        ck.equal(name + ": exit code %d" % exit_code, rc, exit_code)
        errors = run.log("error")
        ck.equal(name + ": one error line", len(errors), 1)
        message = errors[0]["msg"] if errors else ""
        for word in must_name:
            ck.check(name + ": the error names " + word, word in message, message or run.stderr()[-2000:])
    finally:
        run.kill()
    return run


def proc_caps(pid, field="CapEff"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1], 16)
    return None


def minimal_afxdp_case(ck, tb, work, public_tapflow, tapflow):
    name = "afxdp with minimal capabilities"
    # The build tree may be closed to other users: the program object goes
    # next to the public copy of tapflow, and the run writes into a folder of its own.
    obj = os.path.join(os.path.dirname(tapflow), "xdp", "tapflow_xdp.o")
    if not ck.check(name + ": the XDP object is built", os.path.isfile(obj), obj):
        return
    public_obj = os.path.join(work, "tapflow_xdp.o")
    shutil.copy(obj, public_obj)
    os.chmod(public_obj, 0o644)
    out_dir = os.path.join(work, "minimal")
    os.mkdir(out_dir)
    os.chmod(out_dir, 0o777)
    cfg = os.path.join(out_dir, "minimal.yaml")
    with open(cfg, "w") as f:
        f.write("capture:\n  source: afxdp\n  afxdp:\n    program: %s\n"
                "metrics:\n  listen: 127.0.0.1:0\n" % public_obj)
    os.chmod(cfg, 0o644)
    events = os.path.join(out_dir, "events.jsonl")
    want = sum(1 << bit for bit in MINIMAL_AFXDP_CAPS.values())
    seen = {}

    def while_running(run):
        # `ip netns exec` and setpriv exec: the pid is tapflow's own.
        seen["caps"] = proc_caps(run.proc.pid)
        seen["uid"] = os.stat("/proc/%d" % run.proc.pid).st_uid
        ck.check(name + ": the XDP program is attached while it runs", xdp_attached(tb))

    run = capture_and_stop(ck, tb, name, NOBODY_MINIMAL_AFXDP + [public_tapflow, "run", "-c", cfg, "-i",
                                                                  tb.server_if, "-o", events],
                           events_path=events, expect_source="afxdp", sport=CLIENT_PORT + 5,
                           while_running=while_running)
    ck.equal(name + ": it ran as a non-root user", seen.get("uid"), 65534)
    ck.equal(name + ": with exactly CAP_NET_ADMIN, CAP_NET_RAW, CAP_IPC_LOCK and CAP_BPF effective",
             "%x" % (seen.get("caps") or 0), "%x" % want)
    warnings = [e["msg"] for e in run.log("warn")]
    ck.check(name + ": no detach failure logged", not any("detach" in w for w in warnings), str(warnings))
    ck.check(name + ": the XDP program is gone after SIGTERM", not xdp_attached(tb),
             tb.ns_run(tb.server_ns, ["ip", "-d", "link", "show", "dev", tb.server_if]).stdout)
    remove_xdp(tb)

    # A killed run leaves its program; without CAP_SYS_ADMIN the next run
    # cannot read that program's name to know it is tapflow's, so it must not
    # replace it: exit 2 saying how to remove it, and leave it in place.
    argv = NOBODY_MINIMAL_AFXDP + [public_tapflow, "run", "-c", cfg, "-i", tb.server_if, "-o", events]
    killed = LiveRun(tb.server_ns, argv)
    try:
        ck.check(name + ": a run to kill starts", killed.wait_for(r'"msg":"capture started"') is not None,
                 killed.stderr()[-2000:])
        killed.stop(signal.SIGKILL)
    finally:
        killed.kill()
    ck.check(name + ": SIGKILL leaves the program behind", xdp_attached(tb))
    time.sleep(0.5)  # the kernel releases the killed run's AF_XDP sockets
    expect_failure(ck, tb, name + ", next to a killed run's program", argv, 2,
                   ["already has an XDP program", "CAP_SYS_ADMIN", "ip link set dev %s xdp off" % tb.server_if])
    ck.check(name + ": a program it cannot identify is left in place", xdp_attached(tb))
    remove_xdp(tb)


def remove_xdp(tb):
    for kind in ("xdp", "xdpgeneric"):
        tb.ns_run(tb.server_ns, ["ip", "link", "set", "dev", tb.server_if, kind, "off"], check=False)


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    if os.geteuid() != 0:
        sys.exit("needs root: network namespaces, AF_XDP, tc")
    tapflow = os.path.abspath(argv[1])
    ck = harness.Checker("live_cli")
    work = tempfile.mkdtemp(prefix="tapflow-live-cli-")
    # A copy every user can run, for the unprivileged runs (the build tree
    # may sit under a folder only root can enter).
    os.chmod(work, 0o755)
    public_tapflow = os.path.join(work, "tapflow")
    shutil.copy(tapflow, public_tapflow)
    os.chmod(public_tapflow, 0o755)
    try:
        with traffic.Testbed(tag="lc", queues=2) as tb:
            iface = tb.server_if

            # 1. AF_PACKET without a config, events to a file, stopped by SIGTERM.
            path = os.path.join(work, "afpacket.jsonl")
            capture_and_stop(ck, tb, "afpacket", [tapflow, "run", "-i", iface, "--mode", "afpacket", "-o", path],
                             events_path=path, expect_source="afpacket")

            # 2. The defaults: AF_XDP on every queue, JSON lines on stdout; Ctrl-C stops it.
            out = os.path.join(work, "afxdp-stdout.jsonl")
            run = capture_and_stop(
                ck, tb, "afxdp default", [tapflow, "run", "-i", iface], stdout_path=out, sig=signal.SIGINT,
                expect_source="afxdp", sport=CLIENT_PORT + 1,
                while_running=lambda run: ck.check("afxdp default: the XDP program is attached while it runs",
                                               xdp_attached(tb)))
            ready = run.wait_for(r'"msg":"AF_XDP capture ready"', timeout=0)
            ck.check("afxdp default: a socket on each of the 2 queues",
                     ready is not None and json.loads(ready).get("queues") == "2", str(ready))
            ck.check("afxdp default: the XDP program is gone after the run", not xdp_attached(tb))

            # 3. Mirror and DPDK from the command line: -i goes where each mode takes its interfaces.
            path = os.path.join(work, "mirror.jsonl")
            capture_and_stop(ck, tb, "mirror", [tapflow, "run", "--mode", "mirror", "-i", iface, "-o", path],
                             events_path=path, expect_source="mirror", sport=CLIENT_PORT + 2)
            path = os.path.join(work, "dpdk.jsonl")
            capture_and_stop(ck, tb, "dpdk", [tapflow, "run", "--mode", "dpdk", "-i", iface, "-o", path],
                             events_path=path, expect_source="dpdk", sport=CLIENT_PORT + 3)

            # 4. A missing interface: exit 2, one error line naming it, in every mode that opens one.
            for mode in ("afpacket", "afxdp"):
                expect_failure(ck, tb, "missing interface (%s)" % mode,
                               [tapflow, "run", "-i", "tfnosuch0", "--mode", mode], 2, ["tfnosuch0"])

            # 5. Without privileges: exit 2 naming the missing capabilities.
            expect_failure(ck, tb, "unprivileged afpacket",
                           NOBODY + [public_tapflow, "run", "-i", iface, "--mode", "afpacket"], 2, ["CAP_NET_RAW"])
            expect_failure(ck, tb, "unprivileged afxdp", NOBODY + [public_tapflow, "run", "-i", iface], 2,
                           ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_BPF"])
            ck.check("unprivileged afxdp: nothing was attached", not xdp_attached(tb))

            # 5b. A user with exactly the documented capabilities captures, and
            #     SIGTERM detaches the program (no CAP_SYS_ADMIN to look it up by id).
            minimal_afxdp_case(ck, tb, work, public_tapflow, tapflow)

            # 6. Flags win over the config file: its interface does not exist,
            #    its output file and worker count still apply.
            cfg_events = os.path.join(work, "from-config.jsonl")
            cfg = os.path.join(work, "live.yaml")
            with open(cfg, "w") as f:
                f.write("capture:\n  source: afpacket\n  interfaces: [tfnosuch0]\n"
                        "workers:\n  count: 1\n"
                        "outputs:\n  - type: jsonl\n    path: %s\n"
                        "metrics:\n  listen: 127.0.0.1:0\n" % cfg_events)
            expect_failure(ck, tb, "config alone", [tapflow, "run", "-c", cfg], 2, ["tfnosuch0"])
            run = capture_and_stop(ck, tb, "-c with -i", [tapflow, "run", "-c", cfg, "-i", iface],
                                   events_path=cfg_events, expect_source="afpacket", sport=CLIENT_PORT + 4)
            started = run.wait_for(r'"msg":"capture started"', timeout=0)
            ck.check("-c with -i: the config's workers.count applies",
                     started is not None and json.loads(started).get("workers") == "1", str(started))
            ck.check("-c with -i: the config's interface is not opened", "tfnosuch0" not in run.stderr())
            run = LiveRun(tb.server_ns, [tapflow, "run", "-c", cfg, "-i", iface, "--mode", "afxdp", "-o",
                                         os.path.join(work, "mode.jsonl")])
            try:
                started = run.wait_for(r'"msg":"capture started"')
                ck.check("-c with --mode: the flag's mode wins",
                         started is not None and json.loads(started).get("source") == "afxdp", run.stderr()[-2000:])
                rc, _ = run.stop()
                ck.equal("-c with --mode: exit code 0", rc, 0)
            finally:
                run.kill()

            # 7. Usage errors exit 1, before anything starts.
            for name, args in (("run without -c or -i", ["run"]),
                               ("unknown mode", ["run", "-i", iface, "--mode", "pcap"]),
                               ("a live mode without an interface", ["run", "--mode", "afpacket"]),
                               ("-i for read", ["read", "x.pcap", "-i", iface]),
                               ("-i without a value", ["run", "-i"])):
                r = subprocess.run(["ip", "netns", "exec", tb.server_ns, tapflow] + args, capture_output=True,
                                   text=True, timeout=30)
                ck.check("usage error exits 1: " + name, r.returncode == 1 and "tapflow: " in r.stderr,
                         "exit %d, stderr %r" % (r.returncode, r.stderr[-500:]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
