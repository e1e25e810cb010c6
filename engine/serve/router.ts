import { HEALTH_PATH } from '../runtime-config';
import { isGitPackFile, isSha256 } from '../store-layout';
import { HttpError, httpErrors } from './http-errors';

/**
 * What a request path asks for, decided from the raw path and the request's
 * generations alone: no socket, no store. `route` is the metric and log name;
 * `kind` picks the route module's handler.
 */
export type RouteMatch =
  | { readonly kind: 'bottle'; readonly route: 'bottle'; readonly sha256: string; readonly encoded: string }
  | { readonly kind: 'bottle_by_name'; readonly route: 'bottle'; readonly name: string }
  | { readonly kind: 'api'; readonly route: 'api'; readonly file: string }
  | { readonly kind: 'manifest'; readonly route: 'manifest' | 'registry_manifest'; readonly image: string; readonly ref: string }
  | { readonly kind: 'manifest_by_digest'; readonly route: 'manifest' | 'registry_manifest'; readonly image: string; readonly digest: string }
  | { readonly kind: 'registry_tags'; readonly route: 'registry_tags'; readonly image: string }
  | { readonly kind: 'registry_blob'; readonly route: 'registry_blob'; readonly sha256: string }
  | { readonly kind: 'registry_base'; readonly route: 'registry_base' }
  | { readonly kind: 'health'; readonly route: 'health' }
  | { readonly kind: 'health_detailed'; readonly route: 'health_detailed' }
  | { readonly kind: 'metrics'; readonly route: 'metrics' }
  | { readonly kind: 'status'; readonly route: 'status' }
  | { readonly kind: 'brew_env'; readonly route: 'brew_env' }
  | { readonly kind: 'brew_git_file'; readonly route: 'brew_git'; readonly file: BrewGitFile }
  | { readonly kind: 'brew_git_pack'; readonly route: 'brew_git'; readonly name: string }
  | { readonly kind: 'install_script'; readonly route: 'install' }
  | { readonly kind: 'install'; readonly route: 'install' }
  | { readonly kind: 'home'; readonly route: 'home' }
  | { readonly kind: 'cask'; readonly route: 'cask'; readonly sha256: string }
  | { readonly kind: 'brew_mirror'; readonly route: 'install' }
  | { readonly kind: 'tap_git_file'; readonly route: 'tap_git'; readonly tap: string; readonly file: BrewGitFile }
  | { readonly kind: 'tap_git_pack'; readonly route: 'tap_git'; readonly tap: string; readonly name: string }
  | { readonly kind: 'tap_download'; readonly route: 'tap_download'; readonly key: string }
  /** A malformed (400) or unknown (404) path; `route` names what it was taken for. */
  | { readonly kind: 'error'; readonly route: string; readonly error: HttpError };

/** The part of a generation the router reads: brew's encoded bottle names. */
export interface RoutableGeneration {
  readonly bottlesByEncodedName: ReadonlyMap<string, string>;
}

/** The files of git's dumb HTTP protocol besides packs, as `git update-server-info` writes them. */
export type BrewGitFile = 'HEAD' | 'info/refs' | 'objects/info/packs';
const BREW_GIT_PACKS = '/brew.git/objects/pack/';

const IMAGE = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/;
const REF = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

const encodesSlash = (segment: string | undefined): boolean => segment !== undefined && segment.includes('%') && /%2f|%5c/i.test(segment);

/** Decodes one path segment exactly as brew encoded it; anything odd is a 400, never a file access. */
function decodeSegment(raw: string): string {
  let decoded = raw;
  try {
    if (raw.includes('%')) decoded = decodeURIComponent(raw);
  } catch {
    throw httpErrors.badRequest('malformed percent-encoding');
  }
  // eslint-disable-next-line no-control-regex
  if (decoded === '' || decoded === '.' || decoded === '..' || /[\/\\\u0000-\u001f\u007f]/.test(decoded)) {
    throw httpErrors.badRequest('malformed path');
  }
  return decoded;
}

