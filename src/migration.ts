// A live migration, coordinator side: which hash ranges change owners between two rings, where
// each range's ops go while it moves, and the driver that moves range after range.
//
// Invariant (DESIGN §3): at every instant exactly one place takes the ops of a key. A range is
//   'old'    → ops go to its old owner, which still holds every key of the range;
//   'moving' → writes are held here, in arrival order, while the range is exported and
//              imported; reads still go to O until a write waits, then wait behind it;
//   'new'    → ops go to the new owner, which has confirmed every key of the range.
// Trace of the hand-over for one range, with ports FIFO:
//   1. ops routed 'old' sit in O's queue; EXPORT is queued behind them, so it sees all of them;
//   2. from the flip to 'moving' no write reaches O or N for the range (held); a read on O sees
//      exactly what EXPORT saw, since O drops nothing before (4);
//   3. the chunks land on N (REPLACE: the first drops what N held there); when N confirms the
//      last, the range flips to 'new' and the held ops are sent to N in arrival order, before
//      any op issued later (JS runs the release synchronously);
//   4. only then O drops its copy (DROP), so a crash of N before (3) loses nothing: the range is
//      exported again to N's replacement.
import { isCrash } from './errors.js';
import { CHUNKS_DONE, MIGRATION_CHUNK, MIGRATION_CHUNK_BYTES, Op } from './protocol.js';
import type { HashRing } from './ring.js';
import type { ShardHandle } from './shard-handle.js';

export type RangeState = 'old' | 'moving' | 'new';

/** A hash range [lo, hi] whose owners differ between the two rings. */
export interface MovingRange {
  lo: number;
  hi: number;
  /** Owner(s) before and after (primary first). */
  from: number[];
  to: number[];
  state: RangeState;
  /** Ops waiting for the range to settle, run in order on release. */
  held: (() => void)[];
  /** Which old owner exports the range (chosen by the coordinator before the run). */
  source: number;
  /** The range's index in the plan of each shard that exports or drops it. */
  planIdx: Map<number, number>;
}

export type MigrationKind = 'add' | 'remove' | 'refill';

/** What a host app sees of a migration. */
export interface MigrationStatus {
  kind: MigrationKind;
  shardId: number;
  epoch: number;
  rangesTotal: number;
  rangesDone: number;
  keysMoved: number;
  startedAt: number;
}

function sameSet(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/**
 * Walks the hash space in the runs between consecutive `cuts`, asks `sets(hi)` for each run's
 * old and new replica sets (null: the run does not move), and merges adjacent runs that move
 * the same way into one range.
 */
function rangesBetween(cuts: Iterable<number>, sets: (hi: number) => { from: number[]; to: number[] } | null): MovingRange[] {
  const out: MovingRange[] = [];
  const consider = (lo: number, hi: number): void => {
    if (lo > hi) return;
    const s = sets(hi);
    if (s === null) return;
    const last = out[out.length - 1];
    if (last !== undefined && last.hi + 1 === lo && sameSet(last.from, s.from) && sameSet(last.to, s.to)) {
      last.hi = hi;
      return;
    }
    out.push({ lo, hi, from: s.from, to: s.to, state: 'old', held: [], source: s.from[0]!, planIdx: new Map() });
  };
  let lo = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    consider(lo, cut);
    lo = cut + 1;
  }
  consider(lo, 0xffffffff);
  return out;
}

/** The ranges whose replica sets differ between two rings, as maximal runs of the hash space. */
export function movingRanges(before: HashRing, after: HashRing, replicas: number): MovingRange[] {
  return rangesBetween(new Set([...before.points(), ...after.points()]), (hi) => {
    const from = before.preferenceList(hi, replicas);
    const to = after.preferenceList(hi, replicas);
    return sameSet(from, to) ? null : { from, to };
  });
}

/**
 * The ranges a replacement of shard `id` must be refilled with (R ≥ 2): every run of the hash
 * space whose replica set includes it, copied from the other members.
 */
export function refillRanges(ring: HashRing, id: number, replicas: number): MovingRange[] {
  return rangesBetween(ring.points(), (hi) => {
    const to = ring.preferenceList(hi, replicas);
    return !to.includes(id) || to.length < 2 ? null : { from: to.filter((x) => x !== id), to };
  });
}

/** A replica set as a GroupTable names it: its shard ids ascending, joined by commas ('1,3'). */
export function setKey(ids: readonly number[]): string {
  return [...ids].sort((a, b) => a - b).join(',');
}

/** A shard's GroupTable without its version: run starts, each run's set (or -1), and the sets. */
export interface ShardGroups {
  los: Uint32Array;
  groups: Int32Array;
  sets: string[];
}

/**
 * For every shard of the ring, the runs of the hash space whose copies include it, each with its
 * replica set (an index into `sets`; other runs -1): what the shards count their keys by
 * (replicas ≥ 2). One walk over the ring for all shards.
 */
