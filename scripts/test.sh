#!/usr/bin/env bash
# The README's second command (and .ci/run): install everything the tests
# need, build, and run every test: unit tests (release and ASan/UBSan builds),
# integration tests with real peers in network namespaces, and each libFuzzer
# target for a short time on its committed corpus.
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-45}
passed=0
failed=0
failures=()

step() {
  local name=$1
  shift
  echo "=== $name"
  local started=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "--- ok: $name ($((SECONDS - started)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "--- FAILED: $name ($((SECONDS - started)) s)"
  fi
}

setup_dir() {  # setup_dir DIR [meson options...]
  local dir=$1
  shift
  [[ -f $dir/build.ninja ]] || meson setup "$dir" "$@" >/dev/null
}

scripts/install-deps.sh --with-tests || { echo "dependency installation failed"; exit 2; }

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
  step "fuzz ${name#fuzz_} (${FUZZ_SECONDS}s)" env UBSAN_OPTIONS=halt_on_error=1 "$target" \
    -max_total_time="$FUZZ_SECONDS" -artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 "$work" "$corpus"
  rm -rf "$work"
done

echo
if ((failed)); then printf 'failed: %s\n' "${failures[@]}"; fi
echo "tests: $passed passed, $failed failed"
((failed == 0))
