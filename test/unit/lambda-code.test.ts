import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TerraformStack, Testing } from 'cdktf';
import { bundleDir, bundleHandler } from '../../constructs/lambda-bundle';
import { MissingEnvironmentError } from '../../engine/runtime-config';

describe('Lambda bundles', () => {
  test.each(['orchestrator', 'sync-worker'])('%s bundles into one self-contained file with a handler', async (name) => {
    bundleHandler(new TerraformStack(Testing.app(), 'bundle'), 'code', name);
    const file = path.join(bundleDir(name), 'index.js');
    expect(fs.existsSync(file)).toBe(true);
    const source = fs.readFileSync(file, 'utf8');
    expect(source).not.toMatch(/require\("\.\.?\//); // nothing left outside the bundle
    const mod = await import(file);
    expect(typeof mod.handler).toBe('function');
    // Without its configuration the handler refuses to start, naming what is missing.
    // The bundle carries its own copy of the error class, so compare by name.
    await expect(mod.handler({})).rejects.toMatchObject({ name: new MissingEnvironmentError([]).name });
    await expect(mod.handler({})).rejects.toThrow(/missing required environment variable\(s\): HBS_ENVIRONMENT, /);
  });

  test('synthesis zips the bundle into the stack assets', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-assets-'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { buildApp } = require('../../main');
    buildApp(outdir, {}).synth();
    const json = JSON.parse(fs.readFileSync(path.join(outdir, 'stacks/prod/cdk.tf.json'), 'utf8'));
    // The bundle is uploaded for signing; the function deploys from the signed copy.
    const zip = path.join(outdir, 'stacks/prod', json.resource.aws_s3_object.orchestrator_code_unsigned.source);
    expect(fs.statSync(zip).size).toBeGreaterThan(100);
    const listing = execFileSync('python3', ['-c', 'import sys,zipfile;print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', zip], {
      encoding: 'utf8',
    });
    expect(listing.trim().split('\n')).toEqual(['index.js']);
    fs.rmSync(outdir, { recursive: true, force: true });
  });
});
