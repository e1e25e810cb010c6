import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { UsageError } from '../errors';
import { KNOWN_PLATFORM_TAGS } from '../homebrew/platform-tags';
import { RubySandboxLimits, rubyFile, runRuby } from '../taps/ruby-sandbox';
import { TapSource, mergeTaps, parseTap } from '../taps/tap-names';
import { NotServedEntry } from './not-served';

/**
 * A Brewfile as a mirror selection (issue #34): its `brew`, `cask` and `tap`
 * entries, for every platform a fleet runs, and the entries the mirror cannot
 * serve. The Brewfile is evaluated as Ruby, as brew bundle evaluates it (in
 * the same sandbox as taps, `ruby/brewfile-shim.rb`): `if OS.mac?` guards and
 * the like are answered per platform tag and the union is kept.
 */
export interface BrewfileSelection {
  /** homebrew/core formulae (`brew "name"`, `brew "homebrew/core/name"`). */
  readonly formulae: string[];
  /** Casks of the signed API (`cask "token"`). */
  readonly casks: string[];
  /** `tap` lines, and the taps `brew "user/repo/name"` and `cask "user/repo/token"` name. */
  readonly taps: TapSource[];
  /** Entries the mirror cannot serve (`mas`, `vscode`, `go`, …): listed in the report and on the page, not fatal. */
  readonly unserved: readonly NotServedEntry[];
}

interface EvaluatedEntry {
  readonly type: string;
  readonly name: string;
  readonly line: number | null;
  readonly url: string | null;
}

/** Largest Brewfile read (a fleet's is a few KB). */
const MAX_BREWFILE_BYTES = 1024 * 1024;

/** Reads and evaluates one Brewfile; a line it cannot evaluate is a usage error naming the file and line. */
export async function readBrewfile(file: string, limits: RubySandboxLimits): Promise<BrewfileSelection> {
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat?.isFile()) throw new UsageError(`Brewfile ${file} does not exist or is not a file`);
  if (stat.size > MAX_BREWFILE_BYTES) throw new UsageError(`Brewfile ${file} is ${stat.size} bytes, over the ${MAX_BREWFILE_BYTES}-byte limit`);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'brewfile-'));
  let out: string;
  try {
    await fs.copyFile(file, path.join(dir, 'Brewfile'));
    out = await runRuby(rubyFile('brewfile-shim.rb'), { SHIM_TAGS: KNOWN_PLATFORM_TAGS.join(',') }, dir, limits);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  const parsed = JSON.parse(out) as { entries?: EvaluatedEntry[]; error?: { message: string; line: number | null } };
  if (parsed.error) throw new UsageError(`${file}${parsed.error.line ? `:${parsed.error.line}` : ''}: ${parsed.error.message}`);
  return selectionOf(file, parsed.entries ?? []);
}

function selectionOf(file: string, entries: readonly EvaluatedEntry[]): BrewfileSelection {
  const formulae = new Set<string>();
  const casks = new Set<string>();
  const taps: TapSource[] = [];
  const unserved: NotServedEntry[] = [];
  const at = (entry: EvaluatedEntry) => `${file}${entry.line ? `:${entry.line}` : ''}`;
  for (const entry of entries) {
    try {
      if (entry.type === 'tap') taps.push(parseTap(entry.name, entry.url ?? undefined));
      else if (entry.type === 'brew' || entry.type === 'cask') {
        const parts = entry.name.split('/');
        if (parts.length !== 1 && parts.length !== 3) throw new UsageError(`${entry.type} ${JSON.stringify(entry.name)} is neither a name nor user/repo/name`);
        const core = parts.length === 1 || (parts[0] === 'homebrew' && (parts[1] === 'core' || parts[1] === 'cask'));
        if (!core) taps.push(parseTap(`${parts[0]}/${parts[1]}`));
        else (entry.type === 'brew' ? formulae : casks).add(parts[parts.length - 1]);
      } else unserved.push({ type: entry.type, name: entry.name, file, line: entry.line });
    } catch (error) {
      throw new UsageError(`${at(entry)}: ${(error as Error).message}`);
    }
  }
  return { formulae: [...formulae].sort(), casks: [...casks].sort(), taps: mergeTaps(taps), unserved };
}

/** Several Brewfiles (`--brewfile` repeated) as one selection. */
export function mergeSelections(selections: readonly BrewfileSelection[]): BrewfileSelection {
  return {
    formulae: [...new Set(selections.flatMap((s) => s.formulae))].sort(),
    casks: [...new Set(selections.flatMap((s) => s.casks))].sort(),
    taps: mergeTaps(selections.flatMap((s) => s.taps)),
    unserved: selections.flatMap((s) => s.unserved),
  };
}
