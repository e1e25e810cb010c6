#!/usr/bin/env bash
# Proves the synthesized stacks valid with Terraform itself, offline:
#   terraform init -backend=false, terraform validate, and terraform test
#   (mock_provider, plan + apply) for every stack in cdktf.out, then for the
#   variant with every option on (prod with a Route 53 zone, so both stacks
#   write failover records, and its standby promoted to writer), and dev and
#   prod as `npm run destroy` synthesizes them (protections lifted).
# Fails (never skips) when Terraform or the provider mirror is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v terraform >/dev/null || { echo "terraform-check: terraform CLI not found" >&2; exit 1; }
. scripts/terraform-env.sh
trap 'rm -f "$TF_CLI_CONFIG_FILE"' EXIT

# check_stack <label> <stack directory> <test file>...: init, validate, and test with the files concatenated.
check_stack() {
  local label=$1 dir=$2; shift 2
  [[ -f "$dir/cdk.tf.json" ]] || { echo "terraform-check: $dir/cdk.tf.json missing; run npm run synth" >&2; exit 1; }
  for file in "$@"; do [[ -f $file ]] || { echo "terraform-check: $file missing" >&2; exit 1; }; done
  echo "== $label: init"
  (cd "$dir" && rm -rf tests terraform.tfstate* && terraform init -backend=false -input=false -no-color >/dev/null)
  echo "== $label: validate"
  (cd "$dir" && terraform validate -no-color)
  echo "== $label: test"
  mkdir -p "$dir/tests"
  cat "$@" >"$dir/tests/checks.tftest.hcl"
  (cd "$dir" && terraform test -no-color)
}

stacks=("$@")
# Default: every synthesized stack (the three environments and each standby); a missing one fails in check_stack.
[[ ${#stacks[@]} -gt 0 ]] || { mapfile -t stacks < <(ls cdktf.out/stacks 2>/dev/null); [[ ${#stacks[@]} -gt 0 ]] || stacks=(dev staging prod); }
for stack in "${stacks[@]}"; do
  # Environments share common.tftest.hcl, standbys (<env>-standby) standby.tftest.hcl; each stack also has its own file.
  common=test/terraform/common.tftest.hcl
  [[ $stack != *-standby ]] || common=test/terraform/standby.tftest.hcl
  check_stack "$stack" "cdktf.out/stacks/$stack" test/terraform/mocks.tftest.hcl "$common" "test/terraform/$stack.tftest.hcl"
done

if [[ $# -eq 0 ]]; then
  variant=cdktf.out.failover
  rm -rf "$variant"
  HBS_PROD_DOMAIN_NAME=bottles.acme.dev HBS_PROD_HOSTED_ZONE_ID=Z0123456789ABCDEFGHIJ HBS_PROD_STANDBY_WRITER=true \
    HBS_PROD_CERTIFICATE_ARN=arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b \
    HBS_PROD_DR_CERTIFICATE_ARN=arn:aws:acm:us-west-2:123456789012:certificate/1f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b \
    npx ts-node --transpile-only -e "require('./main').buildApp('$variant').synth()"
  for stack in prod prod-standby; do
    check_stack "$stack (failover records, promoted standby)" "$variant/stacks/$stack" test/terraform/mocks.tftest.hcl "test/terraform/$stack.failover.tftest.hcl"
  done
  teardown=cdktf.out.teardown
  rm -rf "$teardown"
  HBS_DEV_TEARDOWN=true HBS_PROD_TEARDOWN=true HBS_PROD_TEARDOWN_CONFIRM=prod \
    npx ts-node --transpile-only -e "require('./main').buildApp('$teardown').synth()"
  for stack in dev prod; do # the standby's buckets are the same construct, checked by test/unit/destroy.test.ts
    check_stack "$stack (teardown for npm run destroy)" "$teardown/stacks/$stack" test/terraform/mocks.tftest.hcl test/terraform/teardown.tftest.hcl
  done
fi
