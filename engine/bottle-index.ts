/**
 * A generation's bottle index: one line per bottle the published API names,
 * `<flat file name>\t<sha256>\t<image>\t<manifest ref>`, written by the sync
 * next to the generation's API files (`bottleIndexKey`). The mirror builds
 * its lookup tables from these 4 MB instead of parsing the 33 MB
 * `formula.jws.json`, which kept a server's memory high long after start.
 * A generation without one (published before it existed) is parsed as before.
 */

export interface IndexedBottle {
  readonly flatFile: string;
  readonly sha256: string;
  readonly image: string;
  readonly manifestRef: string;
}

export function encodeBottleIndex(bottles: Iterable<IndexedBottle>): Buffer {
  const lines: string[] = [];
  for (const b of bottles) lines.push(`${b.flatFile}\t${b.sha256}\t${b.image}\t${b.manifestRef}\n`);
  return Buffer.from(lines.join(''), 'utf8');
}

/** The index's bottles; a malformed line is an error (the index is the sync's own output). */
export function* decodeBottleIndex(body: Buffer): Generator<IndexedBottle, void, undefined> {
  const text = body.toString('utf8');
  let at = 0;
  let line = 0;
  while (at < text.length) {
    const end = text.indexOf('\n', at);
    const fields = text.slice(at, end === -1 ? text.length : end).split('\t');
    line++;
    if (fields.length !== 4 || fields.some((f) => f === '')) throw new Error(`bottle index line ${line} is malformed`);
    yield { flatFile: fields[0], sha256: fields[1], image: fields[2], manifestRef: fields[3] };
    if (end === -1) break;
    at = end + 1;
  }
}
