#!/usr/bin/env bash
# The end-to-end tests: the web page in Debian's Chromium (page.test.js) and the Postman collection
# run by newman (postman.test.js), each against an imgup server of its own on a free port.
# Needs: a built imgup (IMGUP_BIN, default build/dev/imgup) and scripts/install-deps.sh's
# node_modules and chromium. Prints node's test runner summary; exits non-zero on any failure.
# Usage: tests/e2e/run.sh [--update-screenshots]   (the latter rewrites docs/screenshots/*.png)
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${1:-}" = "--update-screenshots" ]; then
  export IMGUP_SCREENSHOTS_DIR="$PWD/docs/screenshots" # else they go to build/e2e-screenshots
fi
export IMGUP_BIN="${IMGUP_BIN:-$PWD/build/dev/imgup}"
export CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"
missing=""
[ -x "$IMGUP_BIN" ] || missing+=" imgup ($IMGUP_BIN: build it with 'make build')"
[ -x "$CHROMIUM_BIN" ] || missing+=" chromium ($CHROMIUM_BIN)"
for module in playwright-core newman; do
  [ -d "node_modules/$module" ] || missing+=" node_modules/$module"
done
if [ -n "$missing" ]; then
  echo "tests/e2e: missing:$missing — run scripts/install-deps.sh (make deps)" >&2
  exit 1
fi

# Each test has a time limit, so that a hung browser or server fails the run instead of stalling it.
exec node --test --test-reporter=spec --test-timeout=60000 \
  tests/e2e/page.test.js tests/e2e/page-steer.test.js tests/e2e/postman.test.js
