#!/usr/bin/env bash
# with-aws-peers.sh CMD [ARGS...]
#
# Runs CMD with an S3 and a DynamoDB that no one here wrote, on free loopback ports, and stops
# them (by PID) when CMD ends, fails or is interrupted:
#   versitygw (S3; checks SigV4 strictly), posix backend in a temporary directory;
#   moto server (DynamoDB; also a second S3; scripts/moto_server.py), in its default mode (no
#     signature checks);
#   a second moto server in its auth mode (scripts/moto_auth_setup.py): it checks SigV4 against
#     the keys of an IAM user made for the run, and that user's policy (DynamoDB only). The
#     DynamoDB tests run on this one.
# CMD sees:
#   IMGUP_TEST_S3_ENDPOINT        http://127.0.0.1:PORT   (versitygw)
#   IMGUP_TEST_DYNAMODB_ENDPOINT  http://127.0.0.1:PORT   (moto)
#   IMGUP_TEST_DYNAMODB_AUTH_ENDPOINT  http://127.0.0.1:PORT   (moto in auth mode), with
#     IMGUP_TEST_DYNAMODB_AUTH_ACCESS_KEY_ID, IMGUP_TEST_DYNAMODB_AUTH_SECRET_ACCESS_KEY  its IAM
#     user's keys
#   IMGUP_TEST_AWS_ACCESS_KEY_ID, IMGUP_TEST_AWS_SECRET_ACCESS_KEY  versitygw's root user (moto
#     accepts any key in its default mode)
#   IMGUP_TEST_AWS_REGION         us-east-1
#   IMGUP_REQUIRE_AWS_PEERS=1     tests that need a peer fail, instead of skipping, without one
# Install the peers first with scripts/install-aws-peers.sh (make does).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

if (($# == 0)); then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

VERSITYGW="${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/bin/versitygw"
MOTO_SERVER="$ROOT/.venv/bin/moto_server"
PYTHON="$ROOT/.venv/bin/python"
for tool in "$VERSITYGW" "$MOTO_SERVER" "$PYTHON"; do
  if [ ! -x "$tool" ]; then
    echo "with-aws-peers: $tool not found: run scripts/install-aws-peers.sh" >&2
    exit 1
  fi
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/imgup-aws-peers.XXXXXX")"
PIDS=()

stop_peers() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    # Give each one 5 s to go, then end it.
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
  rm -rf "$WORK"
}
CMD_PID=""
# A signal stops CMD first (it runs in the background so that the signal is seen at once), then
# the EXIT trap stops the peers.
on_signal() {
  if [ -n "$CMD_PID" ]; then
    kill -TERM "$CMD_PID" 2>/dev/null || true
    wait "$CMD_PID" 2>/dev/null || true
  fi
  exit "$1"
}
trap stop_peers EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

free_port() {
  "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

now() { date +%s.%N; }

# wait_http NAME PID URL LOG: until URL gives any HTTP answer (60 s at most), while PID lives.
wait_http() {
  local name=$1 pid=$2 url=$3 log=$4 code
  for _ in $(seq 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
      return 1
    fi
    code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)"
    if [ -n "$code" ] && [ "$code" != "000" ]; then
      return 0
    fi
    sleep 0.05
  done
  echo "with-aws-peers: $name did not answer on $url within 60 s; its log:" >&2
  cat "$log" >&2
  return 1
}

export IMGUP_TEST_AWS_REGION="${IMGUP_TEST_AWS_REGION:-us-east-1}"
export IMGUP_TEST_AWS_ACCESS_KEY_ID="${IMGUP_TEST_AWS_ACCESS_KEY_ID:-IMGUPTEST$("$PYTHON" -c 'import secrets; print(secrets.token_hex(6).upper())')}"
export IMGUP_TEST_AWS_SECRET_ACCESS_KEY="${IMGUP_TEST_AWS_SECRET_ACCESS_KEY:-$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(30))')}"

# start_peer NAME URL_PATH COMMAND...: starts COMMAND with PORT set to a free port (a few tries:
# another process may take the port between the probe and the bind), prints the port.
start_peer() {
  local name=$1 path=$2
  shift 2
  local try port pid log started
  for try in 1 2 3; do
    port="$(free_port)"
    log="$WORK/$name.$try.log"
    started="$(now)"
    PORT="$port" "$@" >"$log" 2>&1 </dev/null &
    pid=$!
    PIDS+=("$pid")
    if wait_http "$name" "$pid" "http://127.0.0.1:$port$path" "$log"; then
      echo "with-aws-peers: $name answers on 127.0.0.1:$port (pid $pid, up in $(awk "BEGIN { printf \"%.2f\", $(now) - $started }") s)" >&2
      STARTED_PORT="$port"
      return 0
    fi
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "with-aws-peers: $name failed to start on port $port (try $try):" >&2
    tail -5 "$log" >&2
  done
  return 1
}

# --disableotmp: with O_TMPFILE, the posix backend replaces an existing object by linking the
# finished file to ".NAME.sgwtmp.N" beside it and renaming that over the object, and a listing
# in between shows the temporary name as an object (BlobStore contract, "readers never see a
# partial object"); without it, the temporary file lives in the bucket's .sgwtmp/, which
# listings skip (docs/adr/0010-s3-blob-store.md).
run_versitygw() {
  mkdir -p "$WORK/s3"
  ROOT_ACCESS_KEY_ID="$IMGUP_TEST_AWS_ACCESS_KEY_ID" \
    ROOT_SECRET_ACCESS_KEY="$IMGUP_TEST_AWS_SECRET_ACCESS_KEY" \
    exec "$VERSITYGW" --port "127.0.0.1:$PORT" --region "$IMGUP_TEST_AWS_REGION" --keep-alive \
    --quiet posix --disableotmp "$WORK/s3"
}
run_moto() {
  # moto's own application, one request at a time: its DynamoDB backend is not safe for
  # concurrent requests (scripts/moto_server.py, docs/dynamodb.md "Where moto differs").
  exec "$PYTHON" "$ROOT/scripts/moto_server.py" -H 127.0.0.1 -p "$PORT"
}

start_peer versitygw / run_versitygw
export IMGUP_TEST_S3_ENDPOINT="http://127.0.0.1:$STARTED_PORT"
start_peer moto /moto-api/ run_moto
export IMGUP_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$STARTED_PORT"
start_peer moto-auth /moto-api/ run_moto
export IMGUP_TEST_DYNAMODB_AUTH_ENDPOINT="http://127.0.0.1:$STARTED_PORT"
if ! auth_keys="$("$PYTHON" "$ROOT/scripts/moto_auth_setup.py" "$IMGUP_TEST_DYNAMODB_AUTH_ENDPOINT")"; then
  echo "with-aws-peers: could not turn moto's auth mode on" >&2
  exit 1
fi
read -r IMGUP_TEST_DYNAMODB_AUTH_ACCESS_KEY_ID IMGUP_TEST_DYNAMODB_AUTH_SECRET_ACCESS_KEY <<<"$auth_keys"
export IMGUP_TEST_DYNAMODB_AUTH_ACCESS_KEY_ID IMGUP_TEST_DYNAMODB_AUTH_SECRET_ACCESS_KEY
echo "with-aws-peers: moto-auth checks signatures (IAM user imgup-test)" >&2
export IMGUP_REQUIRE_AWS_PEERS=1

status=0
"$@" &
CMD_PID=$!
wait "$CMD_PID" || status=$?
CMD_PID=""
exit "$status"
