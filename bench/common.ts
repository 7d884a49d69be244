// What the bench scripts share: checking their numeric flags, where their lines go (stdout, or
// stderr when --json keeps stdout for the one JSON line), a bound on how long they may run, a
// process's RSS, and the keys and distinct values of the memory and host benches.
import { readFileSync } from 'node:fs';

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

/** A process's resident set in bytes, from /proc (Linux). */
export function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

/** The key of entry `i` in the memory and host benches: `key:<i>`, as redis-server's DEBUG POPULATE names them. */
export function entryKey(i: number): string {
  return `key:${i}`;
}

/**
 * Distinct values of exactly `size` bytes, each a fresh flat string (what a host app holds after
 * reading a socket): entry `i`'s value of generation `gen` starts `<i base 36>:<gen base 36>:`,
 * then filler. Sizes below 16 bytes cannot hold that prefix and throw.
 */
export class ValueMaker {
  #buf: Buffer;
  #size: number;

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 16) throw new Error('--value-size must be an integer of at least 16 (bytes)');
    this.#size = size;
    this.#buf = Buffer.alloc(size, 'x');
  }

  /** The value of entry `i` at generation `gen` (0 for the preload, then one per SET). */
  value(i: number, gen: number): string {
    this.#buf.write(`${i.toString(36).padStart(6, '0')}:${gen.toString(36).padStart(8, '0')}:`, 0, 'latin1');
    return this.#buf.toString('latin1', 0, this.#size);
  }
}

/**
 * Stores entries [from, to) (`entryKey(i)` → `values.value(i, 0)`) through `mset` in chunks of
 * 5000, four chunks in flight: the shards store one while the next is built.
 */
export async function msetRange(
  c: { mset(entries: Iterable<readonly [string, string]>): Promise<void> },
  values: ValueMaker,
  from: number,
  to: number,
): Promise<void> {
  const CHUNK = 5000;
  const inFlight = new Set<Promise<void>>();
  for (let i = from; i < to; i += CHUNK) {
    const pairs: [string, string][] = [];
    for (let j = i; j < Math.min(to, i + CHUNK); j++) pairs.push([entryKey(j), values.value(j, 0)]);
    const p: Promise<void> = c.mset(pairs).then(() => void inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 4) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

/**
 * Ends the process (exit 3) with one line at a shard's crash: a run that lost a shard measures
 * nothing. On a busy machine the watchdog may take a shard slow to answer (a big fill, a major
 * GC) for hung: the line says which flag gives it longer.
 */
export function exitOnCrash(
  cluster: { on(event: 'crash', listener: (e: { name: string; reason: string }) => void): unknown },
  bench: string,
): void {
  cluster.on('crash', (e) => {
    process.stderr.write(`${bench}: shard ${e.name} crashed (${e.reason}); on a busy machine pass --watchdog-timeout MS (0 disables it)\n`);
    process.exit(3);
  });
}
