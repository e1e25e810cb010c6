/**
 * The platform tags brew 6.0.18 knows (`OnSystem::VALID_OS_ARCH_TAGS`, from
 * Homebrew/brew `on_system.rb`, `macos_version.rb`, `utils/bottles.rb`), newest
 * macOS first, then Linux. `all` bottles are platform-independent: every
 * platform falls back to a formula's `all` bottle when it has none of its own.
 * Upstream may add a tag before this list knows it, so the list names valid
 * choices in messages; it never refuses a tag upstream serves.
 */
export const KNOWN_PLATFORM_TAGS = [
  'golden_gate',
  'arm64_golden_gate',
  'tahoe',
  'arm64_tahoe',
  'sequoia',
  'arm64_sequoia',
  'sonoma',
  'arm64_sonoma',
  'ventura',
  'arm64_ventura',
  'monterey',
  'arm64_monterey',
  'big_sur',
  'arm64_big_sur',
  'catalina',
  'x86_64_linux',
  'arm64_linux',
] as const;

export const ALL_TAG = 'all';

/**
 * The macOS tags older than `tag` on the same architecture, newest first: on
 * macOS brew pours one of these when a formula has no bottle of its own and
 * no `all` bottle (`extend/os/mac/utils/bottles.rb`, `find_older_compatible_tag`).
 * Empty for Linux, `all` and tags this list does not know.
 */
export function olderMacosTags(tag: string): string[] {
  if (tag.endsWith('_linux') || tag === ALL_TAG) return [];
  const arm = tag.startsWith('arm64_');
  const sameArch = KNOWN_PLATFORM_TAGS.filter((t) => !t.endsWith('_linux') && t.startsWith('arm64_') === arm);
  const index = sameArch.indexOf(tag as (typeof sameArch)[number]);
  return index === -1 ? [] : sameArch.slice(index + 1);
}
