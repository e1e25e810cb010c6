/**
 * A run's failure reason fit for a public page: URLs keep only their origin
 * (paths and query strings can carry tokens), local file paths are hidden.
 */
export function publicReason(reason: string): string {
  return reason
    .replace(/\b(https?:\/\/[^\s/?#'"]+)([^\s'"]*?)([:;,.]?)(?=[\s'"]|$)/g, (_, origin: string, rest: string, end: string) => `${origin}${rest ? '/…' : ''}${end}`)
    .replace(/(^|[\s'"(=])(\/[^\s'"):]+)/g, '$1(local path)')
    .slice(0, 300);
}
