#!/usr/bin/env bash
# Proves the synthesized stacks valid with Terraform itself, offline:
#   terraform init -backend=false, terraform validate, and terraform test
#   (mock_provider, plan + apply) for every stack in cdktf.out.
# Fails (never skips) when Terraform or the provider mirror is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v terraform >/dev/null || { echo "terraform-check: terraform CLI not found" >&2; exit 1; }
. scripts/terraform-env.sh
trap 'rm -f "$TF_CLI_CONFIG_FILE"' EXIT

stacks=("$@")
[[ ${#stacks[@]} -gt 0 ]] || stacks=(dev staging prod)
for stack in "${stacks[@]}"; do
  dir="cdktf.out/stacks/$stack"
  [[ -f "$dir/cdk.tf.json" ]] || { echo "terraform-check: $dir/cdk.tf.json missing; run npm run synth" >&2; exit 1; }
  echo "== $stack: init"
  (cd "$dir" && rm -rf tests terraform.tfstate* && terraform init -backend=false -input=false -no-color >/dev/null)
  echo "== $stack: validate"
  (cd "$dir" && terraform validate -no-color)
  echo "== $stack: test"
  mkdir -p "$dir/tests"
  cat test/terraform/mocks.tftest.hcl test/terraform/common.tftest.hcl "test/terraform/$stack.tftest.hcl" >"$dir/tests/$stack.tftest.hcl"
  (cd "$dir" && terraform test -no-color)
done
