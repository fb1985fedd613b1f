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

# shellcheck source=lib/aws-peers.sh
source "$ROOT/scripts/lib/aws-peers.sh"
if ! peers_installed; then
  echo "with-aws-peers: the peers are not installed" >&2
  exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/imgup-aws-peers.XXXXXX")"

stop_peers() {
  stop_pids
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

export IMGUP_TEST_AWS_REGION="${IMGUP_TEST_AWS_REGION:-us-east-1}"
export IMGUP_TEST_AWS_ACCESS_KEY_ID="${IMGUP_TEST_AWS_ACCESS_KEY_ID:-IMGUPTEST$("$MOTO_PYTHON" -c 'import secrets; print(secrets.token_hex(6).upper())')}"
export IMGUP_TEST_AWS_SECRET_ACCESS_KEY="${IMGUP_TEST_AWS_SECRET_ACCESS_KEY:-$("$MOTO_PYTHON" -c 'import secrets; print(secrets.token_urlsafe(30))')}"

PEERS_LOG_DIR="$WORK"
PEERS_S3_DIR="$WORK/s3"
PEERS_REGION="$IMGUP_TEST_AWS_REGION"
PEERS_ACCESS_KEY_ID="$IMGUP_TEST_AWS_ACCESS_KEY_ID"
PEERS_SECRET_ACCESS_KEY="$IMGUP_TEST_AWS_SECRET_ACCESS_KEY"

start_peer with-aws-peers:versitygw / run_versitygw
export IMGUP_TEST_S3_ENDPOINT="http://127.0.0.1:$STARTED_PORT"
start_peer with-aws-peers:moto /moto-api/ run_moto
export IMGUP_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$STARTED_PORT"
start_peer with-aws-peers:moto-auth /moto-api/ run_moto
export IMGUP_TEST_DYNAMODB_AUTH_ENDPOINT="http://127.0.0.1:$STARTED_PORT"
if ! auth_keys="$("$MOTO_PYTHON" "$ROOT/scripts/moto_auth_setup.py" "$IMGUP_TEST_DYNAMODB_AUTH_ENDPOINT")"; then
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
