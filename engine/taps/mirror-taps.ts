import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Logger } from '../logger';
import { BlobStore, ObjectStore } from '../ports';
import { tapRecordKey } from '../store-layout';
import { Upstream, redactUrl } from '../upstream/client';
import { downloadVerified } from '../upstream/verified-download';
import { GitRunner } from '../brew/git';
import { EvaluatedFile, evaluateTap } from './evaluate-tap';
import { RubySandboxLimits } from './ruby-sandbox';
import { TapSource } from './tap-names';
import { openTapRepository } from './tap-git';
import { MirroredTap, TapFileFailure, TapFileRecord, TapRecord } from './tap-record';
import { checkRewrite, downloadKey, rewriteTree } from './tap-rewrite';

export interface TapMirrorDeps {
  readonly upstream: Upstream;
  readonly blobs: BlobStore;
  readonly objects: ObjectStore;
  readonly log: Logger;
  /** git for the taps' repositories (the sync task's image and a workstation have it). */
  readonly git: (remote: string) => GitRunner;
  readonly workDir?: string;
  readonly signal?: AbortSignal;
}

export interface TapMirrorOptions {
  readonly taps: readonly TapSource[];
  /** The mirror's public URL: the rewritten taps name `<publicUrl>/dl/<host>/…`. */
  readonly publicUrl: string;
  /** One evaluation of one tap (every file, every tag). */
  readonly evaluation: RubySandboxLimits;
  /** Largest download accepted (`HBS_MAX_TAP_DOWNLOAD_BYTES`). */
  readonly maxDownloadBytes: number;
  /** Each git command's deadline. */
  readonly gitTimeoutMs: number;
}

/** What the tap phase did, for the run's summary (`--json`, stderr). */
export interface TapSummary {
  readonly taps: number;
  /** Formula and cask files whose every download is mirrored, over all taps. */
  readonly mirrored: number;
  readonly downloaded: { readonly files: number; readonly bytes: number };
  /** Files not mirrored, named `<tap>/<file>`, and taps not mirrored at all. */
  readonly failures: readonly { readonly name: string; readonly reason: string }[];
}

/** The tap phase was stopped by a signal; it recorded nothing. */
export class TapPhaseInterruptedError extends Error {
  constructor() {
    super('tap phase interrupted');
  }
}

/**
 * Mirrors every selected tap: its repository, every download its formulae and
 * casks name for any platform (each checked against its sha256), and a
 * rewritten copy, published append-only, that points brew at the mirror for
 * exactly those downloads. A file that cannot be mirrored is named with its
 * reason and never counted as mirrored; a tap that cannot be reached keeps its
 * previous copy. Writes the run's tap record.
 */
export async function mirrorTaps(deps: TapMirrorDeps, runId: string, options: TapMirrorOptions, previous: TapRecord | undefined): Promise<TapSummary> {
  const log = deps.log.child({ runId, phase: 'taps' });
  const taps: MirroredTap[] = [];
  const failures: { tap: string; reason: string }[] = [];
  const downloaded = { files: 0, bytes: 0 };
  for (const tap of options.taps) {
    if (deps.signal?.aborted) throw new TapPhaseInterruptedError();
    const before = previous?.taps.find((t) => t.name === tap.name);
    try {
      taps.push(await mirrorTap(deps, tap, options, before, downloaded, log));
    } catch (error) {
      if (deps.signal?.aborted) throw new TapPhaseInterruptedError();
      const reason = (error as Error).message;
      failures.push({ tap: tap.name, reason: before ? `${reason} (serving the copy of ${before.mirroredAt})` : reason });
      log.warn('tap not mirrored', { tap: tap.name, reason, kept: before?.mirroredAt });
      if (before) taps.push(before);
    }
  }
  const record: TapRecord = { taps, failures };
  await deps.objects.putObject(tapRecordKey(runId), Buffer.from(JSON.stringify(record)));
  const summary: TapSummary = {
    taps: taps.length,
    mirrored: taps.reduce((n, t) => n + t.mirrored.length, 0),
    downloaded,
    failures: [...failures.map((f) => ({ name: f.tap, reason: f.reason })), ...taps.flatMap((t) => t.failures.map((f) => ({ name: `${t.name}/${f.file}`, reason: f.reason })))],
  };
  log.info('taps mirrored', { taps: summary.taps, mirrored: summary.mirrored, downloaded: downloaded.files, bytes: downloaded.bytes, failures: summary.failures.length });
  return summary;
}

