import { execFile } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { loadBrewRecord } from '../../engine/brew/brew-record';
import { BREW_MIRROR_SCRIPT } from '../../engine/casks/client-command';
import { BrewMirrorOptions } from '../../engine/brew/mirror-brew';
import { jsonLogger } from '../../engine/logger';
import { LocalSyncOptions, runSync } from '../../engine/sync/run-sync';
import { localStores, localSyncDeps } from '../../engine/wiring/local';
import { gitClient, serveMirror } from '../fixtures/brew-client';
import { GitUpstream, PortableRubyPin, startGitUpstream } from '../fixtures/git-upstream';
import { publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

const run = promisify(execFile);
const key = testSigningKey();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const INSTALL_SH = Buffer.from('#!/bin/bash\n# Homebrew/install stand-in\necho "install from ${HOMEBREW_BREW_GIT_REMOTE}"\n');

let upstream: FixtureUpstream;
let brew: GitUpstream;
let root: string;
let work: string;
const rubies = new Map<string, Buffer>();
let pins6018: PortableRubyPin[];

/** A portable Ruby blob upstream has, and the pin naming it. */
function ruby(platform: string, rubyTag: string, inRegistry = true): PortableRubyPin {
  const bytes = randomBytes(4096 + rubies.size);
  const sha256 = sha(bytes);
  rubies.set(sha256, bytes);
  if (inRegistry) upstream.addBlob('portable-ruby', bytes);
  return { platform, rubyTag, sha256 };
}

/** Release tags upstream has, newest first. */
const upstreamReleases = () => brew.git('tag', '--list', '--sort=-v:refname').split('\n');

/** A new week upstream: a new signed API (a run that finds the API unchanged publishes nothing, brew included). */
let week = 0;
function newApiWeek() {
  week++;
  publishApi(upstream, [{ name: 'wget', version: `1.25.${week}`, bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(2000) }] }], key.privateKey, { generatedAt: 1795000000 + week * 604800 });
}

const brewOptions = (): BrewMirrorOptions => ({ gitUrl: brew.url, registryUrl: new URL(upstream.registryRoot).origin, installScriptUrl: `${upstream.apiRoot}/install.sh` });

async function sync(options: Partial<LocalSyncOptions> = {}) {
  return runSync(localSyncDeps(root, { log: jsonLogger({}, () => undefined) }), { apiUrl: upstream.apiRoot, publicKey: key.publicKey, brew: brewOptions(), ...options });
}

const serve = (mode: 'proxy' | 'redirect' = 'proxy') => serveMirror(localStores(root), mode);
const git = gitClient;

beforeAll(async () => {
  upstream = await startFixtureUpstream();
  brew = await startGitUpstream();
  publishApi(upstream, [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(2000) }] }], key.privateKey);
  upstream.setApiFile('install.sh', INSTALL_SH);
  const shared = ruby('x86_64-linux', 'x86_64_linux');
  brew.release('6.0.16', '4.0.4', [ruby('arm64-darwin', 'arm64_big_sur'), shared]);
  brew.release('6.0.17', '4.0.5', [ruby('arm64-darwin', 'arm64_big_sur'), shared]);
  pins6018 = [ruby('arm64-darwin', 'arm64_big_sur'), ruby('x86_64-darwin', 'catalina'), ruby('arm64-linux', 'arm64_linux'), ruby('x86_64-linux', 'x86_64_linux')];
  brew.release('6.0.18', '4.0.6', pins6018);
  brew.commit('Library/Homebrew/next.rb', 'unreleased\n');
});

afterAll(async () => {
  await upstream.close();
  await brew.close();
});

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'brew-mirror-'));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'brew-clone-'));
});

