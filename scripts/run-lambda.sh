#!/usr/bin/env bash
# run-lambda.sh: the serverless stack on this machine, with no Docker and no AWS account (make
# run-lambda). What AWS runs, each piece played by something here:
#   S3          versitygw, its bucket notifications posted to the S3 event relay
#   DynamoDB    moto
#   S3 → Lambda scripts/s3_event_relay.py: versitygw's records rewritten into AWS's, the
#               processor invoked asynchronously (two retries with backoff, then DATA/dlq/)
#   Lambda      AWS's Runtime Interface Emulator (aws-lambda-rie), one per function, running the
#               packaged bootstrap (build/lambda/api.zip, processor.zip unzipped)
#   API Gateway `imgup gateway` on http://127.0.0.1:$PORT: each request as an HTTP API (payload
#               2.0) event, GATEWAY=rest for a REST API (1.0), STAGE=prod to serve under /prod/
# Everything listens on loopback ports the kernel picked, but the gateway (8080 by default). The
# emulators keep their data under DATA/aws/ (shared with make run-aws: the same bucket and table).
# Writes DATA/aws-local.env as run-aws.sh does, plus IMGUP_API_FUNCTION_URL and
# IMGUP_PROCESSOR_FUNCTION_URL (each emulator's invoke URL: send a function any event with curl);
# each emulator's output goes to DATA/logs/api.log and DATA/logs/processor.log, the relay's to
# DATA/logs/s3-events.log and the gateway's request log to DATA/logs/gateway.log. Ctrl-C (SIGINT)
# or SIGTERM stops everything it started, by PID (exit 130 or 143, as run-aws.sh).
#
# Environment: PORT (8080; 0 picks a free one), DATA (./data), GATEWAY (http or rest), STAGE,
# IMGUP_BIN (build/dev/imgup: init-aws and the gateway), IMGUP_BUCKET and IMGUP_TABLE
# (imgup-local), IMGUP_RELAY_BACKOFF (seconds before the first retry, 1).
# The functions: build/lambda/api.zip (make package) and, when it exists, build/lambda/processor.zip;
# IMGUP_LAMBDA_API_BIN / IMGUP_LAMBDA_PROCESSOR_BIN (with IMGUP_PIXEL_WORKER) run other builds
# instead (the tests run the dev and asan builds so).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PORT="${PORT:-8080}"
DATA="$(mkdir -p "${DATA:-$ROOT/data}" && cd "${DATA:-$ROOT/data}" && pwd)"
BIN="${IMGUP_BIN:-$ROOT/build/dev/imgup}"
BUCKET="${IMGUP_BUCKET:-imgup-local}"
TABLE="${IMGUP_TABLE:-imgup-local}"
GATEWAY="${GATEWAY:-http}"
STAGE="${STAGE:-}"
REGION="us-east-1"
RIE="${IMGUP_RIE:-${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/bin/aws-lambda-rie}"
INVOKE_PATH="/2015-03-31/functions/function/invocations"

# shellcheck source=lib/aws-peers.sh
source "$ROOT/scripts/lib/aws-peers.sh"
peers_installed || exit 1
for tool in "$BIN" "$RIE"; do
  if [ ! -x "$tool" ]; then
    echo "run-lambda: $tool not found (make build, make lambda-tools)" >&2
    exit 1
  fi
done
case "$GATEWAY" in http | rest) ;; *)
  echo "run-lambda: GATEWAY must be http or rest, not $GATEWAY" >&2
  exit 2
  ;;
esac

STATE="$DATA/aws"
local_stack_state "$STATE" "$REGION"
LOGS="$DATA/logs"
mkdir -p "$LOGS"