/** Paths answered by one fixed route each (a Map: a path is never an object key). */
const FIXED: ReadonlyMap<string, RouteMatch> = new Map<string, RouteMatch>([
  [HEALTH_PATH, { kind: 'health', route: 'health' }],
  [`${HEALTH_PATH}/detailed`, { kind: 'health_detailed', route: 'health_detailed' }],
  ['/metrics', { kind: 'metrics', route: 'metrics' }],
  ['/status', { kind: 'status', route: 'status' }],
  ['/brew.env', { kind: 'brew_env', route: 'brew_env' }],
  ['/', { kind: 'home', route: 'home' }],
  ['/install', { kind: 'install', route: 'install' }],
  ['/install.sh', { kind: 'install_script', route: 'install' }],
  ['/brew-mirror', { kind: 'brew_mirror', route: 'install' }],
  ['/brew.git/HEAD', { kind: 'brew_git_file', route: 'brew_git', file: 'HEAD' }],
  ['/brew.git/info/refs', { kind: 'brew_git_file', route: 'brew_git', file: 'info/refs' }],
  ['/brew.git/objects/info/packs', { kind: 'brew_git_file', route: 'brew_git', file: 'objects/info/packs' }],
  ['/v2/', { kind: 'registry_base', route: 'registry_base' }],
  ['/v2', { kind: 'registry_base', route: 'registry_base' }],
]);

/**
 * A request URL as the routes see it, for a mirror whose public URL has a
 * path (`https://tools.example.org/brew`, behind a path-routing proxy):
 * `<mount>/…` is `/…`, and `/v2<mount>/…` is `/v2/…`, the form brew 6.0.18
 * builds from an artifact domain with a path (it puts the path after `/v2/`).
 * Newer brew (Homebrew/brew PR #23062) keeps a domain that ends in `/v2` as it
 * is, so `<mount>/v2/…` arrives as the first form. A URL outside the mount
 * is left as it is: a proxy that strips the path sends the routes' own paths.
 */
export function unmount(url: string, mount: string): string {
  if (mount === '') return url;
  if (url === mount || url.startsWith(`${mount}/`) || url.startsWith(`${mount}?`)) {
    const rest = url.slice(mount.length);
    return rest.startsWith('/') ? rest : `/${rest}`;
  }
  if (url.startsWith(`/v2${mount}/`)) return `/v2/${url.slice(mount.length + 4)}`;
  return url;
}

/** The path of a public URL, without its trailing slash (`''` for a mirror at the root). */
export const mountPathOf = (publicUrl: string | undefined): string => (publicUrl ? new URL(publicUrl).pathname.replace(/\/+$/, '') : '');

/**
 * Maps a raw request URL to a route. Never throws: a malformed or unknown
 * path is a match of kind `error`, so the caller records it like any other.
 */
export function matchRoute(url: string, current?: RoutableGeneration, previous?: RoutableGeneration): RouteMatch {
  let route = 'unknown';
  try {
    const query = url.indexOf('?');
    const raw = query === -1 ? url : url.slice(0, query);
    // The busiest route first, without splitting: `/bottles/<one segment>`.
    if (raw.startsWith('/bottles/') && raw.indexOf('/', 9) === -1) {
      route = 'bottle';
      const encoded = raw.slice(9);
      // brew's own encoding of a known name needs no decoding; anything else is decoded (and checked) first.
      const known = current?.bottlesByEncodedName.get(encoded) ?? previous?.bottlesByEncodedName.get(encoded);
      if (known !== undefined) return { kind: 'bottle', route: 'bottle', sha256: known, encoded };
      return { kind: 'bottle_by_name', route: 'bottle', name: decodeSegment(encoded) }; // rejects an encoded slash, like every segment
    }
    const parts = raw.split('/');
    // An encoded slash in the route-selecting segments could make one route look like another.
    if (raw.includes('//') || encodesSlash(parts[1]) || encodesSlash(parts[2])) throw httpErrors.badRequest('malformed path');
    const fixed = FIXED.get(raw);
    if (fixed) return fixed;
    if (raw.startsWith('/brew.git/')) {
      route = 'brew_git';
      const name = raw.startsWith(BREW_GIT_PACKS) ? raw.slice(BREW_GIT_PACKS.length) : '';
      // Everything else (loose objects, alternates) is absent: every object is in a pack.
      if (!isGitPackFile(name)) throw httpErrors.notFound('brew.git serves its packs, refs and HEAD only');
      return { kind: 'brew_git_pack', route: 'brew_git', name };
    }
    const segments = parts.slice(1);
    if (segments[0] === 'taps') {
      route = 'tap_git';
      return tapGitMatch(segments);
    }
    if (segments[0] === 'dl' && segments.length >= 3) {
      route = 'tap_download';
      return { kind: 'tap_download', route: 'tap_download', key: tapDownloadKey(raw.slice(4), query === -1 ? '' : url.slice(query)) };
    }
    if (segments[0] === 'casks' && segments.length === 2) {
      route = 'cask';
      if (!isSha256(segments[1])) throw httpErrors.badRequest('a cask file is asked for by its sha256');
      return { kind: 'cask', route: 'cask', sha256: segments[1] };
    }
    if (segments[0] === 'api' && segments.length >= 2) {
      route = 'api';
      return { kind: 'api', route: 'api', file: segments.slice(1).map(decodeSegment).join('/') };
    }
    const manifestAt = segments.lastIndexOf('manifests');
    if (segments[0] === 'bottles' && manifestAt >= 2 && manifestAt === segments.length - 2) {
      route = 'manifest';
      return manifestMatch('manifest', segments.slice(1, manifestAt), segments[manifestAt + 1]);
    }
    if (segments[0] === 'v2' && segments[1] === 'homebrew' && segments[2] === 'core' && segments.length >= 6) {
      const kind = segments[segments.length - 2];
      const image = segments.slice(3, segments.length - 2);
      const last = segments[segments.length - 1];
      if (kind === 'manifests') {
        route = 'registry_manifest';
        return manifestMatch('registry_manifest', image, last);
      }
      if (kind === 'tags' && last === 'list') {
        route = 'registry_tags';
        const name = image.map(decodeSegment).join('/');
        if (!IMAGE.test(name)) throw httpErrors.badRequest('malformed image name');
        return { kind: 'registry_tags', route: 'registry_tags', image: name };
      }
      if (kind === 'blobs') {
        route = 'registry_blob';
        const digest = decodeSegment(last);
        if (!digest.startsWith('sha256:') || !isSha256(digest.slice(7))) throw httpErrors.badRequest('malformed digest');
        if (!IMAGE.test(image.map(decodeSegment).join('/'))) throw httpErrors.badRequest('malformed image name');
        return { kind: 'registry_blob', route: 'registry_blob', sha256: digest.slice(7) };
      }
    }
    throw httpErrors.notFound('no such route');
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return { kind: 'error', route, error };
  }
}

