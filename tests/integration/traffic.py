#!/usr/bin/python3
"""Real traffic for integration tests: two network namespaces joined by a veth
pair, programs run inside them, and a tcpdump capture of what crossed the link.
Also the pieces other topologies build on: Namespaces (namespaces and processes
that are cleaned up) and mirror_link (a tc mirror of an interface into a veth
pair, as live capture tests use).

Every namespace, process and file this module makes is removed again, also when
a test fails or is interrupted (finally blocks plus an atexit hook). Traffic only
ever goes to addresses inside the namespaces made here.

Run as a script it also provides small traffic tools that run inside a
namespace (`ip netns exec NS python3 traffic.py ping ...`), since the machine has
no ping binary: ICMP echo over raw sockets, a UDP echo server and client.
"""

import atexit
import itertools
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

PYTHON = "/usr/bin/python3"
THIS_FILE = os.path.abspath(__file__)

# tc, sysctl, nginx and dnsmasq live in /usr/sbin on Debian, which a CI shell's
# PATH may lack; every test imports this module before starting anything.
for _dir in ("/usr/local/sbin", "/usr/sbin", "/sbin"):
    if _dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.environ.get("PATH", "/usr/bin:/bin") + os.pathsep + _dir

# Addresses inside the test namespaces only: a private /24 and a ULA /64.
CLIENT_V4, SERVER_V4 = "10.77.0.1", "10.77.0.2"
CLIENT_V6, SERVER_V6 = "fd00:77::1", "fd00:77::2"
CLIENT_MAC, SERVER_MAC = "02:00:00:77:00:01", "02:00:00:77:00:02"

_counter = itertools.count()
_live_testbeds = []


def log(msg):
    print(msg, flush=True)


def run(cmd, check=True, timeout=60, **kw):
    """Runs a command, returns CompletedProcess; raises with its output on failure."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise RuntimeError("command failed (exit %d): %s\nstdout: %s\nstderr: %s" %
                           (proc.returncode, " ".join(cmd), proc.stdout[-2000:], proc.stderr[-2000:]))
    return proc


def _stop_process(proc, sig=signal.SIGTERM, timeout=5.0):
    """Stops one process this module started (and its process group, which it
    leads); returns its exit code, None when it had to be killed with SIGKILL."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return proc.poll()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)
        return None
    return proc.returncode


def ns_run(ns, cmd, check=True, timeout=60, **kw):
    """run() inside network namespace `ns`; ns None: in this process's own."""
    return run((["ip", "netns", "exec", ns] if ns else []) + list(cmd), check=check, timeout=timeout, **kw)


