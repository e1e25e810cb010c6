import { KeyObject } from 'crypto';
import { SYNC_DEFAULTS } from '../defaults';
import { ApiVerificationError, verifySignedPayload, verifySignedPayloadPieces } from '../homebrew/signed-api';
import { JsonShapeError, topLevelMembers } from '../homebrew/json-elements';
import { ALL_TAG } from '../homebrew/platform-tags';
import { ApiShapeError, SkippedFormula, WantedBottle, formulaEntries, wantedBottles } from '../homebrew/wanted-bottles';
import { Logger } from '../logger';
import { PublishedGeneration, RunFailure } from '../ports';
import { CORE_API_FILES, PhaseDeps, SyncAbortedError, SyncOptions, UnknownTagError, packagesFile } from './contracts';
import { licenseForbidden } from '../policy/licenses';
import { applySelection, selectFormulae } from './selection';
import { UpstreamError, readAll } from '../upstream/client';
import { WantedCaskFile, selectCasks } from '../casks/cask-selection';
import { CaskFailure } from '../casks/cask-record';

/**
 * The verify phase: every API file is fetched and its signature checked
 * before any of it is trusted; each must hold what its name says; a new API
 * that drops far more bottles than the published one is refused.
 */

/**
 * formula.jws.json, verified without ever holding its payload whole: its
 * entries come from the payload decoded in pieces (`verifySignedPayloadPieces`).
 */
async function fetchFormulaFile(deps: PhaseDeps, apiUrl: string, key: KeyObject): Promise<{ bytes: Buffer; pieces: () => Iterable<string> }> {
  const response = await deps.upstream.get(`${apiUrl}/formula.jws.json`, undefined, false);
  const bytes = await readAll(response, deps.upstream.limits.maxApiFileBytes);
  return { bytes, pieces: verifySignedPayloadPieces('formula.jws.json', bytes, key) };
}

async function fetchApiFile(deps: PhaseDeps, apiUrl: string, file: string, key: KeyObject, retainBytes = true): Promise<{ bytes: Buffer; payload: string }> {
  const response = await deps.upstream.get(`${apiUrl}/${file}`, undefined, false);
  const max = deps.upstream.limits.maxApiFileBytes;
  if (retainBytes) {
    const bytes = await readAll(response, max);
    return { bytes, payload: verifySignedPayload(file, bytes, key) };
  }
  // Not kept: decoded in a frame of its own, so the buffer can be collected before the envelope is parsed.
  const text = await readAll(response, max).then((bytes) => bytes.toString('utf8'));
  return { bytes: NOT_RETAINED, payload: verifySignedPayload(file, text, key) };
}

function parsePayload(file: string, payload: string): unknown {
  try {
    return JSON.parse(payload);
  } catch (error) {
    throw new ApiVerificationError(file, `signed payload is not valid JSON (${(error as Error).message})`);
  }
}

/** Stands in for the bytes of a verified file a dry run does not keep. */
const NOT_RETAINED = Buffer.alloc(0);

export interface VerifiedApi {
  /** API file path → verified bytes (empty when not retained), core files and one packages file per tag. */
  readonly apiFiles: Map<string, Buffer>;
  readonly wanted: WantedBottle[];
  /**
   * A partial mirror's (`--formulae`): every bottle of the mirrored tags the signed API names,
   * selected or not (what pull-through may fetch). Undefined for a whole mirror: `wanted` is all of it.
   */
  readonly named?: WantedBottle[];
  /** Formulae left out as unusable; reported, and counted against `maxMissingPercent`. */
  readonly skipped: SkippedFormula[];
  /** Packages file → its signed `metadata.generated_at` (Unix seconds), where it has one. */
  readonly packagesGeneratedAt: Map<string, number>;
  /** With `options.casks`: the cask files to mirror, and the selected casks a tag has no usable entry for. */
  readonly casks?: { readonly files: WantedCaskFile[]; readonly failures: CaskFailure[] };
}

/** A new API that names far fewer bottles than the published one is refused unless the caller allows the drop. */
export function refuseLargeDrop(publishedGeneration: PublishedGeneration | undefined, wanted: number, maxDropPercent: number): void {
  const published = publishedGeneration?.bottles;
  if (!published || maxDropPercent >= 100) return;
  const dropPercent = ((published - wanted) / published) * 100;
  if (dropPercent > maxDropPercent) {
    throw new SyncAbortedError(
      `the new API names ${wanted} bottles, ${dropPercent.toFixed(1)}% fewer than the ${published} published (limit ${maxDropPercent}%); ` +
        'not publishing it (if the drop is intended, raise --max-drop or pass --force)',
    );
  }
}

