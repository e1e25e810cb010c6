/** Where the command writes; tests pass their own. */
export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly isTty: boolean;
  /** Bytes written to stderr and not yet taken by its reader. */
  readonly stderrBacklog?: () => number;
}

export const realIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTty: Boolean(process.stderr.isTTY),
  stderrBacklog: () => process.stderr.writableLength,
};
