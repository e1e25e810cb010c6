import { isSha256 } from '../store-layout';
import { MirrorError } from '../errors';

/**
 * Which cask files a run mirrors (issue #33): the selected casks and the casks
 * they depend on, for every mirrored tag, read from that tag's signed
 * `internal/packages.<tag>.jws.json` (`casks`: brew 6 installs from there, with
 * the tag's variations already applied; CASKS.md).
 */
export interface WantedCaskFile {
  readonly token: string;
  readonly tag: string;
  readonly version: string;
  /** `url_args[0]`: what brew downloads, and the string its cache key hashes. */
  readonly url: string;
  /** The signed sha256, or undefined for `sha256 :no_check` (nothing to verify against). */
  readonly sha256?: string;
  /** `url_kwargs` as signed: user agent, headers, referer, cookies, POST data. */
  readonly urlKwargs: Readonly<Record<string, unknown>>;
  /** The name clients save it under: the URL path's last segment. */
  readonly fileName: string;
}

/** A selected cask that has no usable entry for a tag, and why. */
export interface CaskSelectionGap {
  readonly token: string;
  readonly tag: string;
  readonly reason: string;
  /** A malformed signed entry is the same on every run. */
  readonly refused: true;
}

export class UnknownCaskError extends MirrorError {
  readonly kind = 'usage';
}

/** A cask token, as Homebrew names them (`firefox`, `firefox@developer-edition`, `font-fira-code`). */
const TOKEN = /^[a-z0-9][a-z0-9@._+-]{0,127}$/;

interface CaskEntry {
  version?: unknown;
  sha256?: unknown;
  url_args?: unknown;
  url_kwargs?: unknown;
  depends_on_args?: unknown;
}

/** `homebrew/cask/foo` or `foo` → `foo`; anything else is no token. */
const bareToken = (name: string): string | undefined => {
  const token = name.split('/').pop() ?? '';
  return TOKEN.test(token) ? token : undefined;
};

/** The names one `depends_on` key lists (a string or an array of strings). */
function dependsOn(entry: CaskEntry, key: ':cask' | ':formula'): string[] {
  const args = entry.depends_on_args;
  if (typeof args !== 'object' || args === null) return [];
  const value = (args as Record<string, unknown>)[key];
  const names = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  return names.map((n) => n.split('/').pop()!).filter(Boolean);
}

/**
 * The files of `tokens` and their cask dependencies, per tag, and the formulae
 * they depend on (the caller adds those to the bottles). A token no tag knows
 * is a usage error; a tag that lacks a cask (macOS-only on Linux) is not.
 */
export function selectCasks(
  tokens: readonly string[],
  casksByTag: ReadonlyMap<string, Readonly<Record<string, unknown>>>,
): { files: WantedCaskFile[]; gaps: CaskSelectionGap[]; formulae: string[] } {
  for (const token of tokens) if (!TOKEN.test(token)) throw new UnknownCaskError(`--casks: ${JSON.stringify(token)} is not a cask token`);
  const unknown = tokens.filter((t) => ![...casksByTag.values()].some((casks) => Object.prototype.hasOwnProperty.call(casks, t)));
  if (unknown.length > 0) throw new UnknownCaskError(`--casks: no mirrored tag's packages file names ${unknown.join(', ')}`);
  const files: WantedCaskFile[] = [];
  const gaps: CaskSelectionGap[] = [];
  const formulae = new Set<string>();
  for (const [tag, casks] of casksByTag) {
    const seen = new Set<string>();
    const pending = [...tokens];
    while (pending.length > 0) {
      const token = pending.shift()!;
      if (seen.has(token)) continue;
      seen.add(token);
      const raw = Object.prototype.hasOwnProperty.call(casks, token) ? (casks[token] as CaskEntry) : undefined;
      if (!raw) continue; // not for this platform
      for (const dependency of dependsOn(raw, ':cask')) if (bareToken(dependency)) pending.push(bareToken(dependency)!);
      for (const formula of dependsOn(raw, ':formula')) formulae.add(formula);
      const file = caskFile(token, tag, raw);
      if ('reason' in file) gaps.push(file);
      else files.push(file);
    }
  }
  return { files, gaps, formulae: [...formulae].sort() };
}

function caskFile(token: string, tag: string, entry: CaskEntry): WantedCaskFile | CaskSelectionGap {
  const gap = (reason: string): CaskSelectionGap => ({ token, tag, reason, refused: true });
  const url = Array.isArray(entry.url_args) && typeof entry.url_args[0] === 'string' ? entry.url_args[0] : undefined;
  if (!url) return gap('its entry has no url');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return gap('its url is not a URL');
  }
  const sha = entry.sha256;
  if (sha !== ':no_check' && !(typeof sha === 'string' && isSha256(sha))) return gap(`its sha256 is malformed (${JSON.stringify(sha)?.slice(0, 80)})`);
  const kwargs = typeof entry.url_kwargs === 'object' && entry.url_kwargs !== null ? (entry.url_kwargs as Record<string, unknown>) : {};
  const last = decodeURIComponent(parsed.pathname.split('/').pop() ?? '');
  const version = typeof entry.version === 'string' ? entry.version : String(entry.version ?? '');
  const fileName = /^[A-Za-z0-9][A-Za-z0-9._+@-]{0,200}$/.test(last) ? last : `${token}-${version}`;
  return { token, tag, version, url, ...(sha === ':no_check' ? {} : { sha256: sha as string }), urlKwargs: kwargs, fileName };
}

/** The sha256 of every cask in a verified packages payload (`casks`: token → entry); `:no_check` ones have none. */
export function signedCaskDigests(payload: string): string[] {
  const casks = (JSON.parse(payload) as { casks?: unknown }).casks;
  if (typeof casks !== 'object' || casks === null) return [];
  return Object.values(casks as Record<string, { sha256?: unknown }>)
    .map((entry) => entry?.sha256)
    .filter((sha): sha is string => typeof sha === 'string' && isSha256(sha));
}
