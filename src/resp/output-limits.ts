// Output buffer limits as Redis's client-output-buffer-limit has them: per client class a hard
// limit (closed at once when passed) and a soft limit (closed when passed for soft-seconds).
// Parses and formats the setting and watches one client's buffer; it never closes anything itself.
import { parseBytes } from '../units.js';

/** One class's limits, in bytes and seconds; 0 turns a limit off. */
export interface OutputLimit {
  hard: number;
  soft: number;
  softSeconds: number;
}

/** The limits of each client class: normal clients, replicas (and PSYNC attempts), pub/sub clients. */
export interface OutputLimits {
  normal: OutputLimit;
  replica: OutputLimit;
  pubsub: OutputLimit;
}

const MB = 1024 * 1024;

/**
 * Redis's defaults for replicas and pub/sub; normal clients get a 1 GB hard limit where Redis has
 * none: a client that stops reading is held at 8 MB of replies anyway, so only replies already
 * asked for when it stopped can pile up past that, and 1 GB is above any one reply the default
 * proto-max-bulk-len (512 MB) allows.
 */
export const DEFAULT_OUTPUT_LIMITS: OutputLimits = {
  normal: { hard: 1024 * MB, soft: 0, softSeconds: 0 },
  replica: { hard: 256 * MB, soft: 64 * MB, softSeconds: 60 },
  pubsub: { hard: 32 * MB, soft: 8 * MB, softSeconds: 60 },
};

/**
 * Reads `normal <hard> <soft> <soft-seconds> [replica|slave …] [pubsub …]` (sizes like 256mb, as
 * Redis's config takes them); classes left out keep `base`'s limits. Returns an error text when it
 * is not that.
 */
export function parseOutputLimits(text: string, base: OutputLimits = DEFAULT_OUTPUT_LIMITS): OutputLimits | string {
  const words = text.trim().split(/\s+/);
  if (words.length === 0 || words[0] === '' || words.length % 4 !== 0) {
    return 'expected groups of 4 words: <class> <hard> <soft> <soft-seconds>, like "normal 1gb 0 0 replica 256mb 64mb 60"';
  }
  const out: OutputLimits = { normal: { ...base.normal }, replica: { ...base.replica }, pubsub: { ...base.pubsub } };
  for (let i = 0; i < words.length; i += 4) {
    const name = words[i]!.toLowerCase();
    const cls = name === 'normal' ? 'normal' : name === 'replica' || name === 'slave' ? 'replica' : name === 'pubsub' ? 'pubsub' : null;
    if (cls === null) return `unknown client class "${words[i]}" (normal, replica or pubsub)`;
    const hard = parseBytes(words[i + 1]!);
    const soft = parseBytes(words[i + 2]!);
    const seconds = /^\d+$/.test(words[i + 3]!) ? Number(words[i + 3]) : null;
    if (hard === null || soft === null || seconds === null)
      return `"${words.slice(i, i + 4).join(' ')}" has a size or a number of seconds that is not one`;
    out[cls] = { hard, soft, softSeconds: seconds };
  }
  return out;
}

/** CONFIG GET client-output-buffer-limit's answer, as Redis writes it (bytes, the replica class named slave). */
export function formatOutputLimits(l: OutputLimits): string {
  const one = (name: string, x: OutputLimit): string => `${name} ${x.hard} ${x.soft} ${x.softSeconds}`;
  return `${one('normal', l.normal)} ${one('slave', l.replica)} ${one('pubsub', l.pubsub)}`;
}

/** A one-shot timer (a seam for tests); the real one does not keep the process alive. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(timer: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

/** Which limit a client passed. */
export type LimitPassed = 'hard' | 'soft';

/**
 * One client's buffer against its class's limits: check() on every change it sees; past the hard
 * limit it reports at once, past the soft limit it arms a timer that reports if the buffer is
 * still past it soft-seconds later (a buffer seen back under the soft limit disarms it).
 */
export class OutputWatch {
  readonly limit: OutputLimit;
  readonly #bytes: () => number;
  readonly #onPassed: (which: LimitPassed, bytes: number) => void;
  #timer: unknown = null;
  #done = false;

  readonly #timers: Timers;

  constructor(limit: OutputLimit, bytes: () => number, onPassed: (which: LimitPassed, bytes: number) => void, timers: Timers = realTimers) {
    this.limit = limit;
    this.#bytes = bytes;
    this.#onPassed = onPassed;
    this.#timers = timers;
  }

  /** Looks at the buffer now; returns true (and reports) when it passed the hard limit. */
  check(bytes = this.#bytes()): boolean {
    if (this.#done) return false;
    const { hard, soft, softSeconds } = this.limit;
    if (hard > 0 && bytes > hard) {
      this.#pass('hard', bytes);
      return true;
    }
    if (soft > 0 && bytes > soft) {
      if (softSeconds === 0) {
        this.#pass('soft', bytes);
        return true;
      }
      if (this.#timer === null) {
        this.#timer = this.#timers.set(() => {
          this.#timer = null;
          const now = this.#bytes();
          if (now > soft) this.#pass('soft', now);
        }, softSeconds * 1000);
      }
    } else this.#disarm();
    return false;
  }

  #pass(which: LimitPassed, bytes: number): void {
    this.stop();
    this.#onPassed(which, bytes);
  }

  #disarm(): void {
    if (this.#timer !== null) this.#timers.clear(this.#timer);
    this.#timer = null;
  }

  /** No more checks (the client is gone). */
  stop(): void {
    this.#done = true;
    this.#disarm();
  }
}
