import { MirrorError } from '../errors';

export class JsonShapeError extends MirrorError {
  readonly kind = 'upstream-input';
}

/**
 * The elements of a top-level JSON array, parsed one at a time.
 *
 * `formula.jws.json` holds about 7,500 formulae in 33 MB of JSON; parsed in
 * one go its object graph alone is a few hundred MB. Scanning for each
 * element's end (depth counting outside strings) and parsing that slice keeps
 * one formula's objects alive at a time. Every element is still parsed by
 * JSON.parse, so what is accepted is exactly JSON.
 */
export function* jsonArrayElements(text: string): Generator<unknown, void, undefined> {
  let at = skipSpace(text, 0);
  if (text.charCodeAt(at) !== 0x5b /* [ */) throw new JsonShapeError('is not a JSON array');
  at = skipSpace(text, at + 1);
  if (text.charCodeAt(at) === 0x5d /* ] */) {
    if (skipSpace(text, at + 1) !== text.length) throw new JsonShapeError('has text after the array');
    return;
  }
  for (;;) {
    const end = elementEnd(text, at);
    try {
      yield JSON.parse(text.slice(at, end));
    } catch (error) {
      if (error instanceof SyntaxError) throw new JsonShapeError(`is not valid JSON near offset ${at} (${error.message})`);
      throw error;
    }
    at = skipSpace(text, end);
    const c = text.charCodeAt(at);
    if (c === 0x2c /* , */) {
      at = skipSpace(text, at + 1);
      continue;
    }
    if (c === 0x5d /* ] */ && skipSpace(text, at + 1) === text.length) return;
    throw new JsonShapeError(`is not valid JSON near offset ${at}`);
  }
}

function skipSpace(text: string, at: number): number {
  for (;;) {
    const c = text.charCodeAt(at);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return at;
    at++;
  }
}

/** Index just past the JSON value starting at `at` (objects, arrays, strings; scalars end at `,` `]` or space). */
function elementEnd(text: string, at: number): number {
  let depth = 0;
  let i = at;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i++;
      while (i < n) {
        const s = text.charCodeAt(i);
        if (s === 0x5c /* \ */) i += 2;
        else if (s === 0x22) break;
        else i++;
      }
      i++;
      if (depth === 0) return i;
      continue;
    }
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) return i; // a scalar ended by the array's close
      depth--;
      if (depth === 0) return i + 1;
    } else if (depth === 0 && (c === 0x2c || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) return i;
    i++;
  }
  throw new JsonShapeError('ends in the middle of a value');
}
