import { constants, createPublicKey, createVerify, KeyObject } from 'crypto';
import { MirrorError } from '../errors';

/**
 * Verification of Homebrew's signed API files (`*.jws.json`).
 *
 * The files are JWS general JSON serialization with an unencoded payload
 * (RFC 7515 §7.2.1 + RFC 7797): the payload is the JSON document as text and
 * the signing input is `<protected as written> + "." + <payload bytes>`.
 * brew accepts a file when the first signature with `kid: homebrew-1` has
 * `alg: PS512` and `b64: false` and verifies as RSASSA-PSS with SHA-512,
 * MGF1-SHA-512 and a 64-byte salt. We apply exactly that rule, then parse the
 * payload. The mirror never re-signs: it publishes the verified bytes as they are.
 */

export const HOMEBREW_KEY_ID = 'homebrew-1';

/** UTF-16 units of payload hashed per step. */
const PAYLOAD_SLICE = 1024 * 1024;

export class ApiVerificationError extends MirrorError {
  readonly kind = 'verification';

  constructor(
    /** Which file failed, e.g. `formula.jws.json`. */
    public readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

export interface VerifiedApiFile<T = unknown> {
  /** The payload text exactly as signed. */
  readonly payload: string;
  /** The payload parsed as JSON. */
  readonly document: T;
}

interface Envelope {
  payload?: unknown;
  signatures?: unknown;
}

interface Signature {
  protected?: unknown;
  header?: { kid?: unknown };
  signature?: unknown;
}

/** Loads a PEM public key once; pass the result to `verifySignedApiFile`. */
export function loadPublicKey(pem: string | Buffer): KeyObject {
  return createPublicKey(pem);
}

function base64UrlDecode(value: string, what: string, file: string): Buffer {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(value)) throw new ApiVerificationError(file, `${what} is not base64url`);
  return Buffer.from(value.replace(/=+$/, ''), 'base64url');
}

/**
 * Verifies one signed API file and returns its payload. Throws
 * `ApiVerificationError` with the reason for anything brew would reject:
 * malformed envelope, no `homebrew-1` signature, wrong algorithm, bad
 * signature, or a payload that is not JSON.
 */
export function verifySignedApiFile<T = unknown>(
  file: string,
  bytes: Buffer | string,
  key: KeyObject,
  keyId: string = HOMEBREW_KEY_ID,
): VerifiedApiFile<T> {
  const payload = verifySignedPayload(file, bytes, key, keyId);
  try {
    return { payload, document: JSON.parse(payload) as T };
  } catch (error) {
    throw new ApiVerificationError(file, `signed payload is not valid JSON (${(error as Error).message})`);
  }
}

/**
 * Verifies one signed API file and returns its payload text, unparsed (a
 * caller with a large file parses it piece by piece). Same rule and errors
 * as `verifySignedApiFile`, except that the payload's JSON is not checked.
 */
export function verifySignedPayload(file: string, bytes: Buffer | string, key: KeyObject, keyId: string = HOMEBREW_KEY_ID): string {
  let envelope: Envelope;
  try {
    envelope = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (error) {
    throw new ApiVerificationError(file, `not valid JSON (${(error as Error).message})`);
  }
  if (!envelope || typeof envelope !== 'object' || typeof envelope.payload !== 'string' || !Array.isArray(envelope.signatures)) {
    throw new ApiVerificationError(file, 'not a JWS envelope (needs a string "payload" and a "signatures" array)');
  }
  const signature = (envelope.signatures as Signature[]).find((s) => s && s.header?.kid === keyId);
  if (!signature) throw new ApiVerificationError(file, `no signature with kid "${keyId}"`);
  if (typeof signature.protected !== 'string' || typeof signature.signature !== 'string') {
    throw new ApiVerificationError(file, 'signature entry lacks "protected" or "signature"');
  }

  let header: { alg?: unknown; b64?: unknown };
  try {
    header = JSON.parse(base64UrlDecode(signature.protected, 'protected header', file).toString('utf8'));
  } catch (error) {
    if (error instanceof ApiVerificationError) throw error;
    throw new ApiVerificationError(file, 'protected header is not JSON');
  }
  if (header.alg !== 'PS512') throw new ApiVerificationError(file, `unsupported algorithm ${JSON.stringify(header.alg)} (expected PS512)`);
  if (header.b64 !== false) throw new ApiVerificationError(file, 'payload must be unencoded (b64: false)');

  // The signing input is hashed as it is fed: no concatenated copy of a 33 MB payload.
  const verifier = createVerify('sha512');
  verifier.update(signature.protected, 'utf8');
  verifier.update('.', 'utf8');
  // In 1 MiB slices: `update(payload)` would encode the whole payload into one more buffer of its size.
  const payload = envelope.payload;
  for (let at = 0; at < payload.length; ) {
    let end = Math.min(payload.length, at + PAYLOAD_SLICE);
    const last = payload.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff && end < payload.length) end++; // never split a surrogate pair
    verifier.update(payload.slice(at, end), 'utf8');
    at = end;
  }
  const ok = verifier.verify({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }, base64UrlDecode(signature.signature, 'signature', file));
  if (!ok) throw new ApiVerificationError(file, `signature does not verify with key "${keyId}"`);
  return envelope.payload;
}
