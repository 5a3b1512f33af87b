#!/usr/bin/env python3
"""deploy/ checked without a cluster, a container engine or helm.

- The kustomize base (rendered by `kubectl kustomize` when kubectl is on PATH,
  else the files its kustomization.yaml lists) against hand-written JSON
  schemas of each kind (deploy/schemas/, closed where a typo would silently
  weaken the pod: securityContext, capabilities, probes, and most objects),
  and against the Kubernetes API's models (python3-kubernetes, generated from
  the API's OpenAPI spec): field names, types, required fields.
- The security posture: not privileged, exactly the expected capabilities,
  read-only root, seccomp RuntimeDefault, host network, NODE_NAME from the
  downward API, probes on /healthz and /readyz, RBAC exactly get/list/watch
  on pods, services, nodes and endpointslices.
- The ConfigMap's config passes `tapflow check-config`, and agrees with the
  DaemonSet (metrics port, grace period above the outputs' shutdown_grace,
  secret files under mounted Secrets).
- The Helm chart rendered with its values.yaml by a small renderer of the
  template subset the chart uses equals the plain manifests.
- deploy/Dockerfile's runtime packages are the packages owning the libraries
  the built binary needs (ldd), and what they pull in covers every library.

  /usr/bin/python3 tests/integration/test_deploy.py build/tapflow
Needs python3-yaml, python3-jsonschema and python3-kubernetes (the API's
models, generated from its OpenAPI spec: every field and type is checked
against them too).
"""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import kubernetes.client
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
BASE = os.path.join(DEPLOY, "kubernetes")
CHART = os.path.join(DEPLOY, "helm", "tapflow")
SCHEMAS = os.path.join(DEPLOY, "schemas")

EXPECTED_CAPS = {"NET_ADMIN", "NET_RAW", "BPF", "IPC_LOCK"}
# What each capture source needs (docs/config.md, "Checks across keys");
# IPC_LOCK lets AF_XDP's locked UMEM ignore the memlock limit.
SOURCE_CAPS = {"afxdp": {"NET_ADMIN", "NET_RAW", "BPF", "IPC_LOCK"}, "afpacket": {"NET_RAW"}}
EXAMPLES = os.path.join(CHART, "examples")
EXPECTED_RBAC = {("", "pods"), ("", "services"), ("", "nodes"), ("discovery.k8s.io", "endpointslices")}
RELEASE = {"Name": "tapflow", "Namespace": "tapflow"}

failures = []


def check(cond, what):
    if cond:
        print(f"ok: {what}")
    else:
        print(f"FAIL: {what}")
        failures.append(what)
    return cond


# ---------------------------------------------------------------- loading

def load_base():
    """The kustomize base as a list of objects."""
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "kustomize", BASE], check=True, capture_output=True, text=True).stdout
        print("rendered the base with kubectl kustomize")
        return [d for d in yaml.safe_load_all(out) if d]
    print("kubectl not on PATH: loading the files of kustomization.yaml")
    with open(os.path.join(BASE, "kustomization.yaml")) as f:
        kust = yaml.safe_load(f)
    extra = set(kust) - {"apiVersion", "kind", "resources"}
    if extra:
        raise SystemExit(f"kustomization.yaml uses {sorted(extra)}: this fallback only concatenates resources")
    docs = []
    for r in kust["resources"]:
        with open(os.path.join(BASE, r)) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    return docs


def by_kind(objs):
    out = {}
    for o in objs:
        out.setdefault(o["kind"], []).append(o)
    return out


# ---------------------------------------------------------------- a Helm template subset

ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


def lookup(path, ctx):
    if not path.startswith("."):
        raise ValueError(f"unsupported expression {path!r}")
    node = ctx
    for part in path[1:].split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"{path}: no {part}")
        node = node[part]
    return node


def to_yaml(v):
    # Helm's toYaml drops the trailing newline.
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True).rstrip("\n")


