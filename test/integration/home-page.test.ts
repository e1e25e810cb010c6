import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Browser, chromium } from 'playwright-core';
import { MemoryCircuitBreaker } from '../../engine/adapters/local/memory-circuit-breaker';
import { Upstream } from '../../engine/upstream/client';
import { MemoryRateLimiter, memoryByteBudget } from '../../engine/adapters/local/memory-rate-limiter';
import { jsonLogger } from '../../engine/logger';
import { MirrorServer } from '../../engine/serve/server';
import { runSync } from '../../engine/sync/run-sync';
import { localStores, localSyncDeps } from '../../engine/wiring/local';
import { GitUpstream, startGitUpstream } from '../fixtures/git-upstream';
import { publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

// Expressions run in the page are strings: the tests are compiled without the DOM's types.
// The page at `/` in a real browser (Debian's chromium, installed by .ci/run): a phone-sized
// window, a screenshot, and the text a person reads (innerText: what is rendered, not the source).
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PHONE = { width: 390, height: 844 };
const key = testSigningKey();
const HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>';

let upstream: FixtureUpstream;
let brew: GitUpstream;
let browser: Browser;
let root: string;
let server: MirrorServer;
let base: string;

beforeAll(async () => {
  upstream = await startFixtureUpstream();
  brew = await startGitUpstream();
  publishApi(
    upstream,
    [
      { name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(500) }, { tag: 'x86_64_linux', bytes: randomBytes(500) }] },
      { name: 'ca-certificates', version: '2025-01-01', bottles: [{ tag: 'all', bytes: randomBytes(100) }] },
    ],
    key.privateKey,
  );
  upstream.setApiFile('install.sh', Buffer.from('#!/bin/bash\necho install\n'));
  const ruby = randomBytes(1000);
  const { sha256 } = upstream.addBlob('portable-ruby', ruby);
  brew.release('6.0.18', '4.0.6', [{ platform: 'arm64-darwin', rubyTag: 'arm64_big_sur', sha256 }]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  await upstream.close();
  await brew.close();
});

async function start(withBrew: boolean, pullThrough = false) {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'home-page-'));
  const brewOptions = { gitUrl: brew.url, registryUrl: new URL(upstream.registryRoot).origin, installScriptUrl: `${upstream.apiRoot}/install.sh` };
  const summary = await runSync(localSyncDeps(root, { log: jsonLogger({}, () => undefined) }), {
    apiUrl: upstream.apiRoot,
    publicKey: key.publicKey,
    brew: withBrew ? brewOptions : undefined,
    // A partial mirror: ca-certificates is left for pull-through.
    ...(pullThrough ? { formulae: ['wget'], maxDropPercent: 100 } : {}),
  });
  expect(summary.published).toBe(true);
  server = new MirrorServer({
    ...localStores(root),
    log: jsonLogger({}, () => undefined),
    limiter: new MemoryRateLimiter({ ratePerSecond: 1000, burst: 1000 }), byteBudget: memoryByteBudget(),
    mode: 'proxy',
    pollMs: 60_000,
    publicUrl: () => base,
    pullThrough: pullThrough ? { upstream: new Upstream(), registryUrl: new URL(upstream.registryRoot).origin, breaker: new MemoryCircuitBreaker() } : undefined,
  });
  base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
}

afterEach(async () => {
  await server?.stop(0);
});

async function open(shot: string) {
  const page = await browser.newPage({ viewport: PHONE });
  const problems: string[] = [];
  page.on('console', (message) => problems.push(message.text()));
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  const response = await page.goto(`${base}/`);
  const file = path.join(os.tmpdir(), shot);
  await page.screenshot({ path: file, fullPage: true });
  return { page, response, problems, screenshot: fs.readFileSync(file), text: await page.innerText('body') };
}

