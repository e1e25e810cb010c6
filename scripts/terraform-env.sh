#!/usr/bin/env bash
# Points Terraform at a local provider mirror so that init/validate/test run
# without network access. Source it: `. scripts/terraform-env.sh`.
#
# TF_PROVIDER_MIRROR overrides the mirror directory; otherwise the first
# directory holding registry.terraform.io/hashicorp/aws is used.
#
# Sourcing must not change the caller's shell: no `set -e`/`-u`/pipefail here
# (a failing command would otherwise close an interactive shell), errors are
# returned. Each sourcing writes its own CLI config file (mktemp), so
# concurrent runs never share or overwrite one.

_hbs_find_mirror() {
  if [[ -n "${TF_PROVIDER_MIRROR:-}" ]]; then
    [[ -d "$TF_PROVIDER_MIRROR/registry.terraform.io/hashicorp/aws" ]] || return 1
    echo "$TF_PROVIDER_MIRROR"
    return 0
  fi
  local dir
  for dir in /opt/tf-plugins /usr/share/terraform/plugins "$HOME/.terraform.d/plugins"; do
    [[ -d "$dir/registry.terraform.io/hashicorp/aws" ]] && { echo "$dir"; return 0; }
  done
  local binary
  binary=$(find / -xdev -name 'terraform-provider-aws_v*' -path '*registry.terraform.io/hashicorp/aws/*' 2>/dev/null | head -n 1)
  [[ -n "$binary" ]] && { echo "${binary%/registry.terraform.io/*}"; return 0; }
  return 1
}

_hbs_terraform_env() {
  local mirror config
  if ! mirror=$(_hbs_find_mirror); then
    echo "terraform-env: no hashicorp/aws provider mirror found (TF_PROVIDER_MIRROR=${TF_PROVIDER_MIRROR:-unset}); set TF_PROVIDER_MIRROR to a directory holding registry.terraform.io/hashicorp/aws" >&2
    return 1
  fi
  config=$(mktemp "${TMPDIR:-/tmp}/homebrew-bottles-sync.XXXXXX.tfrc") || return 1
  cat >"$config" <<TFRC || return 1
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
TFRC
  export TF_PROVIDER_MIRROR="$mirror" TF_CLI_CONFIG_FILE="$config" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
}

_hbs_terraform_env
_hbs_status=$?
unset -f _hbs_find_mirror _hbs_terraform_env
# Sourced: hand the status back; run as a script: exit with it.
return "$_hbs_status" 2>/dev/null || exit "$_hbs_status"
