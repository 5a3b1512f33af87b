#!/usr/bin/python3
"""Integration test of the Kubernetes watch client (src/k8s) against
fake_kube_api.py, an HTTPS server answering like the API server, through
k8s_watch_driver, which prints the snapshot and the watch counters as JSON lines.

  watch      initial list (paged), updates, deletes, label changes moving a pod
             in and out of a target; a bookmark's resourceVersion used by the
             rewatch after a dropped connection; relist after 410 Gone (as an
             ERROR event and as an HTTP status) that finds a change the watch
             never saw; token rotation (401 with the old token until the file
             is rewritten, then the new token); slow and trickled LIST
             responses; a silent stream dropped at the idle timeout; a
             malformed event line; stop() returning promptly.
  config     in-cluster settings (KUBERNETES_SERVICE_HOST/PORT, token and CA
             files) and a kubeconfig with certificate-authority-data, a token
             and a current-context; the node field selector.
  memory     3000 pods, lean and then carrying 20 KB each of fields tapflow
             ignores: all are resolved, and the 60 MB more read cost little RSS.

Usage: test_k8s_watch.py K8S_WATCH_DRIVER [--only watch,config,memory] [--keep DIR]
"""

import base64
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_kube_api as fk  # noqa: E402
from harness import Checker  # noqa: E402