describe('the page at / in a real browser', () => {
  test('a person reads what the mirror is, its generation and age, bottles per tag, brew releases, the last run, the install line and brew.env', async () => {
    await start(true);
    const { page, response, problems, screenshot, text } = await open('home-page.png');
    expect(response!.status()).toBe(200);
    expect(response!.headers()['content-type']).toBe('text/html; charset=utf-8');
    // A real PNG of a page that is not blank (a blank phone-sized page compresses to a few KB).
    expect(screenshot.subarray(1, 4).toString()).toBe('PNG');
    expect(screenshot.length).toBeGreaterThan(15_000);

    const generation = (await localStores(root).state.getPublished())!.generation;
    expect(text).toMatch(/^Homebrew mirror\s/);
    expect(text).toContain('This server mirrors Homebrew for machines whose only way out is this mirror');
    expect(text).toMatch(new RegExp(`Generation ${generation}, published (less than a minute|\\d+ minutes?) ago`));
    expect(text).toMatch(/arm64_sonoma\s+1\n/);
    expect(text).toMatch(/x86_64_linux\s+1\n/);
    expect(text).toMatch(/all\s+1\n/);
    expect(text).toMatch(/total\s+3/);
    // The newest release, then the default branch's head (#36 item 5), which pins the same Ruby here.
    expect(text).toMatch(/brew releases covered\s+6\.0\.18, master \(default branch head\); brew\.git at [0-9a-f]{12}\./);
    expect(text).toMatch(/Last sync\s+published at \d{4}-\d\d-\d\dT[\d:.]+Z: 3 bottles copied, 0 already here, 0 failed\./);
    expect(text).toContain(`curl -fsSL ${base}/install | bash`);
    expect(text).toContain("Command Line Tools");
    expect(text).toContain(`HOMEBREW_API_DOMAIN=${base}/api\nHOMEBREW_BOTTLE_DOMAIN=${base}/bottles`);
    expect(text).toContain(`HOMEBREW_BREW_GIT_REMOTE=${base}/brew.git`);

    // Readable on a phone: its own style sheet applied (allowed by hash in the CSP), nothing wider than the screen.
    expect(await page.evaluate("getComputedStyle(document.querySelector('pre')).whiteSpace")).toBe('pre-wrap');
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
    expect(problems).toEqual([]);
    await page.close();
  });

  test('every value is escaped: a hostile run error is read as text and runs nothing; no brew means no install line', async () => {
    await start(false);
    const { state } = localStores(root);
    const latest = (await state.latestRun())!;
    await state.putRun({ ...latest, runId: `${latest.runId}-x`, status: 'failed', startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), error: HOSTILE });
    const { page, problems, text } = await open('home-page-hostile.png');
    expect(text).toContain(HOSTILE);
    expect(await page.evaluate<number>("document.querySelectorAll('script, img').length")).toBe(0);
    expect(problems).toEqual([]);
    expect(text).toContain('This mirror serves no brew.git and install script');
    expect(text).not.toContain('/install | bash');
    expect(text).not.toContain('HOMEBREW_BREW_GIT_REMOTE');
    expect(text).not.toContain('Fetched on request');
    await page.close();
  });

  test('with pull-through on, a person reads what may be fetched and what was (issue #24)', async () => {
    await start(false, true);
    expect((await fetch(`${base}/bottles/ca-certificates-2025-01-01.all.bottle.tar.gz`)).status).toBe(200);
    expect((await fetch(`${base}/bottles/ca-certificates-2025-01-01.all.bottle.tar.gz`)).status).toBe(200);
    const { page, problems, text } = await open('home-page-pull-through.png');
    expect(text).toMatch(/Fetched on request\n+1 more bottle named by Homebrew's signed API can be fetched from upstream on first request, checked against the signed digest and kept\./);
    expect(text).toContain('Since this server started: 1 fetch (100 B), 1 request answered from what was fetched, 0 failures.');
    expect(problems).toEqual([]);
    await page.close();
  });
});
