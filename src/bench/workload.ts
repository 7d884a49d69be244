// The workload model of `shardcache bench` (issue 6): which op comes next (a YCSB preset or custom
// weights), which key it touches (uniform, zipfian with θ, or latest), and how large a value it
// writes. Seeded, so a run can be repeated exactly; no I/O, so every part is testable alone.

/** The ops a workload mixes. `update` is a SET of an existing key, `insert` a SET of a new one, `rmw` a GET then a SET of the same key. */
export const OPS = ['get', 'set', 'del', 'incr', 'mget', 'update', 'insert', 'rmw'] as const;
export type BenchOp = (typeof OPS)[number];

export type KeyDistribution = 'uniform' | 'zipfian' | 'latest';

/** The YCSB core workloads shardcache can run (E, scans, has no cache equivalent). */
export const PRESETS = {
  /** Update heavy: 50% reads, 50% updates. */
  A: { mix: { get: 50, update: 50 }, distribution: 'zipfian' },
  /** Read mostly: 95% reads, 5% updates. */
  B: { mix: { get: 95, update: 5 }, distribution: 'zipfian' },
  /** Read only. */
  C: { mix: { get: 100 }, distribution: 'zipfian' },
  /** Read latest: 95% reads of recent keys, 5% inserts. */
  D: { mix: { get: 95, insert: 5 }, distribution: 'latest' },
  /** Read-modify-write: 50% reads, 50% read-modify-writes. */
  F: { mix: { get: 50, rmw: 50 }, distribution: 'zipfian' },
} as const satisfies Record<string, { mix: Partial<Record<BenchOp, number>>; distribution: KeyDistribution }>;
export type PresetName = keyof typeof PRESETS;

/** A small fast seeded generator (mulberry32): floats in [0, 1). */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** Σ 1/i^θ for i = 1..n. */
function zeta(n: number, theta: number): number {
  let sum = 0;
  for (let i = 1; i <= n; i++) sum += 1 / i ** theta;
  return sum;
}

/**
 * Zipfian ranks in [0, n): rank 0 most popular, P(rank i) ∝ 1/(i+1)^θ, by the constant-time
 * method YCSB uses (Gray et al., "Quickly generating billion-record synthetic databases").
 */
export class Zipfian {
  readonly n: number;
  readonly theta: number;
  readonly #rng: Rng;
  readonly #alpha: number;
  readonly #zetan: number;
  readonly #eta: number;

  constructor(n: number, theta: number, rng: Rng) {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`zipfian: the key count must be a positive integer, got ${n}`);
    if (!(theta > 0 && theta < 1)) throw new RangeError(`zipfian: theta must be between 0 and 1 (exclusive), got ${theta}`);
    this.n = n;
    this.theta = theta;
    this.#rng = rng;
    this.#zetan = zeta(n, theta);
    this.#alpha = 1 / (1 - theta);
    this.#eta = (1 - (2 / n) ** (1 - theta)) / (1 - zeta(2, theta) / this.#zetan);
  }

  next(): number {
    const u = this.#rng.next();
    const uz = u * this.#zetan;
    if (uz < 1) return 0;
    if (uz < 1 + 0.5 ** this.theta) return Math.min(1, this.n - 1);
    return Math.min(this.n - 1, Math.floor(this.n * (this.#eta * u - this.#eta + 1) ** this.#alpha));
  }
}

/** Spreads zipfian ranks over the key space (YCSB's scrambling), so hot keys are not neighbours. */
function scramble(rank: number, n: number): number {
  // FNV-1a over the rank's 4 bytes, then into [0, n).
  let h = 0x811c9dc5;
  for (let i = 0; i < 4; i++) {
    h ^= (rank >>> (i * 8)) & 0xff;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % n;
}

/** Picks key numbers in [0, keys) (or among those inserted so far, for `latest`). */
export class KeyChooser {
  readonly distribution: KeyDistribution;
  #keys: number;
  readonly #rng: Rng;
  readonly #zipf: Zipfian | null;

  constructor(distribution: KeyDistribution, keys: number, rng: Rng, theta = 0.99) {
    this.distribution = distribution;
    this.#keys = keys;
    this.#rng = rng;
    this.#zipf = distribution === 'uniform' ? null : new Zipfian(keys, theta, rng);
  }

  /** Keys that exist: `latest` reads the newest of them. */
  get keys(): number {
    return this.#keys;
  }

  next(): number {
    switch (this.distribution) {
      case 'uniform':
        return this.#rng.below(this.#keys);
      case 'zipfian':
        return scramble(this.#zipf!.next(), this.#keys);
      case 'latest':
        // Rank 0 is the newest key; ranks past the zipfian's range fold back into it.
        return this.#keys - 1 - (this.#zipf!.next() % this.#keys);
    }
  }

  /** A new key (insert): the next number, which `latest` then favours. */
  insert(): number {
    return this.#keys++;
  }
}

/** Picks ops by weight. */
export class OpChooser {
  readonly #ops: BenchOp[];
  readonly #cumulative: number[];
  readonly #rng: Rng;

  constructor(mix: Partial<Record<BenchOp, number>>, rng: Rng) {
    this.#ops = [];
    this.#cumulative = [];
    let total = 0;
    for (const op of OPS) {
      const w = mix[op] ?? 0;
      if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`op weight for ${op} must be a number ≥ 0, got ${w}`);
      if (w === 0) continue;
      total += w;
      this.#ops.push(op);
      this.#cumulative.push(total);
    }
    if (total === 0) throw new RangeError('the op mix needs at least one op with a weight above 0');
    this.#cumulative = this.#cumulative.map((c) => c / total);
    this.#rng = rng;
  }

  next(): BenchOp {
    const u = this.#rng.next();
    for (let i = 0; i < this.#ops.length; i++) if (u < this.#cumulative[i]!) return this.#ops[i]!;
    return this.#ops[this.#ops.length - 1]!;
  }
}

/** `get=50,set=50` → weights; throws a RangeError naming what is wrong. */
export function parseMix(text: string): Partial<Record<BenchOp, number>> {
  const mix: Partial<Record<BenchOp, number>> = {};
  for (const part of text.split(',')) {
    const m = /^\s*([a-z]+)\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*$/.exec(part);
    if (m === null) throw new RangeError(`an op mix is op=weight,op=weight… (e.g. get=90,set=10), got "${text}"`);
    const op = m[1] as BenchOp;
    if (!OPS.includes(op)) throw new RangeError(`unknown op "${m[1]}" in the mix (ops: ${OPS.join(', ')})`);
    if (mix[op] !== undefined) throw new RangeError(`op "${op}" appears twice in the mix`);
    mix[op] = Number(m[2]);
  }
  return mix;
}

/** `100` (fixed) or `64-1024` (uniform in the range) → [min, max] bytes. */
export function parseValueSize(text: string): [number, number] {
  const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(text.trim());
  const min = m === null ? Number.NaN : Number(m[1]);
  const max = m === null ? Number.NaN : m[2] === undefined ? min : Number(m[2]);
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max) {
    throw new RangeError(`a value size is N or MIN-MAX bytes (e.g. 100 or 64-1024), got "${text}"`);
  }
  return [min, max];
}

/** Value lengths in [min, max], uniform. */
export function valueSizer([min, max]: [number, number], rng: Rng): () => number {
  return min === max ? () => min : () => min + rng.below(max - min + 1);
}
