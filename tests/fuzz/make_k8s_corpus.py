#!/usr/bin/python3
"""Writes the seed corpus of fuzz_k8s: one file per seed, a first byte that
picks the input kind (0 pod, 1 service, 2 EndpointSlice, 3 node, 4 label
selector; see fuzz_k8s.cc) followed by the JSON of an API object as the
Kubernetes API serves it, or a selector's text.
Run: /usr/bin/python3 tests/fuzz/make_k8s_corpus.py"""

import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "k8s")

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web-7d4b9c8f5-x2x9q", "namespace": "shop", "uid": "5f0c6e1a-1",
                    "resourceVersion": "1042", "labels": {"app": "web", "pod-template-hash": "7d4b9c8f5"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c8f5",
                                         "uid": "rs-1", "controller": True}]},
       "spec": {"nodeName": "node-a", "hostNetwork": False, "containers": [{"name": "web", "image": "nginx"}]},
       "status": {"phase": "Running", "podIP": "10.244.1.5",
                  "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00:10:244:1::5"}]}}
HOST_POD = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "agent-x", "namespace": "kube-system", "uid": "u2",
                         "ownerReferences": [{"kind": "DaemonSet", "name": "agent", "controller": True}]},
            "spec": {"nodeName": "node-a", "hostNetwork": True}, "status": {"phase": "Running", "podIP": "192.168.1.10"}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop", "uid": "s1"},
           "spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20", "fd00:96::20"],
                    "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}}
SLICE = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "web-abc12", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
         "addressType": "IPv4",
         "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True},
                        "targetRef": {"kind": "Pod", "name": "web-7d4b9c8f5-x2x9q", "namespace": "shop"}}],
         "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a", "uid": "n1", "labels": {"zone": "a"}},
        "status": {"addresses": [{"type": "InternalIP", "address": "192.168.1.10"},
                                 {"type": "Hostname", "address": "node-a"}]}}
SELECTORS = ["app=web", "app==web,tier!=db", "env in (prod, staging),!canary", "app notin (a,b),release",
             "example.com/team=payments", "a", "!a", "x in ()", "k=", "a=b,c=d,e in (f),g notin (h),i,!j"]


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = [(0, json.dumps(POD)), (0, json.dumps(HOST_POD)), (0, "{}"), (0, "[" * 64), (1, json.dumps(SERVICE)),
             (2, json.dumps(SLICE)), (3, json.dumps(NODE)), (0, json.dumps(SERVICE)), (3, '{"metadata":{"name":1}}')]
    seeds += [(4, s) for s in SELECTORS]
    for i, (kind, text) in enumerate(seeds):
        with open(os.path.join(OUT, "seed_%02d" % i), "wb") as f:
            f.write(bytes([kind]) + text.encode())
    print("wrote %d seeds to %s" % (len(seeds), OUT))


if __name__ == "__main__":
    main()