def mirror_link(from_ns, dev, near_if, cap_ns, cap_if, queues=1):
    """A veth pair near_if (in from_ns) -- cap_if (in cap_ns; None: this
    process's namespace), and tc filters on both hooks of `dev` (in from_ns)
    that clone every packet into near_if, so cap_if sees a copy of all `dev`
    carries while the original traffic is untouched. Neither end has IPv6:
    the pair carries only the clones. Undo with unmirror() (or by deleting
    the namespaces)."""
    run(["ip", "link", "add", near_if, "netns", from_ns, "numtxqueues", str(queues), "numrxqueues", str(queues),
         "type", "veth", "peer", "name", cap_if] + (["netns", cap_ns] if cap_ns else []) +
        ["numtxqueues", str(queues), "numrxqueues", str(queues)])
    for ns, ifname in ((from_ns, near_if), (cap_ns, cap_if)):
        ns_run(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.%s.disable_ipv6=1" % ifname])
        ns_run(ns, ["ip", "link", "set", ifname, "up"])
    ns_run(from_ns, ["tc", "qdisc", "add", "dev", dev, "clsact"])
    for hook in ("ingress", "egress"):
        ns_run(from_ns, ["tc", "filter", "add", "dev", dev, hook, "protocol", "all", "u32", "match", "u32", "0", "0",
                         "action", "mirred", "egress", "mirror", "dev", near_if])


def unmirror(from_ns, dev):
    """Removes mirror_link()'s filters from `dev` (with the clsact qdisc holding them)."""
    ns_run(from_ns, ["tc", "qdisc", "del", "dev", dev, "clsact"], check=False)


class Capture:
    """A tcpdump writing a nanosecond pcap; ready once it says "listening on"."""

    def __init__(self, testbed, ns, iface, path, bpf_filter):
        self.path = path
        self.stderr_path = os.path.join(testbed.workdir, os.path.basename(path) + ".tcpdump.log")
        self._stderr = open(self.stderr_path, "w+")
        # Immediate mode uses one ring slot per snaplen: a modest snaplen and a
        # 32 MB buffer keep a burst of MTU-sized packets from overflowing it.
        cmd = ["tcpdump", "-i", iface, "-w", path, "-n", "-U", "-s", "9000", "-B", "32768", "-Z", "root",
               "--immediate-mode", "--time-stamp-precision=nano"]
        if bpf_filter:
            cmd.append(bpf_filter)
        self.proc = testbed.popen(ns, cmd, stdout=subprocess.DEVNULL, stderr=self._stderr)
        deadline = time.monotonic() + 10
        while True:
            self._stderr.seek(0)
            text = self._stderr.read()
            if "listening on" in text:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("tcpdump did not start: " + text)
            time.sleep(0.02)

    def stop(self):
        """SIGINT makes tcpdump flush and close the file; then it prints its counts."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _stop_process(self.proc, signal.SIGKILL)
        self._stderr.seek(0)
        text = self._stderr.read()
        self._stderr.close()
        if "0 packets dropped by kernel" not in text:
            raise RuntimeError("tcpdump lost packets or did not report: " + text)
        return text


class Namespaces:
    """Network namespaces and the processes started in them, a scratch
    directory; close() removes them all, at the latest at exit or on SIGTERM
    or SIGHUP. Testbed, and the topologies of the Kubernetes tests, build on it."""

    def __init__(self, workdir_prefix):
        self.workdir = tempfile.mkdtemp(prefix=workdir_prefix)
        self._procs = []
        self._made_ns = []
        _live_testbeds.append(self)

    def add_ns(self, ns):
        """A new namespace with lo up, quiet on IPv6 (see below); deleted by close()."""
        run(["ip", "netns", "add", ns])
        self._made_ns.append(ns)
        # No DAD, router solicitations or autoconfiguration: the links carry
        # only the traffic a test makes, and IPv6 addresses work at once.
        for key, val in (("net.ipv6.conf.default.accept_dad", "0"),
                         ("net.ipv6.conf.all.accept_dad", "0"),
                         ("net.ipv6.conf.default.router_solicitations", "0"),
                         ("net.ipv6.conf.default.accept_ra", "0"),
                         ("net.ipv6.conf.default.addr_gen_mode", "1")):
            self.ns_run(ns, ["sysctl", "-q", "-w", "%s=%s" % (key, val)])
        self.ns_run(ns, ["ip", "link", "set", "lo", "up"])

    # -- running things ----------------------------------------------------

    def ns_run(self, ns, cmd, check=True, timeout=60, **kw):
        return ns_run(ns, cmd, check=check, timeout=timeout, **kw)

    def popen(self, ns, cmd, **kw):
        """Starts a long-running process in a namespace; stopped by close() at the latest."""
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        proc = subprocess.Popen(["ip", "netns", "exec", ns] + cmd, start_new_session=True, **kw)
        self._procs.append(proc)
        return proc

    def stop(self, proc, sig=signal.SIGTERM):
        return _stop_process(proc, sig)

    def wait_tcp(self, ns, host, port, timeout=10.0):
        """Waits until something accepts TCP connections on host:port inside ns."""
        self.ns_run(ns, [PYTHON, THIS_FILE, "wait-tcp", host, str(port), str(timeout)], timeout=timeout + 10)

    def close(self):
        for proc in reversed(self._procs):
            try:
                _stop_process(proc)
            except Exception as exc:  # keep cleaning up the rest
                log("cleanup: could not stop pid %d: %s" % (proc.pid, exc))
        self._procs = []
        for ns in reversed(self._made_ns):
            # Deleting a namespace also deletes the interfaces inside it, their
            # qdiscs and filters, and the veth ends paired with them.
            run(["ip", "netns", "del", ns], check=False)
        self._made_ns = []
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self in _live_testbeds:
            _live_testbeds.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Testbed(Namespaces):
    """Client and server namespaces joined by a veth pair, with static neighbours."""

    def __init__(self, tag="t", mtu=1500, queues=1):
        n = next(_counter)
        suffix = "%d%s%d" % (os.getpid(), tag[:2], n)
        self.client_ns = "tfc-" + suffix
        self.server_ns = "tfs-" + suffix
        # Interface names are limited to 15 characters.
        self.client_if = ("tc" + suffix)[:15]
        self.server_if = ("ts" + suffix)[:15]
        super().__init__("tapflow-tb-")
        try:
            self._setup(mtu, queues)
        except BaseException:
            self.close()
            raise

    def _setup(self, mtu, queues):
        for ns in (self.client_ns, self.server_ns):
            self.add_ns(ns)
        run(["ip", "link", "add", self.client_if, "address", CLIENT_MAC, "netns", self.client_ns,
             "numtxqueues", str(queues), "numrxqueues", str(queues), "type", "veth",
             "peer", "name", self.server_if, "address", SERVER_MAC, "netns", self.server_ns,
             "numtxqueues", str(queues), "numrxqueues", str(queues)])
        for ns, ifname, v4, v6, peer_v4, peer_v6, peer_mac in (
                (self.client_ns, self.client_if, CLIENT_V4, CLIENT_V6, SERVER_V4, SERVER_V6, SERVER_MAC),
                (self.server_ns, self.server_if, SERVER_V4, SERVER_V6, CLIENT_V4, CLIENT_V6, CLIENT_MAC)):
            self.ns_run(ns, ["ip", "link", "set", ifname, "mtu", str(mtu)])
            # Keep segments MTU-sized as on a real wire, not 64 KB GSO bursts.
            self.ns_run(ns, ["ip", "link", "set", ifname, "gso_max_size", str(mtu), "gso_max_segs", "1"],
                        check=False)
            self.ns_run(ns, ["ip", "addr", "add", v4 + "/24", "dev", ifname])
            self.ns_run(ns, ["ip", "-6", "addr", "add", v6 + "/64", "dev", ifname, "nodad"])
            self.ns_run(ns, ["ip", "link", "set", ifname, "up"])
            self.ns_run(ns, ["ip", "neigh", "replace", peer_v4, "lladdr", peer_mac, "dev", ifname,
                             "nud", "permanent"])
            self.ns_run(ns, ["ip", "-6", "neigh", "replace", peer_v6, "lladdr", peer_mac, "dev", ifname,
                             "nud", "permanent"])

    def capture(self, path, ns=None, iface=None, bpf_filter=None):
        """Starts tcpdump on the server's veth end (sees both directions)."""
        if bpf_filter is None:
            # Belt and braces with the sysctls: no link-local or multicast chatter.
            bpf_filter = "not arp and not (ip6 and (ip6 multicast or src net fe80::/10))"
        return Capture(self, ns or self.server_ns, iface or self.server_if, path, bpf_filter)


def _cleanup_all():
    for tb in list(_live_testbeds):
        tb.close()


def _on_signal(signum, _frame):
    _cleanup_all()
    sys.exit(128 + signum)


atexit.register(_cleanup_all)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


# -- scenarios: each writes one pcap of real traffic ------------------------

NGINX_CONF = """
worker_processes 1;
master_process off;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  keepalive_timeout 30;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  default_type application/octet-stream;
  server {{
    listen {v4}:80;
    listen [{v6}]:80;
    root {dir}/www;
  }}
}}
"""


def _start_nginx(tb):
    d = os.path.join(tb.workdir, "nginx")
    os.makedirs(os.path.join(d, "www"))
    with open(os.path.join(d, "www", "index.html"), "w") as f:
        f.write("<html><body>tapflow integration test</body></html>\n")
    with open(os.path.join(d, "www", "big.bin"), "wb") as f:
        # 1 MiB, deterministic.
        block = bytes(range(256)) * 16
        for _ in range(256):
            f.write(block)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=d, v4=SERVER_V4, v6=SERVER_V6))
    proc = tb.popen(tb.server_ns, ["nginx", "-c", conf, "-p", d],
                    stderr=open(os.path.join(d, "stderr.log"), "w"))
    tb.wait_tcp(tb.client_ns, SERVER_V4, 80)
    tb.wait_tcp(tb.client_ns, SERVER_V6, 80)
    return proc


