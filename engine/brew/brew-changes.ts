import { SYNC_DEFAULTS } from '../defaults';
import { Upstream, readAll, redactUrl } from '../upstream/client';
import { BrewRecord, uncoveredRubies } from './brew-record';
import { GitError, checkGitRemote } from './git';
import { fetchInstallScript } from './install-script';
import { BREW_LIMIT_ENV } from './mirror-brew';
import { positiveIntegersFromEnv } from '../runtime-config';

/** The brew options and limits the check reads: the same the brew phase mirrors with. */
export interface BrewChangeCheck {
  readonly gitUrl?: string;
  readonly installScriptUrl?: string;
  readonly plainHttp?: 'loopback' | 'any';
  readonly maxInstallScriptBytes?: number;
}

/**
 * Why brew upstream is no longer what a published generation serves, or
 * undefined when it is the same. A run whose API is unchanged still publishes
 * when this names a reason (issue #36, fault 1): a new release tag, a moved
 * default branch, a release whose Ruby was missing last time, a new install.sh.
 *
 * It reads brew.git's refs over git's smart HTTP protocol (one GET of the ref
 * advertisement, as `git ls-remote` sends), so it runs where git does not:
 * the orchestrator Lambda. Refs are the whole state of the repository, and
 * the Rubies a release pins are files at its tag, so equal refs mean equal
 * pins.
 */
export async function brewChangeSince(upstream: Upstream, check: BrewChangeCheck, record: BrewRecord | undefined): Promise<string | undefined> {
  if (!record?.brewGit) return 'the published generation has no brew.git';
  const [uncovered] = uncoveredRubies(record);
  if (uncovered) return `release ${uncovered.release} (${uncovered.platform}) was not covered (${uncovered.reason}); trying again`;
  const remote = checkGitRemote(check.gitUrl ?? SYNC_DEFAULTS.brewGitUrl, check.plainHttp ?? 'loopback');
  const advertised = await advertisedRefs(upstream, remote);
  if (advertised.defaultBranch !== record.brewGit.defaultBranch) return `brew.git's default branch is now ${advertised.defaultBranch}`;
  const mirrored = mirroredRefs(parseInfoRefs(record.brewGit.files['info/refs']), record.brewGit.defaultBranch);
  const upstreamRefs = mirroredRefs(advertised.refs, advertised.defaultBranch);
  if (mirrored !== upstreamRefs) return `brew.git's refs moved (${countDifferent(mirrored, upstreamRefs)} changed)`;
  if (record.installScript) {
    const script = await fetchInstallScript(upstream, check.installScriptUrl ?? SYNC_DEFAULTS.installScriptUrl, check.maxInstallScriptBytes ?? positiveIntegersFromEnv(BREW_LIMIT_ENV, process.env).maxInstallScriptBytes ?? SYNC_DEFAULTS.maxInstallScriptBytes);
    if (script.sha256 !== record.installScript.sha256) return `install.sh changed (sha256 ${script.sha256.slice(0, 12)}…)`;
  }
  return undefined;
}

/** `sha ref` pairs, peeled tags (`ref^{}`) included, as both git's ref advertisement and `info/refs` list them. */
type Refs = ReadonlyMap<string, string>;

/** The refs the brew phase mirrors (the default branch and every tag), one sorted line each, for comparison. */
function mirroredRefs(refs: Refs, defaultBranch: string): string {
  return [...refs]
    .filter(([ref]) => ref === `refs/heads/${defaultBranch}` || ref.startsWith('refs/tags/'))
    .map(([ref, sha]) => `${sha} ${ref}`)
    .sort()
    .join('\n');
}

function countDifferent(a: string, b: string): number {
  const left = new Set(a.split('\n'));
  const right = new Set(b.split('\n'));
  return [...left].filter((line) => !right.has(line)).length + [...right].filter((line) => !left.has(line)).length;
}

function parseInfoRefs(text: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [sha, ref] = line.split('\t');
    if (sha && ref) refs.set(ref, sha);
  }
  return refs;
}

/**
 * The remote's refs and default branch. A smart server (GitHub, `git
 * http-backend`) answers `info/refs?service=git-upload-pack` with pkt-lines
 * whose first ref carries `symref=HEAD:refs/heads/<branch>`; a dumb one (a
 * mirror chained to this one) with plain `info/refs`, and `HEAD` beside it.
 */
export async function advertisedRefs(upstream: Upstream, remote: string): Promise<{ refs: Refs; defaultBranch: string }> {
  const base = remote.replace(/\/+$/, '');
  const response = await upstream.get(`${base}/info/refs?service=git-upload-pack`, undefined, false);
  const smart = response.headers.get('content-type') === 'application/x-git-upload-pack-advertisement';
  const body = await readAll(response, upstream.limits.maxApiFileBytes);
  if (!smart) {
    const head = (await readAll(await upstream.get(`${base}/HEAD`, undefined, false), 4096)).toString('utf8');
    return { refs: parseInfoRefs(body.toString('utf8')), defaultBranch: branchOf(/^ref: refs\/heads\/(\S+)\s*$/m.exec(head)?.[1], remote) };
  }
  const refs = new Map<string, string>();
  let defaultBranch: string | undefined;
  for (const line of pktLines(body, remote)) {
    if (line.startsWith('#')) continue;
    const [refPart, capabilities] = line.split('\0');
    const match = /^([0-9a-f]{40}(?:[0-9a-f]{24})?) (\S+)$/.exec(refPart.trimEnd());
    if (!match) throw new GitError(`brew.git remote ${redactUrl(remote)}: unreadable ref advertisement line`);
    defaultBranch ??= /(?:^| )symref=HEAD:refs\/heads\/(\S+)/.exec(capabilities ?? '')?.[1];
    if (match[2] !== 'capabilities^{}') refs.set(match[2], match[1]);
  }
  return { refs, defaultBranch: branchOf(defaultBranch, remote) };
}

function branchOf(branch: string | undefined, remote: string): string {
  if (!branch || !/^[A-Za-z0-9._/-]{1,100}$/.test(branch) || branch.includes('..')) throw new GitError(`brew.git remote ${redactUrl(remote)} names no default branch`);
  return branch;
}

/** The payloads of git's pkt-line framing (four hex digits of length, `0000` a flush), without their newline. */
function* pktLines(body: Buffer, remote: string): Generator<string> {
  let at = 0;
  while (at < body.length) {
    const length = Number.parseInt(body.subarray(at, at + 4).toString('latin1'), 16);
    if (!Number.isInteger(length) || (length !== 0 && length < 4) || at + Math.max(length, 4) > body.length) {
      throw new GitError(`brew.git remote ${redactUrl(remote)}: malformed pkt-line at byte ${at}`);
    }
    if (length === 0) {
      at += 4;
      continue;
    }
    yield body.subarray(at + 4, at + length).toString('utf8').replace(/\n$/, '');
    at += length;
  }
}
