# Sourced by scripts/with-aws-peers.sh and scripts/run-aws.sh: starting the S3 peer (versitygw)
# and the DynamoDB peer (moto, scripts/moto_server.py) on free loopback ports, and stopping them
# by PID. The caller sets:
#   ROOT                 the repository
#   PEERS_LOG_DIR        where each peer's output goes
#   PEERS_S3_DIR         versitygw's posix backend (the buckets)
#   PEERS_REGION, PEERS_ACCESS_KEY_ID, PEERS_SECRET_ACCESS_KEY   versitygw's root user
#   PEERS_EVENT_WEBHOOK_URL  optional: where versitygw posts its bucket notifications (it posts
#                        a test event at start and exits when nothing answers there)
#   PEERS_MOTO_JOURNAL   optional: moto keeps its DynamoDB writes there and replays them at
#                        start (scripts/moto_server.py --journal), so that a restart keeps them
# and gets PIDS (every process started, for stop_pids) and STARTED_PORT (the last peer's port).

VERSITYGW="${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/bin/versitygw"
MOTO_PYTHON="$ROOT/.venv/bin/python"
PIDS=()

peers_installed() {
  local tool
  for tool in "$VERSITYGW" "$ROOT/.venv/bin/moto_server" "$MOTO_PYTHON"; do
    if [ ! -x "$tool" ]; then
      echo "$tool not found: run scripts/install-aws-peers.sh (make aws-peers)" >&2
      return 1
    fi
  done
}

free_port() {
  "$MOTO_PYTHON" -c 'import socket
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
  echo "$name did not answer on $url within 60 s; its log:" >&2
  cat "$log" >&2
  return 1
}

# start_peer NAME URL_PATH COMMAND...: starts COMMAND with PORT set to a free port (a few tries:
# another process may take the port between the probe and the bind); sets STARTED_PORT.
start_peer() {
  local name=$1 path=$2
  shift 2
  local try port pid log started
  for try in 1 2 3; do
    port="$(free_port)"
    log="$PEERS_LOG_DIR/$name.$try.log"
    started="$(now)"
    PORT="$port" "$@" >"$log" 2>&1 </dev/null &
    pid=$!
    PIDS+=("$pid")
    if wait_http "$name" "$pid" "http://127.0.0.1:$port$path" "$log"; then
      echo "$name answers on 127.0.0.1:$port (pid $pid, up in $(awk "BEGIN { printf \"%.2f\", $(now) - $started }") s)" >&2
      STARTED_PORT="$port"
      return 0
    fi
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "$name failed to start on port $port (try $try):" >&2
    tail -5 "$log" >&2
  done
  return 1
}

# stop_pids: SIGTERM to every process in PIDS, 5 s each to go, then SIGKILL.
stop_pids() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}

# --disableotmp: with O_TMPFILE, the posix backend replaces an existing object by linking the
# finished file to ".NAME.sgwtmp.N" beside it and renaming that over the object, and a listing
# in between shows the temporary name as an object (BlobStore contract, "readers never see a
# partial object"); without it, the temporary file lives in the bucket's .sgwtmp/, which
# listings skip (docs/adr/0010-s3-blob-store.md).
run_versitygw() {
  mkdir -p "$PEERS_S3_DIR"
  ROOT_ACCESS_KEY_ID="$PEERS_ACCESS_KEY_ID" \
    ROOT_SECRET_ACCESS_KEY="$PEERS_SECRET_ACCESS_KEY" \
    exec "$VERSITYGW" --port "127.0.0.1:$PORT" --region "$PEERS_REGION" --keep-alive \
    ${PEERS_EVENT_WEBHOOK_URL:+--event-webhook-url "$PEERS_EVENT_WEBHOOK_URL"} --quiet posix --disableotmp "$PEERS_S3_DIR"
}

