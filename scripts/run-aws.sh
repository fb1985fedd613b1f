#!/usr/bin/env bash
# run-aws.sh: `imgup serve --storage aws` on this machine with no AWS account (make run-aws).
#
# Starts an S3 (versitygw) and a DynamoDB (moto) on free loopback ports, creates the bucket and
# the table (`imgup init-aws`), and serves the API and web page on http://127.0.0.1:$PORT
# (8080 by default). Writes DATA/aws-local.env (KEY=value lines: the endpoints, credentials,
# region, bucket and table) so that the AWS CLI or boto3 can look at what imgup stored:
#   set -a; . data/aws-local.env; set +a; aws s3 ls "s3://$IMGUP_BUCKET" --recursive
# The emulators keep their data under DATA/aws/ (versitygw's buckets as files, moto's writes in a
# journal it replays at start), so a restart keeps the images. Ctrl-C (SIGINT) or SIGTERM stops
# everything it started, by PID.
#
# Environment: PORT (8080), DATA (./data), IMGUP_BIN (build/dev/imgup), IMGUP_BUCKET and
# IMGUP_TABLE (imgup-local), and anything `imgup serve` reads (IMGUP_WORKERS, ...).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PORT="${PORT:-8080}"
DATA="$(mkdir -p "${DATA:-$ROOT/data}" && cd "${DATA:-$ROOT/data}" && pwd)"
BIN="${IMGUP_BIN:-$ROOT/build/dev/imgup}"
BUCKET="${IMGUP_BUCKET:-imgup-local}"
TABLE="${IMGUP_TABLE:-imgup-local}"
REGION="us-east-1"

# shellcheck source=lib/aws-peers.sh
source "$ROOT/scripts/lib/aws-peers.sh"
peers_installed || exit 1
if [ ! -x "$BIN" ]; then
  echo "run-aws: $BIN not found: build it (make build)" >&2
  exit 1
fi

STATE="$DATA/aws"
local_stack_state "$STATE" "$REGION"

SERVE_PID=""
local_stack_traps run-aws SERVE_PID

start_peer run-aws:versitygw / run_versitygw
S3_ENDPOINT="http://127.0.0.1:$STARTED_PORT"
start_peer run-aws:moto /moto-api/ run_moto
DYNAMODB_ENDPOINT="http://127.0.0.1:$STARTED_PORT"

ENV_FILE="$DATA/aws-local.env"
write_aws_local_env "$ENV_FILE" "$S3_ENDPOINT" "$DYNAMODB_ENDPOINT" "$REGION" "$BUCKET" "$TABLE"
echo "run-aws: wrote $ENV_FILE" >&2

# imgup reads only these AWS settings: no profile or ~/.aws file of the user's gets in the way.
IMGUP_ENV=(env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_ENDPOINT_URL -u AWS_SESSION_TOKEN
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
  AWS_ENDPOINT_URL_S3="$S3_ENDPOINT" AWS_ENDPOINT_URL_DYNAMODB="$DYNAMODB_ENDPOINT"
  AWS_ACCESS_KEY_ID="$ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$SECRET_ACCESS_KEY"
  AWS_REGION="$REGION" IMGUP_BUCKET="$BUCKET" IMGUP_TABLE="$TABLE"
  IMGUP_CURSOR_SECRET="$CURSOR_SECRET")

"${IMGUP_ENV[@]}" "$BIN" init-aws
# A simple command in the background: its PID is imgup's own (env execs it), the one to stop.
"${IMGUP_ENV[@]}" "$BIN" serve --storage aws --host 127.0.0.1 --port "$PORT" --data "$STATE/serve" &
SERVE_PID=$!
echo "run-aws: imgup serve pid $SERVE_PID; Ctrl-C stops everything" >&2
status=0
wait "$SERVE_PID" || status=$?
SERVE_PID=""
exit "$status"
