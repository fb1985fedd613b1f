#!/usr/bin/env bash
# infra-check.sh [TEMPLATE]: the SAM template's checks, all offline — cfn-lint, `sam validate`
# (with and without --lint) and `checkov --skip-download`, installed by
# scripts/install-infra-tools.sh. Exits 1 when any of them has a finding that the template does
# not skip; every skip is justified in the template itself (checkov: a resource's Metadata.checkov.skip; cfn-lint:
# Metadata.cfn-lint.config.ignore_checks). Default TEMPLATE: infra/template.yaml.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}"
template="${1:-$ROOT/infra/template.yaml}"
export SAM_CLI_TELEMETRY=0

for tool in "$TOOLS/sam-venv/bin/sam" "$TOOLS/sam-venv/bin/cfn-lint" "$TOOLS/checkov-venv/bin/checkov"; do
  if [ ! -x "$tool" ]; then
    echo "infra-check: $tool not found: run scripts/install-infra-tools.sh" >&2
    exit 1
  fi
done

failed=()
echo "infra-check: cfn-lint $template"
"$TOOLS/sam-venv/bin/cfn-lint" "$template" || failed+=(cfn-lint)
# `sam validate` translates the template as a deployment would (SAM's own errors: an event
# that cannot be wired, ...); with --lint it runs its cfn-lint instead, so both. A region,
# because sam asks for one (it makes no request); none of the user's configuration.
for lint in "" --lint; do
  echo "infra-check: sam validate $lint"
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$TOOLS/sam-venv/bin/sam" validate $lint --template-file "$template" --region us-east-1 ||
    failed+=("sam validate${lint:+ $lint}")
done
echo "infra-check: checkov --skip-download"
"$TOOLS/checkov-venv/bin/checkov" --skip-download --quiet --compact --framework cloudformation \
  -f "$template" || failed+=(checkov)

if ((${#failed[@]})); then
  (
    IFS=,
    echo "infra-check: $template: findings from ${failed[*]}" >&2
  )
  exit 1
fi
echo "infra-check: $template: no findings (cfn-lint, sam validate, sam validate --lint, checkov)"
