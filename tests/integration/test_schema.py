#!/usr/bin/python3
"""Every event tapflow emits, for every pcap of the integration tests (real
traffic and fixtures), validates against docs/events.schema.json, whose objects
are all closed (additionalProperties: false), so an undocumented field fails.

Also checked: the schema is a valid draft 2020-12 schema; it rejects an extra
field at every level, a missing required field and wrong values (so it can
fail); the example in docs/events.md validates; every field of the schema is
named in docs/events.md and is emitted by at least one pcap (so the fixtures
exercise the whole schema).

Usage: test_schema.py TAPFLOW [--no-traffic] [--keep DIR] [--only NAME[,NAME]]
"""

import copy
import json
import os
import re
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import jsonschema  # noqa: E402

USAGE = __doc__.strip().splitlines()[-1]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA_PATH = os.path.join(ROOT, "docs", "events.schema.json")
DOC_PATH = os.path.join(ROOT, "docs", "events.md")
# Reasons a plain read of the test pcaps produces (shutdown needs a live run).
REASONS_EXPECTED = {"fin", "rst", "idle_timeout", "active_timeout", "end_of_input", "evicted"}


def make_validator():
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema, jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def schema_paths(schema):
    """Dotted paths of every property the schema allows, $refs followed."""
    defs = schema["$defs"]
    paths = set()

    def resolve(node):
        while "$ref" in node:
            node = defs[node["$ref"].split("/")[-1]]
        return node

    def walk(node, prefix):
        node = resolve(node)
        for name, sub in node.get("properties", {}).items():
            path = prefix + name
            paths.add(path)
            walk(sub, path + ".")

    walk(defs["flow_event"], "")
    return paths


def event_paths(obj, prefix=""):
    out = set()
    for key, value in obj.items():
        out.add(prefix + key)
        if isinstance(value, dict):
            out |= event_paths(value, prefix + key + ".")
    return out


def doc_example():
    """The JSON object in the first ```json block of docs/events.md."""
    with open(DOC_PATH) as f:
        text = f.read()
    m = re.search(r"```json\n(.*?)\n```", text, re.S)
    return text, (json.loads(m.group(1)) if m else None)


