import { ConfigurationError } from '../errors';

/**
 * The HOMEBREW_* settings that make a brew client use this mirror and
 * nothing else, in one place: `bottles serve` prints them, the deploy prints
 * them, and the mirror serves them as `/brew.env`.
 *
 * - The API, the flat bottle domain and the `/v2/` artifact domain all point here;
 * - `HOMEBREW_ARTIFACT_DOMAIN_NO_FALLBACK=1`: on a miss brew would otherwise
 *   quietly try ghcr.io, which on a network that drops packets costs a timeout;
 * - `HOMEBREW_NO_ANALYTICS=1`: every run would otherwise send analytics out;
 * - `HOMEBREW_BREW_GIT_REMOTE` only once the mirror serves brew.git: pointed
 *   at a mirror without it, every `brew update` would fail.
 */
export interface ClientSettingsOptions {
  /** The mirror's public base URL, from configuration (never from a request's Host header, which a client chooses). */
  readonly publicUrl: string;
  /** The mirror serves brew.git at `<publicUrl>/brew.git`. Default false. */
  readonly brewGit?: boolean;
  /**
   * Token mode (issue #35): the settings name only the `/v2/` layout, whose requests carry
   * `HOMEBREW_DOCKER_REGISTRY_TOKEN` (brew sends no token to `HOMEBREW_BOTTLE_DOMAIN`'s flat
   * layout: its downloads use the plain curl strategy), and, when `token` is given, the token
   * itself, in the registry variable and in brew.git's remote URL (git's basic auth).
   */
  readonly tokenMode?: boolean;
  readonly token?: string;
  /** The fleet's policy settings (`HOMEBREW_FORBIDDEN_*`, `HOMEBREW_ALLOWED_TAPS`), as `NAME=value` lines. */
  readonly policy?: readonly string[];
}

/** `https://host[:port][/prefix]`, without a trailing slash; anything else is a configuration error naming `setting`. */
export function parsePublicUrl(value: string, setting: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(`${setting}=${JSON.stringify(value)} is not a URL (e.g. https://bottles.example.org)`);
  }
  // brew.env takes each line literally: no quoting, so no whitespace or control characters may reach it.
  // eslint-disable-next-line no-control-regex
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username || /[\s\u0000-\u001f\u007f"'\\]/.test(value)) {
    throw new ConfigurationError(`${setting}=${JSON.stringify(value)} must be an http(s) URL without query, fragment or credentials`);
  }
  return url.href.replace(/\/+$/, '');
}

/** The settings, in the order a person reads them. */
export function clientSettings(options: ClientSettingsOptions): ReadonlyArray<readonly [string, string]> {
  const base = options.publicUrl.replace(/\/+$/, '');
  const gitRemote = new URL(`${base}/brew.git`);
  if (options.token) {
    gitRemote.username = 'token';
    gitRemote.password = options.token;
  }
  return [
    ['HOMEBREW_API_DOMAIN', `${base}/api`],
    ...(options.tokenMode ? [] : ([['HOMEBREW_BOTTLE_DOMAIN', `${base}/bottles`]] as const)),
    ['HOMEBREW_ARTIFACT_DOMAIN', base],
    ['HOMEBREW_ARTIFACT_DOMAIN_NO_FALLBACK', '1'],
    ...(options.token ? ([['HOMEBREW_DOCKER_REGISTRY_TOKEN', options.token]] as const) : []),
    ['HOMEBREW_NO_ANALYTICS', '1'],
    ...(options.brewGit ? ([['HOMEBREW_BREW_GIT_REMOTE', gitRemote.href]] as const) : []),
    ...(options.policy ?? []).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
  ];
}

/**
 * The settings as a brew.env file, for `/etc/homebrew/brew.env` on every
 * machine of a fleet. bin/brew exports each line that starts with
 * `HOMEBREW_` as it stands (no quotes are removed), and skips the rest.
 */
export function brewEnvFile(options: ClientSettingsOptions, comments: readonly string[] = []): string {
  const lines = clientSettings(options).map(([name, value]) => `${name}=${value}`);
  return [`# brew settings for the mirror at ${options.publicUrl}: save as /etc/homebrew/brew.env`, ...lines, ...comments, ''].join('\n');
}

/** The settings as shell `export` lines, for one machine or a CI job. */
export function shellExports(options: ClientSettingsOptions): string[] {
  return clientSettings(options).map(([name, value]) => `export ${name}=${value}`);
}

/**
 * `/install`: the one line a new machine needs, `curl -fsSL <mirror>/install | bash`.
 * It exports the mirror's settings (so install.sh clones brew.git from the
 * mirror and its closing `brew update` reads the API from it), saves them as
 * the user's brew.env unless one exists (later `brew` runs need them too), and
 * runs the mirror's copy of Homebrew/install's install.sh. Values are the
 * configured public URL's, which `parsePublicUrl` keeps free of quotes and
 * whitespace, so they are safe inside the script.
 */
export function installWrapper(options: ClientSettingsOptions): string {
  const settings = clientSettings(options);
  return [
    '#!/bin/bash',
    `# Installs Homebrew from the mirror at ${options.publicUrl}, and nothing else:`,
    '#   curl -fsSL ' + `${options.publicUrl}/install | bash`,
    '# macOS also needs Apple\'s Command Line Tools (xcode-select --install), which come from Apple.',
    'set -euo pipefail',
    ...settings.map(([name, value]) => `export ${name}=${value}`),
    'config_dir="${XDG_CONFIG_HOME:+${XDG_CONFIG_HOME}/homebrew}"',
    'config_dir="${config_dir:-${HOME}/.homebrew}"',
    'if [ ! -e "${config_dir}/brew.env" ]; then',
    '  mkdir -p "${config_dir}"',
    "  cat > \"${config_dir}/brew.env\" <<'BREW_ENV'",
    ...settings.map(([name, value]) => `${name}=${value}`),
    'BREW_ENV',
    '  echo "==> Saved this mirror\'s settings in ${config_dir}/brew.env (a fleet ships /etc/homebrew/brew.env instead)"',
    'fi',
    `script="$(curl -fsSL ${options.publicUrl}/install.sh)"`,
    '# A person at a terminal answers install.sh\'s prompts; a pipe without one runs it unattended.',
    'if [ -t 1 ] && [ -z "${NONINTERACTIVE:-}" ]; then /bin/bash -c "${script}" < /dev/tty; else NONINTERACTIVE=1 /bin/bash -c "${script}"; fi',
    '# Then the cask command beside brew (docs/casks.md): `brew mirror install --cask NAME`.',
    'for prefix in /opt/homebrew /usr/local /home/linuxbrew/.linuxbrew "${HOME}/.linuxbrew"; do',
    '  if [ -x "${prefix}/bin/brew" ] && [ -w "${prefix}/bin" ]; then',
    `    curl -fsSL ${options.publicUrl}/brew-mirror -o "\${prefix}/bin/brew-mirror" && chmod 755 "\${prefix}/bin/brew-mirror"`,
    '    echo "==> Installed ${prefix}/bin/brew-mirror: casks come through this mirror with brew mirror install --cask NAME"',
    '    break',
    '  fi',
    'done',
    '',
  ].join('\n');
}
