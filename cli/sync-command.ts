import { readFileSync } from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { UsageError } from '../engine/errors';
import { HOMEBREW_1_PEM } from '../engine/homebrew/homebrew-1-key';
import { ALL_TAG, KNOWN_PLATFORM_TAGS } from '../engine/homebrew/platform-tags';
import { loadPublicKey } from '../engine/homebrew/signed-api';
import { jsonLogger } from '../engine/logger';
import { DEFAULT_API_URL, SyncSummary, runSync } from '../engine/sync/run-sync';
import { localSyncDeps } from '../engine/wiring/local';
import type { Io } from './io';
import { LIMITS, glueNegativeValues, integerOption, numberOption } from './options';
import { formatBytes, progressLine } from './progress';

export const SYNC_USAGE = `usage: bottles sync --store DIR [--tags TAG,...] [--without-all] [--api-url URL] [--public-key PEM]
                   [--concurrency N] [--max-missing PCT] [--json] [--verbose]`;

export const SYNC_HELP = `${SYNC_USAGE}

Mirrors Homebrew's signed API and the bottles it names into DIR. The new API
is served only once every bottle it names is stored (all or nothing).

  --store DIR         the mirror directory (created if missing)
  --tags TAG,...      platform tags to mirror (default: every tag upstream has).
                      Known: ${KNOWN_PLATFORM_TAGS.join(', ')}, ${ALL_TAG}
  --without-all       with --tags: leave out the \`all\` bottles those platforms
                      fall back to (default: included, brew needs them)
  --api-url URL       where the signed API comes from (default: ${DEFAULT_API_URL})
  --public-key PEM    key the API must be signed with (default: Homebrew's homebrew-1)
  --concurrency N     parallel downloads, ${LIMITS.concurrency.min}-${LIMITS.concurrency.max} (default: ${LIMITS.concurrency.default})
  --max-missing PCT   share of bottles that may be permanently missing (upstream
                      404, digest mismatch) and still publish, 0-100 (default: ${LIMITS.maxMissingPercent.default})
  --json              print one JSON summary line on stdout
  --verbose           JSON logs on stderr

Exit codes: 0 published; 1 the run failed, nothing new was published and the
previous generation stays served; 2 usage or configuration error.`;

const VALUE_OPTIONS = ['store', 'api-url', 'tags', 'public-key', 'concurrency', 'max-missing'];

export async function syncCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: glueNegativeValues(args, VALUE_OPTIONS),
    strict: true,
    options: {
      store: { type: 'string' },
      'api-url': { type: 'string' },
      tags: { type: 'string' },
      'without-all': { type: 'boolean' },
      'public-key': { type: 'string' },
      concurrency: { type: 'string' },
      'max-missing': { type: 'string' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout(`${SYNC_HELP}\n`);
    return 0;
  }
  if (!values.store) throw new UsageError('--store DIR is required');
  const apiUrl = values['api-url'] ?? DEFAULT_API_URL;
  if (!/^https?:\/\//.test(apiUrl)) throw new UsageError(`--api-url must be an http(s) URL, not ${JSON.stringify(apiUrl)}`);
  const tags = values.tags?.split(',').map((t) => t.trim()).filter(Boolean);
  if (tags && (tags.length === 0 || tags.some((t) => !/^[a-z0-9_]+$/.test(t)))) {
    throw new UsageError(`--tags must be a comma list of platform tags (known: ${[...KNOWN_PLATFORM_TAGS, ALL_TAG].join(', ')})`);
  }
  if (values['without-all'] && !tags) throw new UsageError('--without-all needs --tags');
  const concurrency = integerOption(values.concurrency, '--concurrency', LIMITS.concurrency);
  const maxMissingPercent = numberOption(values['max-missing'], '--max-missing', LIMITS.maxMissingPercent);
  let publicKey;
  try {
    publicKey = loadPublicKey(values['public-key'] ? readFileSync(values['public-key']) : HOMEBREW_1_PEM);
  } catch (error) {
    throw new UsageError(`--public-key: cannot load ${values['public-key']}: ${(error as Error).message}`);
  }

  const root = path.resolve(values.store);
  const started = Date.now();
  const showProgress = io.isTty && !values.json;
  const summary: SyncSummary = await runSync(
    localSyncDeps(root, {
      log: jsonLogger({ service: 'bottles-sync' }, values.verbose ? (line) => io.stderr(`${line}\n`) : () => undefined),
      onProgress: showProgress ? (p) => io.stderr(`\r${progressLine(p, Date.now() - started)}\u001b[K`) : undefined,
    }),
    { apiUrl, tags, allFallback: !values['without-all'], publicKey, concurrency, maxMissingPercent },
  );
  if (showProgress) io.stderr('\n');
  if (summary.errorKind === 'usage') throw new UsageError(summary.error ?? 'invalid request');
  report(summary, io, { json: Boolean(values.json), customKey: values['public-key'] !== undefined });
  return summary.published ? 0 : 1;
}

/** The summary: JSON on stdout, or a line on stdout when published and on stderr when not. */
function report(summary: SyncSummary, io: Io, options: { json: boolean; customKey: boolean }): void {
  const hint =
    summary.errorKind === 'verification' && !options.customKey
      ? ' (the API must be signed by Homebrew\'s homebrew-1 key; a mirror of files signed with another key needs --public-key PEM)'
      : '';
  if (options.json) {
    const { runId, published, generation, bottles, bytes, failures, error } = summary;
    io.stdout(`${JSON.stringify({ runId, published, generation: generation ?? null, bottles, bytes, failures, ...(published ? {} : { error: `${error}${hint}` }) })}\n`);
    return;
  }
  const b = summary.bottles;
  if (summary.published) {
    io.stdout(`published generation ${summary.generation}: ${b.transferred} transferred (${formatBytes(summary.bytes.transferred)}), ${b.skipped} already present, ${b.failed} failed\n`);
  } else {
    io.stderr(`bottles: nothing new published: ${summary.error}${hint}\n`);
  }
  for (const f of summary.failures) io.stderr(`  failed ${f.name} ${f.tag}: ${f.reason}\n`);
}
