import * as path from 'path';
import { parseArgs } from 'util';
import { UsageError } from '../engine/errors';
import { jsonLogger } from '../engine/logger';
import { DEFAULT_HOUSEKEEPING, runHousekeeping } from '../engine/sync/housekeeping';
import { localHousekeeping, localStores } from '../engine/wiring/local';
import type { Io } from './io';
import { LIMITS, integerOption } from './options';
import { formatBytes } from './progress';
import { requireWritableStore } from './sync-command';

export const GC_USAGE = `usage: bottles gc --store DIR [--keep N] [--orphan-days D] [--run-days D] [--json]`;

export const GC_HELP = `${GC_USAGE}

Housekeeping of a mirror directory, as the bucket's lifecycle rules do in AWS
(every sync that publishes also runs it with the defaults):

  --store DIR         the mirror directory
  --keep N            generations to keep: the published one and the newest
                      before it, ${LIMITS.keepGenerations.min}-${LIMITS.keepGenerations.max} (default: ${DEFAULT_HOUSEKEEPING.keepGenerations})
  --orphan-days D     delete orphaned bottles this many days after they were marked,
                      unless a kept generation names them (default: ${DEFAULT_HOUSEKEEPING.orphanGraceDays})
  --run-days D        delete run records older than this (default: ${DEFAULT_HOUSEKEEPING.runRecordDays})
  --json              print the report as one JSON line

Staged plans under runs/ and partial files are always removed. It takes the
run lease, so it never runs beside a sync. Exit codes: 0 done; 1 a sync is
running (nothing removed); 2 usage or local error.`;

export async function gcCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      store: { type: 'string' },
      keep: { type: 'string' },
      'orphan-days': { type: 'string' },
      'run-days': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout(`${GC_HELP}\n`);
    return 0;
  }
  if (!values.store) throw new UsageError('--store DIR is required');
  const policy = {
    keepGenerations: integerOption(values.keep, '--keep', LIMITS.keepGenerations),
    orphanGraceDays: integerOption(values['orphan-days'], '--orphan-days', LIMITS.orphanGraceDays),
    runRecordDays: integerOption(values['run-days'], '--run-days', LIMITS.runRecordDays),
  };
  const root = path.resolve(values.store);
  requireWritableStore(root);
  const log = jsonLogger({ service: 'bottles-gc' }, () => undefined);
  const outcome = await runHousekeeping({ state: localStores(root).state, housekeeping: localHousekeeping(root), log }, policy);
  if (!outcome.ran) {
    io.stderr(`bottles: ${outcome.reason}\n`);
    return 1;
  }
  const r = outcome.report;
  if (values.json) io.stdout(`${JSON.stringify(r)}\n`);
  else {
    io.stdout(
      `kept ${r.generationsKept.length} generation(s), removed ${r.generationsRemoved.length}; ` +
        `removed ${r.orphansRemoved} orphaned bottle(s) (${formatBytes(r.bytesFreed)}), ${r.stagedRunsRemoved} staged plan(s), ${r.runRecordsRemoved} run record(s)\n`,
    );
  }
  return 0;
}
