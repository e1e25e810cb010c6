import { createHash } from 'crypto';
import { formatByteSize } from '../byte-size';
import { RunRecord } from '../ports';
import { tapClientLines } from '../taps/tap-client';

/**
 * The page at `/`, for people: what this mirror is, how fresh it is, what it
 * holds, and the two things a person copies (the one-line install and the
 * fleet's brew.env). Plain server-rendered HTML with one inline style sheet,
 * allowed by its hash in the page's CSP: no scripts, no external assets, so it
 * renders the same on an air-gapped phone. Every value is escaped.
 */
export interface HomePageView {
  readonly publicUrl?: string;
  readonly generation?: {
    readonly id: string;
    readonly publishedAt: string;
    readonly verifiedAt?: string;
    readonly bottlesPerTag: ReadonlyMap<string, number>;
    readonly brewReleases: readonly string[];
    /** The default branch's name when its head is among `brewReleases`'s sources (shown as such, not as a release). */
    readonly brewHeadBranch?: string;
    /** Every release/platform pair whose portable Ruby is not served, and why (already fit for a public page). */
    readonly brewNotCovered?: readonly { readonly release: string; readonly platform: string; readonly reason: string }[];
    readonly brewGitHead?: string;
    readonly installScript: boolean;
  };
  readonly lastRun?: Pick<RunRecord, 'runId' | 'status' | 'startedAt' | 'finishedAt' | 'bottles'> & { readonly error?: string };
  /** The brew.env body, when a public URL is configured. */
  readonly brewEnv?: string;
  /** The generation's cask files, and the casks it could not mirror and why (issue #33; reasons already fit for a public page). */
  readonly casks?: {
    readonly files: readonly { readonly token: string; readonly tag: string; readonly version: string; readonly size: number; readonly unpinned?: boolean }[];
    readonly failures: readonly { readonly token: string; readonly tag: string; readonly reason: string }[];
  };
  /** The generation's third-party taps (issue #34): how to tap each, and what is not mirrored and why (reasons fit for a public page). */
  readonly taps?: {
    readonly served: readonly { readonly name: string; readonly head: string; readonly mirrored: number; readonly downloads: number; readonly bytes: number; readonly mirroredAt: string }[];
    readonly notMirrored: readonly { readonly name: string; readonly reason: string }[];
    /** Brewfile entries the mirror cannot serve (`mas`, `vscode`, …). */
    readonly brewfileNotServed: readonly { readonly type: string; readonly name: string; readonly line: number | null }[];
  };
  /** Set when pull-through is on (issue #24): what it may fetch, and what it did since the server started. */
  readonly pullThrough?: { readonly named: number; readonly pulls: number; readonly hits: number; readonly bytes: number; readonly failures: number };
  readonly now: Date;
}

const STYLE = [
  'body{font:16px/1.5 system-ui,-apple-system,sans-serif;margin:0 auto;max-width:46rem;padding:1rem;color:#1d1d1f}',
  'h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.15rem;margin:1.5rem 0 .4rem}',
  'pre{background:#f2f2f4;padding:.75rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all;border-radius:6px}',
  'table{border-collapse:collapse}td,th{padding:.2rem .8rem .2rem 0;text-align:left}td.n{text-align:right}',
  '.warn{color:#a61b1b}.muted{color:#5f5f66}',
].join('');

/** The page's Content-Security-Policy: nothing but its own style sheet. */
export const HOME_PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML-escapes text for element content and quoted attributes. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

/** `3 hours`, `2 days`: the largest whole unit. */
export function formatAge(ms: number): string {
  const units: [string, number][] = [['day', 86_400_000], ['hour', 3_600_000], ['minute', 60_000]];
  for (const [unit, size] of units) {
    const n = Math.floor(ms / size);
    if (n >= 1) return `${n} ${unit}${n === 1 ? '' : 's'}`;
  }
  return 'less than a minute';
}

function pullThroughSection(p: NonNullable<HomePageView['pullThrough']>): string[] {
  const n = (count: number, one: string) => `${count.toLocaleString('en-US')} ${one}${count === 1 ? '' : 's'}`;
  return [
    '<h2>Fetched on request</h2>',
    `<p>${n(p.named, 'more bottle')} named by Homebrew's signed API can be fetched from upstream on first request, checked against the signed digest and kept.</p>`,
    `<p>Since this server started: ${n(p.pulls, 'fetch')} (${escapeHtml(formatByteSize(p.bytes))}), ${n(p.hits, 'request')} answered from what was fetched, ${n(p.failures, 'failure')}.</p>`,
  ];
}