/**
 * Each signed file must hold what its name says: the signature covers the
 * payload, not the file name, so a correctly signed cask list served as
 * `formula.jws.json` would otherwise verify.
 */
export function checkPayloadShape(file: string, document: unknown): void {
  const fail = (what: string) => {
    throw new ApiShapeError(`${file}: ${what}`);
  };
  const entries = (key: 'name' | 'token') => {
    if (!Array.isArray(document)) fail('is not a JSON array');
    const wrong = (document as unknown[]).findIndex((e) => typeof (e as Record<string, unknown>)?.[key] !== 'string');
    if (wrong >= 0) fail(`entry #${wrong} has no "${key}" (is this the right file?)`);
  };
  if (file === 'formula.jws.json') entries('name');
  else if (file === 'cask.jws.json') entries('token');
  else if (file.endsWith('_tap_migrations.jws.json')) {
    if (typeof document !== 'object' || document === null || Array.isArray(document)) fail('is not a JSON object');
  } else {
    const tag = /^internal\/packages\.(.+)\.jws\.json$/.exec(file)?.[1];
    const payload = document as { metadata?: { bottle_tag?: unknown }; formulae?: unknown };
    if (typeof payload?.formulae !== 'object' || payload.formulae === null || Array.isArray(payload.formulae)) fail('has no "formulae" object');
    if (tag && payload.metadata?.bottle_tag !== tag) fail(`is for bottle tag ${JSON.stringify(payload.metadata?.bottle_tag)}, not ${JSON.stringify(tag)}`);
  }
}

/**
 * A packages file must be a `formulae` object for the requested tag. Only
 * `metadata` is parsed: the whole file is a few MB of JSON whose object graph
 * planning does not need. Returns its `generated_at` (Unix seconds), if any.
 */
export function checkPackagesShape(file: string, tag: string, payload: string): number | undefined {
  let members;
  try {
    members = topLevelMembers(payload);
  } catch (error) {
    if (error instanceof JsonShapeError) throw new ApiShapeError(`${file}: ${error.message}`);
    throw error;
  }
  const formulae = members.get('formulae');
  if (!formulae || payload.charCodeAt(formulae.start) !== 0x7b /* { */) throw new ApiShapeError(`${file}: has no "formulae" object`);
  const metadata = members.get('metadata');
  const parsed = metadata ? (parsePayload(file, payload.slice(metadata.start, metadata.end)) as { bottle_tag?: unknown; generated_at?: unknown } | null) : undefined;
  if (parsed?.bottle_tag !== tag) throw new ApiShapeError(`${file}: is for bottle tag ${JSON.stringify(parsed?.bottle_tag)}, not ${JSON.stringify(tag)}`);
  return typeof parsed?.generated_at === 'number' && Number.isFinite(parsed.generated_at) ? parsed.generated_at : undefined;
}

/**
 * A correctly signed packages file older than the published one's is a
 * replay (a stale cache, or someone in the path holding back updates): the
 * signature says who wrote it, not when it was served. Refused unless forced.
 */
export function refuseReplay(published: PublishedGeneration | undefined, generatedAt: ReadonlyMap<string, number>, force: boolean): void {
  const before = published?.packagesGeneratedAt;
  if (!before || force) return;
  const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
  for (const [file, at] of generatedAt) {
    const publishedAt = before[file];
    if (publishedAt !== undefined && at < publishedAt) {
      throw new SyncAbortedError(`${file} was generated at ${iso(at)}, before the published one (${iso(publishedAt)}); a replayed file is not published (if it is intended, pass --force)`);
    }
  }
}

