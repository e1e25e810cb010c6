import { S3Client } from '@aws-sdk/client-s3';
import { S3Housekeeping } from '../../engine/adapters/aws/s3-housekeeping';
import { HousekeepingPolicy, StateStore } from '../../engine/ports';
import { synthAll } from '../synth';

// #36 item 12 said the DR replica's api/generations/ is never pruned, since S3 does not replicate
// lifecycle deletes. The primary prunes generations with DeleteObjects, not a lifecycle rule: those
// deletes are a user's, so their delete markers replicate, and the replica expires the hidden versions
// itself. These tests pin every link of that chain; break one and the replica grows again.
type Resources = Record<string, Record<string, any>>;
const prod = synthAll().prod.resource as Resources;

const bucketOf = (arnReference: string) => /^\$\{aws_s3_bucket\.([a-z0-9_]+)\.arn\}$/.exec(arnReference)?.[1];

describe("the DR replica of the bottle store is bounded like the store", () => {
  const [replication] = Object.values(prod.aws_s3_bucket_replication_configuration).filter((r) => String(r.bucket).includes('bottle_store'));
  const rule = replication.rule[0];
  const replica = bucketOf(rule.destination.bucket)!;

  test('every key replicates with its delete markers (no prefix or tag filter)', () => {
    expect(rule.filter).toEqual({});
    expect(rule.delete_marker_replication).toEqual({ status: 'Enabled' });
  });

  test('the replica expires hidden versions after 90 days and then drops the lone delete markers', () => {
    const [lifecycle] = Object.values(prod.aws_s3_bucket_lifecycle_configuration).filter((l) => l.bucket === `\${aws_s3_bucket.${replica}.id}`);
    const expiry = lifecycle.rule.find((r: any) => r.noncurrent_version_expiration);
    expect(expiry.noncurrent_version_expiration).toEqual([{ noncurrent_days: 90 }]);
    expect(expiry.expiration).toEqual([{ expired_object_delete_marker: true }]);
  });

  test('housekeeping deletes generations by key (a delete marker, which replicates), never by version id (which would not)', async () => {
    const sent: { name: string; input: any }[] = [];
    const deleted = new Set<string>();
    const s3 = {
      send: async (command: { constructor: { name: string }; input: any }) => {
        sent.push({ name: command.constructor.name, input: command.input });
        const { Prefix: prefix, Delimiter } = command.input;
        if (command.constructor.name === 'ListObjectsV2Command') {
          if (Delimiter) return { CommonPrefixes: ['g1/', 'g2/', 'g3/', 'g4/'].map((g) => ({ Prefix: `${prefix}${g}` })) };
          const key = `${prefix}formula.jws.json`;
          return { Contents: deleted.has(key) ? [] : [{ Key: key, Size: 80 }] };
        }
        for (const object of command.input.Delete.Objects) deleted.add(object.Key);
        return {};
      },
    } as unknown as S3Client;
    const state = { getPublished: async () => ({ generation: 'g4' }) } as unknown as StateStore;
    const report = await new S3Housekeeping(s3, 'store', state).collect({ keepGenerations: 2 } as HousekeepingPolicy);
    expect(report.generationsRemoved.length).toBe(2);
    const deletes = sent.filter((c) => c.name === 'DeleteObjectsCommand').flatMap((c) => c.input.Delete.Objects);
    expect(deletes.length).toBe(2);
    for (const object of deletes) expect(Object.keys(object)).toEqual(['Key']);
  });
});