export function groupTables(ring: HashRing, replicas: number): Map<number, ShardGroups> {
  /** Per shard: its runs so far, its sets, and `end`, the first hash its runs do not cover yet. */
  type Acc = { los: number[]; groups: number[]; sets: string[]; index: Map<string, number>; end: number };
  const acc = new Map<number, Acc>();
  for (const id of ring.shardIds()) acc.set(id, { los: [], groups: [], sets: [], index: new Map(), end: 0 });
  const push = (a: Acc, lo: number, g: number): void => {
    if (a.groups.length > 0 && a.groups[a.groups.length - 1] === g) return;
    a.los.push(lo);
    a.groups.push(g);
  };
  // Each run touches only its R members; the runs between a shard's own are one -1 run.
  const consider = (lo: number, hi: number): void => {
    if (lo > hi) return;
    const members = ring.preferenceList(hi, replicas);
    const key = setKey(members);
    for (const id of members) {
      const a = acc.get(id)!;
      if (a.end < lo) push(a, a.end, -1);
      let g = a.index.get(key);
      if (g === undefined) {
        g = a.sets.length;
        a.sets.push(key);
        a.index.set(key, g);
      }
      push(a, lo, g);
      a.end = hi + 1;
    }
  };
  let lo = 0;
  for (const cut of ring.points()) {
    consider(lo, cut);
    lo = cut + 1;
  }
  consider(lo, 0xffffffff);
  const out = new Map<number, ShardGroups>();
  for (const [id, a] of acc) {
    if (a.end <= 0xffffffff) push(a, a.end, -1);
    out.set(id, { los: Uint32Array.from(a.los), groups: Int32Array.from(a.groups), sets: a.sets });
  }
  return out;
}

/** The GroupTable of a shard the ring does not hold: none of its keys are counted. */
export const NO_GROUPS: ShardGroups = { los: Uint32Array.of(0), groups: Int32Array.of(-1), sets: [] };

export interface MigrationHost {
  handle(id: number): ShardHandle | undefined;
  /** False for a shard that must not serve as a source (dead, or itself waiting for a refill). */
  usable(id: number): boolean;
  /** A range settled (moved, or given up after its source died). */
  onProgress(m: Migration): void;
}

/** One membership change's data movement. */
export class Migration {
  readonly kind: MigrationKind;
  readonly shardId: number;
  readonly epoch: number;
  readonly ranges: MovingRange[];
  readonly startedAt = Date.now();
  rangesDone = 0;
  keysMoved = 0;
  /** Keys lost because their source died before exporting them (R = 1). */
  sourcesLost = new Set<number>();
  /** Unexpected failures while moving ranges (each range still settled). */
  errors: string[] = [];
  #los: Uint32Array;

  constructor(kind: MigrationKind, shardId: number, epoch: number, ranges: MovingRange[]) {
    this.kind = kind;
    this.shardId = shardId;
    this.epoch = epoch;
    this.ranges = ranges;
    this.#los = Uint32Array.from(ranges, (r) => r.lo);
  }