describe('brew.git in the store, served to a real git client', () => {
  test('a real git clone over the mirror gets every tag and the default branch, in redirect mode too, and never a redirect', async () => {
    const summary = await sync();
    expect(summary.published).toBe(true);
    // The newest releases, then the default branch's head (#36 item 5): here it pins what 6.0.18 pins.
    expect(summary.brew).toMatchObject({ head: brew.git('rev-parse', 'master'), tags: 3, releases: ['6.0.18', '6.0.17', '6.0.16', 'master'], failures: [] });

    const { server, base } = await serve('redirect');
    try {
      await git(work, 'clone', '--quiet', `${base}/brew.git`, 'brew');
      const clone = path.join(work, 'brew');
      expect(await git(clone, 'tag', '--list')).toBe('6.0.16\n6.0.17\n6.0.18');
      expect(await git(clone, 'rev-parse', 'HEAD')).toBe(brew.git('rev-parse', 'master'));
      expect(await git(clone, 'rev-parse', '6.0.18^{commit}')).toBe(brew.git('rev-parse', '6.0.18^{commit}'));
      // What install.sh does after its fetch: check out the newest release tag.
      await git(clone, 'checkout', '--quiet', '6.0.18');
      expect(fs.readFileSync(path.join(clone, 'Library/Homebrew/vendor/portable-ruby-version'), 'utf8')).toBe('4.0.6\n');
      await git(clone, 'fsck', '--no-progress');
    } finally {
      await server.stop(0);
    }
  });

  test('a weekly sync stores only the new objects, as one new pack, and `git fetch --force --tags` from the mirror gets the new release', async () => {
    await sync();
    const first = (await loadBrewRecord(localStores(root).objects, (await localStores(root).state.getPublished())!.generation))!;
    const { server, base } = await serve();
    try {
      await git(work, 'clone', '--quiet', `${base}/brew.git`, 'brew');
      const clone = path.join(work, 'brew');

      brew.commit('Library/Homebrew/weekly.rb', 'a week of work\n');
      // Releases share their Ruby until it is bumped: same version, same pins.
      brew.release('6.0.19', '4.0.6', pins6018.slice(0, 2));
      newApiWeek();
      const fetchesBefore = brew.requests.filter((r) => r.method === 'POST').length;
      const fullClone = Math.max(...brew.requests.filter((r) => r.method === 'POST').map((r) => r.bytes));
      const second = await sync();
      expect(second.published).toBe(true);
      expect(second.brew!.releases).toEqual(['6.0.19', '6.0.18', '6.0.17', 'master']);

      const record = (await loadBrewRecord(localStores(root).objects, second.generation!))!;
      const added = Object.keys(record.brewGit!.packs).filter((name) => !first.brewGit!.packs[name]);
      expect(added.map((n) => path.extname(n)).sort()).toEqual(['.idx', '.pack']);
      for (const [name, stored] of Object.entries(first.brewGit!.packs)) expect(record.brewGit!.packs[name]).toEqual(stored);
      // The week's fetch negotiated from the stored packs: its pack is a small fraction of the full history.
      const weekly = brew.requests.filter((r) => r.method === 'POST').slice(fetchesBefore);
      expect(weekly.length).toBeGreaterThan(0);
      expect(weekly.reduce((n, r) => n + r.bytes, 0)).toBeLessThan(fullClone / 4);

      await server.refresh();
      await git(clone, 'fetch', '--quiet', '--force', '--tags', 'origin');
      expect(await git(clone, 'rev-parse', 'refs/remotes/origin/master')).toBe(brew.git('rev-parse', 'master'));
      expect(await git(clone, 'tag', '--list')).toContain('6.0.19');
    } finally {
      await server.stop(0);
    }
  });

  test('the refs a generation publishes name only stored objects; a brew phase that fails publishes nothing', async () => {
    await sync();
    const { state, blobs } = localStores(root);
    const published = (await state.getPublished())!;
    const record = (await loadBrewRecord(localStores(root).objects, published.generation))!;
    for (const stored of Object.values(record.brewGit!.packs)) expect(await blobs.size(stored.sha256)).toBe(stored.size);

    upstream.setApiFile('install.sh', undefined);
    brew.commit('Library/Homebrew/later.rb', 'later\n');
    newApiWeek();
    try {
      const failed = await sync();
      expect(failed.published).toBe(false);
      expect(failed.error).toMatch(/install\.sh: HTTP 404/);
      expect((await state.getPublished())!.generation).toBe(published.generation);
    } finally {
      upstream.setApiFile('install.sh', INSTALL_SH);
    }
  });
});

