#!/usr/bin/env bash
# Pilotfish proxy benchmark: direct vs nginx vs HAProxy vs naive node:http2 proxy vs the
# Pilotfish sidecar, for h2c GET, fake-upstream gRPC and grpc-js gRPC. See docs/performance.md.
#
#   npm run bench                      # = bash test/bench/run.sh
#   ROUNDS=5 DURATION=4 npm run bench  # more rounds
#   TARGETS=nginx,haproxy,naive SCENARIOS=A,B SKIP_BUILD=1 bash test/bench/run.sh
#
# Needs: nginx, haproxy, h2load (apt: nginx haproxy nghttp2-client), taskset, ss, 2+ CPUs.
# Everything listens on 127.0.0.1:18000-19999. Every process started is killed on exit.
# Output: markdown on stdout, saved as test/bench/results/results-<date>.{md,json}.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NODE="$ROOT/node_modules/.bin/node"

# Install the reference proxies and the load generator when absent (Debian/Ubuntu; needs root or sudo).
missing=()
for pair in nginx:nginx haproxy:haproxy h2load:nghttp2-client; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ] && command -v apt-get >/dev/null; then
  echo "run.sh: installing ${missing[*]} with apt-get" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2 || true
fi
for tool in nginx haproxy h2load taskset ss; do
  command -v "$tool" >/dev/null || { echo "run.sh: '$tool' not found (apt-get install nginx haproxy nghttp2-client)" >&2; exit 2; }
done
[ -x "$NODE" ] || { echo "run.sh: $NODE missing (npm ci)" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "run.sh: needs 2 CPUs (proxies on CPU 0, load on CPU 1)" >&2; exit 2; }

BENCH_RUN_DIR="$(mktemp -d /tmp/pf-bench.XXXXXX)"
chmod 755 "$BENCH_RUN_DIR"
export BENCH_RUN_DIR
BENCH_PID=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$BENCH_PID" ] && kill -0 "$BENCH_PID" 2>/dev/null; then
    kill -TERM "$BENCH_PID" 2>/dev/null || true          # bench.ts kills its own process groups
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
      kill -0 "$BENCH_PID" 2>/dev/null || break; sleep 0.1
    done
    kill -KILL "$BENCH_PID" 2>/dev/null || true
  fi
  # Belt and braces: every process group bench.ts started is recorded in $BENCH_RUN_DIR/pgids.
  if [ -f "$BENCH_RUN_DIR/pgids" ]; then
    while read -r pg; do [ -n "$pg" ] && kill -KILL -- "-$pg" 2>/dev/null || true; done < "$BENCH_RUN_DIR/pgids"
  fi
  if [ "${KEEP_RUN_DIR:-0}" = 1 ]; then echo "run.sh: scratch dir kept: $BENCH_RUN_DIR" >&2; else rm -rf "$BENCH_RUN_DIR"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Build Pilotfish (dist/cli/main.js) unless told not to. A failed build is not fatal:
# an existing dist/ is used, and without one the Pilotfish target is reported as not started.
if [ "${SKIP_BUILD:-0}" != 1 ] && [[ ",${TARGETS:-all}," == *",pilotfish"* || ",${TARGETS:-all}," == *",all,"* ]]; then
  echo "run.sh: npm run build ..." >&2
  if ! (cd "$ROOT" && timeout 300 npm run build >"$BENCH_RUN_DIR/build.log" 2>&1); then
    echo "run.sh: WARNING: npm run build failed (tail below); using whatever dist/ exists" >&2
    tail -5 "$BENCH_RUN_DIR/build.log" >&2 || true
  fi
fi

# The orchestrator (and the h2load/upstream processes it pins) live on CPU 1; proxies on CPU 0.
# bench.ts enforces BENCH_TIMEOUT itself; `timeout` is the hard stop behind it.
LIMIT=$(( ${BENCH_TIMEOUT:-2400} + 120 ))
taskset -c 1 timeout -k 5 "$LIMIT" "$NODE" "$HERE/bench.ts" &
BENCH_PID=$!
wait "$BENCH_PID"