  /**
   * Shards that need a plan for a range: its source, old copies that drop it, and destinations,
   * which replace the range (drop what they hold there, then import) rather than merge into it:
   * anything a destination held there (writes a replacement took before its refill, a copy left
   * by an earlier move) is not the range's current state, and a key since deleted would come back.
   */
  #participants(r: MovingRange): number[] {
    const out = [r.source, ...r.from.filter((id) => id !== r.source && !r.to.includes(id))];
    out.push(...r.to.filter((id) => !r.from.includes(id)));
    return out;
  }

  status(): MigrationStatus {
    return {
      kind: this.kind,
      shardId: this.shardId,
      epoch: this.epoch,
      rangesTotal: this.ranges.length,
      rangesDone: this.rangesDone,
      keysMoved: this.keysMoved,
      startedAt: this.startedAt,
    };
  }

  /** The moving range holding hash h, or null. */
  find(h: number): MovingRange | null {
    const los = this.#los;
    let lo = 0;
    let hi = los.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (los[mid]! <= h) lo = mid + 1;
      else hi = mid - 1;
    }
    const r = hi >= 0 ? this.ranges[hi]! : undefined;
    return r !== undefined && h <= r.hi ? r : null;
  }

  /**
   * A source shard died. Its ranges not yet moved are exported by another copy when there is one
   * (R ≥ 2); with one copy there is nothing left to move, so they flip now.
   */
  sourceDied(id: number): void {
    this.sourcesLost.add(id);
    for (const r of this.ranges) {
      if (r.source === id && r.state === 'old' && !r.from.some((x) => x !== id)) this.#settle(r);
    }
  }

  /** Moves every range, `concurrency` at a time; resolves when all have settled. */
  async run(host: MigrationHost, concurrency: number): Promise<void> {
    // Every shard that exports or drops ranges buckets its keys once (a plan), so neither needs a scan per range.
    const plans = new Map<number, number[]>();
    for (const r of this.ranges) {
      for (const id of this.#participants(r)) {
        const flat = plans.get(id) ?? [];
        r.planIdx.set(id, flat.length / 2);
        flat.push(r.lo, r.hi);
        plans.set(id, flat);
      }
    }
    const sources = [...plans.keys()];
    await Promise.all(
      sources.map(async (id) => {
        try {
          await host.handle(id)!.send(Op.MIG_PLAN, '', plans.get(id)!);
        } catch {
          this.sourceDied(id);
        }
      }),
    );
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < this.ranges.length) {
        const r = this.ranges[next++]!;
        try {
          await this.#move(r, host);
        } catch (err) {
          // Not a crash (those are handled inside): record it; the range has settled regardless.
          this.errors.push(err instanceof Error ? err.message : String(err));
        }
        host.onProgress(this);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
    // The plans close before the move is over (nothing of it stays pending on any shard).
    await Promise.all(
      sources.map((id) =>
        host
          .handle(id)
          ?.send(Op.MIG_END, '', undefined)
          .catch(() => undefined),
      ),
    );
  }

  async #move(r: MovingRange, host: MigrationHost): Promise<void> {
    if (r.state !== 'old') return;
    r.state = 'moving';
    try {
      for (let attempt = 0; ; attempt++) {
        // The planned source if it is still good; otherwise another copy, exporting by a scan.
        const planned = !this.sourcesLost.has(r.source) && host.usable(r.source);
        const sourceId = planned ? r.source : r.from.find((id) => id !== r.source && host.usable(id));
        const source = sourceId === undefined ? undefined : host.handle(sourceId);
        const dests = r.to.filter((id) => !r.from.includes(id));
        let moved = 0;
        let retry = false;
        // Chunk by chunk: export a chunk, import it, then the next, so that no single op keeps a
        // shard from the traffic queued behind it for long.
        for (let offset = 0, first = true; offset !== CHUNKS_DONE; first = false) {
          // Count 0 and done: what a range whose source had nothing left imports (fresh: buffers transfer away).
          let entries = new ArrayBuffer(8);
          new DataView(entries).setUint32(4, CHUNKS_DONE, true);
          if (source !== undefined) {
            try {
              entries = (await (planned
                ? source.send(Op.MIG_EXPORT, '', [r.planIdx.get(r.source), offset, MIGRATION_CHUNK, MIGRATION_CHUNK_BYTES])
                : source.send(Op.MIG_EXPORT_RANGE, '', [r.lo, r.hi]))) as ArrayBuffer;
            } catch (err) {
              if (!isCrash(err)) throw err;
              this.sourcesLost.add(sourceId!);
              if (r.from.some((id) => !this.sourcesLost.has(id) && host.usable(id)) && attempt < 5) {
                retry = true;
                break;
              }
            }
          }
          const view = new DataView(entries);
          const count = view.getUint32(0, true);
          offset = view.getUint32(4, true);
          try {
            // The buffer is transferred to the last destination; any other gets a copy. A retry
            // exports again, since a transferred buffer is gone from this thread.
            await Promise.all(
              dests.map((id, n) => {
                const buf = n === dests.length - 1 ? entries : entries.slice(0);
                return host.handle(id)!.send(Op.MIG_REPLACE, '', [r.planIdx.get(id), buf, first], 1);
              }),
            );
          } catch (err) {
            // A destination died: its replacement is coming; the sources still hold the range.
            if (!isCrash(err) || attempt >= 5) throw err;
            retry = true;
            break;
          }
          moved += count;
        }
        if (retry) continue;
        this.keysMoved += moved;
        this.#settle(r);
        // Old members that are not new members drop their copy, only now that the new ones
        // confirmed; the move is not over until they have (a stale copy left behind could come
        // back if a later change made that shard the owner again).
        // A member that crashed drops too: its replacement may have taken writes while the range
        // was still 'old', and has no plan (so it drops by scan).
        const drops = r.from.filter((id) => !r.to.includes(id));
        await Promise.all(drops.map((id) => this.#drop(r, id, host, this.sourcesLost.has(id)).catch(() => undefined)));
        return;
      }
    } finally {
      if ((r.state as RangeState) !== 'new') this.#settle(r);
    }
  }

  /** Drops a moved range from an old member, a chunk at a time (or by scan without a plan). */
  async #drop(r: MovingRange, id: number, host: MigrationHost, planLost: boolean): Promise<void> {
    const h = host.handle(id);
    const idx = planLost ? undefined : r.planIdx.get(id);
    if (h === undefined) return;
    if (idx === undefined) {
      await h.send(Op.MIG_DROP_RANGE, '', [r.lo, r.hi]);
      return;
    }
    while (((await h.send(Op.MIG_DROP, '', [idx, MIGRATION_CHUNK])) as number) > 0);
  }

  #settle(r: MovingRange): void {
    if (r.state === 'new') return;
    r.state = 'new';
    this.rangesDone++;
    const held = r.held;
    r.held = [];
    for (const run of held) {
      try {
        run();
      } catch (err) {
        // A held op settles its own promise; a throw here is a bug, and must not stop the others.
        this.errors.push(err instanceof Error ? err.message : String(err));
      }
    }
  }
}
