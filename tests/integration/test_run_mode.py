#!/usr/bin/python3
"""`tapflow run` as a daemon: serves /metrics, /healthz and /readyz while it
runs, counts what it processed, and on SIGTERM drains and exits 0 with every
event written. Also the command line's exit codes for bad configs.

Usage: test_run_mode.py /path/to/tapflow
"""
import collections
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO = ROOT / "config" / "demo.pcap"
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for_log(proc, pattern, timeout=20):
    """Reads stderr JSON log lines until one matches; returns it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            time.sleep(0.05)
            continue
        if re.search(pattern, line):
            return json.loads(line)
    raise TimeoutError(pattern)


def metric(text, name, labels):
    for line in text.splitlines():
        if line.startswith(name + "{" + labels + "}"):
            return float(line.rsplit(" ", 1)[1])
    return None


def main(tapflow):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tapflow-run-"))
    events = tmp / "events.jsonl"
    config = tmp / "tapflow.yaml"
    config.write_text(f"""
capture:
  source: pcap
  pcap:
    path: {DEMO}
workers:
  count: 2
outputs:
  - type: jsonl
    path: {events}
metrics:
  listen: 127.0.0.1:0
""")
    proc = subprocess.Popen([tapflow, "run", "-c", str(config)], stderr=subprocess.PIPE, text=True)
    try:
        serving = wait_for_log(proc, "serving /metrics")
        port = int(serving["port"])
        wait_for_log(proc, "source ended")
        status, _ = get(port, "/healthz")
        check(status == 200, "/healthz answers 200 while running")
        status, _ = get(port, "/readyz")
        check(status == 200, "/readyz answers 200 while running")
        status, _ = get(port, "/nothing")
        check(status == 404, "unknown paths answer 404")
        status, text = get(port, "/metrics")
        check(status == 200, "/metrics answers 200")
        check(metric(text, "tapflow_capture_packets_total", 'capture="pcap"') == 39,
              "tapflow_capture_packets_total counts the 39 packets of the demo capture")
        records = sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                      if l.startswith("tapflow_flow_records_total{"))
        check(records == 7, f"tapflow_flow_records_total sums to the 7 flows of the demo capture (got {records})")
        check("# TYPE tapflow_decode_malformed_total counter" in text, "malformed counters are exposed by reason")
        check(metric(text, "tapflow_defrag_datagrams_reassembled_total", 'worker="0"') is not None,
              "defrag counters are exposed per worker")

        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
        check(rc == 0, f"SIGTERM stops the daemon with exit code 0 (got {rc})")
        types = collections.Counter(json.loads(l)["type"] for l in events.read_text().splitlines())
        check(types["flow"] == 7, f"every flow event was flushed to the output file (got {types['flow']})")
        # The demo capture's HTTP exchanges and DNS query, from the analyzers.
        check(types == {"flow": 7, "http": 2, "dns": 1}, f"and every analyzer event (got {dict(types)})")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # Exit codes and messages of the command line.
    bad = tmp / "bad.yaml"
    bad.write_text("workers:\n  count: 0\n")
    r = subprocess.run([tapflow, "check-config", str(bad)], capture_output=True, text=True)
    check(r.returncode == 1, "check-config exits 1 on an out-of-range value")
    check(f"{bad}:2:" in r.stderr and "workers.count" in r.stderr, "the error names the file, line and key path")
    r = subprocess.run([tapflow, "run", "-c", str(bad)], capture_output=True, text=True)
    check(r.returncode == 1, "run refuses a bad config with exit code 1 before starting")
    r = subprocess.run([tapflow, "check-config", str(ROOT / "config" / "tapflow.yaml")], capture_output=True, text=True)
    check(r.returncode == 0, "the default config passes check-config")
    r = subprocess.run([tapflow, "read", str(tmp / "missing.pcap")], capture_output=True, text=True)
    check(r.returncode == 2 and "missing.pcap" in r.stderr, "a missing pcap exits 2 naming the file")
    r = subprocess.run([tapflow, "frobnicate"], capture_output=True, text=True)
    check(r.returncode == 1, "an unknown command exits 1")
    r = subprocess.run([tapflow, "--version"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("tapflow "), "--version prints the version")

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
