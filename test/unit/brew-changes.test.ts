import { brewChangeSince } from '../../engine/brew/brew-changes';
import { BrewRecord } from '../../engine/brew/brew-record';
import { Upstream } from '../../engine/upstream/client';

// What the check compares (issue #36, fault 1): brew.git's refs as a smart server (GitHub,
// `git http-backend`) and a dumb one (another mirror) advertise them, against a record's info/refs.
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const REMOTE = 'http://127.0.0.1:9/Homebrew/brew';

const pkt = (line: string) => `${(Buffer.byteLength(line) + 4).toString(16).padStart(4, '0')}${line}`;
const smartAdvertisement = (refs: [string, string][], branch = 'main') =>
  pkt('# service=git-upload-pack\n') +
  '0000' +
  refs.map(([sha, ref], i) => pkt(i === 0 ? `${sha} ${ref}\0multi_ack symref=HEAD:refs/heads/${branch} agent=git/2.39\n` : `${sha} ${ref}\n`)).join('') +
  '0000';

function record(infoRefs: string, extra: Partial<BrewRecord> = {}): BrewRecord {
  return {
    brewGit: { remote: REMOTE, defaultBranch: 'main', head: A, tags: 1, files: { HEAD: 'ref: refs/heads/main\n', 'info/refs': infoRefs, 'objects/info/packs': '' }, packs: {} },
    releases: [{ tag: '6.0.18', rubies: [] }],
    ...extra,
  };
}

/** An upstream whose fetch answers from `routes` (path and query → body and content type); every request is recorded. */
function upstreamServing(routes: Record<string, { body: string; type?: string }>) {
  const asked: string[] = [];
  const fetchStub = (async (input: string | URL) => {
    const url = new URL(String(input));
    asked.push(url.pathname + url.search);
    const route = routes[url.pathname + url.search];
    return route ? new Response(route.body, { status: 200, headers: { 'content-type': route.type ?? 'text/plain' } }) : new Response('', { status: 404 });
  }) as typeof fetch;
  return { upstream: new Upstream({ fetch: fetchStub, limits: {} }), asked };
}

const INFO_REFS = `${A}\trefs/heads/main\n${B}\trefs/tags/6.0.18\n${C}\trefs/tags/6.0.18^{}\n`;
const SMART = '/Homebrew/brew/info/refs?service=git-upload-pack';

describe('brewChangeSince', () => {
  test('a smart advertisement with the same branch and tags (other branches and pull refs aside) is no change', async () => {
    const advertised = smartAdvertisement([[A, 'HEAD'], [A, 'refs/heads/main'], [B, 'refs/heads/other'], [C, 'refs/pull/1/head'], [B, 'refs/tags/6.0.18'], [C, 'refs/tags/6.0.18^{}']]);
    const { upstream, asked } = upstreamServing({ [SMART]: { body: advertised, type: 'application/x-git-upload-pack-advertisement' } });
    expect(await brewChangeSince(upstream, { gitUrl: REMOTE }, record(INFO_REFS))).toBeUndefined();
    expect(asked).toEqual([SMART]);
  });

  test('a new tag, a moved branch or a new default branch is a change, named', async () => {
    const smart = (refs: [string, string][], branch?: string) => upstreamServing({ [SMART]: { body: smartAdvertisement(refs, branch), type: 'application/x-git-upload-pack-advertisement' } }).upstream;
    const same: [string, string][] = [[A, 'HEAD'], [A, 'refs/heads/main'], [B, 'refs/tags/6.0.18'], [C, 'refs/tags/6.0.18^{}']];
    expect(await brewChangeSince(smart([...same, [A, 'refs/tags/6.0.19']]), { gitUrl: REMOTE }, record(INFO_REFS))).toBe("brew.git's refs moved (1 changed)");
    expect(await brewChangeSince(smart([[B, 'HEAD'], [B, 'refs/heads/main'], ...same.slice(2)]), { gitUrl: REMOTE }, record(INFO_REFS))).toBe("brew.git's refs moved (2 changed)");
    expect(await brewChangeSince(smart(same, 'master'), { gitUrl: REMOTE }, record(INFO_REFS))).toBe("brew.git's default branch is now master");
  });

  test('a dumb server (another mirror) is read from info/refs and HEAD', async () => {
    const { upstream, asked } = upstreamServing({ [SMART]: { body: INFO_REFS }, '/Homebrew/brew/HEAD': { body: 'ref: refs/heads/main\n' } });
    expect(await brewChangeSince(upstream, { gitUrl: REMOTE }, record(INFO_REFS))).toBeUndefined();
    expect(asked).toEqual([SMART, '/Homebrew/brew/HEAD']);
  });

  test('no record, or a release left uncovered, is a change without asking upstream', async () => {
    const { upstream, asked } = upstreamServing({});
    expect(await brewChangeSince(upstream, { gitUrl: REMOTE }, undefined)).toBe('the published generation has no brew.git');
    expect(await brewChangeSince(upstream, { gitUrl: REMOTE }, record(INFO_REFS, { releases: [{ tag: '6.0.19', rubies: [], error: 'HTTP 404' }] }))).toBe('release 6.0.19 (*) was not covered (HTTP 404); trying again');
    expect(asked).toEqual([]);
  });

  test('a truncated advertisement is refused, not read as fewer refs', async () => {
    const cut = smartAdvertisement([[A, 'refs/heads/main'], [B, 'refs/tags/6.0.18']]).slice(0, -20);
    const { upstream } = upstreamServing({ [SMART]: { body: cut, type: 'application/x-git-upload-pack-advertisement' } });
    await expect(brewChangeSince(upstream, { gitUrl: REMOTE }, record(INFO_REFS))).rejects.toThrow(/malformed pkt-line at byte/);
  });
});