/** The mirrored casks per platform with their versions, and the ones that could not be mirrored, with why. */
function caskSection(c: NonNullable<HomePageView['casks']>): string[] {
  const e = escapeHtml;
  const rows = [...c.files].sort((a, b) => a.token.localeCompare(b.token) || a.tag.localeCompare(b.tag));
  const out = [
    '<h2>Casks</h2>',
    '<p>Install them with <code>brew mirror install --cask NAME</code> (also <code>upgrade</code>, <code>reinstall</code>, <code>fetch</code>): <code>/install</code> puts the command beside brew, or fetch it from <a href="/brew-mirror">/brew-mirror</a> into brew&#39;s <code>bin</code>. A plain <code>brew install --cask</code> would try the vendor.</p>',
    rows.length === 0
      ? '<p>No cask file is mirrored.</p>'
      : `<table><tr><th>cask</th><th>version</th><th>platform</th><th>size</th><th></th></tr>${rows
          .map((f) => `<tr><td>${e(f.token)}</td><td>${e(f.version)}</td><td>${e(f.tag)}</td><td class="n">${e(formatByteSize(f.size))}</td><td>${f.unpinned ? 'not covered by Homebrew&#39;s signature (sha256 :no_check)' : ''}</td></tr>`)
          .join('')}</table>`,
  ];
  if (c.failures.length > 0) {
    out.push(
      '<h2>Casks not mirrored</h2>',
      `<table><tr><th>cask</th><th>platform</th><th>why</th></tr>${c.failures.map((f) => `<tr><td>${e(f.token)}</td><td>${e(f.tag)}</td><td>${e(f.reason)}</td></tr>`).join('')}</table>`,
    );
  }
  return out;
}

/** Each mirrored tap with the lines a Mac runs, and what of the taps (and Brewfiles) is not mirrored, with why. */
function tapSection(t: NonNullable<HomePageView['taps']>, publicUrl: string | undefined): string[] {
  const e = escapeHtml;
  const out = ['<h2>Third-party taps</h2>'];
  if (t.served.length === 0) out.push('<p>No tap is mirrored.</p>');
  else {
    out.push(
      `<table><tr><th>tap</th><th>formulae and casks mirrored</th><th>files</th><th>size</th><th>rewritten at</th></tr>${t.served
        .map((tap) => `<tr><td>${e(tap.name)}</td><td class="n">${tap.mirrored}</td><td class="n">${tap.downloads}</td><td class="n">${e(formatByteSize(tap.bytes))}</td><td><code>${e(tap.head.slice(0, 12))}</code></td></tr>`)
        .join('')}</table>`,
    );
    if (publicUrl) {
      const lines = t.served.map((tap) => tapClientLines(publicUrl, tap.name));
      out.push(
        '<p>On each machine, tap from this mirror and trust the tap (brew trusts a tap by its URL):</p>',
        `<pre>${lines.map((l) => e(l.command)).join('\n')}</pre>`,
        '<p>or in the fleet&#39;s Brewfile:</p>',
        `<pre>${lines.map((l) => e(l.brewfile)).join('\n')}</pre>`,
        '<p class="muted"><code>HOMEBREW_ALLOWED_TAPS</code> and <code>HOMEBREW_FORBIDDEN_TAPS</code>, if the fleet sets them, must name these URLs.</p>',
      );
    }
  }
  if (t.notMirrored.length > 0) {
    out.push('<h2>Not mirrored from taps</h2>', `<table><tr><th>formula, cask or tap</th><th>why</th></tr>${t.notMirrored.map((f) => `<tr><td>${e(f.name)}</td><td>${e(f.reason)}</td></tr>`).join('')}</table>`);
  }
  if (t.brewfileNotServed.length > 0) {
    out.push(
      '<h2>Brewfile entries this mirror cannot serve</h2>',
      `<table><tr><th>entry</th><th>line</th></tr>${t.brewfileNotServed.map((u) => `<tr><td>${e(`${u.type} "${u.name}"`)}</td><td class="n">${u.line ?? ''}</td></tr>`).join('')}</table>`,
    );
  }
  return out;
}

