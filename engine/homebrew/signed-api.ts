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
  const signature = checkedSignature(file, envelope, keyId);
  const payload = envelope.payload as string;
  verifySignature(file, signature, slices(payload), key, keyId);
  return payload;
}

/**
 * The payload in 1 MiB slices, none splitting a surrogate pair: hashing
 * `update(payload)` whole would encode it into one more buffer of its size.
 */
function* slices(payload: string): Generator<string, void, undefined> {
  for (let at = 0; at < payload.length; ) {
    let end = Math.min(payload.length, at + PAYLOAD_SLICE);
    const last = payload.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff && end < payload.length) end++;
    yield payload.slice(at, end);
    at = end;
  }
}

/**
 * Checks the signature over `<protected>.<payload>`, the payload fed in
 * pieces as they come (never concatenated: it is 33 MB for formula.jws.json).
 */
function verifySignature(file: string, signature: { protected: string; signature: string }, payload: Iterable<string>, key: KeyObject, keyId: string): void {
  const verifier = createVerify('sha512');
  verifier.update(signature.protected, 'utf8');
  verifier.update('.', 'utf8');
  for (const piece of payload) verifier.update(piece, 'utf8');
  const ok = verifier.verify({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }, base64UrlDecode(signature.signature, 'signature', file));
  if (!ok) throw new ApiVerificationError(file, `signature does not verify with key "${keyId}"`);
}

/** Bytes of escaped payload decoded per piece: small enough that each piece, even as two-byte text, is a young-generation object (V8 puts strings over ~128 KiB in large-object space, which only a full collection frees). */
const LITERAL_PIECE_BYTES = 32 * 1024;

/**
 * Verifies a large signed API file without holding its payload whole: the
 * payload's JSON string literal is decoded from `bytes` in small pieces, once
 * to hash them and, after the signature verified, again for the caller. A
 * 33 MB formula.jws.json so costs its bytes and a piece at a time, instead of
 * the file as text plus the payload as text (about 65 MB of heap at once).
 * Same rule and errors as `verifySignedPayload`.
 */
export function verifySignedPayloadPieces(file: string, bytes: Buffer, key: KeyObject, keyId: string = HOMEBREW_KEY_ID): () => Generator<string, void, undefined> {
  const literal = payloadLiteral(file, bytes);
  let envelope: Envelope;
  try {
    // The envelope without its payload: small, parsed whole.
    envelope = JSON.parse(`${bytes.toString('utf8', 0, literal.start)}""${bytes.toString('utf8', literal.end)}`);
  } catch (error) {
    throw new ApiVerificationError(file, `not valid JSON (${(error as Error).message})`);
  }
  const signature = checkedSignature(file, envelope, keyId);
  const pieces = () => decodeLiteral(file, bytes, literal.start + 1, literal.end - 1);
  verifySignature(file, signature, pieces(), key, keyId);
  return pieces;
}

/** The signature entry brew would use, with its protected header checked (PS512, unencoded payload). */
function checkedSignature(file: string, envelope: Envelope, keyId: string): { protected: string; signature: string } {
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
  return { protected: signature.protected, signature: signature.signature };
}

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** Byte range of the top-level `"payload"` member's string literal, quotes included. */
function payloadLiteral(file: string, bytes: Buffer): { start: number; end: number } {
  const malformed = () => new ApiVerificationError(file, 'not a JWS envelope (needs a string "payload" and a "signatures" array)');
  let at = 0;
  const space = () => {
    while (at < bytes.length && isSpace(bytes[at])) at++;
  };
  space();
  if (bytes[at] !== 0x7b /* { */) throw malformed();
  at++;
  let found: { start: number; end: number } | undefined;
  for (;;) {
    space();
    if (bytes[at] !== 0x22) throw malformed();
    const keyStart = at;
    at = stringEnd(bytes, at);
    const name = bytes.toString('utf8', keyStart, at);
    space();
    if (bytes[at] !== 0x3a /* : */) throw malformed();
    at++;
    space();
    const valueStart = at;
    at = valueEnd(bytes, at);
    if (at < 0) throw malformed();
    if (name === '"payload"') {
      // A second payload member would be the one JSON.parse (and so brew) reads: refuse the ambiguity.
      if (found || bytes[valueStart] !== 0x22) throw malformed();
      found = { start: valueStart, end: at };
    }
    space();
    if (bytes[at] === 0x2c /* , */) at++;
    else if (bytes[at] === 0x7d /* } */ && found) return found;
    else throw malformed();
  }
}

/** Index just past the string literal starting at `at` (a `"`); -1 if it never closes. */
function stringEnd(bytes: Buffer, at: number): number {
  for (let i = at + 1; i < bytes.length; i++) {
    if (bytes[i] === 0x5c) i++;
    else if (bytes[i] === 0x22) return i + 1;
  }
  return -1;
}

/** Index just past the JSON value starting at `at`; -1 if the bytes end first. */
function valueEnd(bytes: Buffer, at: number): number {
  if (bytes[at] === 0x22) return stringEnd(bytes, at);
  let depth = 0;
  for (let i = at; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x22) {
      i = stringEnd(bytes, i) - 1;
      if (i < 0) return -1;
    } else if (b === 0x7b || b === 0x5b) depth++;
    else if (b === 0x7d || b === 0x5d) {
      if (depth === 0) return i;
      if (--depth === 0) return i + 1;
    } else if (depth === 0 && (b === 0x2c || isSpace(b))) return i;
  }
  return -1;
}

/**
 * Decodes the string literal's content `bytes[from, to)` in pieces of about
 * `LITERAL_PIECE_BYTES`, each cut where no escape sequence, UTF-8 sequence or
 * surrogate pair (`\uD83C\uDF7A`) would be split, so every piece is whole text.
 */
function* decodeLiteral(file: string, bytes: Buffer, from: number, to: number): Generator<string, void, undefined> {
  let start = from;
  let i = from;
  let highSurrogateEscape = false;
  while (i < to) {
    if (i - start >= LITERAL_PIECE_BYTES && !highSurrogateEscape && (bytes[i] & 0xc0) !== 0x80) {
      yield decodePiece(file, bytes, start, i);
      start = i;
    }
    if (bytes[i] === 0x5c /* \ */) {
      const u = bytes[i + 1] === 0x75; // \uXXXX
      highSurrogateEscape = u && /^[dD][89abAB]/.test(bytes.toString('latin1', i + 2, i + 4));
      i += u ? 6 : 2;
    } else {
      highSurrogateEscape = false;
      i++;
    }
  }
  if (start < to) yield decodePiece(file, bytes, start, to);
}

function decodePiece(file: string, bytes: Buffer, from: number, to: number): string {
  try {
    return JSON.parse(`"${bytes.toString('utf8', from, to)}"`) as string;
  } catch (error) {
    throw new ApiVerificationError(file, `payload is not a valid JSON string (${(error as Error).message})`);
  }
}
