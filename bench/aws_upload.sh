#!/usr/bin/env bash
# Seed uploads on both storages in one run (issue C, "Performance"): wrk POSTs the seed's JSON
# (a 200 KB JPEG, different bytes every request) at 8 connections to `imgup serve` on local
# storage and to `make run-aws`'s server (scripts/run-aws.sh: S3 on versitygw, DynamoDB on moto),
# in alternating rounds, each on fresh data. Prints each round's WRK_RESULT line (p50/p99 in ms).
#
#   bench/aws_upload.sh                     # after a build and `make aws-peers`
#   IMGUP_BENCH_BUILD=build/release BENCH_ROUNDS=3 BENCH_DURATION=10s bench/aws_upload.sh
#
# Every process is started here on free loopback ports and stopped by PID at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
BUILD=${IMGUP_BENCH_BUILD:-$ROOT/build/dev}
IMGUP=$BUILD/imgup
DURATION=${BENCH_DURATION:-10s}
ROUNDS=${BENCH_ROUNDS:-2}
WRK_ARGS=(-t2 -c8 -d"$DURATION" --latency)
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
[ -x "$IMGUP" ] || { echo "bench: $IMGUP is missing: build it" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/imgup-aws-bench.XXXXXX")
PID=""
stop() {
  if [ -n "$PID" ]; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
  fi
}
trap 'stop; rm -rf "$WORK"' EXIT

python3 "$ROOT/bench/make_upload_body.py" "$WORK/body" >/dev/null
# shellcheck disable=SC1091
. "$WORK/body/layout.txt"
echo "== seed upload: ${JPEG_BYTES}-byte JPEG, JSON body ${JSON_BYTES} bytes; wrk ${WRK_ARGS[*]}; $IMGUP"

for round in $(seq "$ROUNDS"); do
  for storage in local aws; do
    data="$WORK/$storage-$round"
    log="$WORK/$storage-$round.log"
    mkdir -p "$data"
    : >"$log"
    settle
    if [ "$storage" = local ]; then
      "$IMGUP" serve --host 127.0.0.1 --port 0 --data "$data" >/dev/null 2>"$log" &
    else
      # run-aws.sh stops its emulators and server on SIGTERM (a background job ignores SIGINT).
      PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') \
        DATA="$data" IMGUP_BIN="$IMGUP" "$ROOT/scripts/run-aws.sh" >"$log" 2>&1 &
    fi
    PID=$!
    url="http://127.0.0.1:$(listen_port "$log" "$PID")"
    wrk "${WRK_ARGS[@]}" -s "$ROOT/bench/wrk_upload.lua" "$url" -- \
      imgup "$WORK/body/upload.json" "$B64_OFFSET" "$round" "$storage-$round" | grep '^WRK_RESULT'
    stop
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
