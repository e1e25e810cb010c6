/**
 * `brew-mirror`, the client command for casks (issue #33, docs/casks.md),
 * served by the mirror at `/brew-mirror` and installed by `/install` beside
 * brew (`<prefix>/bin/brew-mirror`). brew runs an executable `brew-<cmd>` on
 * PATH as `brew <cmd>`, with no tap and so no `brew trust` step (CASKS.md).
 * Bash 3.2 (macOS's /bin/bash): no associative arrays, empty arrays guarded.
 */
export const BREW_MIRROR_SCRIPT = `#!/bin/bash
# brew-mirror: installs casks through the mirror (issue #33, docs/casks.md).
#   brew mirror install|upgrade|reinstall|fetch [--cask] TOKEN... [brew flags]
#   brew mirror upgrade            every outdated cask
#   brew mirror bundle [--file F] [brew bundle flags]
#                                  seeds every cask of the Brewfile, then runs brew bundle
# For each cask it takes the url and sha256 brew itself has for this machine
# (brew info, from the signed API), fetches <mirror>/casks/<sha256>, checks
# the sha256 itself (brew would delete a wrong file silently and say only
# "Download failed"), and places it in brew's download cache under the key
# brew computes: downloads/<sha256 of the url>--<basename>. Then it hands
# over to brew with no curl retries and a 3 s connect timeout, so brew's
# probe of the unreachable vendor costs seconds, not minutes.
# The mirror is HOMEBREW_MIRROR_URL, else HOMEBREW_API_DOMAIN without /api.
set -euo pipefail

die() {
  echo "brew mirror: $*" >&2
  exit 1
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1; else shasum -a 256 | cut -d' ' -f1; fi
}

mirror="\${HOMEBREW_MIRROR_URL:-}"
if [ -z "$mirror" ] && [ -n "\${HOMEBREW_API_DOMAIN:-}" ]; then mirror="\${HOMEBREW_API_DOMAIN%/api}"; fi
mirror="\${mirror%/}"
[ -n "$mirror" ] || die "no mirror configured: set HOMEBREW_API_DOMAIN=<mirror>/api (the mirror's brew.env does) or HOMEBREW_MIRROR_URL"

command="\${1:-}"
case "$command" in
  install | upgrade | reinstall | fetch | bundle) shift ;;
  *) die "usage: brew mirror install|upgrade|reinstall|fetch [--cask] TOKEN... | bundle [--file BREWFILE]" ;;
esac

tokens=()
flags=()
if [ "$command" = bundle ]; then
  # brew bundle reads the Brewfile as Ruby: its own list of casks, never a guess at the file.
  flags=("$@")
  while IFS= read -r name; do
    case "$name" in
      "") ;;
      homebrew/cask/*) tokens+=("\${name#homebrew/cask/}") ;;
      */*) echo "brew mirror: $name comes from a tap: the mirror's rewritten tap downloads it" ;;
      *) tokens+=("$name") ;;
    esac
  done < <(brew bundle list --cask \${flags[@]+"\${flags[@]}"})
else
  for arg in "$@"; do
    case "$arg" in
      --cask | --casks) ;;
      -*) flags+=("$arg") ;;
      *) tokens+=("$arg") ;;
    esac
  done
fi
if [ "$command" != bundle ] && [ \${#tokens[@]} -eq 0 ]; then
  [ "$command" = upgrade ] || die "name the casks to $command"
  while IFS= read -r token; do [ -n "$token" ] && tokens+=("$token"); done < <(brew outdated --cask --quiet)
  if [ \${#tokens[@]} -eq 0 ]; then
    echo "brew mirror: no outdated cask"
    exit 0
  fi
fi

# brew's own Ruby reads brew's JSON: never a guess at its shape.
ruby="$(brew --repository)/Library/Homebrew/vendor/portable-ruby/current/bin/ruby"
[ -x "$ruby" ] || ruby="$(command -v ruby || true)"
[ -n "$ruby" ] || die "no Ruby to read brew's JSON with (brew's portable Ruby is missing)"
downloads="$(brew --cache)/downloads"
mkdir -p "$downloads"

for token in \${tokens[@]+"\${tokens[@]}"}; do
  info="$(brew info --json=v2 --cask "$token")" || die "brew knows no cask $token"
  pair="$(printf '%s' "$info" | "$ruby" -rjson -e 'c = JSON.parse(STDIN.read).fetch("casks").first or abort("no cask"); puts c.fetch("url"), c.fetch("sha256")')" || die "cannot read brew's entry for $token"
  url="$(printf '%s\\n' "$pair" | sed -n 1p)"
  sha="$(printf '%s\\n' "$pair" | sed -n 2p)"
  if [ "\${#sha}" -ne 64 ] || ! printf '%s' "$sha" | grep -q '^[0-9a-f]*$'; then
    echo "brew mirror: $token has no signed checksum (sha256 $sha): the mirror cannot vouch for it, brew downloads it from its vendor" >&2
    continue
  fi
  key="$(printf '%s' "$url" | sha256_of)"
  base="$(printf '%s' "$url" | sed -e 's/[?#].*$//' -e 's#.*/##')"
  [ -n "$base" ] || base=download
  target="$downloads/$key--$base"
  if [ -f "$target" ] && [ "$(sha256_of <"$target")" = "$sha" ]; then
    echo "brew mirror: $token already in brew's cache"
    continue
  fi
  # brew uses the one file downloads/<key>--* when there is exactly one: leave no other.
  rm -f "$downloads/$key--"*
  partial="$downloads/.brew-mirror-$key.partial"
  # A mirror in token mode needs the team's token (brew.env's HOMEBREW_DOCKER_REGISTRY_TOKEN): sent
  # as curl config on stdin, so it is never in the process list.
  auth=""
  [ -z "\${HOMEBREW_DOCKER_REGISTRY_TOKEN:-}" ] || auth="header = \\"Authorization: Bearer $HOMEBREW_DOCKER_REGISTRY_TOKEN\\""
  printf '%s\\n' "$auth" |
    curl -K - -fsL --retry 2 --connect-timeout 10 -o "$partial" "$mirror/casks/$sha" || {
    rm -f "$partial"
    die "$token: $mirror has no file for sha256 $sha (is $token in the mirror's --casks?)"
  }
  got="$(sha256_of <"$partial")"
  if [ "$got" != "$sha" ]; then
    rm -f "$partial"
    die "$token: the mirror's file has sha256 $got, not the signed $sha; refused"
  fi
  mv "$partial" "$target"
  echo "brew mirror: $token $sha placed in brew's cache"
done

curlrc="$(brew --cache)/brew-mirror.curlrc"
printf 'connect-timeout = 3\\n' >"$curlrc"
if [ "$command" = bundle ]; then
  exec env HOMEBREW_CURL_RETRIES=0 HOMEBREW_CURLRC="$curlrc" brew bundle \${flags[@]+"\${flags[@]}"}
fi
exec env HOMEBREW_CURL_RETRIES=0 HOMEBREW_CURLRC="$curlrc" brew "$command" --cask \${flags[@]+"\${flags[@]}"} "\${tokens[@]}"
`;
