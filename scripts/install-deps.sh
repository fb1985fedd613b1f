#!/usr/bin/env bash
# Installs everything imgup needs to build, run and test on a fresh Debian 12 machine.
# Idempotent: when every package is already present it only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(
  # build
  build-essential cmake ninja-build pkg-config git
  libsqlite3-dev libssl-dev libcurl4-openssl-dev
  libboost-dev nlohmann-json3-dev libsimdjson-dev libexpected-dev libcli11-dev
  libexpat1-dev  # the AWS client's XML (S3 answers)
  # tests, lint, benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev clang-format-16 clang-tidy-16
  # the compiler cache: make test builds three presets, and a clone builds what another built
  ccache
  python3 python3-venv sqlite3 curl nginx wrk procps openssl
  # the Lambda packages (make package) and their test: a static shell standing in for AL2023's
  zip unzip busybox-static
  # the image pipeline (libvips) and the tools its tests use to make fixtures
  libvips-dev python3-blurhash libheif-examples webp gifsicle
  # HEIC in the processor's Lambda package: libheif's decoder API, libde265, and dpkg-source for
  # the libheif source that scripts/install-libheif.sh builds
  libheif-dev libde265-dev dpkg-dev
  # the end-to-end tests (tests/e2e): Debian's Chromium, driven by playwright-core from npm
  chromium fonts-dejavu-core
)

missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python tools for the HTTP/contract tests, in a project-local venv (moto: the DynamoDB peer of
# the AWS tests; versitygw, the S3 one, is built by scripts/install-aws-peers.sh).
if [ ! -x .venv/bin/pytest ] || ! cmp -s scripts/requirements-test.txt .venv/.requirements 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
  cp scripts/requirements-test.txt .venv/.requirements
fi

# Node tools for the end-to-end tests (playwright-core, newman) in ./node_modules, from
# package-lock.json. No browser download: the tests drive Debian's /usr/bin/chromium.
if ! command -v npm >/dev/null; then
  echo "install-deps: npm not found; the end-to-end tests (tests/e2e) need Node.js 20 with npm" >&2
elif [ ! -d node_modules ] || ! cmp -s package-lock.json node_modules/.imgup-package-lock.json 2>/dev/null; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.imgup-package-lock.json
fi
