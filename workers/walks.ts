// Ops that walk a shard's keys (KEYS, SCAN with a big COUNT, RANDOMKEY on a sparse table) as
// generators that yield after each bounded step, so the worker can answer the watchdog between
// steps (workers/runner.ts). A walk must never do unbounded work between two yields.
import { KeyPacker, type PackedKeys } from '../src/key-list.js';
import { compileGlob, MatchWork, matchesAll } from '../src/glob.js';
import type { ShardStore } from './store.js';

/** Slots a walk examines between two yields. */
export const WALK_STEP = 4096;
/** Matching steps (characters of keys looked at) between two yields: ~10 ms of work. */
export const MATCH_STEP = 2_000_000;

/** A walk: yields between steps, returns the op's result. */
export type Walk<T = unknown> = Generator<void, T, void>;

/** Runs a walk to its end without yielding to anyone (tests, small shards). */
export function runToEnd<T>(walk: Walk<T>): T {
  for (;;) {
    const r = walk.next();
    if (r.done) return r.value;
  }
}

/** KEYS: every live key matching `pattern`, in slot order, packed (src/key-list.ts). */
export function* keysWalk(store: ShardStore, pattern: string): Walk<PackedKeys> {
  const packer = new KeyPacker();
  // Nothing else runs on the shard until the walk ends, so the slots do not move under it,
  // and keys that expire meanwhile count as of its start.
  const top = store.slots;
  const now = store.now();
  const glob = matchesAll(pattern) ? null : compileGlob(pattern);
  const work = new MatchWork();
  for (let from = 0; from < top; ) {
    work.budget = MATCH_STEP;
    const out: string[] = [];
    from = store.keysStep(glob, from, from + WALK_STEP, out, now, work);
    packer.add(out);
    yield;
  }
  return packer.done();
}

/** SCAN's work per call: it looks at up to this many slots (`count` × 8, at least 1024). */
export function scanBudget(count: number): number {
  return Math.max(count * 8, 1024);
}

/** SCAN: store.scan() in steps, with the same answer (its keys packed, src/key-list.ts). */
export function* scanWalk(store: ShardStore, cursor: number, pattern: string | null, count: number): Walk<[number, PackedKeys]> {
  const packer = new KeyPacker();
  const budget = scanBudget(count);
  let slot = cursor;
  let live = 0;
  let seen = 0;
  const now = store.now();
  const work = new MatchWork();
  while (slot < store.slots && live < count && seen < budget) {
    const out: string[] = [];
    work.budget = MATCH_STEP;
    const [next, l] = store.scanSlots(slot, pattern, count - live, Math.min(WALK_STEP, budget - seen), out, now, work);
    packer.add(out);
    seen += next - slot;
    live += l;
    slot = next;
    yield;
  }
  return [slot >= store.slots ? 0 : slot, packer.done()];
}

/** RANDOMKEY: random probes, then the first live key from a random slot on (wrapping around). */
export function* randomKeyWalk(store: ShardStore): Walk<string | null> {
  const probed = store.randomProbe();
  if (probed !== undefined) return probed;
  const top = store.slots;
  const start = (Math.random() * top) | 0;
  const parts = [
    [start, top],
    [0, start],
  ] as const;
  for (const [lo, hi] of parts) {
    for (let from = lo; from < hi; from += WALK_STEP) {
      const key = store.firstLive(from, Math.min(hi, from + WALK_STEP));
      if (key !== null) return key;
      yield;
    }
  }
  return null;
}