describe('portable Ruby for the newest brew releases', () => {
  test('every pinned Ruby is served under both URL forms brew tries, byte for byte; the oldest release is left out', async () => {
    const summary = await sync({ brew: { ...brewOptions(), releases: 2 } });
    const [newest, next, older] = upstreamReleases();
    expect(summary.brew!.releases).toEqual([newest, next, 'master']);
    const record = (await loadBrewRecord(localStores(root).objects, summary.generation!))!;
    const { server, base } = await serve();
    try {
      for (const pin of record.releases.flatMap((r) => r.rubies)) {
        const byDigest = await fetch(`${base}/v2/homebrew/core/portable-ruby/blobs/sha256:${pin.sha256}`);
        expect(byDigest.status).toBe(200);
        expect(sha(Buffer.from(await byDigest.arrayBuffer()))).toBe(pin.sha256);
        const flat = await fetch(`${base}/bottles/${pin.file}`);
        expect(flat.status).toBe(200);
        expect(Buffer.from(await flat.arrayBuffer()).equals(rubies.get(pin.sha256)!)).toBe(true);
      }
      expect(record.releases.find((r) => r.tag === '6.0.18')!.rubies.map((r) => r.file)).toContain('portable-ruby-4.0.6.arm64_big_sur.bottle.tar.gz');
      // The third-newest release's own Ruby (no newer one pins its version) is not mirrored.
      const olderRuby = brew.git('show', `${older}:Library/Homebrew/vendor/portable-ruby-version`);
      expect(['4.0.4', '4.0.5']).toContain(olderRuby);
      expect((await fetch(`${base}/bottles/portable-ruby-${olderRuby}.arm64_big_sur.bottle.tar.gz`)).status).toBe(404);
      expect((await localStores(root).state.getPublished())!.brewReleases).toEqual([newest, next, 'master']);
    } finally {
      await server.stop(0);
    }
  });

  test('a pinned blob missing upstream fails that release only, and is reported', async () => {
    brew.release('6.0.20', '4.0.7', [ruby('arm64-darwin', 'arm64_big_sur', false)]);
    try {
      const summary = await sync();
      expect(summary.published).toBe(true);
      // 6.0.20 pins one Ruby, which is missing: neither it nor the head (which pins what 6.0.20 pins) is covered.
      expect(summary.brew!.releases).toEqual(upstreamReleases().slice(1, 3));
      const missing = { platform: 'arm64-darwin', reason: expect.stringMatching(/portable-ruby-4\.0\.7\.arm64_big_sur\.bottle\.tar\.gz .*HTTP 404/) };
      expect(summary.brew!.failures).toEqual([{ release: '6.0.20', ...missing }, { release: 'master', ...missing }]);
      expect((await localStores(root).state.getPublished())!.brewReleases).toEqual(upstreamReleases().slice(1, 3));
    } finally {
      brew.git('tag', '-d', '6.0.20');
    }
  });
});

describe('the install script and the one-line installer', () => {
  test('install.sh is served byte for byte; /install exports the settings from the configured URL and runs it', async () => {
    await sync();
    const { server, base } = await serve();
    try {
      const script = await fetch(`${base}/install.sh`);
      expect(Buffer.from(await script.arrayBuffer()).equals(INSTALL_SH)).toBe(true);
      // A forged Host header changes nothing: the URL comes from configuration.
      const wrapper = await (await fetch(`${base}/install`, { headers: { host: 'evil.example' } })).text();
      expect(wrapper).toContain(`export HOMEBREW_BREW_GIT_REMOTE=${base}/brew.git`);
      expect(wrapper).toContain('export HOMEBREW_ARTIFACT_DOMAIN_NO_FALLBACK=1');
      expect(wrapper).not.toContain('evil.example');
      // Run it as a new machine would (`curl … | bash`), with a home of its own.
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'home-'));
      // Where install.sh would have put brew (the stand-in script installs nothing): the wrapper then adds the cask command beside it.
      fs.mkdirSync(path.join(home, '.linuxbrew/bin'), { recursive: true });
      fs.writeFileSync(path.join(home, '.linuxbrew/bin/brew'), '#!/bin/sh\n', { mode: 0o755 });
      const { stdout } = await run('bash', ['-c', `curl -fsSL ${base}/install | bash`], { env: { PATH: process.env.PATH, HOME: home } });
      expect(stdout).toContain(`install from ${base}/brew.git`);
      expect(stdout).toContain(`==> Installed ${home}/.linuxbrew/bin/brew-mirror`);
      expect(fs.readFileSync(path.join(home, '.linuxbrew/bin/brew-mirror'), 'utf8')).toBe(BREW_MIRROR_SCRIPT);
      expect(fs.statSync(path.join(home, '.linuxbrew/bin/brew-mirror')).mode & 0o777).toBe(0o755);
      expect(fs.readFileSync(path.join(home, '.homebrew/brew.env'), 'utf8')).toContain(`HOMEBREW_API_DOMAIN=${base}/api`);
      const env = await (await fetch(`${base}/brew.env`)).text();
      expect(env).toContain(`HOMEBREW_BREW_GIT_REMOTE=${base}/brew.git`);
    } finally {
      await server.stop(0);
    }
  });

  test('without brew, nothing of it is served and brew.env does not point at a brew.git that is not there', async () => {
    await sync({ brew: undefined });
    const { server, base } = await serve();
    try {
      for (const route of ['/brew.git/info/refs', '/brew.git/HEAD', '/install', '/install.sh']) expect([route, (await fetch(`${base}${route}`)).status]).toEqual([route, 404]);
      expect(await (await fetch(`${base}/brew.env`)).text()).not.toContain('HOMEBREW_BREW_GIT_REMOTE');
    } finally {
      await server.stop(0);
    }
  });
});

