import * as path from 'path';
import { parseArgs } from 'util';
import { UsageError } from '../engine/errors';
import { jsonLogger } from '../engine/logger';
import { BundleFileWriter } from '../engine/adapters/local/bundle-files';
import { exportBundle } from '../engine/transfer/export';
import { localStores } from '../engine/wiring/local';
import type { Io } from './io';
import { LIMITS, integerOption, sizeOption } from './options';
import { ProgressMeter, bundleProgress, bundleProgressLine, formatBytes } from './progress';
import { requireStoreDirectory } from './serve-command';

export const EXPORT_USAGE = `usage: bottles export --store DIR --out PATH [--since GENERATION] [--split SIZE] [--concurrency N] [--json]`;

export const EXPORT_HELP = `${EXPORT_USAGE}

Writes the published generation of DIR as a bundle, for a network with no
way out: a tar archive (manifest first) of the signed API, the bottle and
image indexes, the bottles, brew.git and the portable Rubies, each listed
with its size and sha256. \`bottles import\` on the other side checks all of it.

  --store DIR          the mirror directory to export from
  --out PATH           the bundle to write (never overwritten); with --split,
                       PATH.001, PATH.002, …
  --since GENERATION   only what that earlier generation lacks: the week's change.
                       It must still be kept in DIR; the importing store must have it
  --split SIZE         cut the bundle into volumes of at most SIZE (e.g. 4G, 700M):
                       \`cat PATH.* | tar -t\` lists them as one archive
  --concurrency N      small files read or written at once, ${LIMITS.transferConcurrency.min}-${LIMITS.transferConcurrency.max}
                       (default: ${LIMITS.transferConcurrency.default}; each holds at most 1 MiB)
  --json               print a summary as one JSON line

Exit codes: 0 written; 1 the store cannot be exported (nothing written);
2 usage or local error.`;

export async function exportCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      store: { type: 'string' },
      out: { type: 'string' },
      since: { type: 'string' },
      split: { type: 'string' },
      concurrency: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout(`${EXPORT_HELP}\n`);
    return 0;
  }
  if (!values.store) throw new UsageError('--store DIR is required');
  if (!values.out) throw new UsageError('--out PATH is required');
  const volumeBytes = values.split === undefined ? undefined : sizeOption(values.split, '--split', 0);
  // A volume smaller than one tar block could not hold the manifest's header.
  if (volumeBytes !== undefined && volumeBytes < 1024 * 1024) throw new UsageError(`--split must be at least 1M, not ${JSON.stringify(values.split)}`);
  const concurrency = integerOption(values.concurrency, '--concurrency', LIMITS.transferConcurrency);
  const root = path.resolve(values.store);
  requireStoreDirectory(root);
  const out = path.resolve(values.out);
  const showProgress = io.isTty && !values.json;
  const meter = new ProgressMeter((line) => io.stderr(`\r${line}\u001b[K`), Date.now, bundleProgressLine('exported'));
  const summary = await exportBundle(
    { ...localStores(root), log: jsonLogger({ service: 'bottles-export' }, () => undefined) },
    { since: values.since, volumeBytes, concurrency, onProgress: showProgress ? (p) => meter.update(bundleProgress(p.bytesDone, p.bytesTotal)) : undefined },
    (bytes) => new BundleFileWriter(out, bytes),
  );
  if (showProgress) io.stderr('\n');
  if (values.json) io.stdout(`${JSON.stringify(summary)}\n`);
  else {
    const since = summary.base ? ` (the change since ${summary.base})` : '';
    io.stdout(`exported generation ${summary.generation}${since}: ${summary.files} files and ${summary.blobs} blobs, ${formatBytes(summary.bytes)} in ${summary.volumes.join(', ')}\n`);
  }
  return 0;
}
