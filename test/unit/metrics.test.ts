import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FileStateStore } from '../../engine/adapters/local/file-state-store';
import { emfSink } from '../../engine/metrics';
import { reportFreshness } from '../../engine/sync/freshness';

describe('EMF metrics', () => {
  test('one line CloudWatch turns into metrics in HomebrewMirror with the Environment dimension', () => {
    const lines: string[] = [];
    emfSink('prod', { write: (l) => lines.push(l), now: () => 1_790_000_000_000 }).emit(
      { BytesTransferred: { value: 1024, unit: 'Bytes' }, SyncSucceeded: { value: 1, unit: 'Count' } },
      { runId: 'r1' },
    );
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      {
        _aws: {
          Timestamp: 1_790_000_000_000,
          CloudWatchMetrics: [
            {
              Namespace: 'HomebrewMirror',
              Dimensions: [['Environment']],
              Metrics: [
                { Name: 'BytesTransferred', Unit: 'Bytes' },
                { Name: 'SyncSucceeded', Unit: 'Count' },
              ],
            },
          ],
        },
        Environment: 'prod',
        runId: 'r1',
        BytesTransferred: 1024,
        SyncSucceeded: 1,
      },
    ]);
  });
});

describe('freshness report', () => {
  test('emits the published generation’s age; nothing when nothing is published (the alarm treats silence as stale)', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-fresh-'));
    const state = new FileStateStore(root);
    const emitted: Record<string, unknown>[] = [];
    const sink = emfSink('prod', { write: (l) => emitted.push(JSON.parse(l)) });
    expect(await reportFreshness(state, sink, new Date('2026-11-24T03:00:00Z'))).toBeUndefined();
    expect(emitted).toEqual([]);
    await state.setPublished({ generation: 'g1', runId: 'g1', publishedAt: '2026-11-22T03:30:00Z', files: [] }, undefined);
    expect(await reportFreshness(state, sink, new Date('2026-11-29T03:29:00Z'))).toBe(7 * 86400 - 60);
    expect(emitted[0]).toMatchObject({ PublishedGenerationAgeSeconds: 7 * 86400 - 60, Environment: 'prod', generation: 'g1' });
    // A week plus a slow run stays under the alarm's 8-day threshold.
    expect(7 * 86400 - 60).toBeLessThan(8 * 86400);
    fs.rmSync(root, { recursive: true, force: true });
  });
});
