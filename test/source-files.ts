import { readdirSync, statSync } from 'fs';
import * as path from 'path';

/** Every `.ts` file under `dir`, recursively: what the source-reading tests (architecture, defaults, docs) scan. */
export function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : name.endsWith('.ts') ? [full] : [];
  });
}
