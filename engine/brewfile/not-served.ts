/** A Brewfile entry of a type the mirror cannot serve (`mas`, `vscode`, `go`, …), and where it was declared. */
export interface NotServedEntry {
  readonly type: string;
  readonly name: string;
  /** The Brewfile (only its base name once recorded with a generation: the page is public). */
  readonly file: string;
  readonly line: number | null;
}
