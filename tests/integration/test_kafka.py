#!/usr/bin/python3
"""Integration test of the Kafka output through the real producer path:
tapflow produces to librdkafka's mock cluster (kafka_mock_cluster, a process
of its own on 127.0.0.1) and python3-confluent-kafka reads everything back.

  offline  `tapflow read PCAP -o kafka://BOOTSTRAP/test. -o events.jsonl` on a
           pcap with flow, HTTP, SIP (UDP and TCP), DNS and TLS events: every
           JSON line arrives exactly once, on topic "test." + its type's
           default topic, keyed by network.community_id (no key without one),
           the value byte-equal to the line; each key's events in order. The
           stats topic (Kafka only) holds keyless stats events.
  outage   `tapflow run` reading a FIFO this test feeds with a steady stream
           (50 DNS query/response pairs a second, two per client port, flows
           ending after 1 s idle); all brokers down for 60 s in the middle,
           then up again: the events in Kafka are exactly the JSON-lines
           output's (nothing lost, nothing twice, each key in order) and
           /metrics says so (produced == delivered == events + stats events,
           nothing failed or dropped); the stats events' per-interval packets
           and flow records add up to the run's.
  timeout  the same stream with message.timeout.ms 5000 and the brokers down
           for 15 s (taken down while nothing is in flight): the events
           missing from Kafka are exactly as many as
           tapflow_kafka_delivery_failed_total counts, produced == delivered +
           failed, and nothing arrives twice or unasked.
  secrets  SASL passwords given as secret_properties from an environment
           variable and from a file (canaries, fresh each run) never appear in
           tapflow's stdout or stderr (read, run, check-config, librdkafka's
           own debug logs at logging.level debug), in /metrics, nor in the
           output of refused configs (an unknown property next to the secret,
           a secret under an unknown name, a secret value librdkafka rejects
           when the producer is made, whose error quotes it).

Usage: test_kafka.py TAPFLOW MOCK_CLUSTER [--keep DIR] [--only offline,outage,timeout,secrets]
"""

import collections
import json
import os
import pathlib
import queue
import re
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from random import Random

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "perf"))
sys.path.insert(0, str(ROOT / "tests" / "fuzz"))

import harness  # noqa: E402
import test_schema  # noqa: E402  (the event schema's validator)
import make_analyzer_pcaps as gen  # noqa: E402  (packet builders and the HTTP and SIP traffic)
import make_tls_corpus as tlsgen  # noqa: E402  (TLS hello builders)

USAGE = "Usage: test_kafka.py TAPFLOW MOCK_CLUSTER [--keep DIR] [--only offline,outage,timeout,secrets]"
PARTS = ("offline", "outage", "timeout", "secrets")
# The contract's default topic of each event type.
TOPICS = {"flow": "flows", "http": "http", "sip": "sip", "sip_call": "sip", "dns": "dns", "tls": "tls",
          "stats": "stats"}
APP_TYPES = ("flow", "http", "sip", "sip_call", "dns", "tls")
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer", "ThreadSanitizer")
DEMO_PCAP = ROOT / "config" / "demo.pcap"


# -- the mock cluster ---------------------------------------------------------

