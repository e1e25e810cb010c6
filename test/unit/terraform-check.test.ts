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

describe('terraform-env.sh, sourced', () => {
  const env = path.resolve(__dirname, '../../scripts/terraform-env.sh');

  test("leaves the caller's shell options alone and writes a config file of its own each time", () => {
    const run = spawnSync(
      'bash',
      ['-c', `before=$(set +o); . "${env}"; first="$TF_CLI_CONFIG_FILE"; . "${env}"; second="$TF_CLI_CONFIG_FILE"; after=$(set +o); ` +
        `[[ "$before" == "$after" ]] && echo same-options; [[ "$first" != "$second" ]] && echo distinct-files; false; echo still-running; ` +
        `grep -q filesystem_mirror "$second" && echo mirror-configured; rm -f "$first" "$second"`],
      { encoding: 'utf8' },
    );
    expect(run.stdout.split('\n').filter(Boolean)).toEqual(['same-options', 'distinct-files', 'still-running', 'mirror-configured']);
  });

  test('a missing mirror returns an error to the caller instead of exiting its shell', () => {
    const notAMirror = fs.mkdtempSync(path.join(os.tmpdir(), 'not-a-mirror-'));
    const run = spawnSync('bash', ['-c', `TF_PROVIDER_MIRROR="${notAMirror}"; . "${env}"; echo "status=$?"`], { encoding: 'utf8' });
    expect(run.stdout.trim()).toBe('status=1');
    expect(run.stderr).toMatch(/no hashicorp\/aws provider mirror found/);
  });
});
