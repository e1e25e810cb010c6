import { UsageError } from '../errors';

/** A third-party tap to mirror: brew's `user/repo` name and where its git repository is. */
export interface TapSource {
  /** `user/repo`, lowercase, as brew names it (`brew tap user/repo`). */
  readonly name: string;
  /** The upstream repository: `https://github.com/<user>/homebrew-<repo>` unless given. */
  readonly remote: string;
}

/** brew's tap name rule: a user and a repository, letters, digits, `_`, `-` and `.` (no `homebrew-` prefix). */
const TAP_NAME = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/;

/**
 * One `--taps` entry or Brewfile `tap` line: `user/repo` or `user/repo=URL`.
 * The `homebrew-` prefix brew strips is stripped here too, so `acme/homebrew-tools`
 * and `acme/tools` are one tap.
 */
export function parseTap(spec: string, remote?: string): TapSource {
  const [rawName, ...rest] = spec.trim().split('=');
  const url = remote ?? (rest.length > 0 ? rest.join('=') : undefined);
  const match = TAP_NAME.exec(rawName);
  if (!match || match[1].includes('..') || match[2].includes('..')) throw new UsageError(`not a tap name: ${JSON.stringify(rawName)} (expected user/repo)`);
  const user = match[1].toLowerCase();
  const repo = match[2].toLowerCase().replace(/^homebrew-/, '');
  if (user === 'homebrew' && (repo === 'core' || repo === 'cask')) throw new UsageError(`${user}/${repo} is mirrored from the signed API, not as a tap`);
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`tap ${user}/${repo}: not a URL: ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new UsageError(`tap ${user}/${repo}: only http(s) remotes are mirrored, not ${parsed.protocol}`);
  }
  return { name: `${user}/${repo}`, remote: url ?? `https://github.com/${user}/homebrew-${repo}` };
}

/** Every tap of a comma-separated `--taps` list, each name once (the last URL given for a name wins). */
export function parseTapList(list: string): TapSource[] {
  return mergeTaps(list.split(',').filter((s) => s.trim() !== '').map((spec) => parseTap(spec)));
}

const defaultRemote = (name: string): string => `https://github.com/${name.replace('/', '/homebrew-')}`;

/** Taps from several sources, one per name; a given URL wins over the default one, and a later URL over an earlier. */
export function mergeTaps(taps: readonly TapSource[]): TapSource[] {
  const byName = new Map<string, TapSource>();
  for (const tap of taps) {
    const earlier = byName.get(tap.name);
    if (!earlier || tap.remote !== defaultRemote(tap.name)) byName.set(tap.name, tap);
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The path the mirror serves a tap's rewritten repository at: `taps/<user>/<repo>.git`. */
export const tapRepositoryPath = (name: string): string => `taps/${name}.git`;
