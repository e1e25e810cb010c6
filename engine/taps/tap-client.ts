import { tapRepositoryPath } from './tap-names';

/**
 * What a Mac runs to use a mirrored tap (TAPS.md: brew 6.0.18 trusts a tap
 * with a custom remote by its URL, so it is trusted after tapping), and the
 * Brewfile line a fleet can use unchanged. Shown on the page and in brew.env.
 */
export function tapClientLines(publicUrl: string, tap: string): { readonly command: string; readonly brewfile: string; readonly url: string } {
  const url = `${publicUrl.replace(/\/+$/, '')}/${tapRepositoryPath(tap)}`;
  return { url, command: `brew tap ${tap} ${url} && brew trust ${tap}`, brewfile: `tap "${tap}", "${url}", trusted: true` };
}

/** The comment block brew.env carries for the mirrored taps (brew reads `#` lines as comments). */
export function tapEnvComments(publicUrl: string, taps: readonly string[]): string[] {
  if (taps.length === 0) return [];
  return [
    '# Third-party taps on this mirror (docs/taps.md): tap each once, then trust it',
    ...taps.map((tap) => `#   ${tapClientLines(publicUrl, tap).command}`),
    '# or, in a Brewfile:',
    ...taps.map((tap) => `#   ${tapClientLines(publicUrl, tap).brewfile}`),
    '# HOMEBREW_ALLOWED_TAPS and HOMEBREW_FORBIDDEN_TAPS, if set, must name these URLs.',
  ];
}