def _curl(tb, urls, expect_codes, limit_rate=None):
    """limit_rate (curl's --limit-rate, e.g. "8M"): paces a download so that a
    capture path under test is not overrun by one burst on a small machine."""
    args = ["--limit-rate", limit_rate] if limit_rate else []
    for url in urls:
        args += ["-o", "/dev/null", url]
    out = tb.ns_run(tb.client_ns, ["curl", "-sS", "--max-time", "20", "-w", "%{http_code}\\n"]
                    + args).stdout.split()
    if out != expect_codes:
        raise RuntimeError("curl %s answered %s, expected %s" % (urls, out, expect_codes))


def scenario_http(tb, pcap):
    """curl against nginx: keep-alive requests, separate connections, 1 MiB body, a 404."""
    _start_nginx(tb)
    base = "http://%s" % SERVER_V4
    cap = tb.capture(pcap)
    # One connection, three requests (curl reuses it for URLs given together).
    _curl(tb, [base + "/", base + "/index.html", base + "/missing"], ["200", "200", "404"])
    # Separate connections.
    _curl(tb, [base + "/"], ["200"])
    _curl(tb, [base + "/missing"], ["404"])
    _curl(tb, [base + "/big.bin"], ["200"])
    time.sleep(0.3)  # let the last FIN/ACKs cross
    cap.stop()


