import { execFile } from 'child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { build } from 'esbuild';

// The sync task's image (containers/Dockerfile) gains what evaluating taps needs: no Docker engine
// here, so the test lays out /app as the Dockerfile's build stage does, from the `cp` and `rm` lines
// it runs for SERVICE=sync-task, and evaluates a tap there with no other node_modules in reach.
const ROOT = path.join(__dirname, '..', '..');

test('the sync task image layout (main.js, ruby/, the npm packages the Dockerfile copies) evaluates a tap', async () => {
  const dockerfile = readFileSync(path.join(ROOT, 'containers/Dockerfile'), 'utf8');
  const step = /RUN mkdir -p \/out\/extra && if \[ "\$SERVICE" = sync-task \]; then([\s\S]*?)fi\n/.exec(dockerfile)?.[1];
  expect(step).toBeDefined();
  const app = mkdtempSync(path.join(os.tmpdir(), 'sync-task-app-'));
  try {
    for (const command of step!.replace(/\\\n/g, ' ').split('&&').map((c) => c.trim().replace(/;$/, ''))) {
      const [verb, ...args] = command.split(/\s+/).filter(Boolean);
      const out = (p: string) => path.join(app, p.replace(/^\/out\/extra\/?/, ''));
      if (verb === 'mkdir') args.filter((a) => a !== '-p').forEach((d) => mkdirSync(out(d), { recursive: true }));
      else if (verb === 'cp') {
        const paths = args.filter((a) => a !== '-r');
        const target = paths.pop()!;
        for (const source of paths) cpSync(path.join(ROOT, source), target.endsWith('/') ? path.join(out(target), path.basename(source)) : out(target), { recursive: true });
      } else if (verb === 'rm') args.filter((a) => a !== '-f').forEach((f) => rmSync(out(f), { force: true }));
      else throw new Error(`unexpected step in the Dockerfile: ${command}`);
    }
    // main.js as the image has it: the engine bundled, nothing else beside it but what the step copied.
    const entry = path.join(app, 'entry.ts');
    writeFileSync(entry, `import { evaluateTap } from ${JSON.stringify(path.join(ROOT, 'engine/taps/evaluate-tap'))};\nevaluateTap(process.argv[2], { timeoutMs: 60000, memoryBytes: 1 << 30 }).then((f) => process.stdout.write(JSON.stringify(f.map((x) => x.downloads.length))));\n`);
    await build({ entryPoints: [entry], bundle: true, platform: 'node', target: 'node22', minify: true, keepNames: true, outfile: path.join(app, 'main.js'), logLevel: 'silent' });
    rmSync(entry);
    const tap = path.join(ROOT, 'test/fixtures/taps/acme');
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(app, 'main.js'), tap], { cwd: app, env: { PATH: process.env.PATH ?? '' } });
    // The fixture's templates hold placeholders for sha256s, so only the evaluation's shape is checked here.
    expect((JSON.parse(stdout) as number[]).length).toBe(8);
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
}, 120_000);
