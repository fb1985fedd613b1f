#!/usr/bin/env bash
# deploy.sh deploy|destroy — `make deploy` and `make destroy` (README, "Deploying to AWS").
#
# deploy: checks that AWS credentials are configured (the chain the SAM CLI uses: environment,
#   AWS_PROFILE / ~/.aws, SSO, container or instance role) before anything else, builds the zips
#   (make package), then `sam deploy` of infra/template.yaml, whose CodeUri are the prebuilt zips
#   (no `sam build`). The first time (no infra/samconfig.toml) it runs `sam deploy --guided`,
#   which asks for the stack name, the region and the parameters and writes infra/samconfig.toml
#   (not committed: it names your account's choices); later runs reuse it. Finally the outputs.
# destroy: the same credentials check, then, after you type the stack's name, empties the
#   stack's bucket (CloudFormation cannot delete a bucket that holds objects) and runs
#   `sam delete`. IMGUP_STACK names the stack (default: the one in infra/samconfig.toml, else
#   "imgup"); AWS_REGION / AWS_DEFAULT_REGION the region (default: samconfig's).
# Nothing else in the project reaches AWS: make test only runs this without credentials.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="${IMGUP_TOOLS_DIR:-$HOME/.cache/imgup/tools}"
SAM="$TOOLS/sam-venv/bin/sam"
PY="$TOOLS/sam-venv/bin/python"
CONFIG="$ROOT/infra/samconfig.toml"
export SAM_CLI_TELEMETRY=0

usage() {
  echo "usage: $0 deploy|destroy" >&2
  exit 2
}
(($# == 1)) || usage
action=$1
[ "$action" = deploy ] || [ "$action" = destroy ] || usage

if [ ! -x "$SAM" ]; then
  echo "$action: the SAM CLI is not installed: run scripts/install-infra-tools.sh (make infra-tools)" >&2
  exit 1
fi

# The credentials as botocore (the SAM CLI's library) finds them, without calling AWS: a
# configured profile or keys, or a role of the machine (IMDS is asked only when nothing else is
# configured, and only when reachable).
if ! who="$("$PY" - <<'EOF'
import sys
import boto3
credentials = boto3.Session().get_credentials()
if credentials is None:
    sys.exit(1)
print(credentials.method)
EOF
)"; then
  cat >&2 <<EOF
$action: no AWS credentials are configured, so nothing was built or deployed.
  Configure them as for the AWS CLI, then run make $action again:
    aws configure                     # access keys into ~/.aws/credentials, or
    aws configure sso                 # IAM Identity Center, then: export AWS_PROFILE=...
    export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... [AWS_SESSION_TOKEN=...]
  The README's "Deploying to AWS" says which permissions and what it costs.
EOF
  exit 1
fi
echo "$action: AWS credentials from $who"

stack_from_config() {
  if [ -f "$CONFIG" ]; then
    sed -n 's/^stack_name *= *"\(.*\)"/\1/p' "$CONFIG" | head -1
  fi
}

case "$action" in
  deploy)
    make -C "$ROOT" --no-print-directory package
    for zip in api processor; do
      if [ ! -f "$ROOT/build/lambda/$zip.zip" ]; then
        echo "deploy: build/lambda/$zip.zip is missing after make package" >&2
        exit 1
      fi
    done
    cd "$ROOT/infra"
    if [ -f "$CONFIG" ]; then
      "$SAM" deploy --template-file template.yaml --config-file samconfig.toml
    else
      echo "deploy: first deployment: sam deploy --guided asks for the stack, the region and the" \
        "parameters, and keeps your answers in infra/samconfig.toml"
      "$SAM" deploy --guided --template-file template.yaml --config-file samconfig.toml \
        --stack-name "${IMGUP_STACK:-imgup}" --capabilities CAPABILITY_IAM
    fi
    stack="${IMGUP_STACK:-$(stack_from_config)}"
    "$SAM" list stack-outputs --stack-name "${stack:-imgup}" --output table \
      ${AWS_REGION:+--region "$AWS_REGION"}
    ;;
  destroy)
    stack="${IMGUP_STACK:-$(stack_from_config)}"
    stack="${stack:-imgup}"
    region="${AWS_REGION:-${AWS_DEFAULT_REGION:-$(sed -n 's/^region *= *"\(.*\)"/\1/p' "$CONFIG" 2>/dev/null | head -1)}}"
    bucket="$("$PY" - "$stack" "$region" <<'EOF'
import sys
import boto3
stack, region = sys.argv[1], sys.argv[2] or None
cloudformation = boto3.client("cloudformation", region_name=region)
outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
print(next((o["OutputValue"] for o in outputs if o["OutputKey"] == "BucketName"), ""))
EOF
)"
    echo "destroy: stack $stack${region:+ in $region} — every image in bucket ${bucket:-?}, every" \
      "record, the user pool and its users, the logs are deleted."
    read -r -p "Type the stack's name to go on: " answer
    if [ "$answer" != "$stack" ]; then
      echo "destroy: not confirmed; nothing deleted" >&2
      exit 1
    fi
    if [ -n "$bucket" ]; then
      "$PY" - "$bucket" "$region" <<'EOF'
import sys
import boto3
bucket, region = sys.argv[1], sys.argv[2] or None
boto3.resource("s3", region_name=region).Bucket(bucket).objects.all().delete()
print(f"destroy: bucket {bucket} emptied")
EOF
    fi
    "$SAM" delete --stack-name "$stack" ${region:+--region "$region"} --no-prompts
    ;;
esac
