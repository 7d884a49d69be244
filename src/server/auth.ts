// Password checks and failed-authentication accounting shared by every surface that takes a
// password (the RESP port's AUTH and HELLO AUTH; the REST API can use the same). Never logs or
// returns a password, and never compares one in time that depends on where it differs.
import { createHash, timingSafeEqual } from 'node:crypto';

/** Whether `given` is the password `expected`, in constant time (SHA-256 digests compared with timingSafeEqual). */
export function checkPassword(given: string | Uint8Array, expected: string | Uint8Array): boolean {
  // Digests have one length whatever the inputs', so neither the length nor the first differing
  // byte of the password shows in the time taken.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Where AuthFailures writes its warnings (a pino logger fits). */
export interface AuthLog {
  warn(obj: object, msg: string): void;
}

/** How AuthFailures is built: where it logs, its clock, and how often it may log. */
export interface AuthFailuresOptions {
  log?: AuthLog | null;
  /** Milliseconds now (injected in tests). Default Date.now. */
  now?: () => number;
  /** At most one warning per this many ms; failures between are counted in the next one. Default 1,000. */
  intervalMs?: number;
}

/**
 * Failed authentications of every surface: counted per surface (`resp`, `rest`, ...) for INFO and
 * /metrics, and logged at warn at most once per interval with the number left out since the last
 * line, so a password-guessing flood costs one log line a second, not one per guess.
 */
export class AuthFailures {
  readonly #log: AuthLog | null;
  readonly #now: () => number;
  readonly #interval: number;
  readonly #counts = new Map<string, number>();
  #lastLog = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  constructor(options: AuthFailuresOptions = {}) {
    this.#log = options.log ?? null;
    this.#now = options.now ?? Date.now;
    this.#interval = options.intervalMs ?? 1000;
  }

  /** Records one failure on `surface` from `remote` (an address:port); logs it unless one was logged within the interval. */
  record(surface: string, remote: string): void {
    this.#counts.set(surface, (this.#counts.get(surface) ?? 0) + 1);
    const now = this.#now();
    if (now - this.#lastLog < this.#interval) {
      this.#suppressed++;
      return;
    }
    const suppressed = this.#suppressed;
    this.#lastLog = now;
    this.#suppressed = 0;
    this.#log?.warn(
      { event: 'auth-failure', surface, remote, suppressed },
      `authentication failed on ${surface} from ${remote}${suppressed > 0 ? ` (${suppressed} more failures since the last such line)` : ''}`,
    );
  }

  /** Failures on `surface` so far. */
  count(surface: string): number {
    return this.#counts.get(surface) ?? 0;
  }

  /** Failures so far, by surface. */
  counts(): ReadonlyMap<string, number> {
    return this.#counts;
  }
}
