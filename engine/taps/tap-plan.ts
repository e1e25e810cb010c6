import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { announcedLength } from '../casks/cask-plan';
import { Logger } from '../logger';
import { BlobStore } from '../ports';
import { Upstream } from '../upstream/client';
import { GitRunner } from '../brew/git';
import { evaluateTap } from './evaluate-tap';
import { RubySandboxLimits } from './ruby-sandbox';
import { TapSource } from './tap-names';
import { openTapRepository } from './tap-git';
import { TapRecord } from './tap-record';

/** A dry run's figures for one tap, like the bottles' per tag. */
export interface TapPlanRow {
  readonly tap: string;
  /** Formula and cask files evaluated. */
  readonly files: number;
  /** Distinct (url, sha256) downloads they name, every platform together. */
  readonly downloads: number;
  readonly toTransfer: number;
  /** Bytes to download, where the vendor announces a length. */
  readonly bytes: number;
  readonly unknownSizes: number;
}

/**
 * What the tap phase would fetch, without storing anything: each tap is
 * fetched into a temporary repository (on top of the published packs, read
 * only), evaluated, and each download not yet stored is asked for its size
 * (the response is dropped before its body). Files that would not be
 * mirrored (not evaluating, no checksum, a POST) are failures.
 */
export async function planTaps(
  deps: { readonly upstream: Upstream; readonly blobs: BlobStore; readonly log: Logger; readonly git: (remote: string) => GitRunner },
  taps: readonly TapSource[],
  published: TapRecord | undefined,
  limits: { readonly evaluation: RubySandboxLimits; readonly gitTimeoutMs: number },
): Promise<{ taps: TapPlanRow[]; failures: { name: string; reason: string }[] }> {
  const rows: TapPlanRow[] = [];
  const failures: { name: string; reason: string }[] = [];
  for (const tap of taps) {
    const previous = published?.taps.find((t) => t.name === tap.name)?.git;
    const tree = await fs.mkdtemp(path.join(os.tmpdir(), 'tap-plan-'));
    try {
      const repository = await openTapRepository({ blobs: deps.blobs, git: deps.git(tap.remote), log: deps.log, timeoutMs: limits.gitTimeoutMs }, tap.name, tap.remote, previous);
      try {
        await repository.checkoutUpstream(tree);
      } finally {
        await repository.dispose();
      }
      const evaluated = await evaluateTap(tree, limits.evaluation);
      const wanted = new Map(evaluated.flatMap((f) => f.downloads.map((d) => [`${d.url}\n${d.sha256}`, d] as const)));
      const row = { tap: tap.name, files: evaluated.length, downloads: wanted.size, toTransfer: 0, bytes: 0, unknownSizes: 0 };
      for (const d of wanted.values()) {
        if (await deps.blobs.has(d.sha256)) continue;
        row.toTransfer++;
        const size = await announcedLength(deps.upstream, d.url, {});
        if (size instanceof Error) failures.push({ name: tap.name, reason: size.message });
        if (typeof size === 'number') row.bytes += size;
        else row.unknownSizes++;
      }
      rows.push(row);
      for (const f of evaluated) {
        const why = f.errors[0] ? `does not evaluate: ${f.errors[0].message}` : f.problems[0] && `${f.problems[0].download}: ${f.problems[0].reason}`;
        if (why) failures.push({ name: `${tap.name}/${f.file}`, reason: why });
      }
    } catch (error) {
      failures.push({ name: tap.name, reason: (error as Error).message });
    } finally {
      await fs.rm(tree, { recursive: true, force: true });
    }
  }
  return { taps: rows, failures };
}
