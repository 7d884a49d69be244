// `shardcache bench --compare`: the runs of two targets taken alternately (A B A B ...), reduced to
// medians per target, and the ratios of the first target to the second.
import type { OpFigures } from './runner.js';
import type { BenchOp } from './workload.js';

/** What one run contributes to a comparison. */
export interface RunFigures {
  target: string;
  opsPerSec: number;
  perOp: OpFigures[];
}

const LATENCIES = ['p50', 'p90', 'p99', 'p999', 'max'] as const;
type Latency = (typeof LATENCIES)[number];

/** Medians over runs of one target. */
export interface MedianFigures {
  target: string;
  runs: number;
  opsPerSec: number;
  perOp: ({ op: BenchOp } & Record<Latency, number>)[];
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function medians(runs: readonly RunFigures[]): MedianFigures {
  const ops = [...new Set(runs.flatMap((r) => r.perOp.map((f) => f.op)))];
  return {
    target: runs[0]?.target ?? '',
    runs: runs.length,
    opsPerSec: Math.round(median(runs.map((r) => r.opsPerSec))),
    perOp: ops.map((op) => {
      const of = runs.map((r) => r.perOp.find((f) => f.op === op)).filter((f) => f !== undefined && f.count > 0) as OpFigures[];
      const row = { op } as { op: BenchOp } & Record<Latency, number>;
      for (const l of LATENCIES) row[l] = Math.round(median(of.map((f) => f[l])));
      return row;
    }),
  };
}

/** Ratios of `a` to `b` (throughput above 1: a is faster; latency above 1: a is slower), 3 decimals. */
export interface Ratios {
  opsPerSec: number | null;
  perOp: ({ op: BenchOp } & Record<Latency, number | null>)[];
}

const ratio = (a: number, b: number): number | null => (b === 0 ? null : Math.round((a / b) * 1000) / 1000);

export function ratios(a: MedianFigures, b: MedianFigures): Ratios {
  return {
    opsPerSec: ratio(a.opsPerSec, b.opsPerSec),
    perOp: a.perOp
      .filter((fa) => b.perOp.some((fb) => fb.op === fa.op))
      .map((fa) => {
        const fb = b.perOp.find((f) => f.op === fa.op)!;
        const row = { op: fa.op } as { op: BenchOp } & Record<Latency, number | null>;
        for (const l of LATENCIES) row[l] = ratio(fa[l], fb[l]);
        return row;
      }),
  };
}
