import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EnvironmentName } from '../config/environment-config';
import { buildApp } from '../main';
import { TerraformJson } from './policy/checks';

/** The three environments' stacks by name, and each standby stack (`prod-standby`). */
export type SynthesizedStacks = Record<EnvironmentName, TerraformJson> & Record<string, TerraformJson>;

let cached: SynthesizedStacks | undefined;

/** Synthesizes every stack (once per test file) into a temporary directory and parses them. */
export function synthAll(env: NodeJS.ProcessEnv = {}): SynthesizedStacks {
  if (cached && Object.keys(env).length === 0) return cached;
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-synth-'));
  buildApp(outdir, env).synth();
  const read = (name: EnvironmentName): TerraformJson =>
    JSON.parse(fs.readFileSync(path.join(outdir, 'stacks', name, 'cdk.tf.json'), 'utf8'));
  const result = Object.fromEntries(fs.readdirSync(path.join(outdir, 'stacks')).sort().map((name) => [name, read(name as EnvironmentName)])) as SynthesizedStacks;
  fs.rmSync(outdir, { recursive: true, force: true });
  if (Object.keys(env).length === 0) cached = result;
  return result;
}
