import { createHash, createHmac, Hash, Hmac } from 'crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { Redis } from 'ioredis';
import { Logger } from '../../logger';

/** SHA-256 / HMAC-SHA-256 in the shape the SigV4 signer expects, on node:crypto. */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const toBytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string' ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

class NodeSha256 {
  private hash: Hash | Hmac;
  private readonly secret?: string | Uint8Array;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : toBytes(secret);
    this.hash = this.secret ? createHmac('sha256', this.secret) : createHash('sha256');
  }
  update(data: SourceData): void {
    this.hash.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.secret ? createHmac('sha256', this.secret) : createHash('sha256');
  }
}

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** IAM auth tokens are valid for 15 minutes; an authenticated connection stays valid for 12 hours. */
export const TOKEN_TTL_SECONDS = 900;

/**
 * The short-lived password for IAM authentication to ElastiCache: a SigV4
 * presigned `GET http://<replication group id>/?Action=connect&User=<user id>`
 * for service `elasticache`, without the scheme (AWS's documented scheme).
 */
export async function elastiCacheIamToken(options: {
  replicationGroupId: string;
  userId: string;
  region: string;
  credentials: Credentials | (() => Promise<Credentials>);
  now?: Date;
}): Promise<string> {
  const signer = new SignatureV4({ service: 'elasticache', region: options.region, credentials: options.credentials, sha256: NodeSha256 });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'http:',
      hostname: options.replicationGroupId,
      path: '/',
      query: { Action: 'connect', User: options.userId },
      headers: { host: options.replicationGroupId },
    },
    { expiresIn: TOKEN_TTL_SECONDS, signingDate: options.now },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `${options.replicationGroupId}/?${query}`;
}

/**
 * A TLS connection to the cache as an IAM-authenticated user. The token is
 * refreshed every 10 minutes so reconnects always AUTH with a valid one.
 * Commands fail fast when the cache is down (no offline queue): callers treat
 * the cache as advisory.
 */
export async function connectCache(options: {
  host: string;
  port: number;
  replicationGroupId: string;
  userId: string;
  region: string;
  log: Logger;
}): Promise<Redis> {
  const credentials = defaultProvider();
  const token = () => elastiCacheIamToken({ ...options, credentials });
  const redis = new Redis({
    host: options.host,
    port: options.port,
    tls: { servername: options.host },
    username: options.userId,
    password: await token(),
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
  });
  let warned = false;
  redis.on('error', (error: Error) => {
    if (!warned) options.log.warn('cache unavailable; continuing fail-open (no shared breaker or rate limits)', { error: error.message });
    warned = true;
  });
  redis.on('ready', () => (warned = false));
  setInterval(() => void token().then((t) => (redis.options.password = t)).catch(() => undefined), 10 * 60 * 1000).unref();
  // Give the connection a moment to become ready; without an offline queue, earlier commands fail fast.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return redis;
}
