import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const script = path.resolve(__dirname, '../../scripts/terraform-check.sh');

/** Terraform validation must fail the build, never skip, when it cannot run. */
describe('terraform-check refuses to skip', () => {
  test('without the terraform CLI it exits non-zero and says why', () => {
    const emptyBin = fs.mkdtempSync(path.join(os.tmpdir(), 'no-terraform-'));
    for (const tool of ['bash', 'dirname', 'env']) {
      const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      fs.symlinkSync(found, path.join(emptyBin, tool));
    }
    const run = spawnSync(path.join(emptyBin, 'bash'), [script, 'prod'], { encoding: 'utf8', env: { PATH: emptyBin } });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/terraform CLI not found/);
  });

  test('with a provider mirror that is not one, it exits non-zero and says why', () => {
    const notAMirror = fs.mkdtempSync(path.join(os.tmpdir(), 'not-a-mirror-'));
    const run = spawnSync('bash', [script, 'prod'], { encoding: 'utf8', env: { ...process.env, TF_PROVIDER_MIRROR: notAMirror } });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/no hashicorp\/aws provider mirror found/);
  });
});
