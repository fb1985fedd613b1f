#!/usr/bin/env bash
# Installs AWS's Lambda Runtime Interface Emulator (aws-lambda-rie), which the Lambda tests run
# imgup's functions under (tests/lambda). Built with `go install` into
# ${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/bin (~95 s the first time, skipped after).
# The module publishes no release tags to the Go proxy: the version is the pseudo-version of the
# commit pinned here.
# Never run it bare: it listens on 0.0.0.0:8080 unless told otherwise and runs an unknown flag
# (even --help) as the function. tests/lambda/rie.py starts it with both address flags on
# loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
TOOLS_BIN="${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/bin"
stamp="$TOOLS_BIN/.aws-lambda-rie.version"

if [ -x "$TOOLS_BIN/aws-lambda-rie" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$RIE_VERSION" ]; then
  exit 0
fi
GO=$(command -v go || true)
[ -n "$GO" ] || [ ! -x /usr/local/go/bin/go ] || GO=/usr/local/go/bin/go
if [ -z "$GO" ]; then
  echo "install-lambda-tools: go not found; aws-lambda-rie is built with the Go toolchain" \
    "(Go >= 1.26.6, what its go.mod asks)" >&2
  exit 1
fi
mkdir -p "$TOOLS_BIN"
echo "install-lambda-tools: building aws-lambda-rie $RIE_VERSION into $TOOLS_BIN (about 2 minutes)"
# Built in a temporary GOBIN and moved in place, so an interrupted build leaves no half binary.
tmp_bin="$(mktemp -d)"
trap 'rm -rf "$tmp_bin"' EXIT
GOBIN="$tmp_bin" "$GO" install \
  "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
mv "$tmp_bin/aws-lambda-rie" "$TOOLS_BIN/aws-lambda-rie"
echo "$RIE_VERSION" >"$stamp"