def go_str(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return ""
    return str(v)


def indent(n, s):
    pad = " " * n
    return pad + s.replace("\n", "\n" + pad)


FUNCS = {
    "toYaml": lambda v: to_yaml(v),
    "quote": lambda v: json.dumps(go_str(v)),
    "nindent": lambda n, s: "\n" + indent(int(n), go_str(s)),
    "indent": lambda n, s: indent(int(n), go_str(s)),
}


def evaluate(expr, ctx):
    """A pipeline: `.A.b`, `"lit"`, `fn args`, `x | fn args | ...`."""
    value = None
    for i, stage in enumerate(s.strip() for s in expr.split("|")):
        words = stage.split()
        args = [w if not w.startswith(".") else lookup(w, ctx) for w in words[1:]]
        args = [json.loads(a) if isinstance(a, str) and a.startswith('"') else a for a in args]
        if words[0] in FUNCS:
            if i > 0:
                args.append(value)
            value = FUNCS[words[0]](*args)
        elif i == 0 and len(words) == 1:
            value = lookup(words[0], ctx) if words[0].startswith(".") else json.loads(words[0])
        else:
            raise ValueError(f"unsupported template stage {stage!r}")
    return value


def render_template(text, ctx):
    parts = []  # text pieces and ("action", body) in order, with trimming applied
    pos = 0
    trim_next = False
    for m in ACTION.finditer(text):
        chunk = text[pos:m.start()]
        if trim_next:
            chunk = chunk.lstrip()
        if m.group(1):
            chunk = chunk.rstrip()
        parts.append(chunk)
        parts.append(("action", m.group(2)))
        trim_next = bool(m.group(3))
        pos = m.end()
    tail = text[pos:]
    parts.append(tail.lstrip() if trim_next else tail)

    out, emit = [], [True]
    for p in parts:
        if isinstance(p, str):
            if all(emit):
                out.append(p)
            continue
        body = p[1]
        if body.startswith("/*"):
            continue
        if body.startswith("if "):
            emit.append(bool(evaluate(body[3:], ctx)) if all(emit) else False)
        elif body == "end":
            emit.pop()
        elif all(emit):
            out.append(go_str(evaluate(body, ctx)))
    return "".join(out)


def merge_values(base, override):
    """helm -f: maps merge key by key, anything else is replaced."""
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge_values(base[k], v)
        else:
            base[k] = v


def render_chart(overrides=None, values_file=None):
    with open(os.path.join(CHART, "values.yaml")) as f:
        values = yaml.safe_load(f)
    if values_file:
        with open(values_file) as f:
            merge_values(values, yaml.safe_load(f))
    for dotted, v in (overrides or {}).items():
        node = values
        *head, last = dotted.split(".")
        for k in head:
            node = node[k]
        node[last] = v
    with open(os.path.join(CHART, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    ctx = {"Values": values, "Release": RELEASE, "Chart": {"Name": chart["name"], "Version": chart["version"],
                                                            "AppVersion": chart["appVersion"]}}
    objs = []
    tdir = os.path.join(CHART, "templates")
    for name in sorted(os.listdir(tdir)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(tdir, name)) as f:
            rendered = render_template(f.read(), ctx)
        try:
            objs += [d for d in yaml.safe_load_all(rendered) if d]
        except yaml.YAMLError as e:
            raise SystemExit(f"{name} renders to invalid YAML: {e}\n{rendered}")
    return objs, values


# ---------------------------------------------------------------- the Kubernetes API's own models

def api_model_errors(obj):
    """Checks `obj` against the official Kubernetes API models (the Python
    client's classes, generated from the API's OpenAPI spec): every field known
    by its JSON name at its place, every value of its type, and the fields the
    API requires present. Returns the errors as "path: why" lines."""
    errors = []
    model = MODELS.get((obj.get("apiVersion"), obj.get("kind")))
    if model is None:
        return [f"no API model for {obj.get('apiVersion')} {obj.get('kind')}"]

    def walk(value, type_name, path):
        if type_name == "object":  # IntOrString, RawExtension, ...
            return
        if type_name.startswith("list["):
            if not isinstance(value, list):
                errors.append(f"{path}: a list expected, got {value!r}")
                return
            for i, item in enumerate(value):
                walk(item, type_name[5:-1], f"{path}[{i}]")
            return
        if type_name.startswith("dict("):
            if not isinstance(value, dict):
                errors.append(f"{path}: a map expected, got {value!r}")
                return
            inner = type_name[5:-1].split(",", 1)[1].strip()
            for k, v in value.items():
                walk(v, inner, f"{path}.{k}")
            return
        scalars = {"str": str, "datetime": str, "bool": bool, "int": int, "float": (int, float)}
        if type_name in scalars:
            ok = isinstance(value, scalars[type_name]) and not (type_name == "int" and isinstance(value, bool))
            if not ok:
                errors.append(f"{path}: {type_name} expected, got {value!r}")
            return
        cls = getattr(kubernetes.client, type_name)
        if not isinstance(value, dict):
            errors.append(f"{path}: an object ({type_name}) expected, got {value!r}")
            return
        by_json = {json_name: attr for attr, json_name in cls.attribute_map.items()}
        for k, v in value.items():
            if k not in by_json:
                errors.append(f"{path}.{k}: no such field in {type_name}")
            else:
                walk(v, cls.openapi_types[by_json[k]], f"{path}.{k}")

    walk(obj, model, obj["kind"])
    if not errors:
        # The models' constructors refuse a missing required field.
        try:
            kubernetes.client.ApiClient()._ApiClient__deserialize(obj, model)
        except (ValueError, TypeError) as e:
            errors.append(f"{obj['kind']}: {e}")
    return errors


MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "V1ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "V1ClusterRoleBinding",
    ("apps/v1", "DaemonSet"): "V1DaemonSet",
}


def keyed(objs):
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def diff(a, b, path=""):
    """First difference between two parsed objects, for the failure message."""
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'chart' if k in a else 'manifests'}"
            d = diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if a == b:
        return None
    if isinstance(a, str) and "\n" in a + b:
        for n, (x, y) in enumerate(zip(a.splitlines() + [""], b.splitlines() + [""]), 1):
            if x != y:
                return f"{path} line {n}: {x!r} != {y!r}"
    return f"{path}: {a!r} != {b!r}"


# ---------------------------------------------------------------- config helpers

UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def seconds(v):
    if isinstance(v, (int, float)):
        return float(v)
    m = re.fullmatch(r"\s*([0-9.]+)\s*(ns|us|ms|s|m|h)\s*", v)
    return float(m.group(1)) * UNITS[m.group(2)]


DEFAULT_GRACE = {"jsonl": 0.0, "kafka": 10.0, "hep": 5.0}


def secret_files(node):
    """Every {file: PATH} in the config."""
    if isinstance(node, dict):
        if set(node) == {"file"}:
            yield node["file"]
        for v in node.values():
            yield from secret_files(v)
    elif isinstance(node, list):
        for v in node:
            yield from secret_files(v)


def secret_envs(node):
    """Every {env: VARIABLE} in the config."""
    if isinstance(node, dict):
        if set(node) == {"env"}:
            yield node["env"]
        for v in node.values():
            yield from secret_envs(v)
    elif isinstance(node, list):
        for v in node:
            yield from secret_envs(v)


# ---------------------------------------------------------------- Dockerfile

def dockerfile_stages(text):
    text = re.sub(r"\\\n", " ", text)
    stages = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(s)
    return stages


def dpkg_owner(path):
    candidates = [path, os.path.realpath(path)]
    for c in list(candidates):
        candidates.append(c[4:] if c.startswith("/usr/") else "/usr" + c)
    for c in candidates:
        r = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


def ldd(binary):
    out = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+)\s+=>\s+(\S+)", line)
        if m and m.group(2).startswith("/"):
            libs[m.group(1)] = m.group(2)
    return libs


