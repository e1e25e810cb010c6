import { readFileSync } from 'fs';
import { UsageError } from '../engine/errors';
import { FleetPolicy, parsePolicy } from '../engine/policy/fleet-policy';

/** `--policy FILE`: the fleet's policy in brew.env's syntax (docs/tokens.md, "The fleet's policy"). */
export function policyOption(file: string | undefined): FleetPolicy | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`--policy ${file} cannot be read`);
  }
  return parsePolicy(text, file);
}
