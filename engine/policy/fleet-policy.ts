import { UsageError } from '../errors';

/**
 * The fleet's policy, in brew's own settings (issue #35): what brew on every
 * machine refuses, and what the mirror therefore does not mirror, so that
 * forbidden software is not on the mirror to be fetched by other means.
 * Read from a file in brew.env's syntax (`--policy FILE`), or in AWS from
 * `HBS_<ENV>_FORBIDDEN_*`; served in `/brew.env`, where brew enforces it.
 */
export interface FleetPolicy {
  readonly forbiddenFormulae: readonly string[];
  readonly forbiddenCasks: readonly string[];
  readonly forbiddenLicenses: readonly string[];
  /** Taps by name (`user/repo`) or by URL. */
  readonly forbiddenTaps: readonly string[];
  /** When set, the only taps brew uses: by name or by the mirror's tap URL (TAPS.md). */
  readonly allowedTaps: readonly string[];
}

/** brew's variables, each a space-separated list (Homebrew/brew `env_config.rb`). */
export const POLICY_VARIABLES = {
  forbiddenFormulae: 'HOMEBREW_FORBIDDEN_FORMULAE',
  forbiddenCasks: 'HOMEBREW_FORBIDDEN_CASKS',
  forbiddenLicenses: 'HOMEBREW_FORBIDDEN_LICENSES',
  forbiddenTaps: 'HOMEBREW_FORBIDDEN_TAPS',
  allowedTaps: 'HOMEBREW_ALLOWED_TAPS',
} as const satisfies Record<keyof FleetPolicy, string>;

export const EMPTY_POLICY: FleetPolicy = { forbiddenFormulae: [], forbiddenCasks: [], forbiddenLicenses: [], forbiddenTaps: [], allowedTaps: [] };

/** A list value: names, licenses or URLs, separated by spaces; nothing brew.env could not carry literally. */
const ITEM = /^[A-Za-z0-9@+._:/=-]{1,200}$/;

/**
 * A policy file in brew.env's syntax: `HOMEBREW_FORBIDDEN_FORMULAE=a b c` lines,
 * `#` comments and blank lines. Any other line is a usage error naming the file and line.
 */
export function parsePolicy(text: string, file: string): FleetPolicy {
  const byVariable = new Map<string, string[]>(Object.values(POLICY_VARIABLES).map((v) => [v, []]));
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = line.indexOf('=');
    const name = line.slice(0, at);
    const items = at === -1 ? undefined : byVariable.get(name);
    if (!items) throw new UsageError(`${file}:${index + 1}: not one of ${Object.values(POLICY_VARIABLES).join(', ')}`);
    const values = line.slice(at + 1).replace(/^"(.*)"$/, '$1').split(/\s+/).filter(Boolean);
    const bad = values.find((v) => !ITEM.test(v));
    if (bad !== undefined) throw new UsageError(`${file}:${index + 1}: ${JSON.stringify(bad)} is not a name, license or URL`);
    items.push(...values);
  });
  const list = (key: keyof FleetPolicy) => [...new Set(byVariable.get(POLICY_VARIABLES[key]))];
  return { forbiddenFormulae: list('forbiddenFormulae'), forbiddenCasks: list('forbiddenCasks'), forbiddenLicenses: list('forbiddenLicenses'), forbiddenTaps: list('forbiddenTaps'), allowedTaps: list('allowedTaps') };
}

/** The policy's brew.env lines (only the settings it has). */
export function policyEnvLines(policy: FleetPolicy): string[] {
  return (Object.keys(POLICY_VARIABLES) as (keyof FleetPolicy)[]).filter((key) => policy[key].length > 0).map((key) => `${POLICY_VARIABLES[key]}=${policy[key].join(' ')}`);
}

/** Why the policy forbids a tap (by name, or by the URL the mirror serves it at), or undefined. */
export function tapRefusal(policy: FleetPolicy, tap: string, mirrorUrl: string | undefined): string | undefined {
  const names = [tap, ...(mirrorUrl ? [mirrorUrl] : [])];
  if (policy.forbiddenTaps.some((t) => names.includes(t))) return `${POLICY_VARIABLES.forbiddenTaps} names it`;
  if (policy.allowedTaps.length > 0 && !policy.allowedTaps.some((t) => names.includes(t))) return `${POLICY_VARIABLES.allowedTaps} does not name it`;
  return undefined;
}