# unpacked ZIP DIR: the package's files in DIR (again when the zip is newer), its bootstrap path.
unpacked() {
  local zip=$1 dir=$2
  if [ ! -x "$dir/bootstrap" ] || [ "$zip" -nt "$dir/bootstrap" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    unzip -q "$zip" -d "$dir"
    touch "$dir/bootstrap"
  fi
  echo "$dir/bootstrap"
}

# The API function: the packaged bootstrap, or IMGUP_LAMBDA_API_BIN.
api_function() {
  if [ -n "${IMGUP_LAMBDA_API_BIN:-}" ]; then
    echo "$IMGUP_LAMBDA_API_BIN"
  elif [ -f "$ROOT/build/lambda/api.zip" ]; then
    unpacked "$ROOT/build/lambda/api.zip" "$STATE/functions/api"
  else
    echo "run-lambda: build/lambda/api.zip not found (make package)" >&2
    return 1
  fi
}

# The processor function, and what it needs beside it (PROCESSOR_ENV). The one place that
# chooses: processor.zip when make package made it (bootstrap at its root, the pixel worker
# inside), else the release build with the pixel worker beside it, or IMGUP_LAMBDA_PROCESSOR_BIN.
PROCESSOR_ENV=()
processor_function() {
  if [ -n "${IMGUP_LAMBDA_PROCESSOR_BIN:-}" ]; then
    PROCESSOR_ENV=(IMGUP_PIXEL_WORKER="${IMGUP_PIXEL_WORKER:-$(dirname "$IMGUP_LAMBDA_PROCESSOR_BIN")/imgup-pixel-worker}")
    PROCESSOR_BIN="$IMGUP_LAMBDA_PROCESSOR_BIN"
  elif [ -f "$ROOT/build/lambda/processor.zip" ]; then
    PROCESSOR_BIN="$(unpacked "$ROOT/build/lambda/processor.zip" "$STATE/functions/processor")"
  elif [ -x "$ROOT/build/release/imgup-lambda-processor" ]; then
    PROCESSOR_ENV=(IMGUP_PIXEL_WORKER="$ROOT/build/release/imgup-pixel-worker")
    PROCESSOR_BIN="$ROOT/build/release/imgup-lambda-processor"
  else
    echo "run-lambda: neither build/lambda/processor.zip nor build/release/imgup-lambda-processor (make package)" >&2
    return 1
  fi
}

API_BIN="$(api_function)"
processor_function

GATEWAY_PID=""
local_stack_traps run-lambda GATEWAY_PID

start_peer run-lambda:moto /moto-api/ run_moto
DYNAMODB_ENDPOINT="http://127.0.0.1:$STARTED_PORT"

# Both emulators' ports are picked now: the relay needs the processor's invoke URL before
# versitygw starts, and the functions need versitygw's endpoint.
distinct_ports() {
  local n=$1 port out=()
  while ((${#out[@]} < n)); do
    port="$(free_port)"
    [[ " ${out[*]} " == *" $port "* ]] || out+=("$port")
  done
  echo "${out[@]}"
}
read -r API_PORT API_RUNTIME_PORT PROCESSOR_PORT PROCESSOR_RUNTIME_PORT <<<"$(distinct_ports 4)"
API_URL="http://127.0.0.1:$API_PORT$INVOKE_PATH"
PROCESSOR_URL="http://127.0.0.1:$PROCESSOR_PORT$INVOKE_PATH"

run_relay() {
  exec "$MOTO_PYTHON" -u "$ROOT/scripts/s3_event_relay.py" --port "$PORT" --function-url "$PROCESSOR_URL" \
    --dlq "$DATA/dlq" --backoff "${IMGUP_RELAY_BACKOFF:-1}" --aws-env "$DATA/aws-local.env"
}
# versitygw posts a test event at start and exits when nothing answers: the relay goes first.
PEERS_LOG_DIR="$LOGS"
start_peer s3-events / run_relay
PEERS_LOG_DIR="$STATE/logs"
RELAY_URL="http://127.0.0.1:$STARTED_PORT/events"
PEERS_EVENT_WEBHOOK_URL="$RELAY_URL"
start_peer run-lambda:versitygw / run_versitygw
S3_ENDPOINT="http://127.0.0.1:$STARTED_PORT"

ENV_FILE="$DATA/aws-local.env"
write_aws_local_env "$ENV_FILE" "$S3_ENDPOINT" "$DYNAMODB_ENDPOINT" "$REGION" "$BUCKET" "$TABLE" \
  "IMGUP_API_FUNCTION_URL=$API_URL" "IMGUP_PROCESSOR_FUNCTION_URL=$PROCESSOR_URL"
echo "run-lambda: wrote $ENV_FILE" >&2

# What the functions and imgup see: these AWS settings and nothing of the user's (a profile, a
# ~/.aws file), as a Lambda function sees only its role and its configuration.
AWS_ENV=(env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_ENDPOINT_URL -u AWS_SESSION_TOKEN
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
  AWS_ENDPOINT_URL_S3="$S3_ENDPOINT" AWS_ENDPOINT_URL_DYNAMODB="$DYNAMODB_ENDPOINT"
  AWS_ACCESS_KEY_ID="$ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$SECRET_ACCESS_KEY"
  AWS_REGION="$REGION" AWS_DEFAULT_REGION="$REGION" IMGUP_BUCKET="$BUCKET" IMGUP_TABLE="$TABLE"
  IMGUP_CURSOR_SECRET="$CURSOR_SECRET")

"${AWS_ENV[@]}" "$BIN" init-aws

# start_function NAME EMULATOR_PORT RUNTIME_PORT BOOTSTRAP [VAR=value...]: one emulator, its
# output to DATA/logs/NAME.log (appended: a restart keeps the earlier runs').
start_function() {
  local name=$1 port=$2 runtime_port=$3 bootstrap=$4 log="$LOGS/$1.log" pid
  shift 4
  # Both address flags, always: by default the emulator listens on 0.0.0.0:8080.
  "${AWS_ENV[@]}" AWS_LAMBDA_FUNCTION_NAME="imgup-$name" "$@" "$RIE" \
    --runtime-interface-emulator-address "127.0.0.1:$port" \
    --runtime-api-address "127.0.0.1:$runtime_port" "$bootstrap" >>"$log" 2>&1 </dev/null &
  pid=$!
  PIDS+=("$pid")
  if ! wait_http "run-lambda:$name" "$pid" "http://127.0.0.1:$port$INVOKE_PATH" "$log"; then
    echo "run-lambda: the $name function's emulator did not start; $log:" >&2
    tail -20 "$log" >&2
    return 1
  fi
  echo "run-lambda: $name function on http://127.0.0.1:$port$INVOKE_PATH (pid $pid, $bootstrap)" >&2
}
start_function api "$API_PORT" "$API_RUNTIME_PORT" "$API_BIN" \
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 AWS_LAMBDA_FUNCTION_TIMEOUT=29
start_function processor "$PROCESSOR_PORT" "$PROCESSOR_RUNTIME_PORT" "$PROCESSOR_BIN" \
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=2048 AWS_LAMBDA_FUNCTION_TIMEOUT=120 "${PROCESSOR_ENV[@]}"

GATEWAY_ARGS=(gateway --host 127.0.0.1 --port "$PORT" --function-url "$API_URL" --payload "$GATEWAY")
[ -z "$STAGE" ] || GATEWAY_ARGS+=(--stage "$STAGE")
GATEWAY_ERR="$LOGS/gateway.stderr.log"
: >"$GATEWAY_ERR"
env -u IMGUP_PORT -u IMGUP_API_FUNCTION_URL "$BIN" "${GATEWAY_ARGS[@]}" >>"$LOGS/gateway.log" 2>"$GATEWAY_ERR" </dev/null &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
LISTENING=""
for _ in $(seq 600); do
  LISTENING="$(sed -n 's/^imgup: listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$GATEWAY_ERR")"
  [ -z "$LISTENING" ] || break
  kill -0 "$GATEWAY_PID" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$LISTENING" ]; then
  echo "run-lambda: imgup gateway did not start:" >&2
  cat "$GATEWAY_ERR" >&2
  exit 1
fi
cat "$GATEWAY_ERR" >&2
echo "run-lambda: imgup gateway (pid $GATEWAY_PID, payload $GATEWAY)" >&2
echo "run-lambda: the API on $LISTENING${STAGE:+/$STAGE}/ (functions' logs in $LOGS); Ctrl-C stops everything" >&2

# Waits on the gateway; a signal interrupts the wait and its trap stops everything.
status=0
wait "$GATEWAY_PID" || status=$?
echo "run-lambda: imgup gateway exited ($status)" >&2
exit "$status"
