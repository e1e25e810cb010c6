import { UsageError } from '../errors';
import { WantedBottle } from '../homebrew/wanted-bottles';

/** A packages file's entry, as far as selection needs it. */
interface PackageEntry {
  readonly stable_dependencies?: unknown;
  readonly bottle_tag?: unknown;
}

/**
 * A partial mirror: the requested formulae and their runtime dependencies,
 * per platform tag, as that tag's packages file lists them (a dependency can
 * differ between macOS and Linux). Where a tag's packages file points at a
 * formula's `all` bottle, that bottle is selected. Returns `name\ntag` keys.
 */
export function selectFormulae(requested: readonly string[], packagesByTag: ReadonlyMap<string, Record<string, PackageEntry>>): Set<string> {
  const known = new Set<string>();
  for (const packages of packagesByTag.values()) for (const name of Object.keys(packages)) known.add(name);
  const unknown = requested.filter((name) => !known.has(name));
  if (unknown.length > 0) throw new UsageError(`--formulae: no bottled formula named ${unknown.map((n) => JSON.stringify(n)).join(', ')} in the packages files of the mirrored tags`);

  const selected = new Set<string>();
  for (const [tag, packages] of packagesByTag) {
    const seen = new Set<string>();
    const queue = requested.filter((name) => name in packages);
    while (queue.length > 0) {
      const name = queue.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      const entry = packages[name];
      // `bottle_tag` names the chosen bottle's tag when it is not this file's: `:all`, or an older macOS (`:arm64_sequoia`).
      selected.add(`${name}\n${typeof entry.bottle_tag === 'string' && entry.bottle_tag.startsWith(':') ? entry.bottle_tag.slice(1) : tag}`);
      const deps = Array.isArray(entry.stable_dependencies) ? entry.stable_dependencies : [];
      // Dependencies may be tap-qualified (`homebrew/core/openssl@3`); packages files key by short name.
      for (const dep of deps) if (typeof dep === 'string' && dep.split('/').pop()! in packages) queue.push(dep.split('/').pop()!);
    }
  }
  return selected;
}

/** The wanted bottles a selection keeps. */
export function applySelection(wanted: WantedBottle[], selected: ReadonlySet<string>): WantedBottle[] {
  return wanted.filter((b) => selected.has(`${b.name}\n${b.tag}`));
}