/** Fetches and verifies every API file before trusting any of it, and derives the wanted bottles. */
export async function verifyApi(deps: PhaseDeps, options: SyncOptions, log: Logger, retainBytes = true): Promise<VerifiedApi> {
  const apiUrl = (options.apiUrl ?? SYNC_DEFAULTS.apiUrl).replace(/\/+$/, '');
  const apiFiles = new Map<string, Buffer>();
  const packagesGeneratedAt = new Map<string, number>();
  let formulaPieces: () => Iterable<string> = () => [];
  for (const file of CORE_API_FILES) {
    try {
      if (file === 'formula.jws.json') {
        // Checked entry by entry below; its bytes are needed for the pieces, and dropped after if not retained.
        const { bytes, pieces } = await fetchFormulaFile(deps, apiUrl, options.publicKey);
        formulaPieces = pieces;
        apiFiles.set(file, bytes);
        continue;
      }
      const { bytes, payload } = await fetchApiFile(deps, apiUrl, file, options.publicKey, retainBytes);
      checkPayloadShape(file, parsePayload(file, payload));
      apiFiles.set(file, bytes);
    } catch (error) {
      if (error instanceof UpstreamError) throw new SyncAbortedError(`cannot fetch ${file}: ${error.message}`);
      throw error;
    }
  }
  const tagFilter = options.tags ? new Set(options.tags) : undefined;
  const skipped: SkippedFormula[] = [];
  // A formula the fleet's policy forbids (by name or license) is not mirrored, in a whole mirror or as anyone's dependency.
  const forbidden = new Set(options.policy?.forbiddenFormulae ?? []);
  const entries = withoutForbiddenLicenses(formulaEntries(formulaPieces()), options.policy?.forbiddenLicenses ?? [], forbidden);
  const wanted = wantedBottles(entries, tagFilter, options.allFallback ?? true, skipped).filter((b) => !forbidden.has(b.name));
  formulaPieces = () => [];
  if (!retainBytes) apiFiles.set('formula.jws.json', NOT_RETAINED);
  for (const s of skipped) log.warn('formula skipped', { name: s.name, reason: s.reason });
  const tags = options.tags ?? [...new Set(wanted.map((b) => b.tag))].sort();
  // Only a partial mirror reads the packages files' contents (their dependencies).
  const packagesByTag = new Map<string, Record<string, { stable_dependencies?: unknown; bottle_tag?: unknown }>>();
  const casksByTag = new Map<string, Record<string, unknown>>();
  for (const tag of tags.filter((t) => t !== ALL_TAG)) {
    const file = packagesFile(tag);
    try {
      const { bytes, payload } = await fetchApiFile(deps, apiUrl, file, options.publicKey, retainBytes);
      const generatedAt = checkPackagesShape(file, tag, payload);
      if (generatedAt !== undefined) packagesGeneratedAt.set(file, generatedAt);
      if (options.formulae || options.casks) {
        const parsed = parsePayload(file, payload) as { formulae: Record<string, { stable_dependencies?: unknown }>; casks?: unknown };
        packagesByTag.set(tag, parsed.formulae);
        if (options.casks) casksByTag.set(tag, typeof parsed.casks === 'object' && parsed.casks !== null ? (parsed.casks as Record<string, unknown>) : {});
      }
      apiFiles.set(file, bytes);
    } catch (error) {
      // Tags taken from old bottles may have no packages file; configured tags must have one.
      if (error instanceof UpstreamError && error.status === 404 && !options.tags) {
        log.info('no packages file upstream for tag; skipped', { tag });
        continue;
      }
      if (error instanceof UpstreamError && error.status === 404) throw new UnknownTagError(tag);
      if (error instanceof UpstreamError) throw new SyncAbortedError(`cannot fetch ${file}: ${error.message}`);
      throw error;
    }
  }
  const casks = options.casks ? selectCasks(options.casks, casksByTag) : undefined;
  if (casks) log.info('casks selected', { requested: options.casks!.length, files: casks.files.length, gaps: casks.gaps.length, formulae: casks.formulae.length });
  const caskResult = casks && { files: casks.files, failures: casks.gaps };
  if (options.formulae) {
    // A cask's formula dependencies are mirrored with it (a whole mirror has them already).
    const selected = selectFormulae([...new Set([...options.formulae, ...(casks?.formulae ?? [])])], packagesByTag);
    const partial = applySelection(wanted, selected);
    const kept = skipped.filter((f) => [...selected].some((key) => key.startsWith(`${f.name}\n`)));
    log.info('partial mirror', { requested: options.formulae.length, bottles: partial.length, of: wanted.length });
    return { apiFiles, wanted: partial, named: wanted, skipped: kept, packagesGeneratedAt, ...(caskResult ? { casks: caskResult } : {}) };
  }
  log.info('API verified', { files: apiFiles.size, bottles: wanted.length, tags: tags.length, skipped: skipped.length });
  return { apiFiles, wanted, skipped, packagesGeneratedAt, ...(caskResult ? { casks: caskResult } : {}) };
}

/** One permanent failure per bottle a skipped formula lists, so each counts against `maxMissingPercent`. */
export function skippedFailures(skipped: readonly SkippedFormula[]): RunFailure[] {
  return skipped.flatMap((s) => s.tags.map((tag) => ({ name: s.name, tag, reason: `skipped: ${s.reason}`, permanent: true })));
}

/** The formula entries, less those whose license the policy forbids (their names are added to `forbidden`). */
function* withoutForbiddenLicenses(entries: Iterable<unknown>, licenses: readonly string[], forbidden: Set<string>): Generator<unknown, void, undefined> {
  for (const entry of entries) {
    const formula = entry as { name?: unknown; license?: unknown };
    if (licenses.length > 0 && typeof formula.name === 'string' && licenseForbidden(formula.license, licenses)) forbidden.add(formula.name);
    else yield entry;
  }
}
