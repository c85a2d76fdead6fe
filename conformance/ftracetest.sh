#!/usr/bin/env bash
# The kernel's own ftrace selftests (tools/testing/selftests/ftrace of Debian's linux-source-6.12),
# unmodified, against an `ftlab tracefs` mount, once per ISA; prints the tally of each.
#
# usage: conformance/ftracetest.sh [--arch ISA]... [--dirs "00basic ftrace ..."] [--keep DIR]
#        [--timeout SECONDS] [TEST.tc-NAME...]
#
# It never touches the host's tracing: ftracetest runs inside a private mount namespace
# (unshare -m) where /sys/kernel is an empty tmpfs (ftracetest mounts the host's tracefs when it
# finds no tracefs line in /proc/mounts: there is nothing to mount it on), it refuses to start
# unless the first tracefs line of /proc/mounts is the ftlab mount (other tracefs/debugfs mounts are
# detached inside the namespace first), and the tests that act on the
# host are skipped with the reason printed. ftracetest writes -1 into the host's
# /proc/sys/kernel/sched_rt_runtime_us; inside the namespace a plain file is bind-mounted over it,
# and the original value is restored on exit, interrupt or termination all the same.
#
# Needs root, /dev/fuse, unshare (util-linux), apt-get (Debian) and the project's Python.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv-ci/bin/python}"
[ -x "$PYTHON" ] || PYTHON=/work/venv/bin/python
[ -x "$PYTHON" ] || PYTHON=python3
CACHE="${FTLAB_CACHE:-$HOME/.cache/ftlab}/ftracetest"
PACKAGE="linux-source-6.12"
SUITE_REL="tools/testing/selftests/ftrace"
DEFAULT_DIRS="00basic ftrace instances trigger event"
# a guest with the function names the tests use (schedule, kernel_clone, vfs_read, ...)
GUEST="$ROOT/conformance/guests/kernel_like.c"
ENTRY="kernel_loop"
HARTS=2
RT=/proc/sys/kernel/sched_rt_runtime_us

# test -> why it is not run (it acts on the host, or needs the shell's own PID to run traced code)
declare -A SKIP=(
  [func_hotplug.tc]="takes a host CPU offline (/sys/devices/system/cpu/*/online)"
  [func_mod_trace.tc]="modprobe/rmmod of a host kernel module"
  [trace_printk.tc]="modprobe/rmmod of a host kernel module (trace-printk)"
  [func_stack_tracer.tc]="writes the host's /proc/sys/kernel/stack_tracer_enabled"
  [fgraph-filter-stack.tc]="writes the host's /proc/sys/kernel/stack_tracer_enabled"
  [func-filter-pid.tc]="needs the shell's own PID to run traced code (ftlab's tasks are guest tasks)"
  [func-filter-notrace-pid.tc]="needs the shell's own PID to run traced code"
  [event-pid.tc]="needs the shell's own PID to run traced code"
  [mount_options.tc]="unmounts and remounts the tracefs with gid= (a FUSE mount is not remounted)"
  [test_ownership.tc]="remounts the tracefs with uid=/gid= options"
  [tracing-error-log.tc]="writes a filter into events/signal/signal_generate (ftlab's guests raise no signals: no signal events)"
)

die() { echo "ftracetest.sh: $*" >&2; exit 1; }

# --- inner mode: inside the private mount namespace, one ISA -----------------------------------
if [ "${1:-}" = "--inner" ]; then
  shift
  arch="$1" suite="$2" work="$3" limit="$4"; shift 4
  mount --make-rprivate / 2>/dev/null || true
  # other tracefs/debugfs mounts (the host's, another ftlab mount) leave this namespace only
  { grep -E 'tracefs|debugfs' /proc/self/mounts || true; } | cut -d' ' -f2 | sort -r | while read -r m; do
    umount -l "$(printf '%b' "$m")" 2>/dev/null || true
  done
  # nothing for ftracetest to mount the host's tracefs or debugfs on
  mount -t tmpfs -o size=64k ftlab-no-sys-kernel /sys/kernel
  # ftracetest's `echo -1 > sched_rt_runtime_us` lands in a file of ours
  if [ -e "$RT" ]; then
    cat "$RT" > "$work/sched_rt_runtime_us"
    mount --bind "$work/sched_rt_runtime_us" "$RT"
  fi
  mnt="$work/mnt"
  mkdir -p "$mnt"
  (cd "$ROOT" && exec "$PYTHON" -m ftlab tracefs "$mnt" "$GUEST" --arch "$arch" --entry "$ENTRY" \
    --harts "$HARTS") >"$work/ftlab.log" 2>&1 &
  server=$!
  stop_server() {
    umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  }
  trap stop_server EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  for _ in $(seq 600); do
    [ -e "$mnt/README" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/ftlab.log" >&2; die "$arch: ftlab tracefs exited"; }
    sleep 0.1
  done
  [ -e "$mnt/README" ] || die "$arch: ftlab tracefs did not mount in 60 s"
  # ftracetest takes the first tracefs line of /proc/mounts: it must be ours
  first="$(grep tracefs /proc/mounts | head -1)"
  [ "$(echo "$first" | cut -f2 -d' ')" = "$mnt" ] && [ "$(echo "$first" | cut -f3 -d' ')" = fuse.ftlab ] \
    || die "$arch: the first tracefs mount is not ftlab's ($first): refusing to run"
  log="$work/logs"
  rc=0
  # in a session of its own, in the background: a signal to this shell ends it at once
  # (bash runs traps only between commands) and takes the whole suite down with it
  (cd "$suite" && exec setsid timeout --foreground -k 10 "$limit" ./ftracetest -l "$log" "$@") \
    >"$work/ftracetest.out" 2>&1 &
  suite_pid=$!
  # (background jobs ignore SIGINT: TERM it is)
  trap 'kill -TERM -- -"$suite_pid" 2>/dev/null; exit 130' INT
  trap 'kill -TERM -- -"$suite_pid" 2>/dev/null; exit 143' TERM
  wait "$suite_pid" || rc=$?
  cat "$work/ftracetest.out"
  [ "$rc" = 124 ] && echo "ftracetest.sh: $arch: ftracetest ran past ${limit} s and was stopped"
  exit 0
fi

# --- outer mode ----------------------------------------------------------------------------------
archs=() dirs="$DEFAULT_DIRS" keep="" limit=1800 only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) archs+=("$2"); shift 2 ;;
    --dirs) dirs="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --timeout) limit="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "ftracetest.sh: unknown option $1" >&2; exit 2 ;;
    *) only+=("$1"); shift ;;
  esac
