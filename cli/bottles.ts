import { readFileSync } from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { HOMEBREW_1_PEM } from '../engine/homebrew/homebrew-1-key';
import { loadPublicKey } from '../engine/homebrew/signed-api';
import { jsonLogger } from '../engine/logger';
import { DEFAULT_API_URL, SyncProgress, SyncSummary, runSync } from '../engine/sync/run-sync';
import { BatchedAccessLog } from '../engine/serve/access-log';
import { MirrorServer } from '../engine/serve/server';
import { DEFAULT_RATE_LIMIT } from '../engine/ports';
import { localServerDeps, localSyncDeps } from '../engine/wiring/local';
import { UsageError, errorKind } from '../engine/errors';

/**
 * `bottles`: the mirror on one machine, with a directory as its store.
 *
 * Exit codes: 0 published, 1 the run failed and nothing new was published,
 * 2 usage or configuration error.
 */

export const USAGE = `usage: bottles sync --store DIR [--api-url URL] [--tags t1,t2] [--public-key PEM]
                    [--concurrency N] [--max-missing PCT] [--json] [--verbose]
       bottles serve --store DIR [--host 127.0.0.1] [--port 8080|0] [--mode redirect|proxy]
                     [--rate-limit PER_SECOND] [--burst N]`;

export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly isTty: boolean;
}


const realIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTty: Boolean(process.stderr.isTTY),
};

function positiveNumber(value: string | undefined, flag: string, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (integer && (!Number.isInteger(n) || n < 1))) {
    throw new UsageError(`${flag} must be a ${integer ? 'positive integer' : 'non-negative number'}, not ${JSON.stringify(value)}`);
  }
  return n;
}

const formatBytes = (n: number): string => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
};

/** One progress line: bottles, bytes, rate and ETA. */
export function progressLine(p: SyncProgress, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (p.bytesDone / elapsedMs) * 1000 : 0;
  const remaining = Math.max(0, p.bytesTotal - p.bytesDone);
  const eta = rate > 0 ? Math.round(remaining / rate) : undefined;
  const etaText = eta === undefined ? '--' : `${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s`;
  return `bottles ${p.bottlesDone}/${p.bottlesTotal}  ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}  ${formatBytes(rate)}/s  ETA ${etaText}`;
}

async function sync(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      store: { type: 'string' },
      'api-url': { type: 'string' },
      tags: { type: 'string' },
      'public-key': { type: 'string' },
      concurrency: { type: 'string' },
      'max-missing': { type: 'string' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
    },
  });
  if (!values.store) throw new UsageError('--store DIR is required');
  const apiUrl = values['api-url'] ?? DEFAULT_API_URL;
  if (!/^https?:\/\//.test(apiUrl)) throw new UsageError(`--api-url must be an http(s) URL, not ${JSON.stringify(apiUrl)}`);
  const tags = values.tags?.split(',').map((t) => t.trim()).filter(Boolean);
  if (tags && (tags.length === 0 || tags.some((t) => !/^[a-z0-9_]+$/.test(t)))) throw new UsageError(`--tags must be a comma list of platform tags`);
  const concurrency = positiveNumber(values.concurrency, '--concurrency', 4, true);
  const maxMissingPercent = positiveNumber(values['max-missing'], '--max-missing', 1, false);
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
    { apiUrl, tags, publicKey, concurrency, maxMissingPercent },
  );
  if (showProgress) io.stderr('\n');

  if (values.json) {
    const { runId, published, generation, bottles, bytes, failures } = summary;
    io.stdout(`${JSON.stringify({ runId, published, generation: generation ?? null, bottles, bytes, failures })}\n`);
  } else {
    const b = summary.bottles;
    io.stdout(
      summary.published
        ? `published generation ${summary.generation}: ${b.transferred} transferred (${formatBytes(summary.bytes.transferred)}), ${b.skipped} already present, ${b.failed} failed\n`
        : `nothing new published: ${summary.error}\n`,
    );
    for (const f of summary.failures) io.stdout(`  failed ${f.name} ${f.tag}: ${f.reason}\n`);
  }
  return summary.published ? 0 : 1;
}

async function serve(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      store: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      mode: { type: 'string' },
      'rate-limit': { type: 'string' },
      burst: { type: 'string' },
    },
  });
  if (!values.store) throw new UsageError('--store DIR is required');
  const mode = values.mode ?? 'proxy';
  if (mode !== 'proxy' && mode !== 'redirect') throw new UsageError(`--mode must be proxy or redirect, not ${JSON.stringify(mode)}`);
  if (mode === 'redirect') throw new UsageError('--mode redirect needs an S3 store that can presign URLs; a directory store serves in proxy mode');
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!/^\d+$/.test(values.port ?? '8080') || port > 65535) throw new UsageError(`--port must be 0-65535 (0 picks a free port), not ${JSON.stringify(values.port)}`);
  const ratePerSecond = positiveNumber(values['rate-limit'], '--rate-limit', DEFAULT_RATE_LIMIT.ratePerSecond, false);
  if (ratePerSecond === 0) throw new UsageError('--rate-limit must be above 0 requests per second');
  const root = path.resolve(values.store);
  const accessLog = new BatchedAccessLog({ service: 'bottles-serve' }, (chunk) => io.stderr(chunk.toString()));
  const server = new MirrorServer(
    localServerDeps(root, {
      log: jsonLogger({ service: 'bottles-serve' }, (line) => io.stderr(`${line}\n`)),
      accessLog: accessLog.log,
      rateLimit: { ratePerSecond, burst: positiveNumber(values.burst, '--burst', DEFAULT_RATE_LIMIT.burst, true) },
    }),
  );
  const host = values.host ?? '127.0.0.1';
  const bound = await server.listen(port, host);
  io.stdout(`serving ${root} on http://${host}:${bound} (HOMEBREW_API_DOMAIN=http://${host}:${bound}/api HOMEBREW_BOTTLE_DOMAIN=http://${host}:${bound}/bottles)\n`);
  await new Promise<void>((resolve) => {
    const stop = () =>
      void server.stop().then(() => {
        accessLog.flush();
        resolve();
      });
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}

export async function main(argv: string[], io: Io = realIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'sync') return await sync(rest, io);
    if (command === 'serve') return await serve(rest, io);
    if (command === '--help' || command === '-h' || command === 'help') {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : 'no command given');
  } catch (error) {
    // Classified by kind (engine/errors.ts): the caller's mistakes exit 2 with the usage.
    const usage = errorKind(error) === 'usage' || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (!usage) throw error;
    io.stderr(`bottles: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`bottles: ${(error as Error).stack ?? error}\n`);
      process.exitCode = 1;
    },
  );
}