def first_error(validator, event):
    errors = sorted(validator.iter_errors(event), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    e = errors[0]
    return "%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "(top)", e.message[:300])


def self_checks(chk, validator, schema, example):
    """The schema must be able to fail: mutations of a valid event are refused."""
    if not chk.check("docs/events.md has a JSON example", example is not None):
        return
    chk.equal("the docs/events.md example validates", first_error(validator, example), None)

    def objects(obj, path=()):
        yield path
        for k, v in obj.items():
            if isinstance(v, dict):
                yield from objects(v, path + (k,))

    def at(obj, path):
        for k in path:
            obj = obj[k]
        return obj

    for path in objects(example):
        bad = copy.deepcopy(example)
        at(bad, path)["undocumented_field"] = 1
        chk.check("schema refuses an undocumented field in %s" % ("/".join(path) or "the top level"),
                  not validator.is_valid(bad))
    for path, key in (((), "event"), (("event",), "start"), (("network",), "community_id"),
                      (("source",), "bytes"), (("flow",), "final"), (("tcp", "client"), "flags")):
        bad = copy.deepcopy(example)
        del at(bad, path)[key]
        chk.check("schema refuses an event without %s" % "/".join(path + (key,)), not validator.is_valid(bad))
    mutations = [
        ("a timestamp with 6 fractional digits", ("event",), "start", "2026-11-27T12:00:00.123456Z"),
        ("a timestamp with an offset", ("event",), "end", "2026-11-27T12:00:00.123456789+01:00"),
        ("an unknown end reason", ("event",), "reason", "timeout"),
        ("a negative count", ("source",), "packets", -1),
        ("a port above 65535", ("destination",), "port", 70000),
        ("an IPv6 source in an ipv4 event", ("source",), "ip", "fd00::1"),
        ("an address that is no address", ("destination",), "ip", "10.0.0.256"),
        ("a malformed community id", ("network",), "community_id", "1:abc"),
        ("a transport that does not match iana_number", ("network",), "iana_number", "17"),
        ("TCP flags out of order", ("tcp", "client"), "flags", "AS"),
        ("an interim record ended by fin", ("flow",), "final", False),
        ("a schema version other than 1", (), "schema", 2),
    ]
    for label, path, key, value in mutations:
        bad = copy.deepcopy(example)
        at(bad, path)[key] = value
        chk.check("schema refuses %s" % label, not validator.is_valid(bad))
    bad = copy.deepcopy(example)
    bad["icmp"] = {"type": 8, "code": 0}
    chk.check("schema refuses an icmp object on a TCP flow", not validator.is_valid(bad))
    bad = copy.deepcopy(example)
    del bad["tcp"]
    chk.check("schema refuses a TCP flow without its tcp object", not validator.is_valid(bad))
    bad = copy.deepcopy(example)
    bad["network"]["inner"] = {"vlan": {"id": 5}}
    bad["network"].pop("vlan", None)
    chk.check("schema refuses an inner VLAN without an outer one", not validator.is_valid(bad))


def main(argv):
    opts = harness.parse_args(argv, USAGE)
    tapflow = opts["tapflow"]
    chk = harness.Checker("schema")
    try:
        schema, validator = make_validator()
    except (OSError, ValueError, jsonschema.SchemaError) as exc:
        chk.check("docs/events.schema.json is a valid draft 2020-12 schema", False, str(exc)[:500])
        return chk.finish()
    chk.check("docs/events.schema.json is a valid draft 2020-12 schema", True)
    doc_text, example = doc_example()
    self_checks(chk, validator, schema, example)

    paths = schema_paths(schema)
    undocumented = sorted(p for p in paths if "`%s`" % p not in doc_text)
    chk.check("every schema field is named in docs/events.md (%d fields)" % len(paths), not undocumented,
              "not in events.md: %s" % undocumented)

    workdir = opts["keep"] or tempfile.mkdtemp(prefix="tapflow-it-schema-")
    os.makedirs(workdir, exist_ok=True)
    seen_paths, seen_reasons, seen_transports, seen_tunnels = set(), set(), set(), set()
    try:
        pcaps = harness.make_all_pcaps(workdir, opts["traffic"])
        if opts["only"]:
            pcaps = [p for p in pcaps if p.name in opts["only"]]
        runs = [(p, p.name, ["read", p.path] + harness.config_args(p, workdir)) for p in pcaps]
        # A tiny flow table, for evicted records.
        for p in pcaps:
            if p.name in ("misc", "real_http"):
                cfg = harness.write_config(workdir, p, "flows:\n  max_flows: 2\n")
                runs.append((p, p.name + " (max_flows 2)", ["read", p.path, "-c", cfg, "--workers", "1"]))
        for pcap, name, args in runs:
            run = harness.run_tapflow(tapflow, args)
            if pcap.kind != "truncated_file":
                chk.check("%s: exit 0" % name, run.returncode == 0, "rc=%s %s" % (run.returncode, run.stderr[-300:]))
            chk.check("%s: every line is JSON" % name, not run.bad_lines, str(run.bad_lines[:2]))
            errors = []
            for ev in run.events:
                err = first_error(validator, ev)
                if err:
                    errors.append("%s in %s" % (err, json.dumps(ev)[:400]))
                    continue
                if ev["type"] != "flow":
                    continue  # analyzer events: valid is enough here; test_analyzers checks their values
                seen_paths |= event_paths(ev)
                seen_reasons.add(ev["event"]["reason"])
                seen_transports.add(ev["network"]["transport"])
                if "tunnel" in ev:
                    seen_tunnels.add(ev["tunnel"]["type"])
            chk.check("%s: %d events valid" % (name, len(run.events)), not errors,
                      "%d invalid, first: %s" % (len(errors), errors[:3]))
        if not opts["only"]:
            # The kubernetes fields need a cluster: test_k8s_enrich validates them and sees every one.
            unexercised = sorted(p for p in paths - seen_paths if "kubernetes" not in p)
            chk.check("every schema field appears in some event", not unexercised, "never seen: %s" % unexercised)
            chk.check("end reasons seen: %s" % sorted(REASONS_EXPECTED), REASONS_EXPECTED <= seen_reasons,
                      "seen %s" % sorted(seen_reasons))
            chk.check("transports seen", {"tcp", "udp", "sctp", "icmp", "ipv6-icmp", "253"} <= seen_transports,
                      "seen %s" % sorted(seen_transports))
            all_tunnels = set(schema["$defs"]["flow_event"]["properties"]["tunnel"]["properties"]["type"]["enum"])
            chk.check("tunnel types seen: all", all_tunnels == seen_tunnels, "seen %s" % sorted(seen_tunnels))
    finally:
        if not opts["keep"]:
            shutil.rmtree(workdir, ignore_errors=True)
    return chk.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
