import { BrewfileSelection, mergeSelections, readBrewfile } from '../engine/brewfile/brewfile';
import { mergeTaps, TapSource } from '../engine/taps/tap-names';
import { tapLimits } from '../engine/sync/tap-phase';

interface Chosen {
  readonly formulae?: string[];
  readonly casks?: string[];
  readonly allowUnpinnedCasks?: string[];
  readonly taps?: TapSource[];
  readonly publicUrl?: string;
}

/**
 * `--brewfile PATH` (repeatable) added to `--formulae`, `--casks` and
 * `--taps`. With a Brewfile the mirror is partial: it holds what the
 * Brewfiles and the flags name (an empty formula list mirrors no formula
 * beyond what casks depend on), never the whole of homebrew/core by default.
 */
export async function withBrewfiles(chosen: Chosen, files: readonly string[]): Promise<Chosen & { readonly unserved: BrewfileSelection['unserved'] }> {
  if (files.length === 0) return { ...chosen, unserved: [] };
  const limits = tapLimits().evaluation;
  const selection = mergeSelections(await Promise.all(files.map((file) => readBrewfile(file, limits))));
  const union = (flag: readonly string[] | undefined, listed: readonly string[]) => [...new Set([...(flag ?? []), ...listed])].sort();
  const casks = union(chosen.casks, selection.casks);
  const taps = mergeTaps([...selection.taps, ...(chosen.taps ?? [])]);
  return {
    ...chosen,
    formulae: union(chosen.formulae, selection.formulae),
    casks: casks.length > 0 ? casks : undefined,
    taps: taps.length > 0 ? taps : undefined,
    unserved: selection.unserved,
  };
}
