#!/usr/bin/env bash
# Regenerates AWS's own sample events in tests/lambda/fixtures/aws/ with `sam local
# generate-event` (offline). aws-sam-cli pins many packages of its own, so it lives in its own
# venv under ${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools} (scripts/install-infra-tools.sh), not in
# the test venv.
# The generated files are committed; run this after bumping its SAM_VERSION and review the diff.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}/sam-venv"
./scripts/install-infra-tools.sh sam  # aws-sam-cli, pinned there

out=tests/lambda/fixtures/aws
mkdir -p "$out"
export SAM_CLI_TELEMETRY=0
generate() {  # file, then sam's arguments
  local file=$1
  shift
  "$venv/bin/sam" local generate-event "$@" >"$out/$file"
  echo "$out/$file: sam local generate-event $*"
}
# The seed's upload request (DESIGN.md) with a real 4x4 PNG, through each payload version.
seed='{"filename":"photo.png","content_type":"image/png","image_base64":"iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAKklEQVR42hXHQQ0AMBDDsAILsAIriMDaTfLHMTGYmkUOUrn0YGsvH65uDyWyF8G9EDqXAAAAAElFTkSuQmCC"}'
generate http-api-proxy.json apigateway http-api-proxy
generate http-api-proxy-seed-upload.json apigateway http-api-proxy --method POST --path upload \
  --body "$seed"
generate aws-proxy.json apigateway aws-proxy
generate aws-proxy-seed-upload.json apigateway aws-proxy --method POST --path upload \
  --stage prod --resource '/{proxy+}' --body "$seed"
# S3 event notifications, for the processor function: an object created and one removed (the
# processor acts on ObjectCreated:* only). The tests put their own keys into the put sample.
generate s3-put.json s3 put
generate s3-delete.json s3 delete
