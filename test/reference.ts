import * as fs from 'fs';
import * as path from 'path';

/** `../shared/reference` beside the repository: Homebrew facts and samples (read-only). */
export const REFERENCE_DIR = path.resolve(__dirname, '..', '..', 'shared', 'reference');

export function reference(file: string): Buffer {
  const full = path.join(REFERENCE_DIR, file);
  if (!fs.existsSync(full)) {
    throw new Error(`reference file ${full} is missing: the tests need ../shared/reference beside the repository`);
  }
  return fs.readFileSync(full);
}
