import { KNOWN_PLATFORM_TAGS } from '../homebrew/platform-tags';
import { isSha256 } from '../store-layout';
import { RubySandboxLimits, RubySandboxError, rubyFile, runRuby } from './ruby-sandbox';

/** One download a tap file names for some platform tags: what brew would fetch and check. */
export interface TapDownload {
  /** `stable`, `resource`, `patch`, `bottle` (formulae) or `cask`. */
  readonly kind: 'stable' | 'resource' | 'patch' | 'bottle' | 'cask';
  readonly url: string;
  readonly sha256: string;
  /** The resource's name, or the bottle's tag. */
  readonly name: string | null;
  /** The platform tags that fetch it. */
  readonly tags: readonly string[];
}

/** A download the tap names that the mirror cannot verify (a git source, `:no_check`, a POST), and why. */
export interface TapDownloadProblem {
  readonly download: string;
  readonly reason: string;
  readonly tags: readonly string[];
}

/** What evaluating one formula or cask file for every tag found. */
export interface EvaluatedFile {
  /** Path in the tap, e.g. `Formula/terraform.rb`. */
  readonly file: string;
  readonly kind: 'formula' | 'cask';
  /** The formula's or cask's name (the file's base name). */
  readonly name: string;
  readonly downloads: readonly TapDownload[];
  readonly problems: readonly TapDownloadProblem[];
  /** Evaluation errors, with the line and the tags they happened for: the file is not mirrored. */
  readonly errors: readonly { readonly message: string; readonly line: number | null; readonly tags: readonly string[] }[];
}

/**
 * Evaluates every formula and cask file of the tap checked out in `dir`, once
 * per platform tag brew knows, with the DSL shim (`ruby/tap-shim.rb`). A
 * download whose sha256 is not a digest is turned into a problem here, so no
 * caller ever fetches against a malformed checksum.
 */
export async function evaluateTap(dir: string, limits: RubySandboxLimits, signal?: AbortSignal): Promise<EvaluatedFile[]> {
  const out = await runRuby(rubyFile('tap-shim.rb'), { SHIM_TAGS: KNOWN_PLATFORM_TAGS.join(',') }, dir, limits, signal);
  let parsed: { files: EvaluatedFile[] };
  try {
    parsed = JSON.parse(out) as { files: EvaluatedFile[] };
  } catch {
    throw new RubySandboxError(`the tap evaluation printed no JSON (${out.length} bytes)`);
  }
  return parsed.files.map((file) => ({
    ...file,
    downloads: file.downloads.filter((d) => isSha256(d.sha256.toLowerCase())).map((d) => ({ ...d, sha256: d.sha256.toLowerCase() })),
    problems: [
      ...file.problems,
      ...file.downloads.filter((d) => !isSha256(d.sha256.toLowerCase())).map((d) => ({ download: `${d.kind} ${d.url}`, reason: `sha256 ${JSON.stringify(d.sha256)} is not a digest`, tags: d.tags })),
    ],
  }));
}