def scenario_http6(tb, pcap):
    """curl over IPv6 against nginx."""
    _start_nginx(tb)
    base = "http://[%s]" % SERVER_V6
    cap = tb.capture(pcap)
    _curl(tb, [base + "/", base + "/missing"], ["200", "404"])
    _curl(tb, [base + "/big.bin"], ["200"])
    time.sleep(0.3)
    cap.stop()


def scenario_dns(tb, pcap):
    """dig against a dnsmasq that answers locally: A, AAAA, NXDOMAIN, over UDP and TCP."""
    d = os.path.join(tb.workdir, "dnsmasq")
    os.makedirs(d)
    tb.popen(tb.server_ns, ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                            "--user=root", "--group=root", "--pid-file=" + os.path.join(d, "pid"),
                            "--bind-interfaces", "--listen-address=" + SERVER_V4,
                            "--listen-address=" + SERVER_V6, "--except-interface=lo",
                            "--address=/www.tapflow.test/10.77.0.80",
                            "--host-record=host.tapflow.test,10.77.0.81,fd00:77::81",
                            "--local=/nx.test/", "--log-facility=" + os.path.join(d, "log")],
             stderr=open(os.path.join(d, "stderr.log"), "w"))
    tb.wait_tcp(tb.client_ns, SERVER_V4, 53)
    cap = tb.capture(pcap)
    queries = [
        (["@" + SERVER_V4, "www.tapflow.test", "A"], "10.77.0.80", "NOERROR"),
        (["@" + SERVER_V4, "host.tapflow.test", "AAAA"], "fd00:77::81", "NOERROR"),
        (["@" + SERVER_V4, "nothing.nx.test", "A"], None, "NXDOMAIN"),
        (["@" + SERVER_V4, "+tcp", "host.tapflow.test", "A"], "10.77.0.81", "NOERROR"),
        (["@" + SERVER_V4, "+tcp", "nothing.nx.test", "AAAA"], None, "NXDOMAIN"),
        (["@" + SERVER_V6, "host.tapflow.test", "A"], "10.77.0.81", "NOERROR"),
    ]
    for args, answer, status in queries:
        out = tb.ns_run(tb.client_ns, ["dig", "+time=3", "+tries=1"] + args).stdout
        if ("status: " + status) not in out or (answer and answer not in out):
            raise RuntimeError("dig %s: expected %s %s, got:\n%s" % (args, status, answer, out))
    time.sleep(0.3)
    cap.stop()


def scenario_sip(tb, pcap):
    """sipp's built-in uac calling its built-in uas over UDP, a few calls."""
    d = os.path.join(tb.workdir, "sipp")
    os.makedirs(d)
    uas = tb.popen(tb.server_ns, ["sipp", "-sn", "uas", "-i", SERVER_V4, "-p", "5060", "-nostdin",
                                  "-max_socket", "16"],
                   stdout=open(os.path.join(d, "uas.out"), "w"), stderr=subprocess.STDOUT, cwd=d)
    time.sleep(0.5)
    if uas.poll() is not None:
        raise RuntimeError("sipp uas exited early: " + open(os.path.join(d, "uas.out")).read()[-2000:])
    cap = tb.capture(pcap)
    proc = tb.ns_run(tb.client_ns, ["sipp", "-sn", "uac", "-i", CLIENT_V4, "-p", "5061", "-nostdin",
                                    "-m", "3", "-l", "1", "-r", "5", "-d", "200",
                                    "-timeout", "30s", "-timeout_error", SERVER_V4 + ":5060"],
                     check=False, timeout=60, cwd=d)
    if proc.returncode != 0:
        raise RuntimeError("sipp uac failed (exit %d): %s" % (proc.returncode, proc.stdout[-2000:]))
    time.sleep(0.3)
    cap.stop()
    tb.stop(uas)


