import { spawnSync } from 'child_process';
import { chmodSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';

// `npm test` and `.ci/run` start with scripts/system-packages.sh (#36 item 7): a fresh
// machine's test command installs its peers itself, or stops in one line saying what to install.
const SCRIPT = path.resolve(__dirname, '../../scripts/system-packages.sh');

/** A PATH holding only bash, git and the few tools the script uses, plus `extra` stubs (name → shell body). */
function machine(extra: Record<string, string>): { bin: string; log: string } {
  const bin = mkdtempSync(path.join(os.tmpdir(), 'sys-pkgs-'));
  for (const tool of ['bash', 'git', 'cut', 'cat', 'chmod']) {
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(found, path.join(bin, tool));
  }
  for (const [name, body] of Object.entries({ id: 'echo 0', ...extra })) {
    writeFileSync(path.join(bin, name), `#!${path.join(bin, 'bash')}\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  }
  return { bin, log: path.join(bin, 'apt.log') };
}

const runIn = (bin: string) => spawnSync(path.join(bin, 'bash'), [SCRIPT], { encoding: 'utf8', env: { PATH: bin } });

/** What `apt-get install` leaves behind: the three commands, answering --version. */
const installs = (bin: string) =>
  ['redis-server', 'skopeo', 'chromium'].map((c) => `printf '%s\\n' "#!${bin}/bash" 'echo ${c} 1.0' > ${bin}/${c}; chmod 755 ${bin}/${c}`).join('; ');

describe('scripts/system-packages.sh', () => {
  test('missing packages and no apt-get: exit 1 with one line on stderr naming them', () => {
    const { bin } = machine({});
    const result = runIn(bin);
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual(['system-packages: missing redis-server skopeo chromium; install redis-server skopeo chromium git with your package manager, then run the tests again']);
  });

  test('missing packages as root: apt-get installs them, and the run goes on', () => {
    const { bin, log } = machine({ 'apt-get': `echo "$@" >> ${'${0%/*}'}/apt.log; if [ "$1" = install ]; then ${installs('${0%/*}')}; fi` });
    const result = runIn(bin);
    expect([result.status, result.stderr]).toEqual([0, '']);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['update -qq', 'install -y -qq redis-server skopeo chromium git']);
    expect(result.stdout).toContain('system-packages: installing redis-server skopeo chromium git (missing: redis-server skopeo chromium)');
  });

  test('apt-get that fails: exit 1 with one line', () => {
    const { bin } = machine({ 'apt-get': 'exit 100' });
    const result = runIn(bin);
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual(['system-packages: apt-get could not install redis-server skopeo chromium git (missing: redis-server skopeo chromium)']);
  });

  test('not root and no sudo: exit 1 with the command to run', () => {
    const { bin } = machine({ id: 'echo 1000', 'apt-get': 'exit 0' });
    const result = runIn(bin);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('system-packages: missing redis-server skopeo chromium; run: sudo apt-get install -y redis-server skopeo chromium git');
  });

  test('everything installed: nothing is installed, versions are printed', () => {
    const { bin, log } = machine({ 'apt-get': `echo "$@" >> ${'${0%/*}'}/apt.log` });
    spawnSync(path.join(bin, 'bash'), ['-c', installs(bin)], { env: { PATH: bin } });
    const result = runIn(bin);
    expect(result.status).toBe(0);
    expect(() => readFileSync(log)).toThrow(/ENOENT/);
    expect(result.stdout).toMatch(/^system-packages: redis-server 1\.0; skopeo 1\.0; git version .*; chromium 1\.0\n$/);
  });
});
