#!/usr/bin/env bash
# A/B of two imgup builds on the upload path: alternating 6 s wrk runs (the same load as
# bench/run.sh: seed JSON, 200 KB JPEG, different bytes per request, 8 connections), each server
# on a fresh data dir, `settle` (bench/lib.sh) before each run, after BENCH_QUIET_S (65) seconds
# without file deletions (see bench/README.md, Method). Prints one line per run; no verdict.
#
#   bench/ab_upload.sh ROUNDS BIN_A BIN_B [BIN...]     (BIN: an imgup binary, or a script that
#                                                        execs one with extra flags)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
rounds=$1
shift
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imgup-ab.XXXXXX")
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
python3 "$ROOT/bench/make_upload_body.py" "$WORK/body" >/dev/null
# shellcheck disable=SC1091
. "$WORK/body/layout.txt"
sleep "${BENCH_QUIET_S:-65}"
for round in $(seq "$rounds"); do
  for bin in "$@"; do
    settle
    "$bin" serve --host 127.0.0.1 --port 0 --data "$WORK/data-$round-$(basename "$bin")" \
      >/dev/null 2>"$WORK/err" &
    PID=$!
    port=$(listen_port "$WORK/err" "$PID")
    result=$(wrk -t2 -c8 -d6s --latency -s "$ROOT/bench/wrk_upload.lua" "http://127.0.0.1:$port" -- \
      imgup "$WORK/body/upload.json" "$B64_OFFSET" "$round" ab | grep '^WRK_RESULT')
    echo "round $round $(basename "$bin") $(echo "$result" | tr ' ' '\n' |
      grep -E '^(rps|p50_ms|p99_ms|non_2xx)=' | tr '\n' ' ')"
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
  done
done
