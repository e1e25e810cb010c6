import { TapSource, tapRepositoryPath } from '../taps/tap-names';
import { FleetPolicy, POLICY_VARIABLES, tapRefusal } from './fleet-policy';

/** Something the selection asked for that the fleet's policy forbids: reported, not silently dropped. */
export interface PolicyRefusal {
  readonly kind: 'formula' | 'cask' | 'tap';
  readonly name: string;
  readonly reason: string;
}

interface Selection {
  readonly formulae?: readonly string[];
  readonly casks?: readonly string[];
  readonly taps?: readonly TapSource[];
  readonly publicUrl?: string;
  readonly policy?: FleetPolicy;
}

/**
 * The run's selection without what the policy forbids (the formulae, casks and
 * taps it names), and what was taken out. Forbidden formulae are also left out
 * of a whole mirror and of every selection's dependencies (`verify.ts`).
 */
export function selectionUnderPolicy<T extends Selection>(options: T): { options: T; refused: PolicyRefusal[] } {
  const policy = options.policy;
  if (!policy) return { options, refused: [] };
  const refused: PolicyRefusal[] = [];
  const keep = (kind: 'formula' | 'cask', names: readonly string[] | undefined, forbidden: readonly string[], variable: string) => {
    if (!names) return undefined;
    for (const name of names.filter((n) => forbidden.includes(n))) refused.push({ kind, name, reason: `${variable} names it` });
    return names.filter((n) => !forbidden.includes(n));
  };
  const formulae = keep('formula', options.formulae, policy.forbiddenFormulae, POLICY_VARIABLES.forbiddenFormulae);
  const casks = keep('cask', options.casks, policy.forbiddenCasks, POLICY_VARIABLES.forbiddenCasks);
  const taps = options.taps?.filter((tap) => {
    const reason = tapRefusal(policy, tap.name, options.publicUrl && `${options.publicUrl.replace(/\/+$/, '')}/${tapRepositoryPath(tap.name)}`);
    if (reason) refused.push({ kind: 'tap', name: tap.name, reason });
    return !reason;
  });
  return {
    options: { ...options, ...(formulae ? { formulae } : {}), ...(casks ? { casks: casks.length > 0 ? casks : undefined } : {}), ...(taps ? { taps } : {}) },
    refused,
  };
}
