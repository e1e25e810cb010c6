import { createHash, createHmac } from 'crypto';
import { elastiCacheIamToken } from '../../engine/adapters/aws/elasticache';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const now = new Date('2026-11-22T03:00:00Z');

/** SigV4 written out from the spec, independently of the library under test. */
function expectedSignature(token: string): string {
  const [host, query] = token.split('/?');
  const params = new URLSearchParams(query);
  params.delete('X-Amz-Signature');
  const canonicalQuery = [...params.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  const canonicalRequest = ['GET', '/', canonicalQuery, `host:${host}\n`, 'host', createHash('sha256').update('').digest('hex')].join('\n');
  const scope = '20261122/us-east-1/elasticache/aws4_request';
  const stringToSign = ['AWS4-HMAC-SHA256', '20261122T030000Z', scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, '20261122'), 'us-east-1'), 'elasticache'), 'aws4_request');
  return createHmac('sha256', signingKey).update(stringToSign).digest('hex');
}

describe('ElastiCache IAM auth token', () => {
  test('is a presigned connect request for the user, valid 15 minutes, without the scheme', async () => {
    const token = await elastiCacheIamToken({ replicationGroupId: 'prod-brew-cache', userId: 'prod-brew-cache-sync', region: 'us-east-1', credentials, now });
    expect(token.startsWith('prod-brew-cache/?')).toBe(true);
    const params = new URLSearchParams(token.split('/?')[1]);
    expect(Object.fromEntries(params)).toMatchObject({
      Action: 'connect',
      User: 'prod-brew-cache-sync',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIDEXAMPLE/20261122/us-east-1/elasticache/aws4_request',
      'X-Amz-Date': '20261122T030000Z',
      'X-Amz-Expires': '900',
      'X-Amz-SignedHeaders': 'host',
    });
    expect(params.get('X-Amz-Signature')).toBe(expectedSignature(token));
  });

  test('carries the session token of temporary credentials (Lambda, ECS task roles)', async () => {
    const token = await elastiCacheIamToken({
      replicationGroupId: 'prod-brew-cache',
      userId: 'prod-brew-cache-sync',
      region: 'us-east-1',
      credentials: { ...credentials, sessionToken: 'SESSION/TOKEN+1' },
      now,
    });
    expect(new URLSearchParams(token.split('/?')[1]).get('X-Amz-Security-Token')).toBe('SESSION/TOKEN+1');
  });
});