def needed(binary):
    out = subprocess.run(["objdump", "-p", binary], check=True, capture_output=True, text=True).stdout
    return [l.split()[1] for l in out.splitlines() if l.strip().startswith("NEEDED")]


def depends_closure(pkgs):
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        r = subprocess.run(["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", p], capture_output=True, text=True)
        for dep in re.split(r"[,|]", r.stdout):
            name = re.sub(r"\(.*?\)|:any|:\w+", "", dep).strip()
            if name:
                todo.append(name)
    return seen


# ---------------------------------------------------------------- main

def required_caps(config):
    """The capabilities the config's capture source needs."""
    capture = config.get("capture", {})
    source = capture.get("source", "pcap")
    if source == "mirror":
        return {"NET_ADMIN", "BPF"} | SOURCE_CAPS[capture.get("mirror", {}).get("capture", "afxdp")]
    return SOURCE_CAPS[source]


def check_rendering(objs, label, tapflow, schemas):
    """What every rendering must hold: the schemas, the pod's posture with the
    capabilities its capture source needs, and a config that tapflow accepts
    and that agrees with the pod (port, grace period, mounted secrets)."""
    for o in objs:
        errs = sorted(jsonschema.Draft7Validator(schemas[o["kind"]]).iter_errors(o), key=str)
        check(not errs, f"{label}: {o['kind']}/{o['metadata']['name']} matches deploy/schemas/{o['kind']}.json"
              + "".join(f"\n    {list(e.absolute_path)}: {e.message}" for e in errs[:5]))
        errs = api_model_errors(o)
        check(not errs, f"{label}: {o['kind']}/{o['metadata']['name']} matches the Kubernetes API's model"
              + "".join(f"\n    {e}" for e in errs[:5]))
    kinds = by_kind(objs)
    ds = kinds["DaemonSet"][0]
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    ann = ds["spec"]["template"]["metadata"].get("annotations", {})
    cm = kinds["ConfigMap"][0]
    check(vols.get(mounts["/etc/tapflow"]["name"], {}).get("configMap", {}).get("name") == cm["metadata"]["name"],
          f"{label}: the ConfigMap is mounted at /etc/tapflow")
    text = cm["data"]["tapflow.yaml"]
    with tempfile.TemporaryDirectory(prefix="tapflow-deploy-") as tmp:
        path = os.path.join(tmp, "tapflow.yaml")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([tapflow, "check-config", path], capture_output=True, text=True)
        check(r.returncode == 0 and r.stdout.strip().endswith("ok"),
              f"{label}: tapflow check-config passes the config: {r.stdout.strip()} {r.stderr.strip()}")
    config = yaml.safe_load(text)
    caps = c["securityContext"]["capabilities"].get("add", [])
    need = required_caps(config)
    check(set(caps) == need and len(caps) == len(need),
          f"{label}: capabilities {sorted(caps)} are what capture.source needs, {sorted(need)}")
    port = int(config["metrics"]["listen"].rsplit(":", 1)[1])
    check(config["metrics"]["listen"].startswith("0.0.0.0:") and config["metrics"].get("enabled", True),
          f"{label}: metrics listen on every address (scraped through the node's address)")
    check(c["livenessProbe"]["httpGet"]["port"] == port and c["readinessProbe"]["httpGet"]["port"] == port
          and ann.get("prometheus.io/port") == str(port) and c["ports"][0]["containerPort"] == port,
          f"{label}: probes, port and annotation use metrics.listen's port {port}")
    grace = sum(seconds(o.get("shutdown_grace", DEFAULT_GRACE[o["type"]])) for o in config.get("outputs", []))
    check(pod["terminationGracePeriodSeconds"] > grace,
          f"{label}: terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} > "
          f"outputs' shutdown_grace sum {grace:g}s")
    check(config.get("kubernetes", {}).get("enabled") is True, f"{label}: kubernetes.enabled (what the RBAC is for)")
    secret_mounts = [m["mountPath"] for m in c["volumeMounts"] if "secret" in vols[m["name"]]]
    files = list(secret_files(config))
    check(files and all(any(f.startswith(p.rstrip("/") + "/") for p in secret_mounts) for f in files),
          f"{label}: every secret file of the config {files} is under a mounted Secret {secret_mounts}")
    unused = [p for p in secret_mounts if not any(f.startswith(p.rstrip("/") + "/") for f in files)]
    check(not unused, f"{label}: every mounted Secret is used by the config (unused: {unused})")
    check(not list(secret_envs(config)), f"{label}: secrets come from mounted files, not the environment")
    return ds, config


