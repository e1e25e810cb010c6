import { MirrorError } from '../errors';

export class JsonShapeError extends MirrorError {
  readonly kind = 'upstream-input';
}

/**
 * Splits a top-level JSON array into its elements as text arrives in pieces,
 * parsing one element at a time.
 *
 * `formula.jws.json` holds about 7,500 formulae in 33 MB of JSON; parsed in
 * one go its object graph alone is a few hundred MB. Scanning for each
 * element's end (depth counting outside strings) and parsing that slice keeps
 * one formula's objects alive at a time, and with pieces the whole text is
 * never held either. Every element is still parsed by JSON.parse, so what is
 * accepted is exactly JSON.
 */
export class JsonArraySplitter {
  /** Unconsumed text: the start of an element that continues in the next piece. */
  private carry = '';
  private state: 'start' | 'first' | 'element' | 'after' | 'done' = 'start';
  /** Characters consumed before `carry`, for error offsets. */
  private offset = 0;

  *push(piece: string): Generator<unknown, void, undefined> {
    const text = this.carry + piece;
    let at = 0;
    for (;;) {
      at = skipSpace(text, at);
      if (at === text.length) {
        this.advance(text, at);
        return;
      }
      const c = text.charCodeAt(at);
      if (this.state === 'start') {
        if (c !== 0x5b /* [ */) throw new JsonShapeError('is not a JSON array');
        at++;
        this.state = 'first';
      } else if (this.state === 'done') {
        throw new JsonShapeError('has text after the array');
      } else if (this.state === 'after' || (this.state === 'first' && c === 0x5d)) {
        if (c === 0x5d /* ] */) this.state = 'done';
        else if (c === 0x2c /* , */ && this.state === 'after') this.state = 'element';
        else throw new JsonShapeError(`is not valid JSON near offset ${this.offset + at}`);
        at++;
      } else {
        const end = elementEnd(text, at);
        if (end === -1) {
          this.advance(text, at); // the element continues in the next piece
          return;
        }
        yield this.parse(text.slice(at, end), at);
        at = end;
        this.state = 'after';
      }
    }
  }

  /** Call after the last piece: the array must be complete. */
  end(): void {
    if (this.state !== 'done' || this.carry !== '') throw new JsonShapeError(this.state === 'start' ? 'is not a JSON array' : 'ends in the middle of the array');
  }

  private advance(text: string, at: number): void {
    this.offset += at;
    this.carry = text.slice(at);
  }

  private parse(element: string, at: number): unknown {
    try {
      return JSON.parse(element);
    } catch (error) {
      throw new JsonShapeError(`is not valid JSON near offset ${this.offset + at} (${(error as Error).message})`);
    }
  }
}

/** The elements of a JSON array held whole, parsed one at a time. */
export function* jsonArrayElements(text: string | Iterable<string>): Generator<unknown, void, undefined> {
  const splitter = new JsonArraySplitter();
  for (const piece of typeof text === 'string' ? [text] : text) yield* splitter.push(piece);
  splitter.end();
}

function skipSpace(text: string, at: number): number {
  for (;;) {
    const c = text.charCodeAt(at);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return at;
    at++;
  }
}

/**
 * Index just past the JSON value starting at `at`, or -1 when the text ends
 * first (a scalar is complete only once a delimiter follows it).
 */
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
      if (i >= n) return -1;
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
  return -1;
}

/**
 * The members of a top-level JSON object as text ranges, without parsing
 * their values: a caller that needs one small member of a large document
 * (a packages file's `metadata`) parses just that slice. Values are scanned,
 * not validated; a malformed document is refused where scanning notices.
 */
export function topLevelMembers(text: string): Map<string, { start: number; end: number }> {
  const members = new Map<string, { start: number; end: number }>();
  let at = skipSpace(text, 0);
  if (text.charCodeAt(at) !== 0x7b /* { */) throw new JsonShapeError('is not a JSON object');
  at = skipSpace(text, at + 1);
  if (text.charCodeAt(at) === 0x7d) return members;
  for (;;) {
    if (text.charCodeAt(at) !== 0x22) throw new JsonShapeError(`is not valid JSON near offset ${at}`);
    const keyEnd = elementEnd(text, at);
    if (keyEnd === -1) throw new JsonShapeError('ends in the middle of the object');
    const name = JSON.parse(text.slice(at, keyEnd)) as string;
    at = skipSpace(text, keyEnd);
    if (text.charCodeAt(at) !== 0x3a /* : */) throw new JsonShapeError(`is not valid JSON near offset ${at}`);
    at = skipSpace(text, at + 1);
    const end = elementEnd(text, at);
    if (end === -1 || end === at) throw new JsonShapeError('ends in the middle of the object');
    members.set(name, { start: at, end });
    at = skipSpace(text, end);
    const c = text.charCodeAt(at);
    if (c === 0x7d /* } */) {
      if (skipSpace(text, at + 1) !== text.length) throw new JsonShapeError('has text after the object');
      return members;
    }
    if (c !== 0x2c /* , */) throw new JsonShapeError(`is not valid JSON near offset ${at}`);
    at = skipSpace(text, at + 1);
  }
}