class Driver:
    """k8s_watch_driver as a child process; its JSON lines collected by a thread."""

    def __init__(self, binary, args, env=None, stderr_path=None):
        self.stderr = open(stderr_path, "w") if stderr_path else subprocess.DEVNULL
        self.proc = subprocess.Popen([binary] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=env, text=True)
        self.lock = threading.RLock()
        self.lines = []
        self.snapshot = {}
        self.stats = {}
        self.targets = None
        self.memory = queue.Queue()
        self.stopped = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.lines.append(msg)
                if msg["type"] == "snapshot":
                    self.snapshot = {a["ip"]: a for a in msg["addresses"]}
                elif msg["type"] == "stats":
                    self.stats[msg["resource"]] = msg
                elif msg["type"] == "targets":
                    self.targets = {p["namespace"] + "/" + p["name"]: p for p in msg["pods"]}
                elif msg["type"] == "stopped":
                    self.stopped = msg
            if msg["type"] == "memory":
                self.memory.put(msg)

    def wait(self, predicate, timeout=10.0):
        """Polls predicate(driver) until true or timeout; returns the last result."""
        deadline = time.time() + timeout
        while True:
            with self.lock:
                result = predicate(self)
            if result or time.time() > deadline:
                return result
            time.sleep(0.05)

    def stat(self, resource, name):
        with self.lock:
            return self.stats.get(resource, {}).get(name, 0)

    def command(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def read_memory(self):
        self.command("memory")
        return self.memory.get(timeout=10)

    def quit(self):
        try:
            self.command("quit")
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(timeout=5)
        if self.stderr is not subprocess.DEVNULL:
            self.stderr.close()
        return self.proc.returncode


def seed(api):
    api.put("nodes", fk.node("node-a", "10.0.0.1", "203.0.113.1"))
    api.put("nodes", fk.node("node-b", "10.0.0.2"))
    api.put("pods", fk.pod("shop", "web-7d4b9c8f5-x2x9q", "node-a", ["10.244.1.5", "fd00::105"],
                           {"app": "web", "pod-template-hash": "7d4b9c8f5", "secret": "s"},
                           ("ReplicaSet", "web-7d4b9c8f5")))
    api.put("pods", fk.pod("shop", "db-0", "node-a", ["10.244.1.6"], {"app": "db"}, ("StatefulSet", "db")))
    api.put("pods", fk.pod("kube-system", "cilium-x7k2p", "node-b", ["10.0.0.2"], {"k8s-app": "cilium"},
                           ("DaemonSet", "cilium"), host_network=True))
    api.put("pods", fk.pod("batch", "nightly-28391520-q8z4m", "node-b", ["10.244.2.9"], {"app": "nightly"},
                           ("Job", "nightly-28391520")))
    api.put("services", fk.service("shop", "web", ["10.96.0.10", "fd00:96::10"]))
    api.put("endpointslices", fk.endpoint_slice("shop", "web-abc12", "web",
                                                [("10.244.1.5", "web-7d4b9c8f5-x2x9q", "node-a")]))


def watches_of(api, resource):
    return api.requests_matching(resource, watch=True)


def test_watch(c, driver_bin, work):
    api = fk.FakeKubeApi(work)
    try:
        seed(api)
        api.bookmark_interval = 0.5
        token_file = os.path.join(work, "token")
        with open(token_file, "w") as f:
            f.write("token-one\n")
        d = Driver(driver_bin, ["--server", api.url, "--ca", api.cert, "--token-file", token_file,
                                "--labels", "app", "--target", "shop|app=web|80,443",
                                "--page-size", "2", "--idle-timeout-ms", "3000", "--watch-timeout-s", "60",
                                "--backoff-ms", "200", "--backoff-max-ms", "1000", "--list-timeout-ms", "10000"],
                   stderr_path=os.path.join(work, "driver-watch.err"))
        try:
            _watch_phases(c, api, d, token_file)
        finally:
            t0 = time.time()
            rc = d.quit()
            c.equal("driver exits cleanly", rc, 0)
            c.check("stop() returned promptly with watches open", d.stopped is not None and d.stopped["stop_ms"] < 1000,
                    "stopped: %r, quit took %.1f s" % (d.stopped, time.time() - t0))
    finally:
        api.close()


def _watch_phases(c, api, d, token_file):
    # --- initial list ---------------------------------------------------------------
    ok = d.wait(lambda d: "10.244.1.5" in d.snapshot and "10.0.0.2" in d.snapshot and "10.96.0.10" in d.snapshot
                and "10.244.2.9" in d.snapshot)
    c.check("initial list: pods, services, EndpointSlices and nodes resolve", ok, "snapshot: %r" % d.snapshot)
    web = d.snapshot.get("10.244.1.5", {})
    c.equal("pod ip resolves to its pod", (web.get("kind"), web.get("namespace"), web.get("name"), web.get("node")),
            ("pod", "shop", "web-7d4b9c8f5-x2x9q", "node-a"))
    c.equal("ReplicaSet owner resolves to the Deployment", (web.get("workload_kind"), web.get("workload_name")),
            ("Deployment", "web"))
    c.equal("only allow-listed labels are kept", web.get("labels"), {"app": "web"})
    c.equal("EndpointSlice membership names the service", web.get("services"), ["web"])
    c.equal("second pod IP (IPv6) resolves too", d.snapshot.get("fd00::105", {}).get("name"), "web-7d4b9c8f5-x2x9q")
    c.equal("StatefulSet owner", d.snapshot.get("10.244.1.6", {}).get("workload_kind"), "StatefulSet")
    job = d.snapshot.get("10.244.2.9", {})
    c.equal("a CronJob's Job resolves to the CronJob", (job.get("workload_kind"), job.get("workload_name")),
            ("CronJob", "nightly"))
    c.equal("service ClusterIPs resolve", [d.snapshot.get(ip, {}).get("name") for ip in ("10.96.0.10", "fd00:96::10")],
            ["web", "web"])
    c.equal("host-network pod resolves to its node", d.snapshot.get("10.0.0.2", {}).get("kind"), "node")
    c.equal("external node address resolves", d.snapshot.get("203.0.113.1", {}).get("name"), "node-a")
    pod_lists = api.requests_matching("pods", watch=False)
    c.check("pods listed in pages of 2 (limit and continue)",
            len(pod_lists) >= 2 and pod_lists[0]["params"].get("limit") == "2"
            and "continue" in pod_lists[1]["params"], repr([r["params"] for r in pod_lists]))
    d.wait(lambda d: d.stats.get("pods", {}).get("watches_started", 0) >= 1)
    first_watch = watches_of(api, "pods")[0]["params"] if watches_of(api, "pods") else {}
    list_rv = d.stats.get("pods", {}).get("resource_version")
    c.check("watch starts from the list's resourceVersion with bookmarks",
            first_watch.get("allowWatchBookmarks") == "true" and first_watch.get("resourceVersion") == list_rv
            and first_watch.get("timeoutSeconds") == "60", "watch params %r, list rv %r" % (first_watch, list_rv))
    c.equal("one list per resource, one page count", (d.stat("pods", "lists"), d.stat("pods", "list_pages")), (1, 2))
    c.check("targets: the web pod on ports 80 and 443", d.targets is not None and list(d.targets) == ["shop/web-7d4b9c8f5-x2x9q"]
            and d.targets["shop/web-7d4b9c8f5-x2x9q"]["ports"] == [80, 443], repr(d.targets))

    # --- updates and deletes ---------------------------------------------------------
    api.put("pods", fk.pod("shop", "db-0", "node-a", ["10.244.1.16"], {"app": "web"}, ("StatefulSet", "db")))
    api.put("pods", fk.pod("shop", "api-5c9f8b7d6d-7xk2v", "node-a", ["10.244.1.7"], {"app": "api"},
                           ("ReplicaSet", "api-5c9f8b7d6d")))
    ok = d.wait(lambda d: "10.244.1.16" in d.snapshot and "10.244.1.6" not in d.snapshot and "10.244.1.7" in d.snapshot)
    c.check("MODIFIED moves a pod to its new IP, ADDED adds one", ok, repr(sorted(d.snapshot)))
    c.equal("added pod's Deployment", d.snapshot.get("10.244.1.7", {}).get("workload_name"), "api")
    ok = d.wait(lambda d: d.targets is not None and "shop/db-0" in d.targets)
    c.check("a label change moves a pod into the target set", ok, repr(d.targets))
    api.delete("pods", fk.pod("shop", "api-5c9f8b7d6d-7xk2v", "node-a", ["10.244.1.7"]))
    api.delete("services", fk.service("shop", "web", ["10.96.0.10", "fd00:96::10"]))
    ok = d.wait(lambda d: "10.244.1.7" not in d.snapshot and "10.96.0.10" not in d.snapshot)
    c.check("DELETED removes the pod and the service", ok, repr(sorted(d.snapshot)))
    api.put("pods", fk.pod("shop", "db-0", "node-a", ["10.244.1.16"], {"app": "db"}, ("StatefulSet", "db")))
    ok = d.wait(lambda d: d.targets is not None and "shop/db-0" not in d.targets)
    c.check("a label change moves a pod out of the target set", ok, repr(d.targets))
    c.check("event counters", d.wait(lambda d: d.stat("pods", "events_modified") >= 2 and d.stat("pods", "events_added") >= 1
                                     and d.stat("pods", "events_deleted") == 1 and d.stat("services", "events_deleted") == 1),
            repr(d.stats.get("pods")))

    # --- bookmark resourceVersion used on rewatch ------------------------------------
    api.bookmark_interval = None
    time.sleep(0.7)  # let a periodic bookmark in flight arrive first
    api.put("services", fk.service("shop", "other", ["10.96.0.20"]))  # the pods watch does not see this rv
    api.bump(5)
    bookmark_rv = api.bookmark("pods")
    ok = d.wait(lambda d: d.stats.get("pods", {}).get("resource_version") == str(bookmark_rv))
    c.check("a BOOKMARK advances the watch's resourceVersion", ok,
            "want %s, have %s" % (bookmark_rv, d.stats.get("pods", {}).get("resource_version")))
    watches_before = len(watches_of(api, "pods"))
    lists_before = d.stat("pods", "lists")
    reconnects_before = d.stat("pods", "reconnects")
    api.drop_watches()
    ok = d.wait(lambda d: len(watches_of(api, "pods")) > watches_before)
    rewatch = watches_of(api, "pods")[-1]["params"] if ok else {}
    c.equal("after a dropped connection the rewatch starts at the bookmark's resourceVersion",
            rewatch.get("resourceVersion"), str(bookmark_rv))
    c.check("a drop reconnects without relisting, counted",
            d.wait(lambda d: d.stat("pods", "reconnects") > reconnects_before and d.stat("pods", "errors_dropped") >= 1)
            and d.stat("pods", "lists") == lists_before, repr(d.stats.get("pods")))
    api.put("pods", fk.pod("shop", "late-0", "node-a", ["10.244.1.30"], {"app": "late"}, ("StatefulSet", "late")))
    c.check("events flow again after the reconnect", d.wait(lambda d: "10.244.1.30" in d.snapshot))

    # --- relist after 410 Gone ---------------------------------------------------------
    api.bookmark_interval = 0.5
    lists_before = d.stat("pods", "lists")
    api.forget("pods", fk.pod("shop", "late-0", "node-a", []))  # a deletion the watch never sees
    api.compact()
    api.drop_watches()
    ok = d.wait(lambda d: d.stat("pods", "relists_after_gone") >= 1 and d.stat("pods", "lists") > lists_before)
    c.check("an ERROR event with code 410 makes the watch relist", ok, repr(d.stats.get("pods")))
    c.equal("the ERROR event is counted", d.stat("pods", "events_error"), 1)
    c.check("the relist finds the change the watch missed", d.wait(lambda d: "10.244.1.30" not in d.snapshot),
            repr(sorted(d.snapshot)))
    api.gone_as_status = True
    api.bump()
    api.compact()
    api.drop_watches()
    ok = d.wait(lambda d: d.stat("pods", "relists_after_gone") >= 2)
    c.check("an HTTP 410 on the watch makes it relist too", ok, repr(d.stats.get("pods")))
    api.gone_as_status = False
    c.check("state intact after relists", d.wait(lambda d: "10.244.1.5" in d.snapshot and "10.244.1.16" in d.snapshot))

    # --- token rotation ----------------------------------------------------------------
    time.sleep(0.5)
    api.rotate_token("token-two")
    api.drop_watches()
    ok = d.wait(lambda d: d.stat("pods", "errors_auth") >= 1)
    c.check("the old token is refused (401, counted)", ok, repr(d.stats.get("pods")))
    # Rotated the way the kubelet does it: a new file moved into place.
    tmp = token_file + ".new"
    with open(tmp, "w") as f:
        f.write("token-two\n")
    os.replace(tmp, token_file)
    rotated_at = time.time()
    ok = d.wait(lambda d: any(r["token"] == "token-two" and r["status"] == 200 and r["resource"] == "pods"
                              for r in api.requests_matching(watch=True)), timeout=10)
    c.check("the token file is re-read and the new token used", ok)
    c.check("token reload counted", d.wait(lambda d: d.stat("pods", "token_reloads") >= 1), repr(d.stats.get("pods")))
    api.put("pods", fk.pod("shop", "after-rotation", "node-a", ["10.244.1.40"]))
    c.check("events flow with the rotated token", d.wait(lambda d: "10.244.1.40" in d.snapshot))
    c.check("no request after the rotation carried the old token",
            not [r for r in api.requests_matching() if r["time"] > rotated_at + 0.5 and r["token"] == "token-one"])

    # --- slow responses --------------------------------------------------------------
    api.list_delay = 2.0
    api.trickle = 0.02
    lists_before = d.stat("pods", "lists")
    timeouts_before = d.stat("pods", "errors_timeout")
    api.bump()
    api.compact()
    api.drop_watches()
    ok = d.wait(lambda d: d.stat("pods", "lists") > lists_before, timeout=30)
    c.check("slow, trickled LIST responses complete (no timeout)", ok and d.stat("pods", "errors_timeout") == timeouts_before,
            repr(d.stats.get("pods")))
    api.list_delay = 0
    api.trickle = 0

    # --- a silent watch stream ---------------------------------------------------------
    api.bookmark_interval = None
    time.sleep(0.6)
    watches_before = len(watches_of(api, "pods"))
    timeouts_before = d.stat("pods", "errors_timeout")
    ok = d.wait(lambda d: d.stat("pods", "errors_timeout") > timeouts_before, timeout=8)
    c.check("a watch silent past the idle timeout is dropped and counted", ok, repr(d.stats.get("pods")))
    c.check("... and rewatched", d.wait(lambda d: len(watches_of(api, "pods")) > watches_before))
    api.bookmark_interval = 0.5
    api.put("pods", fk.pod("shop", "after-silence", "node-a", ["10.244.1.41"]))
    c.check("events flow after the idle reconnect", d.wait(lambda d: "10.244.1.41" in d.snapshot))

    # --- hostile input -----------------------------------------------------------------
    parse_before = d.stat("pods", "errors_parse")
    api.inject_raw("pods", b'{"type":"ADDED","object":{"metadata":{"name":[[[[\n')
    ok = d.wait(lambda d: d.stat("pods", "errors_parse") > parse_before)
    c.check("a malformed event line is counted and the watch restarts", ok, repr(d.stats.get("pods")))
    many_labels = {"l%d" % i: "v" for i in range(200)}
    many_labels["app"] = "crowded"
    api.put("pods", fk.pod("shop", "crowded", "node-a", ["10.244.1.42"], many_labels))
    api.put("pods", {"kind": "Pod", "apiVersion": "v1", "metadata": {"namespace": "shop", "name": "no-status"}})
    c.check("events flow after it; oversized label sets are cut and counted",
            d.wait(lambda d: "10.244.1.42" in d.snapshot and d.stat("pods", "fields_truncated") >= 1),
            repr(d.stats.get("pods")))
    c.equal("no object was skipped or too large", (d.stat("pods", "objects_skipped"), d.stat("pods", "errors_too_large")),
            (0, 0))


def test_config(c, driver_bin, work):
    api = fk.FakeKubeApi(work, token="cfg-token")
    try:
        seed(api)
        token_file = os.path.join(work, "sa-token")
        with open(token_file, "w") as f:
            f.write("cfg-token")
        env = dict(os.environ, KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(api.port))
        d = Driver(driver_bin, ["--in-cluster", "--token-file", token_file, "--ca", api.cert], env=env,
                   stderr_path=os.path.join(work, "driver-incluster.err"))
        ok = d.wait(lambda d: "10.244.1.5" in d.snapshot and "10.0.0.1" in d.snapshot)
        d.quit()
        c.check("in-cluster settings (service host/port, token and CA files) reach the API", ok)

        with open(api.cert, "rb") as f:
            ca_data = base64.b64encode(f.read()).decode()
        kubeconfig = os.path.join(work, "kubeconfig")
        with open(kubeconfig, "w") as f:
            f.write("""apiVersion: v1
kind: Config
current-context: fake
preferences: {}
clusters:
- name: other
  cluster:
    server: https://127.0.0.1:1
- name: fake-cluster
  cluster:
    server: %s
    certificate-authority-data: %s
contexts:
- name: other
  context: {cluster: other, user: nobody}
- name: fake
  context:
    cluster: fake-cluster
    user: tapflow
    namespace: shop
users:
- name: tapflow
  user:
    token: cfg-token
""" % (api.url, ca_data))
        before = len(api.requests_matching("pods", watch=False))
        d = Driver(driver_bin, ["--kubeconfig", kubeconfig, "--node", "node-a", "--resources", "pods"],
                   stderr_path=os.path.join(work, "driver-kubeconfig.err"))
        ok = d.wait(lambda d: "10.244.1.5" in d.snapshot)
        time.sleep(0.3)
        snapshot = dict(d.snapshot)
        d.quit()
        c.check("kubeconfig (current-context, certificate-authority-data, token) reaches the API", ok)
        lists = api.requests_matching("pods", watch=False)[before:]
        c.check("pods are listed with the node's field selector",
                lists and lists[0]["params"].get("fieldSelector") == "spec.nodeName=node-a", repr(lists[:1]))
        c.check("pods of other nodes are not watched", "10.244.2.9" not in snapshot, repr(sorted(snapshot)))

        bad = Driver(driver_bin, ["--kubeconfig", kubeconfig, "--context", "missing"],
                     stderr_path=os.path.join(work, "driver-bad.err"))
        rc = bad.quit()
        with open(os.path.join(work, "driver-bad.err")) as f:
            err = f.read()
        c.check("an unknown context is refused by name", rc == 1 and "context 'missing' not found" in err, err)
    finally:
        api.close()


def _memory_run(c, driver_bin, work, pods, padding):
    """Lists `pods` pods each carrying `padding` bytes tapflow ignores; returns
    the driver's memory line once every pod resolves."""
    api = fk.FakeKubeApi(os.path.join(work))
    try:
        for i in range(pods):
            api.put("pods", fk.pod("load", "app-%04d-5c9f8b7d6d-abcde" % i, "node-%d" % (i % 50),
                                   ["10.250.%d.%d" % (i // 250, i % 250 + 1)], {"app": "load", "index": str(i)},
                                   ("ReplicaSet", "app-%04d-5c9f8b7d6d" % i), padding=padding))
        token_file = os.path.join(work, "token")
        with open(token_file, "w") as f:
            f.write("token-one")
        # An AddressSanitizer build would hold freed pages in its quarantine.
        env = dict(os.environ, ASAN_OPTIONS="quarantine_size_mb=0:thread_local_quarantine_size_kb=0")
        d = Driver(driver_bin, ["--server", api.url, "--ca", api.cert, "--token-file", token_file,
                                "--resources", "pods", "--page-size", "100", "--labels", "app"],
                   env=env, stderr_path=os.path.join(work, "driver-memory-%d.err" % padding))
        ok = d.wait(lambda d: len(d.snapshot) == pods, timeout=120)
        c.check("all %d pods with %d bytes of ignored fields listed and resolved" % (pods, padding), ok,
                "have %d" % len(d.snapshot))
        mem = d.read_memory()
        d.quit()
        print("     memory: read %d KiB, RSS %d KiB, peak %d KiB" % (mem["bytes_received"] // 1024, mem["rss_kb"],
                                                                      mem["hwm_kb"]))
        return mem
    finally:
        api.close()


def test_memory(c, driver_bin, work):
    """The same 3000 pods, once lean and once with 20 KB each of annotations
    tapflow does not keep: reading 60 MB more must cost little memory."""
    lean = _memory_run(c, driver_bin, work, 3000, 0)
    padded = _memory_run(c, driver_bin, work, 3000, 20000)
    extra_read_kb = (padded["bytes_received"] - lean["bytes_received"]) // 1024
    extra_rss_kb = padded["rss_kb"] - lean["rss_kb"]
    c.check("read 60 MB more of ignored fields", extra_read_kb > 58000, "%d KiB" % extra_read_kb)
    c.check("... which costs under a fifth of that in RSS (only kept fields held)",
            extra_rss_kb < extra_read_kb // 5, "RSS %d KiB more for %d KiB more read" % (extra_rss_kb, extra_read_kb))


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    driver_bin = os.path.abspath(args[0])
    only = None
    keep = None
    if "--only" in args:
        only = set(args[args.index("--only") + 1].split(","))
    if "--keep" in args:
        keep = args[args.index("--keep") + 1]
        os.makedirs(keep, exist_ok=True)
    work = keep or tempfile.mkdtemp(prefix="tapflow-k8s-")
    c = Checker("k8s_watch")
    try:
        for name, fn in (("watch", test_watch), ("config", test_config), ("memory", test_memory)):
            if only and name not in only:
                continue
            sub = os.path.join(work, name)
            os.makedirs(sub, exist_ok=True)
            c.guarded(name, fn, c, driver_bin, sub)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