export function renderHomePage(view: HomePageView): string {
  const e = escapeHtml;
  const g = view.generation;
  const sections: string[] = [];
  sections.push(
    '<h1>Homebrew mirror</h1>',
    `<p>This server mirrors Homebrew for machines whose only way out is this mirror: Homebrew's signed API, the bottles it names, ${
      g?.brewGitHead ? 'brew itself (brew.git and the portable Ruby each release pins) and the install script' : 'and nothing of brew itself yet'
    }. Every file was verified against Homebrew's signature or sha256 before it was published here.</p>`,
  );
  if (!g) {
    sections.push('<h2>Published generation</h2>', '<p class="warn">Nothing is published yet: the first sync has not finished.</p>');
  } else {
    const age = formatAge(view.now.getTime() - Date.parse(g.publishedAt));
    const verified = g.verifiedAt ? ` Upstream last checked ${e(formatAge(view.now.getTime() - Date.parse(g.verifiedAt)))} ago.` : '';
    const tags = [...g.bottlesPerTag].sort(([a], [b]) => a.localeCompare(b));
    const total = tags.reduce((n, [, count]) => n + count, 0);
    sections.push(
      '<h2>Published generation</h2>',
      `<p>Generation <code>${e(g.id)}</code>, published ${e(age)} ago (${e(g.publishedAt)}).${verified}</p>`,
      '<h2>Bottles per platform</h2>',
      tags.length === 0
        ? '<p>No bottles.</p>'
        : `<table><tr><th>platform tag</th><th>bottles</th></tr>${tags.map(([tag, n]) => `<tr><td>${e(tag)}</td><td class="n">${n}</td></tr>`).join('')}<tr><th>total</th><th class="n">${total}</th></tr></table>`,
      '<h2>brew releases covered</h2>',
      g.brewReleases.length === 0
        ? '<p>None: this mirror serves no portable Ruby, so brew cannot run from it alone.</p>'
        : `<p>${g.brewReleases.map((r) => `<code>${e(r)}</code>${r === g.brewHeadBranch ? ' (default branch head)' : ''}`).join(', ')}${g.brewGitHead ? `; brew.git at <code>${e(g.brewGitHead.slice(0, 12))}</code>` : ''}.</p>`,
    );
    const gaps = g.brewNotCovered ?? [];
    if (gaps.length > 0) {
      sections.push(
        '<h2>Portable Ruby not served</h2>',
        `<table><tr><th>release</th><th>platform</th><th>why</th></tr>${gaps.map((gap) => `<tr><td>${e(gap.release)}</td><td>${e(gap.platform)}</td><td>${e(gap.reason)}</td></tr>`).join('')}</table>`,
      );
    }
  }
  const run = view.lastRun;
  sections.push('<h2>Last sync</h2>');
  if (!run) sections.push('<p>No sync has run yet.</p>');
  else {
    const when = run.finishedAt ?? run.startedAt;
    const counts = run.bottles ? `: ${run.bottles.transferred} bottles copied, ${run.bottles.skipped} already here, ${run.bottles.failed} failed` : '';
    sections.push(`<p>${e(run.status)} at ${e(when)}${e(counts)}.</p>`);
    if (run.error) sections.push(`<p class="warn">${e(run.error)}</p>`);
  }
  sections.push('<h2>Install Homebrew from this mirror</h2>');
  if (!view.publicUrl) {
    sections.push('<p class="muted">This mirror has no public URL configured (<code>--public-url</code>), so it cannot hand out settings.</p>');
  } else {
    if (g?.brewGitHead && g.installScript) {
      sections.push(`<pre>curl -fsSL ${e(view.publicUrl)}/install | bash</pre>`, "<p>On macOS, install Apple's Command Line Tools first (<code>xcode-select --install</code>): they come from Apple, not from this mirror.</p>");
    } else {
      sections.push('<p class="muted">This mirror serves no brew.git and install script, so a new machine cannot install Homebrew from it alone.</p>');
    }
    sections.push(
      `<h2>Settings for every machine</h2><p>Save this as <code>/etc/homebrew/brew.env</code> (or fetch <a href="${e(view.publicUrl)}/brew.env">${e(view.publicUrl)}/brew.env</a>):</p>`,
      `<pre>${e(view.brewEnv ?? '')}</pre>`,
    );
  }
  if (view.casks) sections.push(...caskSection(view.casks));
  if (view.taps) sections.push(...tapSection(view.taps, view.publicUrl));
  if (view.pullThrough) sections.push(...pullThroughSection(view.pullThrough));
  sections.push(
    `<p class="muted">Source builds${view.casks ? '' : ' and casks'} download from their vendors and are not mirrored${view.casks ? ', nor are casks other than those listed above' : ''}. Machine-readable status: <a href="/status">/status</a>.</p>`,
  );
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Homebrew mirror</title>',
    `<style>${STYLE}</style></head><body>`,
    ...sections,
    '</body></html>',
    '',
  ].join('\n');
}
