#!/usr/bin/python3
"""A fake Kubernetes API server for testing tapflow's watch client: HTTPS (a
self-signed certificate made with `openssl req`), bearer tokens, and the list and
watch behaviour of the real one for pods, services, EndpointSlices and nodes:

  LIST   GET /api/v1/pods?limit=N[&continue=T][&fieldSelector=spec.nodeName=X]
         a consistent snapshot served in pages, metadata.resourceVersion and
         metadata.continue; a continue token older than the compaction is 410.
  WATCH  GET ...?watch=1&resourceVersion=RV&allowWatchBookmarks=true&timeoutSeconds=S
         chunked newline-delimited events after RV (ADDED, MODIFIED, DELETED,
         BOOKMARK); an RV older than the compaction gets an ERROR event with a
         Status of code 410 (or, with gone_as_status, an HTTP 410).

Objects follow the published schemas (core/v1 Pod, Service, Node;
discovery.k8s.io/v1 EndpointSlice) with the fields a real cluster fills in,
tapflow's or not. Tests drive it from their own thread: add/modify/delete
objects, send bookmarks, compact, drop watch connections, delay or trickle
responses, rotate the accepted token. Standard library only.

Run alone to poke at it: fake_kube_api.py serves a small cluster and
prints the CA file and a token.
"""

import base64
import copy
import http.server
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

RESOURCES = {
    "/api/v1/pods": ("pods", "PodList", "v1"),
    "/api/v1/services": ("services", "ServiceList", "v1"),
    "/apis/discovery.k8s.io/v1/endpointslices": ("endpointslices", "EndpointSliceList", "discovery.k8s.io/v1"),
    "/api/v1/nodes": ("nodes", "NodeList", "v1"),
}

CREATED = "2026-11-27T08:00:00Z"


def make_cert(directory):
    """A self-signed certificate for 127.0.0.1 and localhost: (cert, key) paths."""
    cert = os.path.join(directory, "apiserver.crt")
    key = os.path.join(directory, "apiserver.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=kube-apiserver",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc"],
                   check=True, capture_output=True)
    return cert, key


