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
