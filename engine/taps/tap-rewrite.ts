import { promises as fs } from 'fs';
import * as path from 'path';
import { EvaluatedFile } from './evaluate-tap';

/**
 * How a tap is pointed at the mirror: every `http(s)://<host>/` of a download
 * the mirror holds becomes `<mirror>/dl/<host>/`, in the tap's Ruby and JSON
 * files, and nothing else changes (every `sha256` line stays as upstream
 * wrote it, so brew still checks upstream's checksum). Facts: TAPS.md (no
 * client setting redirects a tap's downloads; a rewritten tap does).
 */

/** The files route's key for an upstream URL: `<host><path><query>` (the scheme is dropped; both map to one file). */
export function downloadKey(url: string): string {
  const parsed = new URL(url);
  return `${parsed.host}${parsed.pathname}${parsed.search}`;
}

/** The URL a rewritten tap names for an upstream URL. */
export const mirroredDownloadUrl = (publicUrl: string, url: string): string => `${publicUrl.replace(/\/+$/, '')}/dl/${downloadKey(url)}`;

/** Files the rewrite edits: Ruby (formulae, casks, what they require) and JSON (config some taps read). */
const REWRITTEN = /\.(rb|json)$/;
/** A file larger than this is left as it is (no formula is; a data file might be). */
const MAX_REWRITTEN_BYTES = 4 * 1024 * 1024;

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Replaces `http(s)://<host>/` for every host in `hosts`, in every Ruby and JSON file under `dir`; returns the files it changed. */
export async function rewriteTree(dir: string, hosts: ReadonlySet<string>, publicUrl: string): Promise<string[]> {
  if (hosts.size === 0) return [];
  const base = `${publicUrl.replace(/\/+$/, '')}/dl/`;
  // The host must end where a path begins: `acme.com` never matches inside `acme.com.evil.net`.
  const pattern = new RegExp(`https?://(${[...hosts].map(escape).join('|')})(?=/)`, 'g');
  const changed: string[] = [];
  for (const file of await walk(dir)) {
    if (!REWRITTEN.test(file)) continue;
    const full = path.join(dir, file);
    const stat = await fs.lstat(full);
    if (!stat.isFile() || stat.size > MAX_REWRITTEN_BYTES) continue;
    const text = await fs.readFile(full, 'utf8');
    const rewritten = text.replace(pattern, (_match, host: string) => `${base}${host}`);
    if (rewritten !== text) {
      await fs.writeFile(full, rewritten);
      changed.push(file);
    }
  }
  return changed;
}

async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(dir, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/**
 * Checks the rewritten tap by evaluating it again: every download a file
 * names must now be a mirror URL of a file the mirror holds, with the same
 * sha256. Returns, per file, why it is not mirrored (a URL the rewrite did not
 * reach, because the file builds it from pieces; a file the mirror lacks).
 */
export function checkRewrite(rewritten: readonly EvaluatedFile[], served: ReadonlyMap<string, string>, publicUrl: string): Map<string, string> {
  const base = `${publicUrl.replace(/\/+$/, '')}/dl/`;
  const reasons = new Map<string, string>();
  for (const file of rewritten) {
    for (const download of file.downloads) {
      if (!download.url.startsWith(base)) {
        reasons.set(file.file, `${download.kind} ${download.url} still downloads from its vendor after the rewrite`);
        break;
      }
      const sha256 = served.get(downloadKey(`https://${download.url.slice(base.length)}`));
      if (sha256 !== download.sha256) {
        reasons.set(file.file, `${download.kind} ${download.url.slice(base.length)} is not held by the mirror`);
        break;
      }
    }
  }
  return reasons;
}
