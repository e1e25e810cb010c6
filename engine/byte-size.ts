/**
 * Sizes as people write them: `20G`, `512M`, `4GiB`, `1.5T`, or plain bytes.
 * Suffixes are binary (K = 1024), as `du -h` and `split -b` read them.
 */
const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const SIZE = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i;

/** Whole bytes, or undefined when `text` is not a positive size. */
export function parseByteSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim());
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * UNITS[match[2].toUpperCase()]);
  return bytes >= 1 && Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** `21474836480` → `20 GiB`: for messages and docs. */
export function formatByteSize(bytes: number): string {
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    if (bytes >= UNITS[unit]) {
      const value = bytes / UNITS[unit];
      return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}iB`;
    }
  }
  return `${bytes} B`;
}
