import { createHash } from 'crypto';
import { createReadStream, createWriteStream, promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { Readable } from 'stream';
import { Logger } from '../logger';
import { BlobStore, ObjectStore } from '../ports';
import { caskRecordKey } from '../store-layout';
import { Upstream } from '../upstream/client';
import { downloadVerified, openWithinLimit } from '../upstream/verified-download';
import { CaskFailure, CaskFileRecord, CaskRecord } from './cask-record';
import { caskRequest } from './cask-request';
import { WantedCaskFile } from './cask-selection';

export interface CaskMirrorDeps {
  readonly upstream: Upstream;
  readonly blobs: BlobStore;
  readonly objects: ObjectStore;
  readonly log: Logger;
  /** Where an unpinned (`:no_check`) file is hashed before it is stored. Default: the OS temp directory. */
  readonly workDir?: string;
  /**
   * Ends the phase (SIGTERM in the sync task, Ctrl-C locally): it throws and
   * writes no record, so the casks it did not reach are not reported as
   * failures of a run that was only stopped; a successor runs it again.
   */
  readonly signal?: AbortSignal;
}

/** The cask phase was stopped by a signal; it recorded nothing. */
export class CaskPhaseInterruptedError extends Error {
  constructor() {
    super('cask phase interrupted');
  }
}

export interface CaskMirrorOptions {
  /** `:no_check` casks the operator names (`--allow-unpinned-casks`): stored with the sha256 the sync saw. */
  readonly allowUnpinned?: readonly string[];
  /** Largest cask file accepted. Default `SYNC_DEFAULTS.maxCaskBytes`. */
  readonly maxBytes: number;
}

/** What the cask phase did, for the run's summary (`--json`, stderr). */
export interface CaskSummary {
  /** Files the generation serves (one per cask and tag). */
  readonly files: number;
  /** Files downloaded this run, and their bytes (a file already stored is not downloaded again). */
  readonly downloaded: { readonly files: number; readonly bytes: number };
  readonly failures: readonly CaskFailure[];
}

/**
 * Downloads every wanted cask file the store lacks, keeping it only when its
 * sha256 is the signed one (the blob store refuses any other bytes), and
 * writes the run's cask record. A cask that cannot be mirrored (wrong bytes,
 * a download the sync cannot make, a vendor error) is a failure of that cask
 * only: the run publishes everything else and names it.
 */
export async function mirrorCasks(deps: CaskMirrorDeps, runId: string, wanted: readonly WantedCaskFile[], failures: CaskFailure[], options: CaskMirrorOptions): Promise<CaskSummary> {
  const log = deps.log.child({ runId, phase: 'casks' });
  const allowed = new Set(options.allowUnpinned ?? []);
  const files: CaskFileRecord[] = [];
  const downloaded = { files: 0, bytes: 0 };
  // One download per (url, sha256): every tag that shares a file shares the stored blob.
  const done = new Map<string, { sha256: string; size: number } | { reason: string; refused?: true }>();
  for (const file of wanted) {
    if (deps.signal?.aborted) throw new CaskPhaseInterruptedError();
    const key = `${file.url}\n${file.sha256 ?? ':no_check'}`;
    let outcome = done.get(key);
    if (!outcome) {
      outcome = await fetchOne(deps, file, allowed, options.maxBytes, downloaded).catch((error: Error) => ({ reason: error.message }));
      done.set(key, outcome);
    }
    // A download cut by the signal is the stop, not the cask's failure.
    if (deps.signal?.aborted) throw new CaskPhaseInterruptedError();
    if ('reason' in outcome) {
      failures.push({ token: file.token, tag: file.tag, reason: outcome.reason, ...(outcome.refused ? { refused: true as const } : {}) });
      log.warn('cask not mirrored', { token: file.token, tag: file.tag, reason: outcome.reason });
      continue;
    }
    files.push({ token: file.token, tag: file.tag, version: file.version, url: file.url, sha256: outcome.sha256, size: outcome.size, fileName: file.fileName, ...(file.sha256 ? {} : { unpinned: true as const }) });
  }
  const record: CaskRecord = { files, failures };
  await deps.objects.putObject(caskRecordKey(runId), Buffer.from(JSON.stringify(record)));
  log.info('casks mirrored', { files: files.length, downloaded: downloaded.files, bytes: downloaded.bytes, failures: failures.length });
  return { files: files.length, downloaded, failures };
}

async function fetchOne(
  deps: CaskMirrorDeps,
  file: WantedCaskFile,
  allowed: ReadonlySet<string>,
  maxBytes: number,
  downloaded: { files: number; bytes: number },
): Promise<{ sha256: string; size: number } | { reason: string; refused?: true }> {
  const admitted = admit(file, allowed);
  if ('refused' in admitted) return { reason: admitted.refused, refused: true };
  const limit = { maxBytes, setting: 'HBS_MAX_CASK_BYTES' };
  if (file.sha256) {
    const outcome = await downloadVerified(deps, file.url, file.sha256, { ...limit, expected: `the signed ${file.sha256}`, headers: admitted.headers });
    if ('reason' in outcome) return outcome;
    if (outcome.downloaded) {
      downloaded.files++;
      downloaded.bytes += outcome.size;
    }
    return { sha256: file.sha256, size: outcome.size };
  }
  const opened = await openWithinLimit(deps.upstream, file.url, limit, admitted.headers);
  return 'reason' in opened ? opened : storeUnpinned(deps, opened.body, downloaded);
}

/** The request headers for `file`, or why the sync will not download it at all (a dry run reports the same). */
export function admit(file: WantedCaskFile, allowUnpinned: ReadonlySet<string>): { readonly headers: Record<string, string> } | { readonly refused: string } {
  if (!file.sha256 && !allowUnpinned.has(file.token)) {
    return { refused: 'sha256 :no_check: Homebrew signs no checksum for it, so the mirror cannot vouch for it (name it in --allow-unpinned-casks to mirror it unverified)' };
  }
  const request = caskRequest(file.urlKwargs);
  return 'unsupported' in request ? { refused: `its download needs ${request.unsupported}` } : request;
}

/** A `:no_check` file: hashed on its way to a temporary file, then stored under the sha256 the sync saw. */
async function storeUnpinned(deps: CaskMirrorDeps, body: AsyncIterable<Uint8Array>, downloaded: { files: number; bytes: number }): Promise<{ sha256: string; size: number }> {
  const dir = await fs.mkdtemp(path.join(deps.workDir ?? os.tmpdir(), 'cask-'));
  try {
    const temp = path.join(dir, 'file');
    const hash = createHash('sha256');
    let size = 0;
    await pipeline(
      Readable.from(body),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(temp),
    );
    const sha256 = hash.digest('hex');
    if (!(await deps.blobs.has(sha256))) await deps.blobs.put(createReadStream(temp), { sha256, length: size });
    downloaded.files++;
    downloaded.bytes += size;
    return { sha256, size };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
