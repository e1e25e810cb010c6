import { MirrorError } from '../errors';
import { sha256Hex } from '../digest';
import { Upstream, readAll, redactUrl } from '../upstream/client';

export class InstallScriptError extends MirrorError {
  readonly kind = 'upstream-input';
}

/**
 * Homebrew/install's `install.sh`, byte for byte: it has no signature, so
 * what the mirror serves is exactly what the configured URL served when the
 * generation was made, with its sha256 recorded beside it.
 */
export async function fetchInstallScript(upstream: Upstream, url: string, maxBytes: number): Promise<{ body: Buffer; sha256: string }> {
  const body = await readAll(await upstream.get(url, undefined, false, true), maxBytes);
  // Something that is not a script (an HTML error page answered with 200) would fail on every new machine.
  if (!body.subarray(0, 2).equals(Buffer.from('#!'))) throw new InstallScriptError(`${redactUrl(url)} did not answer with a script (no #! line)`);
  return { body, sha256: sha256Hex(body) };
}
