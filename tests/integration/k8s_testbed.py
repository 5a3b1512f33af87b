#!/usr/bin/python3
"""Shared pieces of the pod targeting tests (test_k8s_targets.py for AF_XDP,
test_k8s_mirror_targets.py for mirror mode): the fake API server with its
socket opened inside a test namespace, tapflow's config rewritten for each
SIGHUP, waiting for things to follow, and the tools that run inside the
namespaces standing in for pods.

Run as a script it is those tools (`ip netns exec NS python3 k8s_testbed.py ...`):
  serve NAME [UDP_PORT]          HTTP on port 80 answering "pod NAME", plus a
                                 UDP echo on UDP_PORT; prints "ready"
  ticker DURATION INTERVAL IP... one HTTP/1.0 request to each IP every INTERVAL
                                 seconds for DURATION seconds, a thread per IP;
                                 prints "ready", then a JSON line per request
"""

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_kube_api as fk  # noqa: E402
import harness  # noqa: E402
import live_run  # noqa: E402
import traffic  # noqa: E402

THIS_FILE = os.path.abspath(__file__)
# tapflow's config in these tests: the capture section (YAML, ending in a
# newline) and the targets vary; the kubeconfig is the fake API server's.
CONFIG = """
{capture}workers:
  count: 2
metrics:
  listen: 127.0.0.1:0
kubernetes:
  enabled: true
  kubeconfig: {kubeconfig}
  node_name: {node}
  labels: [app]
  initial_list_timeout: 10s
{targets}"""
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def in_netns(ns, fn):
    """Runs fn() with this thread in network namespace `ns` (sockets it opens stay there)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open("/var/run/netns/" + ns, os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into " + ns)
        try:
            return fn()
        finally:
            if _libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(target)


def wait_for(pred, timeout=10.0, step=0.02):
    """pred()'s first true result, or its last false one once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(step)


def settled_after(ticks, t_change, want):
    """Seconds after t_change from which every request's "captured" is `want`; None if never."""
    post = sorted((t for t in ticks if t["t"] >= t_change), key=lambda t: t["t"])
    for i in range(len(post)):
        if all(t["captured"] == want for t in post[i:]):
            return post[i]["t"] - t_change
    return None


class KubeTapflow:
    """fake_kube_api's server, opened inside namespace `ns` of `owner` (a
    traffic.Namespaces) so that tapflow reaches it on 127.0.0.1 there, with a
    kubeconfig for it; tapflow's config, CONFIG with this `capture` section,
    `node` and the targets; and `tapflow run` on it in `ns`. close() stops both."""

    def __init__(self, owner, ns, token, node, capture):
        self.owner = owner
        self.ns = ns
        self.api = in_netns(ns, lambda: fk.FakeKubeApi(owner.workdir, token=token))
        self.live = None
        self.config_path = os.path.join(owner.workdir, "tapflow.yaml")
        kubeconfig = fk.write_kubeconfig(os.path.join(owner.workdir, "kubeconfig"), self.api.url, self.api.cert,
                                         token)
        self._fill = lambda targets: CONFIG.format(capture=capture, kubeconfig=kubeconfig, node=node, targets=targets)

    def write_config(self, targets):
        """The config with these `targets:` (YAML text, "" for none); a SIGHUP applies it."""
        live_run.write_config(self.config_path, self._fill(targets))

    def start(self, tapflow, targets, args=()):
        """`tapflow run -c CONFIG ARGS` in the namespace; a live_run.LiveTapflow."""
        self.write_config(targets)
        self.live = live_run.LiveTapflow(self.owner, self.ns, tapflow, ["-c", self.config_path] + list(args),
                                         os.path.join(self.owner.workdir, "live.jsonl"))
        return self.live

    def reload(self, targets):
        """New targets through the config file and a SIGHUP to tapflow."""
        self.write_config(targets)
        os.kill(self.live.proc.pid, signal.SIGHUP)

    def close(self):
        if self.live is not None and self.live.proc.poll() is None:
            self.live.stop()
        self.api.close()


def start_pod_server(owner, ns, name, udp_port=None):
    """`serve NAME [UDP_PORT]` in namespace `ns`, once it is listening."""
    proc = owner.popen(ns, [traffic.PYTHON, THIS_FILE, "serve", name] + ([str(udp_port)] if udp_port else []),
                       stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError("server in %s did not start" % name)
    return proc


class Ticker:
    """The `ticker` tool in namespace `ns`: one HTTP request to each address
    every `interval` seconds for `duration` seconds; results() waits for it and
    gives [{ip, port (the client's), t, ok}]."""

    def __init__(self, owner, ns, ips, duration, interval):
        self.proc = owner.popen(ns, [traffic.PYTHON, THIS_FILE, "ticker", str(duration), str(interval)] + list(ips),
                                stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("ticker did not start")

    def results(self):
        out, _ = self.proc.communicate(timeout=60)
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def main(argv, suite, run_test, usage, needs_root_for):
    """A targeting test's main: `TAPFLOW [--keep DIR]`, as root, run_test(chk, tapflow, keep)."""
    (tapflow,), keep = harness.live_test_args(argv, 1, usage, needs_root_for)
    chk = harness.Checker(suite)
    chk.guarded(suite.replace("_", " "), run_test, chk, tapflow, keep)
    return chk.finish()


# -- tools run inside a namespace -----------------------------------------------

def tool_serve(name, udp_port=None):
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ("pod %s\n" % name).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6
        daemon_threads = True

        def server_bind(self):
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()

    httpd = Server(("::", 80), Handler)
    if udp_port:
        udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        udp.bind(("::", udp_port))

        def echo():
            while True:
                data, addr = udp.recvfrom(65535)
                udp.sendto(data, addr)

        threading.Thread(target=echo, daemon=True).start()
    print("ready", flush=True)
    httpd.serve_forever()


def tool_ticker(duration, interval, ips):
    results = []
    lock = threading.Lock()
    end = time.time() + duration

    def loop(ip):
        while time.time() < end:
            t = time.time()
            rec = {"ip": ip, "t": t, "port": None, "ok": False}
            try:
                s = socket.create_connection((ip, 80), timeout=3)
                rec["port"] = s.getsockname()[1]
                s.sendall(b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                s.close()
                rec["ok"] = data.startswith(b"HTTP/1.0 200")
            except OSError as exc:
                rec["error"] = str(exc)
            with lock:
                results.append(rec)
            time.sleep(max(0.0, interval - (time.time() - t)))

    threads = [threading.Thread(target=loop, args=(ip,)) for ip in ips]
    print("ready", flush=True)
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for rec in results:
        print(json.dumps(rec))


def tool_main(argv):
    if len(argv) in (3, 4) and argv[1] == "serve":
        tool_serve(argv[2], int(argv[3]) if len(argv) == 4 else None)
    elif len(argv) > 4 and argv[1] == "ticker":
        tool_ticker(float(argv[2]), float(argv[3]), argv[4:])
    else:
        sys.exit("usage: k8s_testbed.py serve NAME [UDP_PORT] | ticker DURATION INTERVAL IP...")
    return 0


if __name__ == "__main__":
    sys.exit(tool_main(sys.argv))
