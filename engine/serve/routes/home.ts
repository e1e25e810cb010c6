import { brewEnvFile } from '../../homebrew/client-settings';
import { StateStore } from '../../ports';
import { coveredReleases, uncoveredRubies } from '../../brew/brew-record';
import { HOME_PAGE_CSP, renderHomePage } from '../home-page';
import { Exchange, ReplyWriter, SECURITY_HEADERS } from '../reply';
import { publicReason } from '../public-reason';
import { tapView } from './tap-status';
import { ServerMetrics } from '../metrics';
import type { PullThroughOptions } from '../pull-through';

/** The security headers, with a CSP that lets the page's own style sheet apply (and nothing else). */
const PAGE_HEADERS: readonly string[] = (() => {
  const list: string[] = [];
  for (let i = 0; i < SECURITY_HEADERS.length; i += 2) {
    list.push(SECURITY_HEADERS[i], SECURITY_HEADERS[i] === 'content-security-policy' ? HOME_PAGE_CSP : SECURITY_HEADERS[i + 1]);
  }
  return list.concat('content-type', 'text/html; charset=utf-8', 'cache-control', 'no-cache');
})();

/** `/`: the page for people (`home-page.ts`), from the request's generation and the latest run. */
export class HomePage {
  constructor(
    private readonly deps: { readonly state: StateStore; readonly publicUrl?: string | (() => string); readonly pullThrough?: PullThroughOptions },
    private readonly reply: ReplyWriter,
    private readonly metrics: ServerMetrics,
  ) {}

  async page(x: Exchange): Promise<void> {
    const publicUrl = typeof this.deps.publicUrl === 'function' ? this.deps.publicUrl() : this.deps.publicUrl;
    const snapshot = x.snapshot;
    const run = await this.deps.state.latestRun();
    const brewGit = snapshot?.brew?.record.brewGit;
    const html = renderHomePage({
      publicUrl,
      now: new Date(),
      brewEnv: publicUrl ? brewEnvFile({ publicUrl, brewGit: brewGit !== undefined }) : undefined,
      generation: snapshot && {
        id: snapshot.generation.generation,
        publishedAt: snapshot.generation.publishedAt,
        verifiedAt: snapshot.generation.verifiedAt,
        bottlesPerTag: snapshot.bottlesPerTag,
        brewReleases: snapshot.brew ? coveredReleases(snapshot.brew.record) : (snapshot.generation.brewReleases ?? []),
        brewHeadBranch: snapshot.brew?.record.releases.find((r) => r.head)?.tag,
        brewNotCovered: uncoveredRubies(snapshot.brew?.record).map((gap) => ({ ...gap, reason: publicReason(gap.reason) })),
        brewGitHead: brewGit?.head,
        installScript: snapshot.brew?.installScript !== undefined,
      },
      lastRun: run && { ...run, error: run.error === undefined ? undefined : publicReason(run.error) },
      pullThrough: this.deps.pullThrough ? { ...this.metrics.pullThrough, named: snapshot?.named?.size ?? 0 } : undefined,
      taps: tapView(snapshot),
      casks: snapshot?.casks && { files: snapshot.casks.record.files, failures: snapshot.casks.record.failures.map((f) => ({ ...f, reason: publicReason(f.reason) })) },
    });
    this.reply.respond(x, 200, PAGE_HEADERS.concat('content-length', String(Buffer.byteLength(html))), html);
  }
}