def managed_fields(manager, subresource=None):
    entry = {"manager": manager, "operation": "Update", "apiVersion": "v1", "time": CREATED,
             "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}}}
    if subresource:
        entry["subresource"] = subresource
    return [entry]


def pod(namespace, name, node, ips, labels=None, owner=None, host_network=False, phase="Running",
        padding=0, ports=(8080,), host_ip="10.0.0.1"):
    """A core/v1 Pod as the API server returns it. padding: bytes of annotation
    tapflow must not keep (large clusters carry such things). host_ip: the
    node's InternalIP (status.hostIP)."""
    uid = str(uuid.uuid5(uuid.NAMESPACE_URL, namespace + "/" + name))
    meta = {
        "name": name, "namespace": namespace, "uid": uid, "resourceVersion": "0",
        "creationTimestamp": CREATED, "labels": dict(labels or {}),
        "annotations": {"kubectl.kubernetes.io/restartedAt": CREATED},
        "managedFields": managed_fields("kube-controller-manager") + managed_fields("kubelet", "status"),
    }
    if padding:
        meta["annotations"]["example.com/large-blob"] = "x" * padding
    if owner:
        kind, owner_name = owner
        meta["generateName"] = owner_name + "-"
        meta["ownerReferences"] = [{"apiVersion": "apps/v1" if kind != "Job" else "batch/v1", "kind": kind,
                                    "name": owner_name, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, owner_name)),
                                    "controller": True, "blockOwnerDeletion": True}]
    containers = [{
        "name": "main", "image": "registry.example.com/%s:1.4.2" % name.split("-")[0],
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": p, "name": "p%d" % p, "protocol": "TCP"} for p in ports],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "volumeMounts": [{"name": "kube-api-access-abcde", "readOnly": True,
                          "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "readinessProbe": {"httpGet": {"path": "/ready", "port": ports[0], "scheme": "HTTP"},
                           "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
    }]
    spec = {
        "volumes": [{"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}],
        "containers": containers, "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst", "serviceAccountName": "default", "serviceAccount": "default",
        "nodeName": node, "securityContext": {}, "schedulerName": "default-scheduler",
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300}],
        "priority": 0, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
    }
    if host_network:
        spec["hostNetwork"] = True
    status = {
        "phase": phase,
        "conditions": [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": CREATED}
                       for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "startTime": CREATED,
        "containerStatuses": [{"name": "main", "state": {"running": {"startedAt": CREATED}}, "lastState": {},
                               "ready": True, "restartCount": 0, "image": containers[0]["image"],
                               "imageID": "registry.example.com/x@sha256:" + "ab" * 32,
                               "containerID": "containerd://" + "cd" * 32, "started": True}],
        "qosClass": "Burstable",
    }
    if ips:
        status["podIP"] = ips[0]
        status["podIPs"] = [{"ip": ip} for ip in ips]
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": status}


def service(namespace, name, cluster_ips, ports=((80, 8080),), selector=None):
    meta = {"name": name, "namespace": namespace, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, "svc/" + name)),
            "resourceVersion": "0", "creationTimestamp": CREATED, "labels": {"app": name},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
            "managedFields": managed_fields("kubectl-client-side-apply")}
    spec = {"ports": [{"name": "p%d" % p, "protocol": "TCP", "port": p, "targetPort": t} for p, t in ports],
            "selector": selector or {"app": name}, "type": "ClusterIP", "sessionAffinity": "None",
            "ipFamilies": ["IPv6" if ":" in ip else "IPv4" for ip in cluster_ips] or ["IPv4"],
            "ipFamilyPolicy": "PreferDualStack" if len(cluster_ips) > 1 else "SingleStack",
            "internalTrafficPolicy": "Cluster"}
    if cluster_ips:
        spec["clusterIP"] = cluster_ips[0]
        spec["clusterIPs"] = list(cluster_ips)
    else:
        spec["clusterIP"] = "None"
        spec["clusterIPs"] = ["None"]
    return {"kind": "Service", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": {"loadBalancer": {}}}


def endpoint_slice(namespace, name, service_name, endpoints, port=8080):
    """endpoints: [(address, pod name or None, node)]"""
    meta = {"name": name, "namespace": namespace, "generateName": service_name + "-",
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, "eps/" + name)), "resourceVersion": "0",
            "creationTimestamp": CREATED,
            "labels": {"kubernetes.io/service-name": service_name,
                       "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
            "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": CREATED},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": service_name,
                                 "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, "svc/" + service_name)),
                                 "controller": True, "blockOwnerDeletion": True}],
            "managedFields": managed_fields("kube-controller-manager")}
    eps = []
    for address, pod_name, node in endpoints:
        ep = {"addresses": [address], "conditions": {"ready": True, "serving": True, "terminating": False},
              "nodeName": node, "zone": "zone-a"}
        if pod_name:
            ep["targetRef"] = {"kind": "Pod", "namespace": namespace, "name": pod_name,
                               "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, namespace + "/" + pod_name))}
        eps.append(ep)
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1", "metadata": meta,
            "addressType": "IPv6" if endpoints and ":" in endpoints[0][0] else "IPv4",
            "endpoints": eps, "ports": [{"name": "http", "protocol": "TCP", "port": port}]}


def node(name, internal_ip, external_ip=None):
    addresses = [{"type": "InternalIP", "address": internal_ip}, {"type": "Hostname", "address": name}]
    if external_ip:
        addresses.append({"type": "ExternalIP", "address": external_ip})
    return {
        "kind": "Node", "apiVersion": "v1",
        "metadata": {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, "node/" + name)),
                     "resourceVersion": "0", "creationTimestamp": CREATED,
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                "kubernetes.io/arch": "amd64", "topology.kubernetes.io/zone": "zone-a"},
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
                     "managedFields": managed_fields("kubelet")},
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"], "providerID": "kind://docker/x/" + name},
        "status": {
            "capacity": {"cpu": "2", "memory": "8039772Ki", "pods": "110", "ephemeral-storage": "102626232Ki"},
            "allocatable": {"cpu": "2", "memory": "8039772Ki", "pods": "110", "ephemeral-storage": "102626232Ki"},
            "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": CREATED,
                            "lastTransitionTime": CREATED, "reason": "KubeletReady",
                            "message": "kubelet is posting ready status"}],
            "addresses": addresses,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": "ab" * 16, "systemUUID": "cd" * 16, "bootID": "ef" * 16,
                         "kernelVersion": "6.18.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "containerRuntimeVersion": "containerd://1.7.13", "kubeletVersion": "v1.30.0",
                         "kubeProxyVersion": "v1.30.0", "operatingSystem": "linux", "architecture": "amd64"},
            "images": [{"names": ["registry.k8s.io/pause:3.9"], "sizeBytes": 321520}],
        },
    }