async function mirrorTap(deps: TapMirrorDeps, tap: TapSource, options: TapMirrorOptions, previous: MirroredTap | undefined, downloaded: { files: number; bytes: number }, log: Logger): Promise<MirroredTap> {
  const gitDeps = { blobs: deps.blobs, git: deps.git(tap.remote), log, timeoutMs: options.gitTimeoutMs, workDir: deps.workDir, signal: deps.signal };
  const repository = await openTapRepository(gitDeps, tap.name, tap.remote, previous?.git);
  const tree = await fs.mkdtemp(path.join(deps.workDir ?? os.tmpdir(), 'tap-tree-'));
  try {
    await repository.checkoutUpstream(tree);
    const evaluated = await evaluateTap(tree, options.evaluation, deps.signal);
    const fileFailures = new Map<string, string>();
    for (const file of evaluated) {
      const why = file.errors[0] ? `does not evaluate${file.errors[0].line ? ` (line ${file.errors[0].line})` : ''}: ${file.errors[0].message}` : file.problems[0] && `${file.problems[0].download}: ${file.problems[0].reason}`;
      if (why) fileFailures.set(file.file, why);
    }
    const { served, records } = await fetchDownloads(deps, evaluated, fileFailures, options.maxDownloadBytes, downloaded);
    const hosts = new Set(records.map((r) => new URL(r.url).host));
    await rewriteTree(tree, hosts, options.publicUrl);
    for (const [file, reason] of checkRewrite(await evaluateTap(tree, options.evaluation, deps.signal), served, options.publicUrl)) if (!fileFailures.has(file)) fileFailures.set(file, reason);
    const { record: git } = await repository.publish(tree);
    const failures: TapFileFailure[] = [...fileFailures].map(([file, reason]) => ({ file, reason })).sort((a, b) => (a.file < b.file ? -1 : 1));
    for (const failure of failures) log.warn('tap file not mirrored', { tap: tap.name, ...failure });
    return {
      name: tap.name,
      git,
      downloads: records,
      failures,
      mirrored: evaluated.map((f) => f.file).filter((f) => !fileFailures.has(f)),
      mirroredAt: new Date().toISOString(),
    };
  } finally {
    await fs.rm(tree, { recursive: true, force: true });
    await repository.dispose();
  }
}

/**
 * Fetches each distinct (url, sha256) the tap names into the blob store, which
 * keeps a file only if it hashes to that sha256. A failed download fails every
 * file that names it.
 */
async function fetchDownloads(
  deps: TapMirrorDeps,
  evaluated: readonly EvaluatedFile[],
  fileFailures: Map<string, string>,
  maxBytes: number,
  downloaded: { files: number; bytes: number },
): Promise<{ served: Map<string, string>; records: TapFileRecord[] }> {
  const wanted = new Map<string, { url: string; sha256: string; files: string[] }>();
  for (const file of evaluated) {
    for (const d of file.downloads) {
      const entry = wanted.get(`${d.url}\n${d.sha256}`) ?? { url: d.url, sha256: d.sha256, files: [] };
      if (!entry.files.includes(file.file)) entry.files.push(file.file);
      wanted.set(`${d.url}\n${d.sha256}`, entry);
    }
  }
  const served = new Map<string, string>();
  const records: TapFileRecord[] = [];
  for (const { url, sha256, files } of wanted.values()) {
    if (deps.signal?.aborted) throw new TapPhaseInterruptedError();
    const key = downloadKey(url);
    const clash = served.get(key);
    const outcome = clash !== undefined && clash !== sha256
      ? { reason: `${redactUrl(url)} is named with two sha256s (${clash} and ${sha256}): one of them cannot verify` }
      : await fetchOne(deps, url, sha256, maxBytes, downloaded).catch((error: Error) => ({ reason: error.message }));
    if ('reason' in outcome) {
      for (const file of files) if (!fileFailures.has(file)) fileFailures.set(file, outcome.reason);
      continue;
    }
    if (clash === undefined) {
      served.set(key, sha256);
      records.push({ key, url: redactUrl(url), sha256, size: outcome.size, files });
    }
  }
  return { served, records };
}

async function fetchOne(deps: TapMirrorDeps, url: string, sha256: string, maxBytes: number, downloaded: { files: number; bytes: number }): Promise<{ size: number } | { reason: string }> {
  const outcome = await downloadVerified(deps, url, sha256, { maxBytes, setting: 'HBS_MAX_TAP_DOWNLOAD_BYTES', expected: `the ${sha256} the tap names` });
  if ('size' in outcome && outcome.downloaded) {
    downloaded.files++;
    downloaded.bytes += outcome.size;
  }
  return outcome;
}
