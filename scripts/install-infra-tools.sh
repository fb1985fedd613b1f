#!/usr/bin/env bash
# Installs the template checkers of `make infra-check` and the SAM CLI of `make deploy`, each in
# a venv of its own under ${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools} (they pin many packages,
# some against the test venv's boto3 and against each other):
#   sam-venv/      aws-sam-cli (sam validate --lint, sam deploy, sam delete) and the cfn-lint it
#                  brings;
#   checkov-venv/  checkov.
# All from PyPI; each is reinstalled only when its pinned version changes. The checks themselves
# run offline (scripts/infra-check.sh).
set -euo pipefail

SAM_VERSION=1.170.0
CHECKOV_VERSION=3.3.30
TOOLS="${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}"

# install NAME PACKAGE VERSION: PACKAGE==VERSION in the venv NAME-venv, whose .NAME-version
# holds the version installed.
install() {
  local venv="$TOOLS/$1-venv" package=$2 version=$3
  local stamp="$venv/.$1-version"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  echo "install-infra-tools: $package $version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$package==$version"
  echo "$version" >"$stamp"
}

case "${1:-all}" in
  sam) install sam aws-sam-cli "$SAM_VERSION" ;;
  checkov) install checkov checkov "$CHECKOV_VERSION" ;;
  all)
    install sam aws-sam-cli "$SAM_VERSION"
    install checkov checkov "$CHECKOV_VERSION"
    ;;
  *)
    echo "usage: $0 [sam|checkov|all]" >&2
    exit 2
    ;;
esac
