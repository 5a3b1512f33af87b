#!/usr/bin/env bash
# The README's first command: install what tapflow needs, build it, and run its
# main job on a capture shipped in the repo (nothing outside the machine needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null
# config/demo.pcap is committed; scripts/make_demo_pcap.py remakes it.
[[ -f config/demo.pcap ]] || python3 scripts/make_demo_pcap.py config/demo.pcap
exec build/tapflow read config/demo.pcap
