import { BREW_USER_AGENT, FAKE_USER_AGENT, caskRequest } from '../../engine/casks/cask-request';
import { selectCasks } from '../../engine/casks/cask-selection';
import { checkedCaskBlobs } from '../../engine/casks/cask-record';

// How the sync reads casks from the signed packages files and asks their vendors (issue #33).
const SHA = 'b'.repeat(64);
const entry = (url: string, extra: Record<string, unknown> = {}) => ({ version: '1.0', sha256: SHA, url_args: [url], ...extra });

describe('selectCasks', () => {
  const casksByTag = new Map<string, Record<string, unknown>>([
    ['arm64_sonoma', { app: entry('https://vendor.example/App-1.0.dmg', { depends_on_args: { ':cask': ['homebrew/cask/helper'], ':formula': 'wget', ':macos': '>= :big_sur' } }), helper: entry('https://vendor.example/helper.zip') }],
    ['x86_64_linux', { helper: entry('https://vendor.example/helper-linux.tar.gz'), broken: { version: '1', sha256: 'nope', url_args: ['https://vendor.example/b'] } }],
  ]);

  test('the selected casks and their cask dependencies, per tag; formula dependencies are handed back', () => {
    const { files, gaps, formulae } = selectCasks(['app'], casksByTag);
    expect(files.map((f) => `${f.token} ${f.tag} ${f.fileName}`)).toEqual(['app arm64_sonoma App-1.0.dmg', 'helper arm64_sonoma helper.zip']);
    expect(gaps).toEqual([]);
    expect(formulae).toEqual(['wget']);
  });

  test('a tag the cask is not for is skipped; a malformed entry is a named gap; an unknown token is a usage error', () => {
    expect(selectCasks(['helper', 'broken'], casksByTag).gaps).toEqual([{ token: 'broken', tag: 'x86_64_linux', reason: 'its sha256 is malformed ("nope")', refused: true }]);
    expect(() => selectCasks(['missing'], casksByTag)).toThrow("--casks: no mirrored tag's packages file names missing");
    expect(() => selectCasks(['../etc'], casksByTag)).toThrow('is not a cask token');
  });

  test(':no_check has no sha256; a file name brew could not have written is replaced by token-version', () => {
    const { files } = selectCasks(['x'], new Map([['x86_64_linux', { x: { version: '2', sha256: ':no_check', url_args: ['https://v.example/dl?id=1'] } }]]));
    expect(files).toEqual([{ token: 'x', tag: 'x86_64_linux', version: '2', url: 'https://v.example/dl?id=1', urlKwargs: {}, fileName: 'dl' }]);
    const odd = selectCasks(['y'], new Map([['x86_64_linux', { y: entry('https://v.example/') }]])).files[0];
    expect(odd.fileName).toBe('y-1.0');
  });
});

describe('caskRequest', () => {
  test("url_kwargs that change the request become headers: brew's fake user agent, a referer, headers, cookies", () => {
    expect(caskRequest({})).toEqual({ headers: { 'user-agent': BREW_USER_AGENT } });
    expect(caskRequest({ user_agent: ':fake', referer: 'https://vendor.example/', header: 'X-Token: abc', cookies: { license: 'accept', region: 'eu' }, verified: 'vendor.example/' })).toEqual({
      headers: { 'user-agent': FAKE_USER_AGENT, referer: 'https://vendor.example/', 'x-token': 'abc', cookie: 'license=accept; region=eu' },
    });
    expect(caskRequest({ headers: ['Accept: */*', 'X-A: 1'] })).toEqual({ headers: { 'user-agent': BREW_USER_AGENT, accept: '*/*', 'x-a': '1' } });
  });

  test('what the sync cannot send as brew would is named, never guessed', () => {
    expect(caskRequest({ data: { agree: 1 } })).toEqual({ unsupported: 'a POST download (url data:), which the sync does not send yet' });
    expect(caskRequest({ using: ':git' })).toEqual({ unsupported: 'download strategy ":git"' });
    expect(caskRequest({ header: 'X-Bad: a\nb' })).toEqual({ unsupported: 'header "X-Bad: a\\nb"' });
    expect(caskRequest({ something_new: true })).toEqual({ unsupported: 'url option "something_new"' });
  });
});

describe('checkedCaskBlobs (bundle import)', () => {
  const record = (files: object[]) => Buffer.from(JSON.stringify({ files, failures: [] }));
  const file = (sha256: string, unpinned?: true) => ({ token: 't', tag: 'x86_64_linux', version: '1', url: 'https://v/t', sha256, size: 1, fileName: 't', ...(unpinned ? { unpinned } : {}) });

  test('a pinned file must have a digest the signed packages files give a cask; an unpinned one need not', () => {
    expect(checkedCaskBlobs(record([file(SHA), file('c'.repeat(64), true)]), new Set([SHA]))).toEqual([SHA, 'c'.repeat(64)]);
    expect(checkedCaskBlobs(record([file('d'.repeat(64))]), new Set([SHA]))).toBe(`casks.json names t (x86_64_linux) with digest ${'d'.repeat(64)}, which no signed packages file gives a cask`);
    expect(checkedCaskBlobs(Buffer.from('{'), new Set())).toBe('casks.json is not JSON');
  });
});
