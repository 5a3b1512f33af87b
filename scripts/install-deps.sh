#!/usr/bin/env bash
# Installs everything tapflow needs to build, run and test, from Debian 12 packages only.
# Idempotent: a second run on a machine that has everything is a quick no-op.
set -euo pipefail

build_packages=(
  meson ninja-build pkg-config g++ clang llvm libclang-rt-14-dev
  libxdp-dev libbpf-dev libconcurrentqueue-dev librdkafka-dev
  libyaml-cpp-dev doctest-dev libpcap-dev libssl-dev libcurl4-openssl-dev rapidjson-dev
  # DPDK 22.11; it pulls in the PMDs (librte-net-pcap23, -af-packet23, -af-xdp23, -ring23, ...).
  libdpdk-dev
)
# Peers and ground truth for tests and benchmarks (real programs, never mocks).
test_packages=(
  tshark tcpdump iproute2 python3-scapy nginx-light curl dnsmasq dnsutils
  sip-tester libndpi-bin heaptrack python3-jsonschema openssl
  # test_deploy: the manifests and the chart (YAML), the Kubernetes API's models
  # (the official client, generated from the API's OpenAPI spec), the binary's
  # NEEDED (objdump).
  python3-yaml python3-kubernetes binutils
  # Kafka and HEP peers: kcat and confluent-kafka read back what tapflow
  # produced to librdkafka's mock cluster; sngrep receives HEP.
  kcat python3-confluent-kafka sngrep
)

want=("${build_packages[@]}")
if [[ "${1:-}" == "--with-tests" ]]; then
  want+=("${test_packages[@]}")
  # hep-js (npm) decodes HEP in the tests; use the machine's Node.js if it has one.
  command -v npm >/dev/null || want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; the default (no) is fine.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "${1:-}" == "--with-tests" ]]; then
  # hep-js, the sipcapture project's HEP decoder (GPLv2): a test tool only,
  # pinned by tests/integration/hep/package-lock.json, never linked into tapflow.
  hep_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/integration/hep"
  if [[ ! -d "$hep_dir/node_modules/hep-js" ]]; then
    echo "install-deps: installing hep-js from npm into $hep_dir" >&2
    npm ci --prefix "$hep_dir" --no-audit --no-fund --loglevel=error >/dev/null
  fi
fi