const TAP_SEGMENT = /^[a-z0-9_.-]+$/;
const GIT_FILES: ReadonlyMap<string, BrewGitFile> = new Map([['HEAD', 'HEAD'], ['info/refs', 'info/refs'], ['objects/info/packs', 'objects/info/packs']]);

/** `/taps/<user>/<repo>.git/<file>`: a rewritten tap for git's dumb HTTP protocol (refs, HEAD and packs only). */
function tapGitMatch(segments: string[]): RouteMatch {
  const [, user, repoGit, ...rest] = segments;
  if (!user || !repoGit?.endsWith('.git') || !TAP_SEGMENT.test(user) || !TAP_SEGMENT.test(repoGit.slice(0, -4)) || user.startsWith('.')) throw httpErrors.notFound('no such tap');
  const tap = `${user}/${repoGit.slice(0, -4)}`;
  const file = GIT_FILES.get(rest.join('/'));
  if (file) return { kind: 'tap_git_file', route: 'tap_git', tap, file };
  if (rest.length === 3 && rest[0] === 'objects' && rest[1] === 'pack' && isGitPackFile(rest[2])) return { kind: 'tap_git_pack', route: 'tap_git', tap, name: rest[2] };
  throw httpErrors.notFound('a tap serves its packs, refs and HEAD only');
}

/** The key a `/dl/<host><path>` request is looked up by: normalized as the sync normalized the upstream URL. */
function tapDownloadKey(hostAndPath: string, query: string): string {
  let parsed: URL;
  try {
    parsed = new URL(`https://${hostAndPath}${query}`);
  } catch {
    throw httpErrors.badRequest('malformed download path');
  }
  return `${parsed.host}${parsed.pathname}${parsed.search}`;
}

function manifestMatch(route: 'manifest' | 'registry_manifest', imageSegments: string[], rawRef: string): RouteMatch {
  const image = imageSegments.map(decodeSegment).join('/');
  const ref = decodeSegment(rawRef);
  if (!IMAGE.test(image)) throw httpErrors.badRequest('malformed image or reference');
  // A reference is a tag or, as OCI clients send it, a digest (`sha256:<hex>`).
  if (ref.startsWith('sha256:') && isSha256(ref.slice(7))) return { kind: 'manifest_by_digest', route, image, digest: ref };
  if (!REF.test(ref)) throw httpErrors.badRequest('malformed image or reference');
  return { kind: 'manifest', route, image, ref };
}