describe('a run whose API is unchanged publishes what changed of brew (#36 fault 1)', () => {
  test('a new release upstream with the API as it was: published, `git fetch --tags` sees it, and its Ruby is served', async () => {
    const first = await sync();
    expect(first.published).toBe(true);
    const { server, base } = await serve();
    try {
      await git(work, 'clone', '--quiet', `${base}/brew.git`, 'brew');
      const clone = path.join(work, 'brew');
      const pin = ruby('x86_64-linux', 'x86_64_linux');
      brew.release('6.0.30', '4.0.9', [pin]);
      try {
        const second = await sync();
        expect(second).toMatchObject({ published: true, generation: expect.any(String) });
        expect(second.unchanged).toBeUndefined();
        expect(second.brew!.releases[0]).toBe('6.0.30');
        await server.refresh();
        await git(clone, 'fetch', '--quiet', '--force', '--tags', 'origin');
        expect(await git(clone, 'tag', '--list')).toContain('6.0.30');
        const served = await fetch(`${base}/bottles/portable-ruby-4.0.9.x86_64_linux.bottle.tar.gz`);
        expect(served.status).toBe(200);
        expect(sha(Buffer.from(await served.arrayBuffer()))).toBe(pin.sha256);
      } finally {
        brew.git('tag', '-d', '6.0.30');
      }
    } finally {
      await server.stop(0);
    }
  });

  test('a commit on the default branch alone (API as it was) is published: its head is what `brew update` follows', async () => {
    await sync();
    const head = brew.commit('Library/Homebrew/dev.rb', `dev ${randomBytes(4).toString('hex')}\n`);
    const second = await sync();
    expect(second.published).toBe(true);
    expect(second.brew!.head).toBe(head);
  });

  test('a new install.sh alone (API and refs as they were) is published', async () => {
    await sync();
    const changed = Buffer.concat([INSTALL_SH, Buffer.from('# a newer install.sh\n')]);
    upstream.setApiFile('install.sh', changed);
    try {
      const second = await sync();
      expect(second.published).toBe(true);
      const { server, base } = await serve();
      try {
        expect(Buffer.from(await (await fetch(`${base}/install.sh`)).arrayBuffer()).equals(changed)).toBe(true);
      } finally {
        await server.stop(0);
      }
    } finally {
      upstream.setApiFile('install.sh', INSTALL_SH);
    }
  });

  test('nothing changed upstream, API and brew alike: the run is unchanged and publishes nothing', async () => {
    const first = await sync();
    const second = await sync();
    expect(second).toMatchObject({ published: false, unchanged: true, generation: first.generation });
  });

  test('a release that was not covered is tried again, even when nothing else changed', async () => {
    const missing = ruby('arm64-darwin', 'arm64_big_sur', false);
    brew.release('6.0.31', '4.0.10', [missing]);
    try {
      const first = await sync();
      expect(first.brew!.failures.map((f) => f.release)).toEqual(['6.0.31', 'master']);
      upstream.addBlob('portable-ruby', rubies.get(missing.sha256)!);
      const second = await sync();
      expect(second.published).toBe(true);
      expect(second.brew!.releases[0]).toBe('6.0.31');
      expect(second.brew!.failures).toEqual([]);
    } finally {
      brew.git('tag', '-d', '6.0.31');
    }
  });
});

