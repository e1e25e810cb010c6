/**
 * `HOMEBREW_FORBIDDEN_LICENSES` as brew applies it (Homebrew/brew `utils/spdx.rb`,
 * `licenses_forbid_installation?`), on the license string the API gives a formula
 * (`license_expression_to_string`: `A OR B`, `A AND B`, `A WITH exception`, brackets):
 * an OR is forbidden when every alternative is, an AND when any part is. A forbidden
 * `X-n-or-later` (or `X-n+`) also forbids `X` at version n and later.
 * An expression this cannot read forbids nothing here (brew still decides on the machine).
 */
export function licenseForbidden(expression: unknown, forbidden: readonly string[]): boolean {
  if (typeof expression !== 'string' || forbidden.length === 0) return false;
  const tokens = expression.match(/\(|\)|[^\s()]+/g) ?? [];
  let at = 0;
  const rules = forbidden.map(versionInfo);
  const single = (id: string): boolean => {
    const mine = versionInfo(id);
    return rules.some((rule) => rule.id.toLowerCase() === id.toLowerCase() || (rule.name === mine.name && rule.version !== undefined && mine.version !== undefined && (rule.version === mine.version || (rule.orLater && compare(rule.version, mine.version) <= 0))));
  };
  // expr := term (OR term)*; term := factor (AND factor)*; factor := '(' expr ')' | id [WITH id]
  const factor = (): boolean | undefined => {
    const token = tokens[at++];
    if (token === '(') {
      const inner = expr();
      return tokens[at++] === ')' ? inner : undefined;
    }
    if (token === undefined || token === ')' || /^(or|and|with)$/i.test(token)) return undefined;
    if (/^with$/i.test(tokens[at] ?? '')) at += 2;
    return single(token);
  };
  const term = (): boolean | undefined => {
    let value = factor();
    while (value !== undefined && /^and$/i.test(tokens[at] ?? '')) {
      at++;
      const next = factor();
      value = next === undefined ? undefined : value || next;
    }
    return value;
  };
  const expr = (): boolean | undefined => {
    let value = term();
    while (value !== undefined && /^or$/i.test(tokens[at] ?? '')) {
      at++;
      const next = term();
      value = next === undefined ? undefined : value && next;
    }
    return value;
  };
  const result = expr();
  return result === true && at === tokens.length;
}

/** `GPL-3.0-or-later` → GPL, 3.0, or later; `MIT` → MIT with no version. */
function versionInfo(id: string): { id: string; name: string; version?: string; orLater: boolean } {
  const match = /^(.+?)-(\d+(?:\.\d+)*)(-only|-or-later|\+)?$/.exec(id);
  if (!match) return { id, name: id, orLater: false };
  return { id, name: match[1], version: match[2], orLater: match[3] === '-or-later' || match[3] === '+' };
}

function compare(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}
