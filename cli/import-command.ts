import * as path from 'path';
import { parseArgs } from 'util';
import { UsageError } from '../engine/errors';
import { openBundleFiles } from '../engine/adapters/local/bundle-files';
import { importBundle } from '../engine/transfer/import';
import { localImportDeps } from '../engine/wiring/local';
import { awsImportDeps } from '../engine/wiring/aws';
import { upstreamLimitsFromEnv } from '../engine/upstream/client';
import { ImportDeps } from '../engine/transfer/import';
import { IMPORT_ENV, readEnvironment } from '../engine/runtime-config';
import { Logger, jsonLogger } from '../engine/logger';
import { ENVIRONMENT_NAMES, EnvironmentName } from '../config/environment-config';
import type { Io } from './io';
import { LIMITS, integerOption, numberOption, publicKeyOption } from './options';
import { ProgressMeter, bundleProgress, bundleProgressLine, formatBytes } from './progress';
import { requireWritableStore } from './sync-command';

export const IMPORT_USAGE = `usage: bottles import --store DIR | --env ENV [--public-key PEM] [--max-drop PCT | --force] [--concurrency N] [--json] PATH...`;

export const IMPORT_HELP = `${IMPORT_USAGE}

Imports a bundle written by \`bottles export\` (every volume, in any order)
and publishes its generation, as a sync would, once everything in it is
checked: each API file's signature, each bottle's sha256 against the signed
API, every other file against the manifest, and the manifest against the
files. A bundle that fails any check changes nothing that is served.

  --store DIR        the mirror directory (created if missing)
  --env ENV          instead, an AWS environment (dev, staging, prod): its bucket and state
                     table, named by HBS_BOTTLE_BUCKET and HBS_STATE_TABLE (the stack's
                     environment_config output), with the AWS credentials and region of
                     this shell; run it on a machine inside the network
  --public-key PEM   key the API must be signed with (default: Homebrew's homebrew-1)
  --max-drop PCT     largest share of the published generation's bottles the bundle
                     may drop, 0-100 (default: ${LIMITS.maxDropPercent.default})
  --force            publish an older generation, or whatever the drop
  --concurrency N    small files written at once, ${LIMITS.transferConcurrency.min}-${LIMITS.transferConcurrency.max}
                     (default: ${LIMITS.transferConcurrency.default}; each holds at most 1 MiB)
  --json             print a summary as one JSON line

Importing the same bundle again publishes nothing. An interrupted import,
run again, skips the bottles it already stored. Exit codes: 0 published or
already published; 1 refused (nothing published; the message says why);
2 usage or local error.`;

export async function importCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      store: { type: 'string' },
      env: { type: 'string' },
      'public-key': { type: 'string' },
      'max-drop': { type: 'string' },
      force: { type: 'boolean' },
      concurrency: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout(`${IMPORT_HELP}\n`);
    return 0;
  }
  if (!values.store === !values.env) throw new UsageError('give --store DIR or --env ENV');
  if (positionals.length === 0) throw new UsageError('name the bundle to import (every volume of a split one)');
  if (values.force && values['max-drop'] !== undefined) throw new UsageError('--force and --max-drop exclude each other');
  const maxDropPercent = numberOption(values['max-drop'], '--max-drop', LIMITS.maxDropPercent);
  const concurrency = integerOption(values.concurrency, '--concurrency', LIMITS.transferConcurrency);
  const publicKey = publicKeyOption(values['public-key']);
  const log = jsonLogger({ service: 'bottles-import' }, () => undefined);
  const target = values.env ? awsTarget(values.env, log) : localTarget(path.resolve(values.store!), log);
  const source = openBundleFiles(positionals.map((p) => path.resolve(p)));
  const showProgress = io.isTty && !values.json;
  const meter = new ProgressMeter((line) => io.stderr(`\r${line}\u001b[K`), Date.now, bundleProgressLine('imported'));
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupt.abort(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const summary = await importBundle(target.deps, source.stream, source.check, {
      publicKey,
      force: values.force === true,
      maxDropPercent,
      concurrency,
      maxApiFileBytes: upstreamLimitsFromEnv().maxApiFileBytes,
      signal: interrupt.signal,
      onProgress: showProgress ? (p) => meter.update(bundleProgress(p.bytesDone, p.bytesTotal)) : undefined,
    });
    if (showProgress) io.stderr('\n');
    if (values.json) io.stdout(`${JSON.stringify(summary)}\n`);
    else if (summary.alreadyPublished) io.stdout(`generation ${summary.generation} is already published in ${target.name}: nothing to do\n`);
    else io.stdout(`imported and published generation ${summary.generation}: ${summary.blobs.stored} blobs stored (${formatBytes(summary.bytes.stored)}), ${summary.blobs.alreadyStored} already there\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function localTarget(root: string, log: Logger): { deps: ImportDeps; name: string } {
  requireWritableStore(root);
  return { deps: localImportDeps(root, log), name: root };
}

/** The environment's bucket and table; a bucket of another environment is refused before anything is read. */
function awsTarget(env: string, log: Logger): { deps: ImportDeps; name: string } {
  if (!ENVIRONMENT_NAMES.includes(env as EnvironmentName)) throw new UsageError(`--env must be one of ${ENVIRONMENT_NAMES.join(', ')}, not ${JSON.stringify(env)}`);
  const deps = awsImportDeps(log);
  const { bottleBucket, stateTable } = readEnvironment(IMPORT_ENV);
  const prefix = `${env}-brew-`;
  const foreign = [bottleBucket, stateTable].find((name) => !name.startsWith(prefix));
  if (foreign) throw new UsageError(`--env ${env}, but ${foreign} is not one of ${env}'s resources (they start with ${prefix}); check HBS_BOTTLE_BUCKET and HBS_STATE_TABLE`);
  return { deps, name: `${env} (${bottleBucket}, ${stateTable})` };
}