describe('portable Ruby per release and platform (#36 items 5 and 6)', () => {
  test("one platform's missing blob leaves the release's other platforms served; /status and the page name the gap", async () => {
    const linux = ruby('x86_64-linux', 'x86_64_linux');
    brew.release('6.0.40', '4.0.40', [ruby('arm64-darwin', 'arm64_big_sur', false), linux]);
    try {
      const summary = await sync();
      expect(summary.published).toBe(true);
      expect(summary.brew!.releases.slice(0, 1)).toEqual(['6.0.40']);
      expect(summary.brew!.failures).toEqual([
        { release: '6.0.40', platform: 'arm64-darwin', reason: expect.stringMatching(/portable-ruby-4\.0\.40\.arm64_big_sur\.bottle\.tar\.gz .*HTTP 404/) },
        { release: 'master', platform: 'arm64-darwin', reason: expect.stringMatching(/HTTP 404/) },
      ]);
      const { server, base } = await serve();
      try {
        const flat = await fetch(`${base}/bottles/portable-ruby-4.0.40.x86_64_linux.bottle.tar.gz`);
        expect(flat.status).toBe(200);
        expect(sha(Buffer.from(await flat.arrayBuffer()))).toBe(linux.sha256);
        expect((await fetch(`${base}/v2/homebrew/core/portable-ruby/blobs/sha256:${linux.sha256}`)).status).toBe(200);
        expect((await fetch(`${base}/bottles/portable-ruby-4.0.40.arm64_big_sur.bottle.tar.gz`)).status).toBe(404);
        const status = (await (await fetch(`${base}/status`)).json()) as { brew: { releases: string[]; notCovered: { release: string; platform: string; reason: string }[] } };
        expect(status.brew.releases).toContain('6.0.40');
        expect(status.brew.notCovered).toEqual([
          { release: '6.0.40', platform: 'arm64-darwin', reason: expect.stringMatching(/HTTP 404/) },
          { release: 'master', platform: 'arm64-darwin', reason: expect.stringMatching(/HTTP 404/) },
        ]);
        const page = await (await fetch(`${base}/`)).text();
        expect(page).toMatch(/<td>6\.0\.40<\/td><td>arm64-darwin<\/td><td>[^<]*HTTP 404/);
      } finally {
        await server.stop(0);
      }
    } finally {
      brew.git('tag', '-d', '6.0.40');
    }
  });

  test("the default branch's head is covered too: a client that ran a developer command gets the Ruby its head pins", async () => {
    const headRuby = ruby('x86_64-linux', 'x86_64_linux');
    brew.commit('Library/Homebrew/vendor/portable-ruby-version', '4.0.99\n');
    brew.commit('Library/Homebrew/vendor/portable-ruby-x86_64-linux', `ruby_TAG=x86_64_linux\nruby_SHA=${headRuby.sha256}\n`);
    const summary = await sync();
    expect(summary.brew!.releases.at(-1)).toBe('master');
    const { server, base } = await serve();
    try {
      const served = await fetch(`${base}/bottles/portable-ruby-4.0.99.x86_64_linux.bottle.tar.gz`);
      expect(served.status).toBe(200);
      expect(sha(Buffer.from(await served.arrayBuffer()))).toBe(headRuby.sha256);
      expect(await (await fetch(`${base}/`)).text()).toContain('<code>master</code> (default branch head)');
    } finally {
      await server.stop(0);
    }
  });
});

describe('what a run moved of brew, and its log lines (#36 item 11)', () => {
  test('the summary counts brew.git objects and bytes, Rubies and the install script; a second run moves only the week', async () => {
    const first = await sync();
    const moved = first.brew!.moved;
    const record = (await loadBrewRecord(localStores(root).objects, first.generation!))!;
    const packBytes = Object.values(record.brewGit!.packs).reduce((n, p) => n + p.size, 0);
    const objects = Number(brew.git('rev-list', '--objects', '--all').split('\n').filter(Boolean).length);
    expect(moved.brewGit).toEqual({ packs: Object.keys(record.brewGit!.packs).length / 2, objects, bytes: packBytes });
    const rubies = new Map(record.releases.flatMap((r) => r.rubies.filter((ruby) => !ruby.error).map((ruby) => [ruby.sha256, ruby.size!] as const)));
    expect(moved.rubies).toEqual({ count: rubies.size, bytes: [...rubies.values()].reduce((n, b) => n + b, 0) });
    expect(moved.installScript).toEqual({ bytes: INSTALL_SH.length });

    brew.commit('Library/Homebrew/moved.rb', `one more ${randomBytes(4).toString('hex')}\n`);
    const second = await sync();
    expect(second.brew!.moved.brewGit.packs).toBe(1);
    expect(second.brew!.moved.brewGit.objects).toBeGreaterThan(0);
    expect(second.brew!.moved.brewGit.objects).toBeLessThan(10);
    expect(second.brew!.moved.rubies).toEqual({ count: 0, bytes: 0 });
  });

  test("the planned and published log lines agree on the orphans: brew's own blobs are never counted as orphans", async () => {
    await sync();
    brew.commit('Library/Homebrew/orphans.rb', `again ${randomBytes(4).toString('hex')}\n`);
    newApiWeek();
    const lines: Record<string, unknown>[] = [];
    const summary = await runSync(localSyncDeps(root, { log: jsonLogger({}, (line) => lines.push(JSON.parse(line))) }), { apiUrl: upstream.apiRoot, publicKey: key.publicKey, brew: brewOptions() });
    expect(summary.published).toBe(true);
    const planned = lines.find((l) => l.message === 'planned')!;
    const published = lines.find((l) => l.message === 'published')!;
    // Last week's wget bottle is the one orphan; brew.git's packs and the Rubies are stored blobs the plan does not name, yet kept.
    expect([planned.orphans, published.orphans]).toEqual([1, 1]);
  });
});

