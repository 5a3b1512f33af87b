#!/usr/bin/env python3
"""Prints the metric tables of docs/metrics.md from the TF_*_STATS lists in src/.

The unit test "every metric family is documented" fails when docs/metrics.md
misses a family or reason; rerun this and paste its output to fix the tables.
"""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
# (stats list, module prefix of the family, labels)
MODULES = [
    ("TF_CAPTURE_STATS", "capture", "capture"),
    ("TF_DECODE_STATS", "decode", "capture (\"reassembled\" for datagrams rebuilt by a worker), worker"),
    ("TF_WORKER_STATS", "worker", "worker"),
    ("TF_FLOW_STATS", "flow", "worker"),
    ("TF_DEFRAG_STATS", "defrag", "worker"),
    ("TF_ENGINE_STATS", "engine", "worker"),
    ("TF_APP_STATS", "analyzer", "worker"),
    ("TF_TCP_REASSEMBLY_STATS", "tcp_reassembly", "worker"),
    ("TF_HTTP_STATS", "http", "worker"),
    ("TF_SIP_STATS", "sip", "worker"),
    ("TF_DNS_STATS", "dns", "worker"),
    ("TF_TLS_STATS", "tls", "worker"),
    ("TF_OUTPUT_STATS", "output", "output"),
    ("TF_DPDK_STATS", "dpdk", "port, device"),
    ("TF_DPDK_QUEUE_STATS", "dpdk_queue", "capture"),
    ("TF_AFXDP_STATS", "afxdp", "capture, interface, queue"),
    ("TF_AFPACKET_STATS", "afpacket", "capture, interface, socket"),
    ("TF_MIRROR_STATS", "mirror", "veth"),
]
REASON_PREFIXES = ("malformed_", "dropped_", "ended_")
# C(name, "help") where the help may be adjacent string literals over several lines.
ENTRY = re.compile(r'C\((\w+),\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\)')
LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')


def stats_lists():
    text = "\n".join(p.read_text() for p in (ROOT / "src").rglob("*.h"))
    lists = {}
    for m in re.finditer(r"#define (TF_\w+_STATS)\(C\)((?:.*\\\n)*.*)", text):
        body = m.group(2).replace("\\\n", " ")
        lists[m.group(1)] = [(name, "".join(LITERAL.findall(help_text))) for name, help_text in ENTRY.findall(body)]
    return lists


def main():
    lists = stats_lists()
    for macro, module, labels in MODULES:
        print(f"### {module}\n\nLabels: {labels}.\n")
        print("| metric | reason | meaning |\n|---|---|---|")
        for name, help_text in lists[macro]:
            for prefix in REASON_PREFIXES:
                if name.startswith(prefix):
                    family = f"tapflow_{module}_{prefix[:-1]}_total"
                    print(f"| `{family}` | `{name[len(prefix):]}` | {help_text} |")
                    break
            else:
                print(f"| `tapflow_{module}_{name}_total` | | {help_text} |")
        print()


if __name__ == "__main__":
    main()
