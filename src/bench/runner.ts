// The measuring loop of `shardcache bench`, for one client (the bench's own thread, or one load
// generator thread of a network target). Closed loop: `connections` lanes each keeping `pipeline`
// ops in flight. Open loop (`rate`): ops start at fixed intervals whatever the replies do, and each
// op's latency counts from the moment it was due, so queueing shows (no coordinated omission).
// Ops and keys come from the workload model; latencies go to an HDR histogram per op (µs); a
// warm-up is left out of the figures.
import * as hdr from 'hdr-histogram-js';
import { type BenchOp, KeyChooser, type KeyDistribution, OpChooser, Rng, valueSizer } from './workload.js';

/** What the loop drives, one op at a time; `lane` says which connection (0..connections-1) to use. */
export interface BenchTarget {
  readonly name: string;
  get(key: string, lane: number): Promise<unknown>;
  set(key: string, value: string, lane: number): Promise<unknown>;
  del(key: string, lane: number): Promise<unknown>;
  incr(key: string, lane: number): Promise<unknown>;
  mget(keys: string[], lane: number): Promise<unknown>;
  close(): Promise<void>;
}

export interface BenchOptions {
  mix: Partial<Record<BenchOp, number>>;
  distribution: KeyDistribution;
  theta: number;
  keys: number;
  valueSize: [number, number];
  /** Keys per MGET. */
  mgetKeys: number;
  connections: number;
  pipeline: number;
  /** Stop after this long (ms) or this many measured ops, whichever is given (duration wins if both). */
  durationMs?: number;
  ops?: number;
  warmupMs: number;
  preload: boolean;
  seed: number;
  /** Open loop: ops started per second (closed loop when absent). */
  rate?: number;
  /** Preload only the keys `k` with `k % of === part` (load generator threads share the preload). */
  preloadPart?: { part: number; of: number };
  /** Awaited after the preload, before the clock starts (load generator threads start together). */
  ready?: () => Promise<void>;
  /** Open loop: this thread's ops are due this much (ms) after the common schedule's (threads interleave). */
  phaseMs?: number;
  /** Polled while running: true ends the run early (another load generator thread failed). */
  stop?: () => boolean;
}

/**
 * A target's failure that ends the run: the connection is gone or stopped answering. Other
 * failures (an error reply, an HTTP error status) are counted per op and the run goes on.
 */
export class TargetLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetLost';
  }
}

/** Ops in flight at most per open-loop client; later ops wait, their latency still counts from when they were due. */
export const OPEN_LOOP_MAX_IN_FLIGHT = 10_000;