done
[ ${#archs[@]} -gt 0 ] || archs=(x86_64 arm64 riscv64)
[ "$(id -u)" = 0 ] || die "must run as root (ftracetest requires it; the namespace keeps it off the host)"
[ -e /dev/fuse ] || die "no /dev/fuse"
command -v unshare >/dev/null || die "unshare (util-linux) is missing"

# The suite: Debian's linux-source-6.12, only tools/testing/selftests/ftrace extracted.
suite="$CACHE/$PACKAGE/$SUITE_REL"
if [ ! -x "$suite/ftracetest" ]; then
  command -v apt-get >/dev/null || die "apt-get is needed to download $PACKAGE"
  apt-get update -qq || echo "ftracetest.sh: apt-get update failed; trying the cached lists" >&2
  if ! apt-cache policy "$PACKAGE" | grep -q 'Candidate: [0-9]'; then
    near="$(apt-cache search --names-only '^linux-source-[0-9.]+$' | cut -d' ' -f1 | sort -V | tail -1)"
    [ -n "$near" ] || die "no $PACKAGE and no other linux-source-* package in apt's lists"
    echo "ftracetest.sh: $PACKAGE is not available; using $near (the nearest linux-source-*)" >&2
    PACKAGE="$near"
    suite="$CACHE/$PACKAGE/$SUITE_REL"
  fi
  dl="$(mktemp -d)"
  trap 'rm -rf "$dl"' EXIT
  (cd "$dl" && apt-get download "$PACKAGE") || die "apt-get download $PACKAGE failed"
  mkdir -p "$CACHE/$PACKAGE"
  tarball="./usr/src/$PACKAGE.tar.xz"
  dpkg-deb --fsys-tarfile "$dl"/"$PACKAGE"_*.deb | tar -x -O "$tarball" \
    | tar -xJ -C "$CACHE/$PACKAGE" --strip-components=1 --wildcards "$PACKAGE/$SUITE_REL/*"
  rm -rf "$dl"
  trap - EXIT
  [ -x "$suite/ftracetest" ] || die "$PACKAGE holds no $SUITE_REL/ftracetest"
fi
echo "ftracetest.sh: suite $suite ($PACKAGE)"

# ftracetest sets the host's sched_rt_runtime_us to -1: put the value back whatever happens
rt_orig=""
[ -r "$RT" ] && rt_orig="$(cat "$RT")"
restore_rt() {
  if [ -n "$rt_orig" ] && [ "$(cat "$RT" 2>/dev/null)" != "$rt_orig" ]; then
    echo "$rt_orig" > "$RT" 2>/dev/null || echo "ftracetest.sh: could not restore $RT to $rt_orig" >&2
  fi
}
work="${keep:-$(mktemp -d /tmp/ftlab-ftracetest.XXXXXX)}"
mkdir -p "$work"
cleanup() {
  restore_rt
  [ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT
run_pid=""
stop_run() { # signal
  if [ -n "$run_pid" ]; then
    kill -"$1" "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
}
trap 'stop_run TERM; exit 130' INT  # a background job ignores SIGINT
trap 'stop_run TERM; exit 143' TERM

# The tests to run: the chosen directories less the skipped ones (reasons printed).
cases=()
for d in $dirs; do
  [ -d "$suite/test.d/$d" ] || die "no test directory $d in the suite"
  while IFS= read -r t; do
    name="$(basename "$t")"
    if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qxF "$name"; then
      continue
    fi
    if [ -n "${SKIP[$name]:-}" ]; then
      echo "SKIP $d/$name: ${SKIP[$name]}"
      continue
    fi
    cases+=("$t")
  done < <(find "$suite/test.d/$d" -name '*.tc' | sort)
done
[ ${#cases[@]} -gt 0 ] || die "no test to run"

summary=()
for arch in "${archs[@]}"; do
  echo "=== $arch: ${#cases[@]} test files ==="
  aw="$work/$arch"
  mkdir -p "$aw"
  # in the background so that a signal reaches the traps at once (see stop_run)
  unshare -m --propagation private bash "$0" --inner "$arch" "$suite" "$aw" "$limit" \
    "${cases[@]}" > >(tee "$aw/out.txt") 2>&1 &
  run_pid=$!
  wait "$run_pid" || echo "ftracetest.sh: $arch: the run failed (see above)"
  run_pid=""
  # the inner shell's own copy is complete once it exited (tee may still be writing)
  tally="$(grep -E '^# of (passed|failed|unresolved|untested|unsupported|xfailed|undefined)' \
    "$aw/ftracetest.out" 2>/dev/null \
    | sed -E 's/^# of ([a-z]+)[^:]*: +([0-9]+)/\1 \2/' | tr '\n' ' ')"
  summary+=("$arch: ${tally:-no tally (see above)}")
  restore_rt
done
echo "=== tally ==="
printf '%s\n' "${summary[@]}"