def scenario_icmp_frag(tb, pcap):
    """ICMP echo (small and 4000-byte, fragmented) and 5000-byte UDP datagrams echoed
    back, over IPv4 and IPv6 with a 1500-byte MTU: fragments in both directions."""
    echo = tb.popen(tb.server_ns, [PYTHON, THIS_FILE, "udp-echo", "::", "7777"],
                    stdout=subprocess.PIPE, text=True)
    if echo.stdout.readline().strip() != "ready":
        raise RuntimeError("udp echo server did not start")
    cap = tb.capture(pcap)
    for dst in (SERVER_V4, SERVER_V6):
        tb.ns_run(tb.client_ns, [PYTHON, THIS_FILE, "ping", dst, "56", "2"])
        tb.ns_run(tb.client_ns, [PYTHON, THIS_FILE, "ping", dst, "4000", "2"])
        tb.ns_run(tb.client_ns, [PYTHON, THIS_FILE, "udp-send", dst, "7777", "5000", "3"])
    time.sleep(0.3)
    cap.stop()
    tb.stop(echo)


SCENARIOS = {
    "http": scenario_http,
    "http6": scenario_http6,
    "dns": scenario_dns,
    "sip": scenario_sip,
    "icmp_frag": scenario_icmp_frag,
}


def make_real_pcaps(outdir, names=None):
    """Runs each scenario in a fresh testbed; returns {name: pcap path}."""
    os.makedirs(outdir, exist_ok=True)
    out = {}
    for name in names or SCENARIOS:
        path = os.path.join(outdir, "real_%s.pcap" % name)
        t0 = time.monotonic()
        with Testbed(tag=name) as tb:
            SCENARIOS[name](tb, path)
        log("traffic: %-10s -> %s (%d bytes, %.1fs)" % (name, path, os.path.getsize(path), time.monotonic() - t0))
        out[name] = path
    return out


# -- tools that run inside a namespace ---------------------------------------

def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tool_ping(dst, size, count):
    """ICMP echo over a raw socket; the kernel fragments what exceeds the MTU."""
    v6 = ":" in dst
    if v6:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        req_type, rep_type = 128, 129
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        req_type, rep_type = 8, 0
    sock.settimeout(3)
    ident = 0x7700 + size % 256
    for seq in range(1, count + 1):
        payload = bytes((i * 7 + seq) & 0xFF for i in range(size))
        header = struct.pack("!BBHHH", req_type, 0, 0, ident, seq)
        # The kernel fills the ICMPv6 checksum (it needs the pseudo-header).
        csum = 0 if v6 else _checksum(header + payload)
        sock.sendto(struct.pack("!BBHHH", req_type, 0, csum, ident, seq) + payload, (dst, 0))
        deadline = time.monotonic() + 3
        while True:
            data = sock.recv(65535)
            icmp = data if v6 else data[(data[0] & 0x0F) * 4:]
            if len(icmp) >= 8 and icmp[0] == rep_type and struct.unpack("!HH", icmp[4:8]) == (ident, seq):
                if len(icmp) - 8 != size:
                    raise SystemExit("echo reply of %d bytes, sent %d" % (len(icmp) - 8, size))
                break
            if time.monotonic() > deadline:
                raise SystemExit("no echo reply from %s" % dst)


def tool_udp_echo(host, port):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((host, port))
    print("ready", flush=True)
    while True:
        data, addr = sock.recvfrom(65535)
        sock.sendto(data, addr)


def tool_udp_send(dst, port, size, count):
    family = socket.AF_INET6 if ":" in dst else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.settimeout(3)
    for i in range(count):
        data = bytes((j + i) & 0xFF for j in range(size))
        sock.sendto(data, (dst, port))
        back = sock.recv(65535)
        if back != data:
            raise SystemExit("udp echo mismatch")


def tool_wait_tcp(host, port, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("nothing listens on %s:%d" % (host, port))
            time.sleep(0.05)


def main(argv):
    tool = argv[1] if len(argv) > 1 else ""
    if tool == "ping":
        tool_ping(argv[2], int(argv[3]), int(argv[4]))
    elif tool == "udp-echo":
        tool_udp_echo(argv[2], int(argv[3]))
    elif tool == "udp-send":
        tool_udp_send(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
    elif tool == "wait-tcp":
        tool_wait_tcp(argv[2], int(argv[3]), float(argv[4]))
    elif tool == "make":
        # traffic.py make OUTDIR [SCENARIO...]: writes the real-traffic pcaps.
        os.makedirs(argv[2], exist_ok=True)
        make_real_pcaps(argv[2], argv[3:] or None)
    else:
        sys.exit("usage: traffic.py make OUTDIR [%s] | ping | udp-echo | udp-send | wait-tcp" %
                 "|".join(SCENARIOS))


if __name__ == "__main__":
    main(sys.argv)
