import * as fs from 'fs';
import * as path from 'path';

/**
 * Homebrew facts and samples the tests use, kept inside the repository
 * (`test/fixtures/homebrew/`, sources in its SOURCES.md) so a fresh clone
 * needs nothing beside it.
 */
export const REFERENCE_DIR = path.resolve(__dirname, 'fixtures', 'homebrew');

export function reference(file: string): Buffer {
  return fs.readFileSync(path.join(REFERENCE_DIR, file));
}
