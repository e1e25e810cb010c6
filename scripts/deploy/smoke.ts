import { imageName } from '../../engine/homebrew/bottle-names';
import { isSha256 } from '../../engine/store-layout';

/** GET/HEAD with a status and a body; tests may pass their own. */
export type HttpGet = (url: string, method?: 'GET' | 'HEAD') => Promise<{ status: number; body: string }>;

export const fetchGet: HttpGet = async (url, method = 'GET') => {
  // Redirects are not followed: in redirect mode a bottle answers 302 to a presigned S3 URL, which is the check.
  const response = await fetch(url, { method, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
  return { status: response.status, body: method === 'HEAD' ? '' : await response.text() };
};

export interface SmokeResult {
  readonly ok: string[];
  readonly problems: string[];
  /** The published generation, when there is one. */
  readonly generation?: string;
}

/**
 * What a client sees, through the public URL: `/health`, `/status` with a
 * published generation, and one bottle (HEAD on the registry layout, for a
 * bottle named in a packages file of that generation). `requireGeneration:
 * false` (right after a first deploy, while the first sync runs) reports a
 * missing generation instead of failing on it.
 */
export async function smoke(baseUrl: string, get: HttpGet = fetchGet, options: { requireGeneration?: boolean } = {}): Promise<SmokeResult> {
  const ok: string[] = [];
  const problems: string[] = [];
  const base = baseUrl.replace(/\/+$/, '');
  const health = await get(`${base}/health`).catch((error: Error) => ({ status: 0, body: error.message }));
  if (health.status === 200) ok.push(`${base}/health: 200`);
  else problems.push(`${base}/health: ${health.status || health.body}`);

  const status = await get(`${base}/status`).catch(() => ({ status: 0, body: '' }));
  let generation: { id: string; files: string[] } | null = null;
  try {
    generation = status.status === 200 ? (JSON.parse(status.body) as { generation: { id: string; files: string[] } | null }).generation : null;
  } catch {
    problems.push(`${base}/status: not JSON`);
  }
  if (!generation) {
    const message = `${base}/status: no generation published yet`;
    if (options.requireGeneration === false) ok.push(`${message} (the first sync is running)`);
    else problems.push(message);
    return { ok, problems };
  }
  ok.push(`${base}/status: generation ${generation.id}`);

  const packagesFile = generation.files.find((f) => f.startsWith('internal/packages.'));
  if (!packagesFile) {
    problems.push(`generation ${generation.id} has no packages file to pick a bottle from`);
    return { ok, problems, generation: generation.id };
  }
  const packages = await get(`${base}/api/${packagesFile}`);
  const bottle = packages.status === 200 ? firstBottle(packages.body) : undefined;
  if (!bottle) {
    problems.push(`${base}/api/${packagesFile}: ${packages.status === 200 ? 'names no bottle' : packages.status}`);
    return { ok, problems, generation: generation.id };
  }
  const url = `${base}/v2/homebrew/core/${imageName(bottle.name)}/blobs/sha256:${bottle.sha256}`;
  const head = await get(url, 'HEAD');
  if (head.status === 200 || head.status === 302 || head.status === 307) ok.push(`HEAD ${url}: ${head.status}`);
  else problems.push(`HEAD ${url}: ${head.status}`);
  return { ok, problems, generation: generation.id };
}

/** The first formula with a bottle in a signed packages file (the JWS payload is the JSON document as a string). */
function firstBottle(jws: string): { name: string; sha256: string } | undefined {
  try {
    const payload = JSON.parse(JSON.parse(jws).payload) as { formulae?: Record<string, { bottle_checksum?: string }> };
    for (const [name, entry] of Object.entries(payload.formulae ?? {})) {
      if (typeof entry.bottle_checksum === 'string' && isSha256(entry.bottle_checksum)) return { name, sha256: entry.bottle_checksum };
    }
  } catch {
    return undefined;
  }
  return undefined;
}