export interface OpFigures {
  op: BenchOp;
  count: number;
  errors: number;
  /** Latencies in µs. */
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface BenchResult {
  target: string;
  seconds: number;
  /** Measured ops that succeeded (ops/s counts these), and those that failed. */
  ops: number;
  errors: number;
  opsPerSec: number;
  perOp: OpFigures[];
  /** The first error of the run, as a line (e.g. a server's error reply), or null. */
  firstError: string | null;
  /** Ops completed including the warm-up, for CPU per op. */
  allOps: number;
  /** Open loop: how late ops started after they were due (µs) — the generator's own lag, not the server's. */
  startLag: hdr.Histogram | null;
  /** Latencies (µs) per op and of all ops, for merging and --hdr-out. */
  histograms: Map<BenchOp, hdr.Histogram>;
  histogram: hdr.Histogram;
}

/** The key string of key number `n`. */
export function keyName(n: number): string {
  return `key:${String(n).padStart(12, '0')}`;
}

/** keyName with the names of the first `count` keys made once (building them was 5% of a generator's CPU). */
function keyNames(count: number): (n: number) => string {
  const made: (string | undefined)[] = new Array(Math.min(count, 1_000_000));
  return (n) => {
    if (n >= made.length) return keyName(n);
    let k = made[n];
    if (k === undefined) {
      k = keyName(n);
      made[n] = k;
    }
    return k;
  };
}

export function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** How far a run is: measured ops, and the share done (0..1) of its duration or op count. */
export type Progress = (ops: number, done: number) => void;

/** Runs the workload against `target`; `progress` hears about every 200 ms how far it is. */
export async function runBench(target: BenchTarget, o: BenchOptions, progress?: Progress): Promise<BenchResult> {
  const rng = new Rng(o.seed);
  const keys = new KeyChooser(o.distribution, o.keys, rng, o.theta);
  const name = keyNames(o.keys);
  const ops = new OpChooser(o.mix, rng);
  const size = valueSizer(o.valueSize, rng);
  const values = new Map<number, string>();
  const value = (): string => {
    const n = size();
    let v = values.get(n);
    if (v === undefined) {
      v = 'x'.repeat(n);
      values.set(n, v);
    }
    return v;
  };
  if (o.preload) {
    const { part, of } = o.preloadPart ?? { part: 0, of: 1 };
    let lane = 0;
    try {
      for (let i = part; i < o.keys; ) {
        const batch: Promise<unknown>[] = [];
        for (let n = 0; n < 1000 && i < o.keys; n++, i += of) {
          batch.push(target.set(name(i), value(), lane));
          lane = (lane + 1) % o.connections;
        }
        await Promise.all(batch);
      }
    } catch (err) {
      throw new Error(`preload of ${target.name} failed (--no-preload skips it): ${(err as Error).message}`);
    }
  }
  await o.ready?.();
  const hists = new Map<BenchOp, hdr.Histogram>();
  const errors = new Map<BenchOp, number>();
  let firstError: string | null = null;
  const all = newHistogram();
  const start = performance.now();
  const warmEnd = start + o.warmupMs;
  const stopAt = o.durationMs === undefined ? Number.POSITIVE_INFINITY : warmEnd + o.durationMs;
  const maxOps = o.durationMs === undefined ? (o.ops ?? 100_000) : Number.POSITIVE_INFINITY;
  let measured = 0;
  let completed = 0;
  let issued = 0;
  /** The failure that ends the run (TargetLost), or the external stop. */
  let lost: Error | null = null;
  const over = (): boolean => {
    if (lost === null && o.stop?.() === true) lost = new Error('aborted: another load generator thread failed');
    return lost !== null;
  };
  const startLag = o.rate === undefined ? null : newHistogram();
  const ticker =
    progress === undefined
      ? null
      : setInterval(() => {
          const now = performance.now();
          if (now < warmEnd) return progress(0, 0);
          progress(measured, Math.min(1, o.durationMs === undefined ? measured / maxOps : (now - warmEnd) / o.durationMs));
        }, 200);

  /** One op on `lane`; its latency counts from `due` (when it was meant to start). */
  const one = async (lane: number, due: number): Promise<void> => {
    const op = ops.next();
    let failure: unknown = null;
    try {
      switch (op) {
        case 'get':
          await target.get(name(keys.next()), lane);
          break;
        case 'set':
        case 'update':
          await target.set(name(keys.next()), value(), lane);
          break;
        case 'insert':
          await target.set(name(keys.insert()), value(), lane);
          break;
        case 'del':
          await target.del(name(keys.next()), lane);
          break;
        case 'incr':
          // Counters live in their own key space: a value key holds text, not an integer.
          await target.incr(`ctr:${keys.next()}`, lane);
          break;
        case 'mget':
          await target.mget(
            Array.from({ length: o.mgetKeys }, () => name(keys.next())),
            lane,
          );
          break;
        case 'rmw': {
          const k = name(keys.next());
          await target.get(k, lane);
          await target.set(k, value(), lane);
        }
      }
    } catch (err) {
      failure = err;
    }
    const t1 = performance.now();
    completed++;
    if (failure instanceof TargetLost) {
      lost ??= new TargetLost(`${target.name}: ${failure.message}`);
      return;
    }
    if (due < warmEnd) return;
    if (failure !== null) {
      errors.set(op, (errors.get(op) ?? 0) + 1);
      firstError ??= `${op}: ${failure instanceof Error ? failure.message : String(failure)}`;
      return;
    }
    measured++;
    let h = hists.get(op);
    if (h === undefined) {
      h = newHistogram();
      hists.set(op, h);
    }
    const us = Math.max(1, Math.round((t1 - due) * 1000));
    h.recordValue(us);
    all.recordValue(us);
  };

  const lane = async (n: number): Promise<void> => {
    for (;;) {
      const now = performance.now();
      if (now >= stopAt || over()) return;
      const batch: Promise<void>[] = [];
      for (let i = 0; i < o.pipeline; i++) {
        const t0 = performance.now();
        if (t0 >= warmEnd) {
          if (issued >= maxOps) break;
          issued++;
        }
        batch.push(one(n, t0));
      }
      if (batch.length === 0) return;
      await Promise.all(batch);
    }
  };

  const openLoop = (rate: number): Promise<void> =>
    new Promise((resolve) => {
      const interval = 1000 / rate;
      // Due times from a count, not a running sum: no drift over long runs.
      const first = start + (o.phaseMs ?? 0);
      let k = 0;
      let inFlight = 0;
      let next = 0;
      let ended = false;
      const end = (): void => {
        ended = true;
        if (inFlight === 0) resolve();
      };
      const done = (): void => {
        inFlight--;
        if (ended && inFlight === 0) resolve();
        else if (!ended && inFlight === OPEN_LOOP_MAX_IN_FLIGHT - 1) setImmediate(tick);
      };
      const tick = (): void => {
        if (over()) {
          end();
          return;
        }
        let now = performance.now();
        let due = first + k * interval;
        while (due <= now && inFlight < OPEN_LOOP_MAX_IN_FLIGHT) {
          if (due >= stopAt || (due >= warmEnd && issued >= maxOps)) {
            end();
            return;
          }
          if (due >= warmEnd) {
            issued++;
            startLag!.recordValue(Math.max(1, Math.round((now - due) * 1000)));
          }
          inFlight++;
          void one(next, due).then(done);
          next = (next + 1) % o.connections;
          due = first + ++k * interval;
          now = performance.now();
        }
        if (inFlight >= OPEN_LOOP_MAX_IN_FLIGHT) return;
        // Timers fire a millisecond or more late: the last 2 ms before an op is due are waited out
        // by turning the event loop (replies keep arriving meanwhile), so ops start within µs of
        // when they are due. At 1,000+ ops/s per thread this keeps the thread busy.
        const wait = due - now;
        if (wait < 2) setImmediate(tick);
        else setTimeout(tick, wait - 2);
      };
      tick();
    });

  try {
    if (o.rate === undefined) await Promise.all(Array.from({ length: o.connections }, (_, i) => lane(i)));
    else await openLoop(o.rate);
  } finally {
    if (ticker !== null) clearInterval(ticker);
  }
  if (lost !== null) throw lost;
  const seconds = Math.max(1e-9, (performance.now() - Math.max(start, warmEnd)) / 1000);
  const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
  return {
    target: target.name,
    seconds,
    ops: measured,
    errors: errorCount,
    opsPerSec: Math.round(measured / seconds),
    perOp: figuresOf(hists, errors),
    firstError,
    allOps: completed,
    startLag,
    histograms: hists,
    histogram: all,
  };
}

/** Per-op figures from latency histograms (µs) and error counts. */
export function figuresOf(hists: Map<BenchOp, hdr.Histogram>, errors: Map<BenchOp, number>): OpFigures[] {
  const perOp: OpFigures[] = [];
  for (const op of new Set([...hists.keys(), ...errors.keys()])) {
    const h = hists.get(op);
    const max = h?.maxValue ?? 0;
    // HDR answers a percentile with the top of its bucket (3 significant digits), which can pass
    // the exact max recorded: no percentile is reported above the max.
    const at = (p: number): number => Math.min(h?.getValueAtPercentile(p) ?? 0, max);
    perOp.push({
      op,
      count: h === undefined ? 0 : h.totalCount,
      errors: errors.get(op) ?? 0,
      mean: h === undefined ? 0 : Math.round(h.mean),
      p50: at(50),
      p90: at(90),
      p99: at(99),
      p999: at(99.9),
      max,
    });
  }
  return perOp;
}
