// What the bench scripts share: checking their numeric flags, where their lines go (stdout, or
// stderr when --json keeps stdout for the one JSON line), and a bound on how long they may run.

/** Throws naming the first flag that is not a positive integer. */
export function requirePositiveInts(flags: Record<string, number>): void {
  for (const [name, n] of Object.entries(flags)) {
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  }
}

/** Prints a line of the report: to stdout, or to stderr with --json (stdout carries the JSON). */
export function reportLines(json: boolean | undefined): (line: string) => void {
  return (line) => {
    if (json) process.stderr.write(`${line}\n`);
    else process.stdout.write(`${line}\n`);
  };
}

/** Ends the process (exit 2) after `seconds` whatever happens: a bench always stops by itself. */
export function giveUpAfter(bench: string, seconds: number): void {
  setTimeout(() => {
    process.stderr.write(`${bench}: gave up after --timeout ${seconds} s\n`);
    process.exit(2);
  }, seconds * 1000).unref();
}
