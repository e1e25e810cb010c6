#!/usr/bin/env bash
# Points Terraform at a local provider mirror so that init/validate/test run
# without network access. Source it: `. scripts/terraform-env.sh`.
#
# TF_PROVIDER_MIRROR overrides the mirror directory; otherwise the first
# directory holding registry.terraform.io/hashicorp/aws is used.
set -euo pipefail

find_mirror() {
  if [[ -n "${TF_PROVIDER_MIRROR:-}" ]]; then
    [[ -d "$TF_PROVIDER_MIRROR/registry.terraform.io/hashicorp/aws" ]] || return 1
    echo "$TF_PROVIDER_MIRROR"
    return
  fi
  for dir in /opt/tf-plugins /usr/share/terraform/plugins "$HOME/.terraform.d/plugins"; do
    [[ -d "$dir/registry.terraform.io/hashicorp/aws" ]] && { echo "$dir"; return; }
  done
  local binary
  binary=$(find / -xdev -name 'terraform-provider-aws_v*' -path '*registry.terraform.io/hashicorp/aws/*' 2>/dev/null | head -n 1 || true)
  [[ -n "$binary" ]] && { echo "${binary%/registry.terraform.io/*}"; return; }
  return 1
}

if ! TF_PROVIDER_MIRROR=$(find_mirror); then
  echo "terraform-env: no hashicorp/aws provider mirror found (TF_PROVIDER_MIRROR=${TF_PROVIDER_MIRROR:-unset}); set TF_PROVIDER_MIRROR to a directory holding registry.terraform.io/hashicorp/aws" >&2
  return 1 2>/dev/null || exit 1
fi
export TF_PROVIDER_MIRROR
TF_CLI_CONFIG_FILE="${TMPDIR:-/tmp}/homebrew-bottles-sync.tfrc"
cat >"$TF_CLI_CONFIG_FILE" <<TFRC
provider_installation {
  filesystem_mirror {
    path    = "$TF_PROVIDER_MIRROR"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
TFRC
export TF_CLI_CONFIG_FILE
export CHECKPOINT_DISABLE=1
export TF_IN_AUTOMATION=1
