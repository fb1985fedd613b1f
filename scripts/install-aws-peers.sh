#!/usr/bin/env bash
# Installs the S3 and DynamoDB implementations the AWS tests run against (docs/adr/0008):
#   versitygw v1.8.0 (S3, checks SigV4 strictly), built with `go install` into
#     ${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/bin (~3 min the first time, skipped after);
#   moto[server] (DynamoDB), pinned in scripts/requirements-test.txt and installed into .venv by
#     scripts/install-deps.sh.
# Idempotent: when both are present it only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSITYGW_VERSION=v1.8.0
TOOLS_BIN="${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/bin"

if [ ! -x "$TOOLS_BIN/versitygw" ]; then
  # The Go toolchain may be installed without being on a non-login shell's PATH.
  if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
  fi
  if ! command -v go >/dev/null; then
    echo "install-aws-peers: go not found; versitygw is built with the Go toolchain (its go.mod asks for Go 1.25)" >&2
    exit 1
  fi
  mkdir -p "$TOOLS_BIN"
  echo "install-aws-peers: building versitygw $VERSITYGW_VERSION into $TOOLS_BIN (about 3 minutes)"
  # Built in a temporary GOBIN and moved in place, so an interrupted build leaves no half binary.
  tmp_bin="$(mktemp -d)"
  trap 'rm -rf "$tmp_bin"' EXIT
  GOBIN="$tmp_bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  mv "$tmp_bin/versitygw" "$TOOLS_BIN/versitygw"
fi

if [ ! -x .venv/bin/moto_server ]; then
  ./scripts/install-deps.sh
fi
if [ ! -x .venv/bin/moto_server ]; then
  echo "install-aws-peers: .venv/bin/moto_server missing after install-deps (see requirements-test.txt)" >&2
  exit 1
fi
