#!/usr/bin/env bash
# Installs everything tapflow needs to build, run and test, from Debian 12 packages only.
# Idempotent: a second run on a machine that has everything is a quick no-op.
set -euo pipefail

build_packages=(
  meson ninja-build pkg-config g++ clang llvm libclang-rt-14-dev
  libxdp-dev libbpf-dev libconcurrentqueue-dev librdkafka-dev
  libyaml-cpp-dev doctest-dev libpcap-dev
  # DPDK 22.11; it pulls in the PMDs (librte-net-pcap23, -af-packet23, -af-xdp23, -ring23, ...).
  libdpdk-dev
)
# Peers and ground truth for tests and benchmarks (real programs, never mocks).
test_packages=(
  tshark tcpdump iproute2 python3-scapy nginx-light curl dnsmasq dnsutils
  sip-tester libndpi-bin heaptrack python3-jsonschema openssl
)

want=("${build_packages[@]}")
if [[ "${1:-}" == "--with-tests" ]]; then want+=("${test_packages[@]}"); fi

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
