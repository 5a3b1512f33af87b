#!/usr/bin/env bash
# The README's second command (and .ci/run): install everything the tests
# need, build, and run every test: unit tests (release and ASan/UBSan builds),
# integration tests with real peers in network namespaces, and each libFuzzer
# target for a short time on its committed corpus.
set -uo pipefail
cd "$(dirname "$0")/.."

# Per fuzz target. 20 s keeps the whole command near 17 minutes on a 2-core
# machine (CI allows 90; the project's budget is under 20). Longer runs:
# FUZZ_SECONDS=600 bash scripts/test.sh.
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
# CI shells may start without the sbin directories, where ip, tc, sysctl,
# nginx and dnsmasq live on Debian.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export HOME=${HOME:-/root}
passed=0
failed=0
failures=()
failed_logs=()

# Each step's output goes to the console and to test-logs/; a failed step's
# log tail is printed again at the very end, where a CI log's tail shows it.
mkdir -p test-logs
step() {
  local name=$1
  shift
  local log
  log=test-logs/$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_').log
  echo "=== $name"
  local started=$SECONDS
  if "$@" > >(tee "$log") 2>&1; then
    passed=$((passed + 1))
    echo "--- ok: $name ($((SECONDS - started)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    failed_logs+=("$log")
    echo "--- FAILED: $name ($((SECONDS - started)) s)"
  fi
}

# libFuzzer prints a line per new input: keep that in the log, show the verdict.
quiet_step() {
  local name=$1
  shift
  local full
  full=test-logs/$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_').full.log
  step "$name" bash -c '"$@" > "$0" 2>&1; rc=$?; tail -n 8 "$0"; exit $rc' "$full" "$@"
}

# The integration log's tail is meson's summary: print each failed test's own output instead.
integration_failures() {
  /usr/bin/python3 - build/meson-logs/testlog.json <<'PY'
import json, sys
for line in open(sys.argv[1]):
    test = json.loads(line)
    if test["result"] in ("OK", "SKIP", "EXPECTEDFAIL"):
        continue
    print("----- %s: %s (exit %s)" % (test["name"], test["result"], test.get("returncode")))
    for stream in ("stdout", "stderr"):
        lines = (test.get(stream) or "").splitlines()
        bad = [l for l in lines if not l.startswith("ok ")]
        print("\n".join(bad[-60:]))
PY
}

setup_dir() {  # setup_dir DIR [meson options...]
  local dir=$1
  shift
  [[ -f $dir/build.ninja ]] || meson setup "$dir" "$@" >/dev/null
}

scripts/install-deps.sh --with-tests || { echo "dependency installation failed"; exit 2; }
# Say at once which peer program is missing, rather than in a test's traceback.
for tool in ip tc sysctl tcpdump tshark nginx curl dnsmasq dig sipp setpriv kcat sngrep node; do
  command -v "$tool" >/dev/null || echo "warning: $tool is not on PATH ($PATH); integration tests need it"
done

step "build (release)" bash -c 'scripts/build.sh >/dev/null'
step "unit tests (release)" build/tests/unit_tests
step "integration tests" meson test -C build --no-rebuild --suite integration --print-errorlogs

step "build (ASan/UBSan)" bash -c "$(declare -f setup_dir); setup_dir build-asan --buildtype=debug \
  -Db_sanitize=address,undefined -Db_lundef=false && ninja -C build-asan tests/unit_tests >/dev/null"
step "unit tests (ASan/UBSan)" env UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 build-asan/tests/unit_tests

step "build (fuzz targets, clang)" bash -c "$(declare -f setup_dir); CXX=clang++ CC=clang setup_dir build-fuzz \
  --buildtype=debugoptimized -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false && \
  ninja -C build-fuzz \$(ninja -C build-fuzz -t targets all | grep -o '^tests/fuzz/fuzz_[a-z0-9_]*' | sort -u) >/dev/null"
for target in build-fuzz/tests/fuzz/fuzz_*; do
  [[ -f $target && -x $target ]] || continue
  name=$(basename "$target")
  corpus=tests/fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d)
  mkdir -p build-fuzz/artifacts
  # New inputs go to a scratch dir; the committed corpus is only read.
  quiet_step "fuzz ${name#fuzz_} (${FUZZ_SECONDS}s)" env UBSAN_OPTIONS=halt_on_error=1:suppressions=tests/fuzz/ubsan.supp "$target" \
    -max_total_time="$FUZZ_SECONDS" -artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 "$work" "$corpus"
  rm -rf "$work"
done

echo
for log in "${failed_logs[@]}"; do
  echo "===== details of the failed step in $log"
  if [[ $log == *integration* && -f build/meson-logs/testlog.json ]]; then
    integration_failures
  else
    tail -n 60 "$log"
  fi
done
if ((failed)); then printf 'failed: %s\n' "${failures[@]}"; fi
echo "tests: $passed passed, $failed failed"
((failed == 0))