def main():
    if len(sys.argv) < 2:
        raise SystemExit("usage: test_deploy.py TAPFLOW")
    tapflow = os.path.abspath(sys.argv[1])

    objs = load_base()
    kinds = by_kind(objs)
    check(sorted(kinds) == sorted(["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap",
                                   "DaemonSet"]) and all(len(v) == 1 for v in kinds.values()),
          f"the base holds one object of each kind: {sorted(kinds)}")
    check(not any(o["kind"] == "Secret" for o in objs), "no Secret is shipped")

    schemas = {}
    for kind in kinds:
        with open(os.path.join(SCHEMAS, kind + ".json")) as f:
            schemas[kind] = json.load(f)
    ds, config = check_rendering(objs, "manifests", tapflow, schemas)
    check(set(EXPECTED_CAPS) == required_caps(config), f"the manifests' mirror mode with afxdp needs {EXPECTED_CAPS}")
    check({o["type"] for o in config["outputs"]} >= {"kafka", "hep"}, "manifests: Kafka and HEP outputs")

    # The schemas are closed where a typo would silently weaken the pod.
    c = ds["spec"]["template"]["spec"]["containers"][0]
    for where, mutate in [
        ("securityContext.readOnlyRootFileSystem", lambda c: c["securityContext"].update(readOnlyRootFileSystem=True)),
        ("securityContext.capabilities.adds", lambda c: c["securityContext"]["capabilities"].update(adds=["BPF"])),
        ("livenessProbe.httpGet.paht", lambda c: c["livenessProbe"]["httpGet"].update(paht="/healthz")),
        ("readinessProbe.periodSecond", lambda c: c["readinessProbe"].update(periodSecond=5)),
        ("seccompProfile.type Default", lambda c: c["securityContext"]["seccompProfile"].update(type="Default")),
    ]:
        bad = copy.deepcopy(ds)
        mutate(bad["spec"]["template"]["spec"]["containers"][0])
        check(not jsonschema.Draft7Validator(schemas["DaemonSet"]).is_valid(bad), f"the schema refuses {where}")
        if where != "seccompProfile.type Default":  # an enum the client's models do not check
            check(api_model_errors(bad), f"the API model check refuses {where}")
    for where, mutate in [
        ("a container without a name", lambda p: p["containers"][0].pop("name")),
        ("hostNetwork as a string", lambda p: p.update(hostNetwork="true")),
        ("a volume's hostPath.paht", lambda p: p["volumes"][1]["hostPath"].update(paht="/sys")),
    ]:
        bad = copy.deepcopy(ds)
        mutate(bad["spec"]["template"]["spec"])
        check(api_model_errors(bad), f"the API model check refuses {where}")

    # Security posture.
    pod = ds["spec"]["template"]["spec"]
    sc = c.get("securityContext", {})
    check(len(pod["containers"]) == 1 and not pod.get("initContainers"), "one container, no init containers")
    check(sc.get("privileged") is not True and not pod.get("securityContext", {}).get("privileged"), "not privileged")
    check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
    check(sc["capabilities"].get("drop") == ["ALL"], "capabilities: drop ALL")
    check(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    check(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault")
    check(pod.get("hostNetwork") is True and pod.get("dnsPolicy") == "ClusterFirstWithHostNet",
          "hostNetwork with dnsPolicy ClusterFirstWithHostNet")
    check(not pod.get("hostPID") and not pod.get("hostIPC"), "no hostPID or hostIPC")
    env = {e["name"]: e for e in c.get("env", [])}
    check(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
          "NODE_NAME from the downward API (spec.nodeName)")
    check(c["livenessProbe"]["httpGet"]["path"] == "/healthz" and c["readinessProbe"]["httpGet"]["path"] == "/readyz",
          "liveness on /healthz, readiness on /readyz")
    check(pod.get("tolerations") == [{"operator": "Exists"}], "tolerates every taint")
    check(pod.get("priorityClassName") == "system-node-critical", "priorityClassName system-node-critical")
    for kind in ("requests", "limits"):
        check({"cpu", "memory"} <= set(c.get("resources", {}).get(kind, {})), f"cpu and memory {kind}")
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    check(any(v.get("hostPath", {}).get("path") == "/sys/fs/bpf" and mounts.get("/sys/fs/bpf", {}).get("name") == n
              for n, v in vols.items()), "/sys/fs/bpf mounted from the host")
    check(all("hostPath" not in v or v["hostPath"]["path"] == "/sys/fs/bpf" for v in vols.values()),
          "no other hostPath volume")
    ann = ds["spec"]["template"]["metadata"].get("annotations", {})
    check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/path") == "/metrics",
          "prometheus.io scrape annotations")
    check(pod.get("serviceAccountName") == kinds["ServiceAccount"][0]["metadata"]["name"],
          "the pod runs as the shipped ServiceAccount")

    # RBAC.
    cr = kinds["ClusterRole"][0]
    granted = set()
    verbs_ok = True
    for r in cr["rules"]:
        verbs_ok &= sorted(r["verbs"]) == ["get", "list", "watch"]
        verbs_ok &= not r.get("resourceNames") and not r.get("nonResourceURLs")
        granted |= {(g, res) for g in r.get("apiGroups", []) for res in r.get("resources", [])}
    check(verbs_ok, "every rule grants exactly get, list, watch")
    check(granted == EXPECTED_RBAC, f"rules cover exactly {sorted(EXPECTED_RBAC)}: {sorted(granted)}")
    crb = kinds["ClusterRoleBinding"][0]
    sa = kinds["ServiceAccount"][0]
    check(crb["roleRef"]["name"] == cr["metadata"]["name"]
          and crb["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                   "namespace": sa["metadata"]["namespace"]}],
          "the binding gives the ClusterRole to the ServiceAccount, nobody else")
    ns = kinds["Namespace"][0]["metadata"]["name"]
    check(all(o["metadata"].get("namespace") == ns for o in objs
              if o["kind"] in ("ServiceAccount", "ConfigMap", "DaemonSet")), f"namespaced objects are in {ns}")

    # Chart and manifests in step.
    chart_objs, values = render_chart()
    base_no_ns = keyed(o for o in objs if o["kind"] != "Namespace")
    rendered = keyed(chart_objs)
    check(set(rendered) == set(base_no_ns), f"the chart renders {sorted(rendered)} (no Namespace by default)")
    for k in sorted(set(rendered) & set(base_no_ns)):
        d = diff(rendered[k], base_no_ns[k])
        check(d is None, f"chart {k[0]}/{k[1]} equals the plain manifest" + (f": {d}" if d else ""))
    chart_ns, _ = render_chart({"namespace.create": True})
    d = diff(keyed(chart_ns), keyed(objs))
    check(d is None, "with namespace.create the chart renders every plain manifest, the Namespace too"
          + (f": {d}" if d else ""))

    # Every example values file the chart ships renders a deployment that holds.
    examples = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".yaml"))
    check(len(examples) >= 3, f"the chart ships example values: {examples}")
    sources = set()
    for name in examples:
        example_objs, _ = render_chart(values_file=os.path.join(EXAMPLES, name))
        check(set(keyed(example_objs)) == set(rendered), f"examples/{name}: renders the same objects")
        _, example_config = check_rendering(example_objs, f"examples/{name}", tapflow, schemas)
        sources.add(example_config["capture"]["source"])
    check(sources >= {"mirror", "afxdp", "afpacket"}, f"the examples cover mirror, afxdp and afpacket: {sorted(sources)}")

    # Versions agree: image tag, chart appVersion, meson project version.
    with open(os.path.join(ROOT, "meson.build")) as f:
        version = re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)
    with open(os.path.join(CHART, "Chart.yaml")) as f:
        app_version = str(yaml.safe_load(f)["appVersion"])
    check(c["image"].endswith(":" + version) and app_version == version and values["image"]["tag"] == version,
          f"image tag, chart appVersion and meson version agree ({version})")

    # Dockerfile.
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        stages = dockerfile_stages(f.read())
    check(len(stages) == 2 and all(re.match(r"FROM\s+\$\{DEBIAN_IMAGE\}", s[0]) for s in stages),
          "two stages, both FROM ${DEBIAN_IMAGE}")
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        check("ARG DEBIAN_IMAGE=debian:bookworm-slim" in f.read(), "base image debian:bookworm-slim")
    build, runtime = stages
    check(any("install-deps.sh" in s for s in build) and any("meson setup" in s and "release" in s for s in build),
          "the build stage installs with scripts/install-deps.sh and builds release with meson")
    installs = [s for s in runtime if "apt-get install" in s]
    check(len(installs) == 1, "the runtime stage installs packages once")
    words = installs[0].split("apt-get install", 1)[1].split("&&")[0].split()
    pkgs = {w for w in words if not w.startswith("-") and not w.startswith("$")}
    owners = {}
    for lib in needed(tapflow):
        libs = ldd(tapflow)
        if lib in libs:
            owners[lib] = dpkg_owner(libs[lib])
    check(all(owners.values()), f"every needed library has a package: {owners}")
    expected = set(owners.values()) | {"ca-certificates"}
    check(pkgs == expected, f"runtime packages {sorted(pkgs)} are the owners of the needed libraries + "
          f"ca-certificates: missing {sorted(expected - pkgs)}, extra {sorted(pkgs - expected)}")
    closure = depends_closure(pkgs)
    uncovered = {lib: p for lib, path in ldd(tapflow).items() if (p := dpkg_owner(path)) not in closure}
    check(not uncovered, f"every library ldd lists comes with those packages (uncovered: {uncovered})")
    compilers = {"g++", "gcc", "clang", "llvm", "meson", "ninja-build", "cpp"}
    check(not (closure & compilers) and not any(p.endswith("-dev") for p in closure),
          "no compiler or -dev package in the runtime stage")
    check(any(s.startswith("COPY --from=build") for s in runtime), "the runtime stage copies the build's install tree")
    entry = [s for s in runtime if s.startswith("ENTRYPOINT")]
    check(entry and json.loads(entry[-1].split(None, 1)[1]) == ["/usr/bin/tapflow", "run", "-c", "/etc/tapflow/tapflow.yaml"],
          "ENTRYPOINT tapflow run -c /etc/tapflow/tapflow.yaml")
    check(mounts.get("/etc/tapflow") is not None, "the config is mounted where the ENTRYPOINT reads it")
    installed = subprocess.run(["meson", "introspect", "--installed", os.path.dirname(tapflow)],
                               capture_output=True, text=True)
    if installed.returncode == 0:
        dests = [os.path.basename(p) for p in json.loads(installed.stdout).values()]
        check({"tapflow", "tapflow_xdp.o", "tapflow_mirror.o"} <= set(dests),
              "meson installs the binary and both BPF objects (copied into the runtime stage)")

    print(f"\n{len(failures)} failed" if failures else "\nall passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
