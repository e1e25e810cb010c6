import { existsSync, readdirSync, readFileSync } from 'fs';
import * as path from 'path';

// The README is the front door (what it is, the two commands, first steps,
// deploying, links); everything else lives in docs/. Every relative link
// between them must lead to a file and, with an anchor, to a heading there.
const ROOT = path.resolve(__dirname, '../..');
const README_LINE_BUDGET = 300;
const pages = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');

function anchorsOf(page: string): Set<string> {
  const text = readFileSync(path.join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1])));
}

describe('README and docs/', () => {
  test(`the README stays under ${README_LINE_BUDGET} lines, opens with the two commands and links every page of docs/`, () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThanOrEqual(README_LINE_BUDGET);
    expect(readme.split('\n').slice(2, 6).join('\n')).toMatch(/npm ci && npm run synth[\s\S]*npm ci && npm test/);
    for (const page of pages.filter((p) => p !== 'README.md')) expect([page, readme.includes(`](${page})`)]).toEqual([page, true]);
  });

  test.each(pages)('every relative link in %s leads to a file and heading that exist', (page) => {
    const text = readFileSync(path.join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const [file, hash] = target.split('#');
      const resolved = file ? path.normalize(path.join(path.dirname(page), file)) : page;
      if (!existsSync(path.join(ROOT, resolved))) broken.push(`${target}: no ${resolved}`);
      else if (hash && resolved.endsWith('.md') && !anchorsOf(resolved).has(hash)) broken.push(`${target}: no heading #${hash} in ${resolved}`);
    }
    expect(broken).toEqual([]);
  });
});
