import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EnvironmentName } from '../config/environments';
import { buildApp } from '../main';
import { TerraformJson } from './policy/checks';

let cached: Record<EnvironmentName, TerraformJson> | undefined;

/** Synthesizes all three stacks (once per test file) into a temporary directory and parses them. */
export function synthAll(env: NodeJS.ProcessEnv = {}): Record<EnvironmentName, TerraformJson> {
  if (cached && Object.keys(env).length === 0) return cached;
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-synth-'));
  buildApp(outdir, env).synth();
  const read = (name: EnvironmentName): TerraformJson =>
    JSON.parse(fs.readFileSync(path.join(outdir, 'stacks', name, 'cdk.tf.json'), 'utf8'));
  const result = { dev: read('dev'), staging: read('staging'), prod: read('prod') };
  fs.rmSync(outdir, { recursive: true, force: true });
  if (Object.keys(env).length === 0) cached = result;
  return result;
}
