# Shared by perf/run_*_bench.sh (sourced, not run): messages, argument
# checks, the release build and the machine line of each table. The script
# sets ROOT and OUT, and USAGE_LINES to the range of its header that usage
# prints (sed's "2,11").

SCRIPT=$(basename "$0")

log() { printf '== %s\n' "$*" >&2; }
die() { echo "$SCRIPT: $*" >&2; exit 1; }
usage() {
  sed -n "${USAGE_LINES}p" "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}
number() { [[ "$2" =~ ^[0-9]+$ ]] || die "$1 needs a number, got '$2'"; }
positive() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive number, got '$2'"; }

# build_targets DIR LOG_NAME JOBS TARGET...: configures DIR (release) when it
# has no build.ninja yet, then builds the targets; ninja does nothing when all
# is current. Logs go to $OUT/LOG_NAME-*.log; on failure the end of the build
# log is printed and it returns 1.
build_targets() {
  local dir=$1 name=$2 jobs=$3
  shift 3
  if [[ ! -f "$dir/build.ninja" ]]; then
    log "configuring $dir (release)"
    meson setup "$dir" "$ROOT" --buildtype=release >"$OUT/$name-meson-setup.log" 2>&1 ||
      { tail -20 "$OUT/$name-meson-setup.log" >&2; return 1; }
  fi
  log "building $* in $dir"
  ninja -C "$dir" -j"$jobs" "$@" >"$OUT/$name-build.log" 2>&1 || { tail -30 "$OUT/$name-build.log" >&2; return 1; }
}

cpu_model() { lscpu | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }'; }
