import * as path from 'path';
import { readBrewfile } from '../../engine/brewfile/brewfile';
import { UsageError } from '../../engine/errors';
import { RubySandboxError, runRuby } from '../../engine/taps/ruby-sandbox';
import { promises as fs } from 'fs';
import * as os from 'os';

// A Brewfile is Ruby, so it is evaluated as Ruby (Ruby 4.0 on WASI, for real) once per platform
// tag; `if OS.mac?` guards select per platform and the union is the mirror's selection (issue #34).
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'brewfiles');
const LIMITS = { timeoutMs: 60_000, memoryBytes: 1024 * 1024 * 1024 };

describe('a Brewfile as the selection', () => {
  test('formulae, casks and taps for every platform, fully-qualified names add their tap; entries the mirror cannot serve are listed with their line', async () => {
    const selection = await readBrewfile(path.join(FIXTURES, 'Brewfile.fleet'), LIMITS);
    expect(selection.formulae).toEqual(['gcc', 'git', 'jq', 'wget']);
    expect(selection.casks).toEqual(['firefox']);
    expect(selection.taps).toEqual([
      { name: 'acme/tools', remote: 'https://git.example.org/acme/homebrew-tools.git' },
      { name: 'hashicorp/tap', remote: 'https://github.com/hashicorp/homebrew-tap' },
      { name: 'mongodb/brew', remote: 'https://github.com/mongodb/homebrew-brew' },
    ]);
    const file = path.join(FIXTURES, 'Brewfile.fleet');
    expect(selection.unserved).toEqual([
      { type: 'mas', name: 'Xcode', file, line: 13 },
      { type: 'vscode', name: 'ms-python.python', file, line: 18 },
    ]);
  }, 60_000);

  test('an entry brew bundle does not know is a usage error naming the file and line', async () => {
    const file = path.join(FIXTURES, 'Brewfile.unknown-entry');
    await expect(readBrewfile(file, LIMITS)).rejects.toThrow(new UsageError(`${file}:4: \`frobnicate\` is not a Brewfile entry brew bundle knows`));
  }, 60_000);

  test('a syntax error is a usage error naming the file and line', async () => {
    const file = path.join(FIXTURES, 'Brewfile.syntax-error');
    const error = await readBrewfile(file, LIMITS).catch((e: Error) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}:\\d: syntax error: `));
  }, 60_000);

  test('a missing Brewfile is a usage error', async () => {
    await expect(readBrewfile(path.join(FIXTURES, 'nope'), LIMITS)).rejects.toThrow(UsageError);
  });
});

describe('the Ruby sandbox', () => {
  const script = async (ruby: string) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ruby-'));
    await fs.writeFile(path.join(dir, 'script.rb'), ruby);
    return path.join(dir, 'script.rb');
  };

  test('a script that never ends is stopped at its deadline', async () => {
    const started = Date.now();
    await expect(runRuby(await script('loop { }'), {}, undefined, { timeoutMs: 3000, memoryBytes: LIMITS.memoryBytes })).rejects.toThrow(new RubySandboxError('Ruby stopped after 3 s (HBS_TAP_EVAL_SECONDS)'));
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);

  test('a script that grows past its memory budget is stopped', async () => {
    await expect(runRuby(await script('s = "x" * 900_000_000; sleep 60'), {}, undefined, { timeoutMs: 60_000, memoryBytes: 800 * 1024 * 1024 })).rejects.toThrow(/^Ruby stopped at \d+ MiB, over the 800 MiB limit \(HBS_TAP_EVAL_MEMORY_MB\)$/);
  }, 60_000);

  test('Ruby has no sockets and sees no host file: only the directory it is given, at /tap', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ruby-tap-'));
    await fs.writeFile(path.join(dir, 'hello.txt'), 'from the tap');
    const probe = await script(`
      out = []
      out << (begin; require "socket"; "socket"; rescue LoadError; "no socket"; end)
      out << (begin; File.read("/etc/hostname"); "host file"; rescue SystemCallError; "no host file"; end)
      out << File.read("/tap/hello.txt")
      out << (begin; File.write("/tap/hello.txt", "changed"); "wrote"; rescue SystemCallError; "read-only"; end)
      print out.join(",")
    `);
    expect(await runRuby(probe, {}, dir, LIMITS)).toBe('no socket,no host file,from the tap,read-only');
    expect(await fs.readFile(path.join(dir, 'hello.txt'), 'utf8')).toBe('from the tap');
  }, 60_000);
});