def write_kubeconfig(path, server, ca_cert, token, context="fake"):
    """A kubeconfig for `server` (https://HOST:PORT): the CA inlined as
    certificate-authority-data, a bearer token, a current-context. Returns path."""
    with open(ca_cert, "rb") as f:
        ca_data = base64.b64encode(f.read()).decode()
    with open(path, "w") as f:
        f.write("""apiVersion: v1
kind: Config
current-context: %(context)s
preferences: {}
clusters:
- name: %(context)s-cluster
  cluster:
    server: %(server)s
    certificate-authority-data: %(ca)s
contexts:
- name: %(context)s
  context:
    cluster: %(context)s-cluster
    user: %(context)s-user
users:
- name: %(context)s-user
  user:
    token: %(token)s
""" % {"context": context, "server": server, "ca": ca_data, "token": token})
    return path


def status_object(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


class FakeKubeApi:
    """The server and its state. All methods are thread-safe."""

    def __init__(self, directory, token="token-one"):
        self.cert, self.key = make_cert(directory)
        self.lock = threading.Condition()
        self.rv = 100
        self.compacted_rv = 0
        self.objects = {r[0]: {} for r in RESOURCES.values()}  # resource -> key -> object
        self.log = []  # (rv, resource, type, object) including bookmarks
        self.tokens = {token}
        self.requests = []  # dicts: resource, watch, params, token, status
        self.list_snapshots = {}
        self.drop_generation = 0
        self.end_generation = 0
        self.gone_as_status = False
        self.list_delay = 0.0
        self.trickle = 0.0  # seconds between 1 KiB pieces of a LIST body
        self.bookmark_interval = None
        self.fail_lists = 0  # answer the next N lists with 500
        self.watch_connections = []  # dicts: params, sent_rvs
        self.bytes_sent = 0

        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                api._handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = "https://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- state changes (from the test) ---------------------------------------------

    @staticmethod
    def key_of(obj):
        meta = obj["metadata"]
        return (meta.get("namespace", "") + "/" + meta["name"]) if meta.get("namespace") else meta["name"]

    def _event(self, resource, kind, obj):
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        key = self.key_of(obj)
        if kind == "DELETED":
            obj = self.objects[resource].pop(key, obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
        else:
            self.objects[resource][key] = obj
        self.log.append((self.rv, resource, kind, obj))
        self.lock.notify_all()
        return self.rv

    def put(self, resource, obj):
        """ADDED or MODIFIED, as the object is new or not. Returns its resourceVersion."""
        with self.lock:
            kind = "MODIFIED" if self.key_of(obj) in self.objects[resource] else "ADDED"
            return self._event(resource, kind, obj)

    def delete(self, resource, obj):
        with self.lock:
            return self._event(resource, "DELETED", obj)

    def bookmark(self, resource):
        """A BOOKMARK at the current resourceVersion to the resource's open watches."""
        with self.lock:
            obj = {"kind": {"pods": "Pod", "services": "Service", "endpointslices": "EndpointSlice",
                            "nodes": "Node"}[resource],
                   "apiVersion": "v1", "metadata": {"resourceVersion": str(self.rv),
                                                    "annotations": {"k8s.io/initial-events-end": "true"}}}
            self.log.append((self.rv, resource, "BOOKMARK", obj))
            self.lock.notify_all()
            return self.rv

    def forget(self, resource, obj):
        """Deletes an object without a watch event, as if the event had been
        compacted away before a watcher saw it: only a relist finds out."""
        with self.lock:
            self.rv += 1
            self.objects[resource].pop(self.key_of(obj), None)
            return self.rv

    def inject_raw(self, resource, data):
        """Sends `data` as-is on the resource's open watches (malformed events)."""
        with self.lock:
            self.log.append((self.rv, resource, "RAW", data))
            self.lock.notify_all()

    def bump(self, count=1):
        """Advances the resourceVersion (changes to resources nobody watches)."""
        with self.lock:
            self.rv += count
            return self.rv

    def compact(self):
        """Forgets history: watches and continue tokens from before now get 410."""
        with self.lock:
            self.compacted_rv = self.rv
            self.log = [e for e in self.log if e[0] > self.compacted_rv]

    def drop_watches(self):
        """Cuts every open watch connection without ending the chunked stream."""
        with self.lock:
            self.drop_generation += 1
            self.lock.notify_all()

    def end_watches(self):
        """Ends every open watch cleanly, as timeoutSeconds does."""
        with self.lock:
            self.end_generation += 1
            self.lock.notify_all()

    def rotate_token(self, new_token):
        with self.lock:
            self.tokens = {new_token}

    def requests_matching(self, resource=None, watch=None):
        with self.lock:
            return [r for r in self.requests if (resource is None or r["resource"] == resource)
                    and (watch is None or r["watch"] == watch)]

    # --- HTTP -----------------------------------------------------------------------------

    def _send_json(self, handler, code, body):
        data = json.dumps(body).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if self.trickle and code == 200:
            for i in range(0, len(data), 1024):
                handler.wfile.write(data[i:i + 1024])
                handler.wfile.flush()
                time.sleep(self.trickle)
        else:
            handler.wfile.write(data)
        with self.lock:
            self.bytes_sent += len(data)

    def _handle(self, handler):
        url = urllib.parse.urlsplit(handler.path)
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        auth = handler.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        resource = RESOURCES.get(url.path)
        watch = params.get("watch") in ("1", "true")
        record = {"resource": resource[0] if resource else url.path, "watch": watch, "params": params,
                  "token": token, "status": None, "time": time.time()}
        with self.lock:
            self.requests.append(record)
            ok_token = token in self.tokens
        if not ok_token:
            record["status"] = 401
            return self._send_json(handler, 401, status_object(401, "Unauthorized", "Unauthorized"))
        if not resource:
            record["status"] = 404
            return self._send_json(handler, 404, status_object(404, "NotFound", "the server could not find the requested resource"))
        if watch:
            return self._watch(handler, resource, params, record)
        return self._list(handler, resource, params, record)

    @staticmethod
    def _selected(obj, params):
        selector = params.get("fieldSelector", "")
        if selector.startswith("spec.nodeName="):
            return obj.get("spec", {}).get("nodeName") == selector.split("=", 1)[1]
        return True

    def _list(self, handler, resource, params, record):
        name, list_kind, api_version = resource
        if self.list_delay:
            time.sleep(self.list_delay)
        with self.lock:
            if self.fail_lists > 0:
                self.fail_lists -= 1
                record["status"] = 500
                fail = True
            else:
                fail = False
        if fail:
            return self._send_json(handler, 500, status_object(500, "InternalError", "etcdserver: leader changed"))
        limit = int(params.get("limit", "0") or 0)
        with self.lock:
            cont = params.get("continue")
            if cont:
                snap_id, offset = cont.rsplit("-", 1)
                snap = self.list_snapshots.get(snap_id)
                if snap is None or snap[0] < self.compacted_rv:
                    record["status"] = 410
                    gone = True
                else:
                    gone = False
                    list_rv, items = snap
                    offset = int(offset)
            else:
                gone = False
                list_rv = self.rv
                items = [o for _, o in sorted(self.objects[name].items()) if self._selected(o, params)]
                snap_id = "snap%d" % len(self.list_snapshots)
                self.list_snapshots[snap_id] = (list_rv, items)
                offset = 0
        if gone:
            return self._send_json(handler, 410, status_object(
                410, "Expired", "The provided continue parameter is too old to display a consistent list result."))
        end = offset + limit if limit else len(items)
        meta = {"resourceVersion": str(list_rv)}
        if end < len(items):
            meta["continue"] = "%s-%d" % (snap_id, end)
            meta["remainingItemCount"] = len(items) - end
        record["status"] = 200
        self._send_json(handler, 200, {"kind": list_kind, "apiVersion": api_version, "metadata": meta,
                                       "items": items[offset:end]})

    def _watch(self, handler, resource, params, record):
        name = resource[0]
        since = int(params.get("resourceVersion", "0") or 0)
        timeout = float(params.get("timeoutSeconds", "1800"))
        with self.lock:
            too_old = since < self.compacted_rv
            drop_gen, end_gen = self.drop_generation, self.end_generation
            position = len(self.log)
            for i, entry in enumerate(self.log):
                if entry[0] > since:
                    position = i
                    break
            conn = {"params": params, "sent_rvs": [], "sent_types": [], "resource": name}
            self.watch_connections.append(conn)
        if too_old and self.gone_as_status:
            record["status"] = 410
            return self._send_json(handler, 410, status_object(410, "Expired", "too old resource version: %d (%d)" % (since, self.compacted_rv)))
        record["status"] = 200
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()

        def chunk(obj):
            data = (json.dumps(obj) + "\n").encode()
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            handler.wfile.flush()
            with self.lock:
                self.bytes_sent += len(data)

        try:
            if too_old:
                chunk({"type": "ERROR", "object": status_object(
                    410, "Expired", "too old resource version: %d (%d)" % (since, self.compacted_rv))})
                handler.wfile.write(b"0\r\n\r\n")
                return
            deadline = time.time() + timeout
            last_bookmark = time.time()
            while True:
                with self.lock:
                    pending = []
                    while position < len(self.log):
                        entry = self.log[position]
                        position += 1
                        if entry[1] == name and (entry[2] in ("BOOKMARK", "RAW") or self._selected(entry[3], params)):
                            pending.append(entry)
                    dropped = self.drop_generation != drop_gen
                    ended = self.end_generation != end_gen
                    interval = self.bookmark_interval
                    if not pending and not dropped and not ended:
                        self.lock.wait(0.05)
                for rv, _, kind, obj in pending:
                    if kind == "RAW":
                        handler.wfile.write(b"%x\r\n%s\r\n" % (len(obj), obj))
                        handler.wfile.flush()
                        continue
                    chunk({"type": kind, "object": obj})
                    conn["sent_rvs"].append(rv)
                    conn["sent_types"].append(kind)
                if dropped:
                    handler.connection.shutdown(socket.SHUT_RDWR)
                    handler.close_connection = True
                    return
                if ended or time.time() > deadline:
                    handler.wfile.write(b"0\r\n\r\n")
                    handler.wfile.flush()
                    return
                if interval and time.time() - last_bookmark > interval:
                    last_bookmark = time.time()
                    with self.lock:
                        rv = self.rv
                    chunk({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                                          "metadata": {"resourceVersion": str(rv)}}})
                    conn["sent_rvs"].append(rv)
                    conn["sent_types"].append("BOOKMARK")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            handler.close_connection = True


def sample_cluster(api):
    api.put("nodes", node("node-a", "10.0.0.1", "203.0.113.1"))
    api.put("nodes", node("node-b", "10.0.0.2"))
    api.put("pods", pod("shop", "web-7d4b9c8f5-x2x9q", "node-a", ["10.244.1.5"],
                        {"app": "web", "pod-template-hash": "7d4b9c8f5"}, ("ReplicaSet", "web-7d4b9c8f5")))
    api.put("pods", pod("shop", "db-0", "node-a", ["10.244.1.6"], {"app": "db"}, ("StatefulSet", "db")))
    api.put("services", service("shop", "web", ["10.96.0.10"]))
    api.put("endpointslices", endpoint_slice("shop", "web-abc12", "web", [("10.244.1.5", "web-7d4b9c8f5-x2x9q", "node-a")]))


if __name__ == "__main__":
    directory = tempfile.mkdtemp(prefix="fake-kube-api-")
    api = FakeKubeApi(directory)
    sample_cluster(api)
    print("server %s ca %s token token-one" % (api.url, api.cert), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        api.close()