class MockCluster:
    """kafka_mock_cluster as a child process: its bootstrap string, and
    commands ("down", "up", "down ID", ...) answered line by line."""

    def __init__(self, path, workdir, name, brokers=3):
        self.log_path = os.path.join(workdir, name + "_mock.log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([path, "--brokers", str(brokers)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1)
        self._lines = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.bootstrap = self._line(30)
        if not re.match(r"^127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+)*$", self.bootstrap or ""):
            self.close()
            raise RuntimeError("kafka_mock_cluster printed %r, not a bootstrap list (log: %s)" % (
                self.bootstrap, self.log_path))

    def _read(self):
        for line in self.proc.stdout:
            self._lines.put(line.strip())
        self._lines.put(None)

    def _line(self, timeout):
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def command(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        answer = self._line(30)
        if answer != "ok":
            raise RuntimeError("kafka_mock_cluster answered %r to %r" % (answer, cmd))

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


Message = collections.namedtuple("Message", "topic partition offset key value")


def consume_all(bootstrap, prefix, timeout=120):
    """Every message of every topic whose name starts with `prefix`, from the
    first offset to the high watermark read before consuming (producing has
    ended by then). Returns (topic names, [Message], problems)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-kafka-%d" % os.getpid(),
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    problems = []
    try:
        metadata = consumer.list_topics(timeout=30)
        topics = sorted(t for t in metadata.topics if t.startswith(prefix))
        ends = {}
        for topic in topics:
            for partition in metadata.topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
                if high > low:
                    ends[(topic, partition)] = high
        messages = []
        if not ends:
            return topics, messages, problems
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in ends])
        position = {}
        deadline = time.monotonic() + timeout
        while any(position.get(tp, 0) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                problems.append("consuming timed out at %s of %s" % (position, ends))
                break
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                problems.append("consumer error: %s" % msg.error())
                continue
            messages.append(Message(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value()))
            position[(msg.topic(), msg.partition())] = msg.offset() + 1
        return topics, messages, problems
    finally:
        consumer.close()


# -- events ---------------------------------------------------------------------

def read_jsonl(path):
    """[(line bytes without the newline, parsed event)]"""
    out = []
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if line:
                out.append((line, json.loads(line)))
    return out


def community_id(ev):
    network = ev.get("network")
    cid = network.get("community_id") if isinstance(network, dict) else None
    return cid.encode() if cid else None


def expected_messages(events, prefix):
    """(topic, key, value) for each JSON-lines event, as the contract routes it."""
    return [(prefix + TOPICS[ev["type"]], community_id(ev), line) for line, ev in events]


def describe(item):
    topic, key, value = item
    return "%s key=%s %s" % (topic, key.decode() if key else None, value[:160].decode("utf-8", "replace"))


def multiset_diff(want, got, limit=8):
    """Lines naming what only one side has (at most `limit`), and the counts."""
    w, g = collections.Counter(want), collections.Counter(got)
    missing = list((w - g).elements())
    extra = list((g - w).elements())
    lines = ["  missing from Kafka: " + describe(x) for x in missing[:limit]]
    lines += ["  in Kafka, not in the JSON lines: " + describe(x) for x in extra[:limit]]
    return missing, extra, ("\n" + "\n".join(lines)) if lines else ""


def duplicates(messages):
    counts = collections.Counter((m.topic, m.key, m.value) for m in messages)
    return {k: n for k, n in counts.items() if n > 1}


def split_stats(messages, prefix):
    """(the stats topic's messages, the others). Stats events go to Kafka
    outputs only (not to JSON lines): they are checked on their own."""
    stats = [m for m in messages if m.topic == prefix + TOPICS["stats"]]
    return stats, [m for m in messages if m.topic != prefix + TOPICS["stats"]]


def stats_problems(stats):
    """What is wrong with the stats topic's messages: each one a JSON object of
    type "stats", without a key (it belongs to no flow), valid against
    docs/events.schema.json."""
    _, validator = test_schema.make_validator()
    problems = []
    for m in stats:
        try:
            ev = json.loads(m.value)
        except ValueError:
            problems.append("not JSON: %r" % m.value[:120])
            continue
        if ev.get("type") != "stats" or m.key is not None or not isinstance(ev.get("stats"), dict):
            problems.append("key %r: %s" % (m.key, m.value[:200]))
        for error in validator.iter_errors(ev):
            problems.append("schema: %s at %s" % (error.message[:160], "/".join(map(str, error.path))))
    return problems


def stats_sum(stats, path):
    """The sum of one field over the stats events (counters there are per interval)."""
    total = 0
    for m in stats:
        value = json.loads(m.value)
        for key in path.split("."):
            value = value.get(key, {}) if isinstance(value, dict) else {}
        total += value if isinstance(value, int) else 0
    return total


def order_problems(events, messages, prefix):
    """Per (topic, key): the order of the values in their partition must be the
    order of the JSON-lines output (both follow the one worker that owns the
    flow). Keyless events have no order to keep."""
    want = collections.defaultdict(list)
    for topic, key, value in expected_messages(events, prefix):
        if key is not None:
            want[(topic, key)].append(value)
    got = collections.defaultdict(list)
    partitions = collections.defaultdict(set)
    for m in sorted(messages, key=lambda m: (m.topic, m.partition, m.offset)):
        if m.key is not None:
            got[(m.topic, m.key)].append(m.value)
            partitions[(m.topic, m.key)].add(m.partition)
    problems = []
    for k, values in want.items():
        if len(partitions[k]) > 1:
            problems.append("%s key %s spread over partitions %s" % (k[0], k[1].decode(), sorted(partitions[k])))
        elif got[k] != values and collections.Counter(got[k]) == collections.Counter(values):
            problems.append("%s key %s: %d events in another order" % (k[0], k[1].decode(), len(values)))
    multi = sum(1 for v in want.values() if len(v) > 1)
    return problems, multi


# -- metrics and logs -------------------------------------------------------------

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        return r.read().decode()


def parse_metrics(text):
    """[(family, {label: value}, value)]"""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if m:
            samples.append((m.group(1), dict(LABEL_RE.findall(m.group(3) or "")), float(m.group(4))))
    return samples


def msum(samples, family, **labels):
    return int(sum(v for f, ls, v in samples if f == family and all(ls.get(k) == x for k, x in labels.items())))


def by_label(samples, family, label):
    out = collections.Counter()
    for f, ls, v in samples:
        if f == family:
            out[ls.get(label, "")] += int(v)
    return dict(out)


def kafka_counts(samples):
    return {
        "produced": msum(samples, "tapflow_kafka_produced_total"),
        "delivered": msum(samples, "tapflow_kafka_delivered_total"),
        "failed": msum(samples, "tapflow_kafka_delivery_failed_total"),
        "dropped": msum(samples, "tapflow_kafka_dropped_total"),
        "queue": msum(samples, "tapflow_kafka_queue_messages"),
    }


def closed_lines(text):
    """The "kafka output closed" log lines, numbers as ints."""
    out = []
    for entry in harness.log_entries(text):
        if entry.get("msg") == "kafka output closed":
            out.append({k: int(v) if isinstance(v, (int, str)) and str(v).isdigit() else v
                        for k, v in entry.items()})
    return out


def no_sanitizer_reports(chk, name, text):
    for marker in SANITIZER_MARKERS:
        if marker in text:
            chk.check("%s: no %s report" % (name, marker), False, text[-2000:])
            return False
    return True


# -- traffic ----------------------------------------------------------------------

def dns_name(name):
    return b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"


def dns_message(ident, name, answer=None):
    """A recursive A query, or (answer = 4 address bytes) its response."""
    question = dns_name(name) + struct.pack(">HH", 1, 1)
    if answer is None:
        return struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question
    record = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 300, 4) + answer
    return struct.pack(">HHHHHH", ident, 0x8180, 1, 1, 0, 0) + question + record


def tls_hellos(server_name):
    """A TLS 1.3 ClientHello naming `server_name` and the ServerHello answering it."""
    client = tlsgen.client_hello_body(0x0303, [0x1301, 0x1302, 0xC02F], [
        tlsgen.sni(server_name), tlsgen.alpn(["h2", "http/1.1"]), tlsgen.u16_list_ext(10, [0x001D, 0x0017]),
        tlsgen.versions([0x0304, 0x0303]), tlsgen.ext(51, tlsgen.u16(0))])
    server = tlsgen.server_hello_body(0x0303, 0x1301, [tlsgen.ext(43, b"\x03\x04")])
    return (tlsgen.records(tlsgen.handshake(1, client), 16384, 22, 0x0301),
            tlsgen.records(tlsgen.handshake(2, server), 16384, 22, 0x0303))


def make_dns_tls(path, seed):
    """20 DNS exchanges over UDP and 8 TLS connections (hellos, a little
    application data, FIN), in the first minute of gen.EPOCH."""
    rng = Random(seed)
    cap = gen.Capture()
    stats = gen.Counter()
    resolver = gen.Host("10.53.0.53", 0x0A350035)
    for i in range(20):
        client = gen.Host("10.50.0.%d" % (1 + i % 5), 0x0A320000 + i)
        t = 1000000 + i * 2500000
        ident = rng.getrandbits(16)
        name = "svc%d.kafka-test.example" % i
        cap.add(t, gen.udp_packet(client, resolver, 40000 + i, 53, dns_message(ident, name)))
        answer = dns_message(ident, name, bytes([10, 9, 0, i]))
        cap.add(t + 800, gen.udp_packet(resolver, client, 53, 40000 + i, answer))
    server = gen.Host("10.44.3.3", 0x0A2C0303)
    for i in range(8):
        client = gen.Host("10.51.0.%d" % (1 + i), 0x0A330000 + i)
        conn = gen.TcpConn(cap, client, server, 50000 + i, 443, rng, stats)
        t = conn.handshake(3000000 + i * 6000000, 300)
        hello, answer = tls_hellos("tls%d.kafka-test.example" % i)
        t = conn.send(0, hello, t + 100, 20, 300, ack_last=False)
        t = conn.send(1, answer + b"\x17\x03\x03\x00\x20" + bytes(32), t + 400, 20, 40)
        t = conn.send(0, b"\x17\x03\x03\x00\x40" + bytes(64), t + 300, 20, 300)
        conn.close(0, max(t, conn.last_time) + 500, 300)
    cap.write(path)


def read_us_pcap(path):
    """[(ts µs, frame)] of a little-endian microsecond pcap (what gen.Capture writes)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"\xd4\xc3\xb2\xa1", path
    out, pos = [], 24
    while pos + 16 <= len(data):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", data, pos)
        out.append((sec * 1000000 + usec, data[pos + 16:pos + 16 + caplen]))
        pos += 16 + caplen
    return out


def make_offline_pcap(workdir):
    """HTTP (perf generator, 12 connections), SIP (12 calls between 10 UA pairs,
    one pair over TCP), DNS and TLS, merged in time order into one pcap."""
    parts = {name: os.path.join(workdir, "offline_%s.pcap" % name) for name in ("http", "sip", "dns_tls")}
    gen.make_http(parts["http"], 12, 5)
    gen.make_sip(parts["sip"], 12, 10, 5)
    make_dns_tls(parts["dns_tls"], 5)
    records = sorted((r for p in parts.values() for r in read_us_pcap(p)), key=lambda r: r[0])
    path = os.path.join(workdir, "offline.pcap")
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, frame in records:
            f.write(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(frame), len(frame)) + frame)
    return path, len(records)


class DnsStream:
    """A pcap written into a FIFO at a steady pace: `rate` DNS query/response
    pairs a second, two from each client address and port (so each flow has
    two DNS events, then a flow record after 1 s idle), stamped with the wall
    clock (nanosecond pcap)."""

    def __init__(self, fifo, rate=50):
        self.fifo = fifo
        self.rate = rate
        self.pairs = 0
        self.error = None
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared: paused
        self._running.set()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.resolver = gen.Host("10.53.0.53", 0x0A350035)

    def start(self):
        self._thread.start()

    def _frames(self, i, ts):
        flow = i // 2  # two exchanges per client port: a key with two events on the dns topic
        client = gen.Host("10.60.%d.%d" % ((flow // 250) % 250, 1 + flow % 250), 0x0A3C0000 + flow)
        port = 20000 + flow % 40000
        name = "q%d.stream.kafka-test.example" % i
        ident = i & 0xFFFF
        return [(ts, gen.udp_packet(client, self.resolver, port, 53, dns_message(ident, name))),
                (ts + 700000, gen.udp_packet(self.resolver, client, 53, port,
                                             dns_message(ident, name, bytes([10, 8, (i >> 8) & 255, i & 255]))))]

    def _run(self):
        try:
            with open(self.fifo, "wb") as f:
                f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
                f.flush()
                start = time.monotonic()
                while not self._stop.is_set():
                    if not self._running.is_set():
                        paused = time.monotonic()
                        while not self._running.wait(0.1) and not self._stop.is_set():
                            pass
                        start += time.monotonic() - paused  # the pace goes on where it stopped
                        continue
                    due = start + self.pairs / self.rate
                    wait = due - time.monotonic()
                    if wait > 0:
                        self._stop.wait(wait)
                        continue
                    ts = time.time_ns()
                    for t, frame in self._frames(self.pairs, ts):
                        f.write(struct.pack("<IIII", t // 10**9, t % 10**9, len(frame), len(frame)) + frame)
                    f.flush()
                    self.pairs += 1
        except OSError as exc:
            self.error = exc

    def pause(self):
        self._running.clear()

    def resume(self):
        self._running.set()

    def stop(self):
        """Stops writing and closes the FIFO: the end of tapflow's input."""
        self._stop.set()
        self._thread.join(30)
        return not self._thread.is_alive()


class RunningTapflow:
    """`tapflow run -c CONFIG`, stderr to a file, /metrics port from its log."""

    def __init__(self, tapflow, config, workdir, name, env=None):
        self.stderr_path = os.path.join(workdir, name + "_tapflow.log")
        self.stdout_path = os.path.join(workdir, name + "_tapflow.out")
        self._stderr = open(self.stderr_path, "w")
        self._stdout = open(self.stdout_path, "w")
        self.proc = subprocess.Popen([tapflow, "run", "-c", config], stdout=self._stdout, stderr=self._stderr,
                                     env=env)
        self.port = None

    def log(self):
        self._stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def output(self):
        self._stdout.flush()
        with open(self.stdout_path) as f:
            return f.read()

    def wait_log(self, message, timeout, count=1):
        """The first `count` log entries whose message starts with `message`,
        or None when tapflow exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in harness.log_entries(self.log()) if str(e.get("msg", "")).startswith(message)]
            if len(found) >= count:
                return found[:count]
            if self.proc.poll() is not None:
                return None
            time.sleep(0.1)
        return None

    def wait_serving(self, timeout=30):
        found = self.wait_log("serving /metrics", timeout)
        if found:
            self.port = int(found[0]["port"])
        return self.port is not None

    def metrics(self):
        return parse_metrics(scrape(self.port))

    def stop(self, timeout=60):
        """SIGTERM; the exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()
        self._stdout.close()


def unblock_fifo(fifo):
    """A writer still waiting to open the FIFO gets a reader now (and then EPIPE)."""
    try:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        os.close(fd)
    except OSError:
        pass


# -- part 1: tapflow read to Kafka ------------------------------------------------

def offline(chk, opts, workdir):
    pcap, packets = make_offline_pcap(workdir)
    mock = MockCluster(opts["mock"], workdir, "offline")
    try:
        events_path = os.path.join(workdir, "offline_events.jsonl")
        target = "kafka://%s/test." % mock.bootstrap
        run = harness.run_tapflow(opts["tapflow"], ["read", pcap, "-o", target, "-o", events_path], timeout=300)
        (pathlib.Path(workdir) / "offline_tapflow.log").write_text(run.stderr)
        if not chk.check("offline: tapflow read %s -o %s -o events.jsonl exits 0" % (os.path.basename(pcap), target),
                         run.returncode == 0, "rc=%s: %s" % (run.returncode, run.stderr[-2000:])):
            return
        no_sanitizer_reports(chk, "offline", run.stderr)
        events = read_jsonl(events_path)
        types = collections.Counter(ev["type"] for _, ev in events)
        chk.check("offline: the %d-packet pcap gives flow, http, sip, sip_call, dns and tls events (%s)" % (
            packets, ", ".join("%s %d" % kv for kv in sorted(types.items()))),
            all(types[t] > 0 for t in APP_TYPES), str(types))
        keyless = sum(1 for _, ev in events if community_id(ev) is None)
        topics, consumed, problems = consume_all(mock.bootstrap, "test.")
        chk.check("offline: the cluster's messages read back to the high watermarks", not problems,
                  "; ".join(problems[:3]))
        stats, messages = split_stats(consumed, "test.")
        want = expected_messages(events, "test.")
        got = [(m.topic, m.key, m.value) for m in messages]
        missing, extra, detail = multiset_diff(want, got)
        chk.check("offline: every one of the %d events arrives exactly once, on test.<its topic>, keyed by its "
                  "community id (%d without one: no key), the value byte-equal to its JSON line" % (
                      len(want), keyless),
                  not missing and not extra and len(got) == len(want),
                  "%d missing, %d unexpected, %d consumed%s" % (len(missing), len(extra), len(got), detail))
        dups = duplicates(consumed)
        chk.check("offline: no message twice", not dups,
                  "; ".join("%s x%d" % (describe(k), n) for k, n in list(dups.items())[:5]))
        problems = stats_problems(stats)
        chk.check("offline: the stats topic holds only keyless stats events, valid against the schema (%d)" % len(stats), not problems,
                  "; ".join(problems[:3]))
        want_topics = sorted({"test." + TOPICS[ev["type"]] for _, ev in events} | {m.topic for m in stats})
        chk.equal("offline: the topics tapflow created are exactly test.<topic> of the types it saw", topics,
                  want_topics)
        problems, multi = order_problems(events, messages, "test.")
        chk.check("offline: each key's events are in one partition, in the JSON-lines order (%d keys with "
                  "several events)" % multi, not problems and multi > 0, "; ".join(problems[:5]))
        closed = closed_lines(run.stderr)
        counts = [(c.get("produced"), c.get("delivered"), c.get("failed")) for c in closed]
        total = len(want) + len(stats)
        chk.equal("offline: one 'kafka output closed' line: produced == delivered == %d events + %d stats, "
                  "failed 0" % (len(want), len(stats)), counts, [(total, total, 0)])
    finally:
        mock.close()


# -- parts 2 and 3: a steady stream and an outage -----------------------------------

def stream_config(path, fifo, events_path, bootstrap, prefix, kafka_extra):
    with open(path, "w") as f:
        f.write("""capture:
  source: pcap
  pcap:
    path: %s
workers:
  count: 2
flows:
  idle_timeout: 1s
outputs:
  - type: kafka
    brokers: "%s"
    topic_prefix: "%s"
%s  - type: jsonl
    path: %s
metrics:
  listen: 127.0.0.1:0
""" % (fifo, bootstrap, prefix, kafka_extra, events_path))
    return path


def wait_quiet(tf, timeout=60):
    """Waits until every produced event is acknowledged and librdkafka's queue
    is empty (the stream paused, so no new event comes), so that taking the
    brokers down next leaves no request in flight whose fate is unknown: one
    the broker wrote but whose answer was lost would be counted failed
    (_MSG_TIMED_OUT) and be in Kafka all the same."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c = kafka_counts(tf.metrics())
        if c["produced"] > 0 and c["produced"] == c["delivered"] + c["failed"] and c["queue"] == 0:
            return c
        time.sleep(0.02)
    return None


def outage(chk, opts, workdir, part):
    """part "outage": 60 s down, nothing may be lost; part "timeout": 15 s down
    with a 5 s message timeout, the losses must equal the failure counters."""
    lossless = part == "outage"
    prefix = "%s." % part
    mock = MockCluster(opts["mock"], workdir, part)
    fifo = os.path.join(workdir, part + ".fifo")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    events_path = os.path.join(workdir, part + "_events.jsonl")
    if lossless:
        extra = "    shutdown_grace: 120s\n    stats_interval: 5s\n"
        down_for, name = 60, "outage (60 s, default message timeout)"
    else:
        extra = ("    shutdown_grace: 60s\n    stats_interval: 0s\n"
                 "    properties: {message.timeout.ms: 5000}\n")
        down_for, name = 15, "timeout (15 s down, message.timeout.ms 5000)"
    config = stream_config(os.path.join(workdir, part + ".yaml"), fifo, events_path, mock.bootstrap, prefix, extra)
    tf = RunningTapflow(opts["tapflow"], config, workdir, part)
    stream = DnsStream(fifo)
    stream.start()
    try:
        if not chk.check("%s: tapflow run starts and serves /metrics" % name, tf.wait_serving(),
                         tf.log()[-2000:]):
            return
        time.sleep(10)
        before = tf.metrics()
        if not lossless:
            stream.pause()
            quiet = wait_quiet(tf)
            if not chk.check("%s: all produced so far is acknowledged before the brokers go down (%s)" % (
                    name, quiet), quiet is not None, str(kafka_counts(tf.metrics()))):
                return
        mock.command("down")
        stream.resume()
        down_at = time.monotonic()
        time.sleep(min(5, down_for / 3))
        during_first = kafka_counts(tf.metrics())
        time.sleep(max(0.0, down_for - (time.monotonic() - down_at)))
        during_last = kafka_counts(tf.metrics())
        mock.command("up")
        chk.check("%s: while the brokers were down nothing was acknowledged and events queued up in librdkafka "
                  "(delivered %d at +5 s and %d at the end; queue %d at the end; %d delivered before)" % (
                      name, during_first["delivered"], during_last["delivered"], during_last["queue"],
                      kafka_counts(before)["delivered"]),
                  during_first["delivered"] == during_last["delivered"] and
                  (during_last["queue"] > 0 or not lossless) and kafka_counts(before)["delivered"] > 0,
                  "%s %s" % (during_first, during_last))
        time.sleep(10)
        chk.check("%s: the FIFO took the stream (%d DNS pairs in %.0f s)" % (name, stream.pairs, 20 + down_for),
                  stream.stop() and stream.error is None, str(stream.error))
        closed = tf.wait_log("kafka output closed", 300)
        if not chk.check("%s: after the input ends the Kafka output closes and logs it" % name, closed is not None,
                         tf.log()[-2000:]):
            return
        samples = tf.metrics()
        c = kafka_counts(samples)
        failed_by = by_label(samples, "tapflow_kafka_delivery_failed_total", "error")
        dropped_by = by_label(samples, "tapflow_kafka_dropped_total", "reason")
        output_drops = msum(samples, "tapflow_output_events_dropped_queue_full_total")
        rc = tf.stop()
        log = tf.log()
        chk.check("%s: SIGTERM stops tapflow with exit code 0" % name, rc == 0, "rc=%s: %s" % (rc, log[-1500:]))
        no_sanitizer_reports(chk, name, log)
        events = read_jsonl(events_path)
        types = collections.Counter(ev["type"] for _, ev in events)
        kinds = ", ".join("%s %d" % kv for kv in sorted(types.items()))
        topics, consumed, problems = consume_all(mock.bootstrap, prefix)
        chk.check("%s: the cluster's messages read back to the high watermarks" % name, not problems,
                  "; ".join(problems[:3]))
        stats, messages = split_stats(consumed, prefix)
        want = expected_messages(events, prefix)
        got = [(m.topic, m.key, m.value) for m in messages]
        missing, extra, detail = multiset_diff(want, got)
        dups = duplicates(consumed)
        chk.equal("%s: the stream gave one dns event per pair and one flow event per two (%s)" % (name, kinds),
                  (types["dns"], types["flow"]), (stream.pairs, (stream.pairs + 1) // 2))
        chk.check("%s: nothing dropped before librdkafka (dropped %s, output queue drops %d)" % (
            name, dropped_by or "none", output_drops), c["dropped"] == 0 and output_drops == 0)
        chk.equal("%s: every JSON-lines event and every stats event was handed to librdkafka (produced == %d + "
                  "%d)" % (name, len(want), len(stats)), c["produced"], len(want) + len(stats))
        chk.check("%s: nothing in Kafka twice, nothing there that tapflow did not write" % name,
                  not dups and not extra,
                  "%d duplicated, %d unexpected%s" % (len(dups), len(extra), detail))
        line = closed_lines(log)[0]
        chk.equal("%s: the closing log line agrees with /metrics (produced, delivered, failed)" % name,
                  (line.get("produced"), line.get("delivered"), line.get("failed")),
                  (c["produced"], c["delivered"], c["failed"]))
        chk.equal("%s: produced == delivered + failed (%d + %d)" % (name, c["delivered"], c["failed"]),
                  c["produced"], c["delivered"] + c["failed"])
        chk.equal("%s: what arrived is what /metrics says was delivered" % name, len(consumed), c["delivered"])
        if lossless:
            chk.check("%s: zero events lost: all %d events (%s) and %d stats events arrived, delivered == produced, "
                      "failed 0 (%s)" % (name, len(want), kinds, len(stats), failed_by or "none"),
                      not missing and c["delivered"] == c["produced"] == len(want) + len(stats) and c["failed"] == 0,
                      "%d missing; %s%s" % (len(missing), c, detail))
            problems = stats_problems(stats)
            packets = msum(samples, "tapflow_capture_packets_total")
            sums = (stats_sum(stats, "stats.packets"), stats_sum(stats, "stats.flows.records"))
            chk.check("%s: %d stats events on %sstats, keyless; their per-interval packets and flow records add up "
                      "to the run's (%d packets, %d flow records)" % (name, len(stats), prefix, sums[0], sums[1]),
                      len(stats) >= 5 and not problems and sums == (packets, types["flow"]) and
                      packets == 2 * stream.pairs,
                      "problems %s; sums %s, want (%d, %d); capture packets %d for %d pairs" % (
                          problems[:3], sums, packets, types["flow"], packets, stream.pairs))
            problems, multi = order_problems(events, messages, prefix)
            chk.check("%s: each key's events in one partition, in order, across the outage (%d keys with several "
                      "events)" % (name, multi), not problems and multi > 0, "; ".join(problems[:5]))
        else:
            chk.equal("%s: no stats events (stats_interval 0s)" % name, len(stats), 0)
            chk.check("%s: the outage outlasted the message timeout: events failed (%s)" % (name, failed_by),
                      c["failed"] > 0 and set(failed_by) <= {"_MSG_TIMED_OUT"}, str(failed_by))
            chk.equal("%s: the events missing from Kafka (%d) are exactly the failure counters' sum" % (
                name, len(missing)), len(missing), c["failed"])
            chk.check("%s: delivery resumed after the outage (delivered %d at its end, %d in all)" % (
                name, during_last["delivered"], c["delivered"]), c["delivered"] > during_last["delivered"])
    finally:
        stream.stop()
        unblock_fifo(fifo)
        tf.stop(timeout=10)
        tf.close()
        mock.close()


# -- part 4: secrets ------------------------------------------------------------------

def secrets_part(chk, opts, workdir):
    token = secrets.token_hex(12)
    canary_env = "CanaryEnv" + token
    canary_file = "CanaryFile" + token[::-1]
    canary_key = "CanaryKey" + secrets.token_hex(8)
    canary_bad = "CanaryBad" + secrets.token_hex(8)
    canaries = (canary_env, canary_file, canary_key, canary_bad, token, token[::-1])
    pw_file = os.path.join(workdir, "kafka-password")
    key_file = os.path.join(workdir, "kafka-key-password")
    with open(pw_file, "w") as f:
        f.write(canary_file + "\n")
    with open(key_file, "w") as f:
        f.write(canary_key)
    env = dict(os.environ, TAPFLOW_TEST_KAFKA_PASSWORD=canary_env, TAPFLOW_TEST_BAD_VALUE=canary_bad)
    mock = MockCluster(opts["mock"], workdir, "secrets")

    def leaks(text):
        return [c for c in canaries if c in text]

    def outputs(extra_first="", extra_props=""):
        sasl = ("security.protocol: SASL_PLAINTEXT, sasl.mechanism: PLAIN, sasl.username: tapflow, "
                "message.timeout.ms: 3000")
        return """outputs:
  - type: kafka
    brokers: "%s"
    topic_prefix: "secret1."
    properties: {%s, debug: "security,broker,conf,generic"%s}
    secret_properties: {sasl.password: {env: TAPFLOW_TEST_KAFKA_PASSWORD}%s}
    shutdown_grace: 10s
  - type: kafka
    brokers: "%s"
    topic_prefix: "secret2."
    properties: {%s}
    secret_properties:
      sasl.password: {file: %s}
      ssl.key.password: {file: %s}
    shutdown_grace: 10s
""" % (mock.bootstrap, sasl, extra_props, extra_first, mock.bootstrap, sasl, pw_file, key_file)

    def write(name, body):
        path = os.path.join(workdir, name)
        with open(path, "w") as f:
            f.write(body)
        return path

    try:
        # Debug logging: librdkafka's own debug lines (its "conf" context lists
        # every property) reach tapflow's log only at level debug.
        debug = "logging:\n  level: debug\n"
        good = write("secrets.yaml", debug + outputs())
        r = subprocess.run([opts["tapflow"], "check-config", good], capture_output=True, text=True, env=env,
                           timeout=60)
        text = r.stdout + r.stderr
        chk.check("secrets: check-config accepts the config and prints no canary (rc %d)" % r.returncode,
                  r.returncode == 0 and not leaks(text), "leaked %s: %s" % (leaks(text), text[-1500:]))

        # read: SASL PLAIN against the mock (it fails or not; the run must end either way).
        proc = subprocess.run([opts["tapflow"], "read", str(DEMO_PCAP), "-c", good], capture_output=True,
                              text=True, env=env, timeout=180)
        text = proc.stdout + proc.stderr
        write("secrets_read.log", text)
        closed = closed_lines(proc.stderr)
        chk.check("secrets: tapflow read with SASL over the mock ends (rc %s), both Kafka outputs report what they "
                  "delivered or failed (%s)" % (proc.returncode, [(c.get("produced"), c.get("delivered"),
                                                                   c.get("failed")) for c in closed]),
                  len(closed) == 2 and all(c.get("produced") == c.get("delivered", 0) + c.get("failed", 0)
                                           for c in closed), proc.stderr[-1500:])
        chk.check("secrets: no canary in tapflow read's stdout and stderr, librdkafka debug logs included "
                  "(%d log lines)" % len(proc.stderr.splitlines()),
                  not leaks(text), "leaked %s" % leaks(text))
        no_sanitizer_reports(chk, "secrets read", text)

        # run: /metrics while the outputs are up and after they closed.
        run_config = write("secrets_run.yaml", """capture:
  source: pcap
  pcap:
    path: %s
metrics:
  listen: 127.0.0.1:0
""" % DEMO_PCAP + debug + outputs())
        tf = RunningTapflow(opts["tapflow"], run_config, workdir, "secrets_run", env=env)
        try:
            served = tf.wait_serving()
            if chk.check("secrets: tapflow run serves /metrics", served, tf.log()[-1500:]):
                early = scrape(tf.port)
                tf.wait_log("kafka output closed", 120, count=2)
                late = scrape(tf.port)
                families = {f for f, _, _ in parse_metrics(late) if f.startswith("tapflow_kafka_")}
                chk.check("secrets: no canary in /metrics (%d and %d bytes scraped, %d tapflow_kafka_ families)" % (
                    len(early), len(late), len(families)),
                    not leaks(early + late) and "tapflow_kafka_produced_total" in families,
                    "leaked %s" % leaks(early + late))
            rc = tf.stop()
            text = tf.log() + tf.output()
            chk.check("secrets: no canary in tapflow run's stdout and stderr (rc %s)" % rc, not leaks(text) and rc == 0,
                      "leaked %s; rc %s" % (leaks(text), rc))
            no_sanitizer_reports(chk, "secrets run", text)
        finally:
            tf.close()

        # Refused configs. The first two fail at loading (check-config and read
        # alike); the third only when the producer is created: librdkafka's
        # error quotes the value ("Unsupported SASL mechanism: <value>").
        refused = {
            "an unknown property next to the secrets": (
                outputs(extra_props=", no.such.property: 1"), "no.such.property", True),
            "a secret under a name librdkafka does not know": (
                outputs(extra_first=", sasl.passwrd: {env: TAPFLOW_TEST_BAD_VALUE}"), "sasl.passwrd", True),
            "a secret value librdkafka rejects when the producer is made": (
                outputs(extra_first=", sasl.mechanism: {env: TAPFLOW_TEST_BAD_VALUE}"), "sasl mechanism", False),
        }
        for what, (body, named, at_load) in refused.items():
            path = write("secrets_refused_%s.yaml" % re.sub(r"\W+", "_", what)[:40], body)
            texts = []
            codes = []
            for args in (["check-config", path], ["read", str(DEMO_PCAP), "-c", path]):
                p = subprocess.run([opts["tapflow"]] + args, capture_output=True, text=True, env=env, timeout=120)
                texts.append(p.stdout + p.stderr)
                codes.append(p.returncode)
            joined = "\n".join(texts)
            chk.check("secrets, %s: %stapflow read refuses it (rc %s, check-config rc %s), naming %s" % (
                what, "check-config and " if at_load else "", codes[1], codes[0], named),
                codes[1] == 1 and named.lower() in texts[1].lower() and
                (codes[0] == 1 if at_load else codes[0] == 0),
                "rc %s: %s" % (codes, joined[-800:]))
            chk.check("secrets, %s: no canary in the output of check-config and read" % what, not leaks(joined),
                      "leaked %s: %s" % (leaks(joined), joined[-800:]))
    finally:
        mock.close()


# -- main ---------------------------------------------------------------------------------

def parse_args(argv):
    args = list(argv[1:])
    opts = {"tapflow": None, "mock": None, "keep": None, "only": list(PARTS)}
    while args:
        a = args.pop(0)
        if a == "--keep" and args:
            opts["keep"] = os.path.abspath(args.pop(0))
        elif a == "--only" and args:
            opts["only"] = args.pop(0).split(",")
            if not set(opts["only"]) <= set(PARTS):
                sys.exit(USAGE)
        elif not a.startswith("-") and opts["tapflow"] is None:
            opts["tapflow"] = os.path.abspath(a)
        elif not a.startswith("-") and opts["mock"] is None:
            opts["mock"] = os.path.abspath(a)
        else:
            sys.exit(USAGE)
    if opts["tapflow"] is None or opts["mock"] is None:
        sys.exit(USAGE)
    for key in ("tapflow", "mock"):
        if not os.access(opts[key], os.X_OK):
            sys.exit("not an executable: %s" % opts[key])
    return opts



def main(argv):
    opts = parse_args(argv)
    workdir = opts["keep"] or tempfile.mkdtemp(prefix="tapflow-it-kafka-")
    os.makedirs(workdir, exist_ok=True)
    chk = harness.Checker("kafka")
    start = time.monotonic()
    try:
        if "offline" in opts["only"]:
            chk.guarded("offline", offline, chk, opts, workdir)
        if "outage" in opts["only"]:
            chk.guarded("outage", outage, chk, opts, workdir, "outage")
        if "timeout" in opts["only"]:
            chk.guarded("timeout", outage, chk, opts, workdir, "timeout")
        if "secrets" in opts["only"]:
            chk.guarded("secrets", secrets_part, chk, opts, workdir)
    finally:
        if not opts["keep"]:
            shutil.rmtree(workdir, ignore_errors=True)
    print("kafka: %.1fs" % (time.monotonic() - start), flush=True)
    return chk.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
