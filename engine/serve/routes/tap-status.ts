import { GenerationSnapshot } from '../snapshot';
import { publicReason } from '../public-reason';

/**
 * The generation's taps as people and monitors read them (the page and
 * `/status`): each mirrored tap, what of the taps is not mirrored and why
 * (reasons fit for a public page), and the Brewfile entries the mirror cannot
 * serve. Undefined when the generation has neither taps nor such entries.
 */
export function tapView(snapshot: GenerationSnapshot | undefined) {
  if (!snapshot?.taps && !snapshot?.notServed) return undefined;
  const record = snapshot.taps?.record;
  return {
    served: (record?.taps ?? []).map((t) => ({
      name: t.name,
      head: t.git.head,
      upstreamHead: t.git.upstreamHead,
      mirrored: t.mirrored.length,
      downloads: t.downloads.length,
      bytes: t.downloads.reduce((n, d) => n + d.size, 0),
      mirroredAt: t.mirroredAt,
    })),
    notMirrored: [
      ...(record?.failures ?? []).map((f) => ({ name: f.tap, reason: publicReason(f.reason) })),
      ...(record?.taps ?? []).flatMap((t) => t.failures.map((f) => ({ name: `${t.name}/${f.file}`, reason: publicReason(f.reason) }))),
    ],
    brewfileNotServed: (snapshot.notServed ?? []).map(({ type, name, line }) => ({ type, name, line })),
  };
}
