// The measuring loop of `shardcache bench`: closed loop, `connections` lanes each keeping
// `pipeline` ops in flight, ops and keys drawn from the workload model, each op's latency recorded
// in an HDR histogram per op (µs), a warm-up left out of the figures.
import * as hdr from 'hdr-histogram-js';
import { type BenchOp, KeyChooser, type KeyDistribution, OpChooser, Rng, valueSizer } from './workload.js';

/** What the loop drives: one op at a time (the loop keeps many in flight). */
export interface BenchTarget {
  readonly name: string;
  get(key: string): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
  incr(key: string): Promise<unknown>;
  mget(keys: string[]): Promise<unknown>;
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
}

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
  ops: number;
  errors: number;
  opsPerSec: number;
  perOp: OpFigures[];
  /** All ops' latencies (µs), for --hdr-out. */
  histogram: hdr.Histogram;
}

/** The key string of key number `n`. */
export function keyName(n: number): string {
  return `key:${String(n).padStart(12, '0')}`;
}

function newHistogram(): hdr.Histogram {
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
    for (let i = 0; i < o.keys; i += 1000) {
      const batch: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(o.keys, i + 1000); j++) batch.push(target.set(keyName(j), value()));
      await Promise.all(batch);
    }
  }
  const hists = new Map<BenchOp, hdr.Histogram>();
  const errors = new Map<BenchOp, number>();
  const all = newHistogram();
  const start = performance.now();
  const warmEnd = start + o.warmupMs;
  const stopAt = o.durationMs === undefined ? Number.POSITIVE_INFINITY : warmEnd + o.durationMs;
  const maxOps = o.durationMs === undefined ? (o.ops ?? 100_000) : Number.POSITIVE_INFINITY;
  let measured = 0;
  let issued = 0;
  const ticker =
    progress === undefined
      ? null
      : setInterval(() => {
          const now = performance.now();
          if (now < warmEnd) return progress(0, 0);
          progress(measured, Math.min(1, o.durationMs === undefined ? measured / maxOps : (now - warmEnd) / o.durationMs));
        }, 200);

  const one = async (): Promise<void> => {
    const op = ops.next();
    const t0 = performance.now();
    let failed = false;
    try {
      switch (op) {
        case 'get':
          await target.get(keyName(keys.next()));
          break;
        case 'set':
        case 'update':
          await target.set(keyName(keys.next()), value());
          break;
        case 'insert':
          await target.set(keyName(keys.insert()), value());
          break;
        case 'del':
          await target.del(keyName(keys.next()));
          break;
        case 'incr':
          // Counters live in their own key space: a value key holds text, not an integer.
          await target.incr(`ctr:${keys.next()}`);
          break;
        case 'mget':
          await target.mget(Array.from({ length: o.mgetKeys }, () => keyName(keys.next())));
          break;
        case 'rmw': {
          const k = keyName(keys.next());
          await target.get(k);
          await target.set(k, value());
        }
      }
    } catch {
      failed = true;
    }
    const t1 = performance.now();
    if (t0 < warmEnd) return;
    measured++;
    if (failed) {
      errors.set(op, (errors.get(op) ?? 0) + 1);
      return;
    }
    let h = hists.get(op);
    if (h === undefined) {
      h = newHistogram();
      hists.set(op, h);
    }
    const us = Math.max(1, Math.round((t1 - t0) * 1000));
    h.recordValue(us);
    all.recordValue(us);
  };

  const lane = async (): Promise<void> => {
    for (;;) {
      const now = performance.now();
      if (now >= stopAt || (now >= warmEnd && issued >= maxOps)) return;
      const batch: Promise<void>[] = [];
      for (let i = 0; i < o.pipeline; i++) {
        if (performance.now() >= warmEnd) issued++;
        batch.push(one());
      }
      await Promise.all(batch);
    }
  };
  try {
    await Promise.all(Array.from({ length: o.connections }, lane));
  } finally {
    if (ticker !== null) clearInterval(ticker);
  }
  const seconds = Math.max(1e-9, (performance.now() - Math.max(start, warmEnd)) / 1000);
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
  const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
  return {
    target: target.name,
    seconds,
    ops: measured,
    errors: errorCount,
    opsPerSec: Math.round(measured / seconds),
    perOp,
    histogram: all,
  };
}
