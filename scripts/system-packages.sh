#!/usr/bin/env bash
# The Debian packages the tests use as real peers, installed when missing:
# redis-server (the cache adapter's peer), skopeo (a real OCI client for the
# /v2/ layout), chromium (renders the page at /), git with git-http-backend
# (a real git client and the fixture git server). `npm test` and `.ci/run`
# both start here, so a fresh clone's test command sets itself up.
#
# Missing packages are installed with apt-get when this runs as root (or
# with sudo that needs no password); otherwise it stops with one line that
# says what to install. It never prompts.
set -euo pipefail

PACKAGES=(redis-server skopeo chromium git)

missing=()
for command in redis-server skopeo chromium git; do
  command -v "$command" >/dev/null 2>&1 || missing+=("$command")
done
if command -v git >/dev/null 2>&1 && [ ! -x "$(git --exec-path)/git-http-backend" ]; then missing+=(git-http-backend); fi

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-packages: missing ${missing[*]}; install ${PACKAGES[*]} with your package manager, then run the tests again" >&2
    exit 1
  fi
  if [ "$(id -u)" = 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "system-packages: missing ${missing[*]}; run: sudo apt-get install -y ${PACKAGES[*]}" >&2
    exit 1
  fi
  echo "system-packages: installing ${PACKAGES[*]} (missing: ${missing[*]})"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${as_root[@]}" apt-get update -qq >/dev/null || ! "${as_root[@]}" apt-get install -y -qq "${PACKAGES[@]}" >/dev/null; then
    echo "system-packages: apt-get could not install ${PACKAGES[*]} (missing: ${missing[*]})" >&2
    exit 1
  fi
fi

echo "system-packages: $(redis-server --version | cut -d' ' -f1-3); $(skopeo --version); $(git --version); $(chromium --version 2>/dev/null || echo chromium)"