describe('a mirror behind a path (#36 item 4)', () => {
  /** The URL brew 6.0.18 builds from HOMEBREW_ARTIFACT_DOMAIN for a ghcr.io path: the domain's path goes after `/v2/` (AIRGAP.md). */
  const brew6018 = (domain: string, ghcrPath: string) => {
    const url = new URL(domain);
    return `${url.origin}/v2${url.pathname.replace(/\/+$/, '')}/${ghcrPath}`;
  };
  /** Newer brew (Homebrew/brew PR #23062) leaves a domain that already contains `/v2` as it is. */
  const brewNewer = (domain: string, ghcrPath: string) => (/\/v2(\/|$)/.test(new URL(domain).pathname) ? `${domain.replace(/\/+$/, '')}/${ghcrPath}` : brew6018(domain, ghcrPath));

  test('every route answers under the path, and the /v2/ layout in both forms brew builds from the settings the mirror prints', async () => {
    const summary = await sync();
    const record = (await loadBrewRecord(localStores(root).objects, summary.generation!))!;
    const pin = record.releases.flatMap((r) => r.rubies).find((ruby) => !ruby.error)!;
    const { server, base } = await serveMirror(localStores(root), 'proxy', '/brew');
    try {
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/brew$/);
      // The settings the mirror prints, from its own brew.env.
      const env = Object.fromEntries(
        (await (await fetch(`${base}/brew.env`)).text())
          .split('\n')
          .filter((line) => line.startsWith('HOMEBREW_'))
          .map((line) => line.split('=') as [string, string]),
      );
      expect(env.HOMEBREW_ARTIFACT_DOMAIN).toBe(base);
      expect((await fetch(`${env.HOMEBREW_API_DOMAIN}/formula.jws.json`)).status).toBe(200);
      expect((await fetch(`${env.HOMEBREW_BOTTLE_DOMAIN}/${pin.file}`)).status).toBe(200);
      const blob = `homebrew/core/portable-ruby/blobs/sha256:${pin.sha256}`;
      for (const url of [brew6018(env.HOMEBREW_ARTIFACT_DOMAIN, blob), brewNewer(`${env.HOMEBREW_ARTIFACT_DOMAIN}/v2`, blob)]) {
        const response = await fetch(url);
        expect([url, response.status]).toEqual([url, 200]);
        expect(sha(Buffer.from(await response.arrayBuffer()))).toBe(pin.sha256);
      }
      const tags = (await (await fetch(brew6018(env.HOMEBREW_ARTIFACT_DOMAIN, 'homebrew/core/wget/tags/list'))).json()) as { tags: string[] };
      for (const url of [brew6018(env.HOMEBREW_ARTIFACT_DOMAIN, `homebrew/core/wget/manifests/${tags.tags[0]}`), brewNewer(`${base}/v2`, `homebrew/core/wget/manifests/${tags.tags[0]}`)]) {
        expect([url, (await fetch(url, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } })).status]).toEqual([url, 200]);
      }
      // brew.git, the installer, the page and /status, under the path.
      await git(work, 'clone', '--quiet', env.HOMEBREW_BREW_GIT_REMOTE, 'brew');
      expect(await git(path.join(work, 'brew'), 'rev-parse', 'HEAD')).toBe(brew.git('rev-parse', 'master'));
      expect(await (await fetch(`${base}/install`)).text()).toContain(`export HOMEBREW_BREW_GIT_REMOTE=${base}/brew.git`);
      expect((await fetch(`${base}/`)).status).toBe(200);
      expect((await fetch(`${base}/status`)).status).toBe(200);
      // Another path on the same host is not this mirror's.
      expect((await fetch(`${new URL(base).origin}/other/api/formula.jws.json`)).status).toBe(404);
    } finally {
      await server.stop(0);
    }
  });
});
