"""Shared pieces of the integration tests: a checker that prints one line per
check and a closing count, running `tapflow read`, and making every pcap the
tests run on (real traffic from traffic.py, fixtures from make_fixtures.py)."""

import calendar
import json
import os
import re
import subprocess
import sys
import time
import traceback
import zlib

import make_fixtures
import traffic

TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z$")


class Checker:
    """Counts checks; prints "ok" / "FAIL" lines and "N passed, N failed" at the end."""

    def __init__(self, suite):
        self.suite = suite
        self.passed = 0
        self.failed = []

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("ok   %s" % name, flush=True)
        else:
            self.failed.append(name)
            print("FAIL %s%s" % (name, (": " + detail) if detail else ""), flush=True)
        return ok

    def equal(self, name, got, want):
        return self.check(name, got == want, "got %r, want %r" % (got, want))

    def guarded(self, name, fn, *args):
        """Runs one part of a test; an exception (tapflow gone, a tool missing)
        is a failure with its traceback, not the end of the run."""
        try:
            fn(*args)
        except Exception:  # noqa: BLE001
            self.check("%s: ran to the end" % name, False, traceback.format_exc(limit=-4))

    def finish(self):
        print("%s: %d passed, %d failed" % (self.suite, self.passed, len(self.failed)), flush=True)
        for name in self.failed:
            print("  failed: %s" % name)
        return 1 if self.failed else 0


class Run:
    def __init__(self, returncode, stdout, stderr):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.lines = [line for line in stdout.split("\n") if line]
        self.events = []
        self.bad_lines = []
        for line in self.lines:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.bad_lines.append(line)


def log_entries(text, msg=None):
    """tapflow's JSON log lines in `text` (those whose message is `msg`), parsed; other lines skipped."""
    out = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and (msg is None or entry.get("msg") == msg):
            out.append(entry)
    return out


def run_tapflow(tapflow, args, timeout=120):
    """Runs tapflow; a hang becomes a failed run (exit code None), not a stuck test."""
    try:
        proc = subprocess.run([tapflow] + list(args), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode("utf-8", "replace")
        err = (exc.stderr or b"").decode("utf-8", "replace")
        return Run(None, out, err + "\n[killed after %ds: %s]" % (timeout, " ".join(args)))
    return Run(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def parse_time(text):
    """RFC 3339 UTC with 9 fractional digits -> integer nanoseconds since the epoch."""
    m = TIME_RE.match(text)
    if not m:
        raise ValueError("not an RFC 3339 UTC time with 9 fractional digits: %r" % text)
    secs = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    return secs * 10**9 + int(m.group(2))


class Pcap:
    def __init__(self, name, path, fixture=None):
        self.name = name
        self.path = path
        self.fixture = fixture  # None for real traffic
        self.kind = fixture.kind if fixture else "exact"


def make_all_pcaps(workdir, with_traffic=True):
    """Real-traffic pcaps (needs root: namespaces) and every fixture, into workdir."""
    pcaps = []
    if with_traffic:
        if os.geteuid() != 0:
            sys.exit("the real-traffic scenarios need root (network namespaces); "
                     "run as root or pass --no-traffic")
        for name, path in traffic.make_real_pcaps(os.path.join(workdir, "real")).items():
            pcaps.append(Pcap("real_" + name, path))
    for fx in make_fixtures.make_fixtures(os.path.join(workdir, "fixtures")):
        pcaps.append(Pcap(fx.name, fx.path, fx))
    return pcaps


def write_config(workdir, pcap, body):
    """A config file with `body` (YAML) for `tapflow read FILE -c CONFIG`. It has
    no capture section: with `read`, the pcap comes from the command line."""
    path = os.path.join(workdir, "%s-%08x.yaml" % (pcap.name, zlib.crc32(body.encode())))
    with open(path, "w") as f:
        f.write(body)
    return path


def config_args(pcap, workdir):
    """-c CONFIG for fixtures that state the settings they rely on, else nothing."""
    if pcap.fixture is not None and pcap.fixture.config:
        return ["-c", write_config(workdir, pcap, pcap.fixture.config)]
    return []


def parse_args(argv, usage):
    """TAPFLOW [--no-traffic] [--keep DIR] [--only NAME[,NAME...]]"""
    args = list(argv[1:])
    opts = {"tapflow": None, "traffic": True, "keep": None, "only": None}
    while args:
        a = args.pop(0)
        if a == "--no-traffic":
            opts["traffic"] = False
        elif a == "--keep" and args:
            opts["keep"] = args.pop(0)
        elif a == "--only" and args:
            opts["only"] = set(args.pop(0).split(","))
        elif opts["tapflow"] is None and not a.startswith("-"):
            opts["tapflow"] = os.path.abspath(a)
        else:
            sys.exit(usage)
    if opts["tapflow"] is None:
        sys.exit(usage)
    if not os.access(opts["tapflow"], os.X_OK):
        sys.exit("not an executable: %s" % opts["tapflow"])
    return opts


def live_test_args(argv, count, usage, needs_root_for):
    """The command line of a live test, `ARG... [--keep DIR]`: the `count`
    arguments as absolute paths, and the --keep directory (made) or None.
    Exits with `usage` on anything else, and unless run as root."""
    args = list(argv[1:])
    keep = None
    if "--keep" in args:
        i = args.index("--keep")
        if i + 1 >= len(args):
            sys.exit(usage)
        keep = args[i + 1]
        del args[i:i + 2]
        os.makedirs(keep, exist_ok=True)
    if len(args) != count:
        sys.exit(usage)
    if os.geteuid() != 0:
        sys.exit("needs root: " + needs_root_for)
    return [os.path.abspath(a) for a in args], keep