run_moto() {
  # moto's own application, one request at a time: its DynamoDB backend is not safe for
  # concurrent requests (scripts/moto_server.py, docs/dynamodb.md "Where moto differs").
  local journal=()
  if [ -n "${PEERS_MOTO_JOURNAL:-}" ]; then
    journal=(--journal "$PEERS_MOTO_JOURNAL")
  fi
  exec "$MOTO_PYTHON" "$ROOT/scripts/moto_server.py" -H 127.0.0.1 -p "$PORT" "${journal[@]}"
}

# local_stack_state STATE REGION: the folder of a local stack's data (make run-aws, make
# run-lambda), and its secrets, made once and kept there: the emulators' root user (the files
# under STATE/s3 and the journal are theirs) and the secret that seals DynamoDB continuation
# tokens. Sets ACCESS_KEY_ID, SECRET_ACCESS_KEY and CURSOR_SECRET, and the PEERS_* settings that
# start_peer's run_versitygw and run_moto read (their data under STATE, moto's journal there).
local_stack_state() {
  local state=$1
  PEERS_LOG_DIR="$state/logs"
  PEERS_S3_DIR="$state/s3"
  PEERS_REGION="$2"
  PEERS_MOTO_JOURNAL="$state/dynamodb-journal.jsonl"
  mkdir -p "$state/logs"
  chmod 700 "$state"
  if [ ! -s "$state/credentials" ]; then
    (
      umask 077
      "$MOTO_PYTHON" -c 'import secrets
print("IMGUPLOCAL" + secrets.token_hex(5).upper())
print(secrets.token_urlsafe(30))' >"$state/credentials"
    )
  fi
  { read -r ACCESS_KEY_ID; read -r SECRET_ACCESS_KEY; } <"$state/credentials"
  if [ ! -s "$state/cursor-secret" ]; then
    (umask 077 && "$MOTO_PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$state/cursor-secret")
  fi
  CURSOR_SECRET="$(cat "$state/cursor-secret")"
  PEERS_ACCESS_KEY_ID="$ACCESS_KEY_ID"
  PEERS_SECRET_ACCESS_KEY="$SECRET_ACCESS_KEY"
}

# local_stack_traps NAME FRONT_PID_VARIABLE: on INT, TERM, HUP or exit, stops the process whose
# PID the named variable holds (the stack's front: the server or the gateway, first, so that it
# finishes the requests in flight while what it calls still answers), then every PID in PIDS;
# exits 130, 143 or 129 on the signals, as a shell does.
local_stack_traps() {
  LOCAL_STACK_NAME=$1
  LOCAL_STACK_FRONT=$2
  trap 'stop_local_stack; exit 130' INT
  trap 'stop_local_stack; exit 143' TERM
  trap 'stop_local_stack; exit 129' HUP
  trap 'stop_local_stack' EXIT
}

stop_local_stack() {
  trap - INT TERM HUP EXIT
  local front="${!LOCAL_STACK_FRONT:-}"
  if [ -n "$front" ]; then
    kill -TERM "$front" 2>/dev/null || true
    wait "$front" 2>/dev/null || true
  fi
  stop_pids
  echo "$LOCAL_STACK_NAME: stopped" >&2
}

# write_aws_local_env FILE S3_ENDPOINT DYNAMODB_ENDPOINT REGION BUCKET TABLE [LINE...]: the
# KEY=value lines that tell the AWS CLI or boto3 where a local stack is (and its keys: mode 600),
# then any further LINEs; written whole or not at all.
write_aws_local_env() {
  local file=$1 s3=$2 dynamodb=$3 region=$4 bucket=$5 table=$6
  shift 6
  (
    umask 077
    {
      echo "AWS_ENDPOINT_URL_S3=$s3"
      echo "AWS_ENDPOINT_URL_DYNAMODB=$dynamodb"
      echo "AWS_ACCESS_KEY_ID=$ACCESS_KEY_ID"
      echo "AWS_SECRET_ACCESS_KEY=$SECRET_ACCESS_KEY"
      echo "AWS_REGION=$region"
      echo "IMGUP_BUCKET=$bucket"
      echo "IMGUP_TABLE=$table"
      local line
      for line in "$@"; do echo "$line"; done
    } >"$file.tmp"
    mv "$file.tmp" "$file"
  )
}
