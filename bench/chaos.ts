// The chaos check: writers and readers with a model of the expected state run against an
// embedded cluster while it randomly adds, removes, kills and hangs shards. In-process only
// (no network), bounded in time, stops by itself.
//
//   npm run chaos -- [--seconds 30] [--replicas 2] [--writers 16] [--readers 8] [--keys 200] [--seed N] [--json]
//
// Counted failures: a write acknowledged and later not found (lost), a deleted or expired key
// read back (resurrected), a read older than a write acknowledged before it started (stale), an
// op not settled within --hang-ms (hung), and a crash report whose keysLost is not exactly the
// keys that were lost (misreported). With --replicas 1 the only kills are the checked ones below:
// with one copy a crash loses that shard's keys by design.
//
// The 'kill-r' action kills R shards at once (R = --replicas): with the load paused, it deletes
// the keys that may carry a TTL (so nothing expires meanwhile), reads every key, kills, waits for
// the replacements (and their refills), reads every key again, and checks that the crash events'
// keysLost add up to exactly the keys that were there before and are gone after.
import { parseArgs } from 'node:util';
import { createCluster, type Cluster } from '../src/index.js';

/** The flags; parseArgs throws on unknown ones, reported as a usage error (exit 2). */
function parse() {
  return parseArgs({
    options: {
      seconds: { type: 'string', default: '30' },
      replicas: { type: 'string', default: '2' },
      writers: { type: 'string', default: '16' },
      readers: { type: 'string', default: '8' },
      keys: { type: 'string', default: '200' },
      seed: { type: 'string' },
      'hang-ms': { type: 'string', default: '10000' },
      json: { type: 'boolean', default: false },
    },
  });
}
let parsed: ReturnType<typeof parse>;
try {
  parsed = parse();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
const args = parsed.values;
const seconds = Number(args.seconds);
const replicas = Number(args.replicas);
const writers = Number(args.writers);
const readers = Number(args.readers);
const keysPerWriter = Number(args.keys);
const hangMs = Number(args['hang-ms']);
let seed = args.seed === undefined ? (Date.now() % 1_000_000) + 1 : Number(args.seed);
for (const [name, n] of [
  ['seconds', seconds],
  ['replicas', replicas],
  ['writers', writers],
  ['readers', readers],
  ['keys', keysPerWriter],
  ['hang-ms', hangMs],
  ['seed', seed],
] as const) {
  if (!(Number.isFinite(n) && n > 0)) {
    process.stderr.write(`--${name} must be a positive number\n`);
    process.exit(2);
  }
}
const log = (line: string): void => void (args.json ? process.stderr : process.stdout).write(`${line}\n`);

/** A small deterministic PRNG (xorshift), so a failing run can be replayed with --seed. */
function random(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 0x1_0000_0000;
}
const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
/** Fisher–Yates, in place. */
function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** What the model knows of one key (each key has one writer, so its versions are ordered). */
interface KeyModel {
  /** Version of the last acknowledged write; -1 before the first. */
  ackedVersion: number;
  /** The acknowledged value; null after a delete. */
  ackedValue: string | null;
  /**
   * Absolute expiry of the acknowledged value (0: none), as bounds: the cluster computes it when
   * the call is made, somewhere between the clock read before the call and the one after the ack.
   */
  expiresAt: number;
  expiresLatest: number;
  /** Versions of writes that failed: they may or may not have been applied. */
  uncertain: number[];
  /** Version of the newest delete issued (acknowledged or not); -1 if none. */
  deleteIssued: number;
  /** The newest TTL write issued (acknowledged or not): its version and earliest expiry. */
  ttlIssued: number;
  ttlIssuedExpiry: number;
}

const model = new Map<string, KeyModel>();
const counts = {
  acked_writes: 0,
  failed_writes: 0,
  reads: 0,
  lost: 0,
  resurrected: 0,
  stale_reads: 0,
  hung_ops: 0,
  epochs: 0,
  /** Keys the kill-r actions lost, as the check found them, and as the crash events reported them. */
  killed_keys_lost: 0,
  killed_keys_reported: 0,
  /** kill-r actions whose reported keysLost differed from the keys lost. */
  misreported: 0,
};
const actions: Record<string, number> = { add: 0, remove: 0, kill: 0, hang: 0, 'kill-r': 0 };
const errors = new Map<string, number>();
let stop = false;
/** The first few failures, described, for the log. */
const samples: string[] = [];
const t0 = Date.now();

/** Races an op against the hang deadline; a hung op is counted and left behind. */
function guarded<T>(op: Promise<T>): Promise<T | typeof HUNG> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      counts.hung_ops++;
      resolve(HUNG);
    }, hangMs);
    op.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
const HUNG = Symbol('hung');

/** Writers and readers pass here before each op: closed while an action needs the load paused. */
let gate: Promise<void> | null = null;
let openGate = (): void => undefined;
let active = 0;
let whenIdle: (() => void) | null = null;

async function enter(): Promise<void> {
  while (gate !== null) await gate;
  active++;
}

function leave(): void {
  if (--active === 0) whenIdle?.();
}

/** Resolves once no writer or reader has an op in flight, and none starts until resume(). */
async function pause(): Promise<void> {
  gate = new Promise((resolve) => {
    openGate = resolve;
  });
  if (active > 0) await new Promise<void>((resolve) => (whenIdle = resolve));
  whenIdle = null;
}

function resume(): void {
  gate = null;
  openGate();
}

function versionOf(value: string | null): number {
  return value === null ? -1 : Number(value.slice(value.indexOf(':') + 1));
}

async function writer(c: Cluster, w: number): Promise<void> {
  for (let version = 0; !stop; version++) {
    await enter();
    try {
      const key = `w${w}:${Math.floor(random() * keysPerWriter)}`;
      const m = model.get(key) ?? {
        ackedVersion: -1,
        ackedValue: null,
        expiresAt: 0,
        expiresLatest: 0,
        uncertain: [],
        deleteIssued: -1,
        ttlIssued: -1,
        ttlIssuedExpiry: 0,
      };
      model.set(key, m);
      const r = random();
      if (r < 0.1) m.deleteIssued = version;
      const value = `${w}:${version}`;
      let ttl = 0;
      const before = Date.now();
      try {
        let done: unknown;
        if (r < 0.1) done = await guarded(c.del(key));
        else if (r < 0.2) {
          ttl = 200 + Math.floor(random() * 800);
          m.ttlIssued = version;
          m.ttlIssuedExpiry = before + ttl;
          done = await guarded(c.set(key, value, { px: ttl }));
        } else done = await guarded(c.set(key, value));
        if (done === HUNG) {
          m.uncertain.push(version);
          continue;
        }
        m.ackedVersion = version;
        m.ackedValue = r < 0.1 ? null : value;
        m.expiresAt = ttl === 0 ? 0 : before + ttl;
        m.expiresLatest = ttl === 0 ? 0 : Date.now() + ttl;
        m.uncertain = [];
        counts.acked_writes++;
      } catch (err) {
        m.uncertain.push(version);
        counts.failed_writes++;
        const code = (err as { code?: string }).code ?? String(err);
        errors.set(code, (errors.get(code) ?? 0) + 1);
      }
    } finally {
      leave();
    }
  }
}

/**
 * Judges a value read by a read that started at `start`: `m` is the model as it was then, `live`
 * as it is now (a delete issued after the start may have reached a read that was retried).
 */
function judge(m: KeyModel, got: string | null, start: number, live: KeyModel = m): 'ok' | 'stale' | 'resurrected' {
  const v = versionOf(got);
  if (got === null) {
    // Absent: fine if the last ack was a delete, its value has expired, a failed write may have
    // been a delete, or a newer delete has been issued since.
    if (m.ackedValue === null || m.ackedVersion === -1 || (m.expiresAt !== 0 && m.expiresAt <= Date.now())) return 'ok';
    if (m.uncertain.length > 0 || live.deleteIssued > m.ackedVersion) return 'ok';
    if (live.ttlIssued > m.ackedVersion && live.ttlIssuedExpiry <= Date.now()) return 'ok';
    return 'stale';
  }
  if (v > m.ackedVersion || m.uncertain.includes(v)) return 'ok';
  if (v === m.ackedVersion) {
    if (m.ackedValue === null) return 'resurrected';
    if (m.expiresLatest !== 0 && m.expiresLatest < start) return 'resurrected';
    return 'ok';
  }
  return m.ackedValue === null ? 'resurrected' : 'stale';
}

async function reader(c: Cluster): Promise<void> {
  while (!stop) {
    await enter();
    try {
      const key = `w${Math.floor(random() * writers)}:${Math.floor(random() * keysPerWriter)}`;
      const m = model.get(key);
      const snapshot = m === undefined ? undefined : { ...m, uncertain: [...m.uncertain] };
      const start = Date.now();
      try {
        const got = await guarded(c.get(key));
        counts.reads++;
        if (got === HUNG || snapshot === undefined) continue;
        // Writes issued after the read started are newer versions: judge() accepts them.
        const verdict = judge(snapshot, got as string | null, start, m);
        if (verdict === 'stale') counts.stale_reads++;
        if (verdict === 'resurrected') counts.resurrected++;
        if (verdict !== 'ok' && samples.length < 10) {
          samples.push(
            `${verdict} read: ${key} got ${String(got)} at +${start - t0} ms; model then ${JSON.stringify(snapshot)}, now ${JSON.stringify(m)}`,
          );
        }
      } catch (err) {
        const code = (err as { code?: string }).code ?? String(err);
        errors.set(`read ${code}`, (errors.get(`read ${code}`) ?? 0) + 1);
      }
    } finally {
      leave();
    }
  }
}

/** Resolves when shard `id` has recovered from a crash: refilled (whole or not) with replicas, restarted with one copy. */
function recovered(c: Cluster, id: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (e: { shardId: number; restart?: boolean }): void => {
      if (e.shardId !== id || (replicas === 1 && e.restart !== true)) return;
      c.off('whole', done);
      c.off('incomplete', done);
      c.off('join', done);
      resolve();
    };
    if (replicas === 1) c.on('join', done);
    else {
      c.on('whole', done);
      c.on('incomplete', done);
    }
  });
}

/**
 * Kills R shards at once with the load paused and checks that the crash reports count exactly
 * the keys lost; the model learns that those keys are gone. Returns false when it could not run.
 */
async function killCopies(c: Cluster, tag: string): Promise<boolean> {
  const ready = c.shards().filter((s) => s.state === 'ready');
  if (ready.length <= replicas || ready.length < c.shards().length) return false;
  await pause();
  try {
    // Keys that may carry a TTL are deleted (and so recorded): a key expiring during the check
    // would be gone without being lost.
    const timed = [...model].filter(([, m]) => m.expiresAt !== 0 || m.uncertain.length > 0).map(([k]) => k);
    if (timed.length > 0) await c.del(...timed);
    for (const k of timed) {
      const m = model.get(k)!;
      m.ackedVersion = Math.max(m.ackedVersion, ...m.uncertain);
      m.ackedValue = null;
      m.expiresAt = m.expiresLatest = 0;
      m.uncertain = [];
    }
    const keys = [...model.keys()];
    const before = await c.mget(keys);
    const victims = shuffle(ready.map((s) => s.id)).slice(0, replicas);
    let reported = 0;
    const onCrash = (e: { shardId: number; keysLost: number }): void => {
      if (victims.includes(e.shardId)) reported += e.keysLost;
    };
    c.on('crash', onCrash);
    const back = guarded(Promise.all(victims.map((id) => recovered(c, id))));
    for (const id of victims) c.injectFault(id, 'exit');
    const outcome = await back;
    c.off('crash', onCrash);
    if (outcome === HUNG) return true;
    const after = await c.mget(keys);
    let gone = 0;
    keys.forEach((k, i) => {
      if (before[i] === null || after[i] !== null) return;
      gone++;
      const m = model.get(k)!;
      m.ackedVersion = Math.max(m.ackedVersion, versionOf(before[i] as string));
      m.ackedValue = null;
    });
    counts.killed_keys_lost += gone;
    counts.killed_keys_reported += reported;
    if (gone !== reported) {
      counts.misreported++;
      if (samples.length < 20)
        samples.push(`kill-r ${tag}: shards ${victims.join(', ')} lost ${gone} keys, the crash events said ${reported}`);
    }
    if (process.env.CHAOS_TRACE) log(`${tag} kill-r of ${victims.join(', ')}: ${gone} keys lost, ${reported} reported`);
    return true;
  } finally {
    resume();
  }
}

async function chaos(c: Cluster, until: number): Promise<void> {
  const faults = replicas >= 2;
  const cycle: string[] = [];
  let cycles = 0;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 150 + random() * 350));
    if (Date.now() >= until) break;
    const tag = `+${Date.now() - t0} ms`;
    const shards = c.shards().filter((s) => s.state === 'ready');
    // Every kind of action comes round once per cycle, in a random order (the first cycle opens
    // with an add and a kill-r), so even a short run exercises all of them.
    if (cycle.length === 0) {
      const kinds = shuffle(faults ? ['remove', 'kill', 'hang'] : ['remove']);
      cycle.push(...(cycles++ === 0 ? ['add', 'kill-r', ...kinds] : shuffle([...kinds, 'add', 'kill-r'])));
    }
    const action = cycle.shift()!;
    try {
      if (action === 'add' && c.shards().length < 6) await c.addShard();
      else if (action === 'remove' && c.shards().length > Math.max(2, replicas)) await c.removeShard(pick(shards).id);
      else if (action === 'kill' || action === 'hang') {
        // One fault at a time: wait until the replacement is refilled before the next.
        const id = pick(shards).id;
        const refilled = recovered(c, id);
        c.injectFault(id, action === 'kill' ? 'exit' : 'hang');
        await refilled;
      } else if (action !== 'kill-r' || !(await killCopies(c, tag))) continue;
      actions[action]!++;
      if (process.env.CHAOS_TRACE) log(`${tag} ${action} → epoch ${c.epoch}`);
    } catch (err) {
      errors.set(`chaos ${action}`, (errors.get(`chaos ${action}`) ?? 0) + 1);
      log(`chaos ${action} failed: ${(err as Error).message}`);
    }
  }
}

const c = await createCluster({ shards: 3, replicas, faultInjection: true, maxShards: 6, watchdogIntervalMs: 100, watchdogTimeoutMs: 500 });
c.on('epoch', () => counts.epochs++);
const started = Date.now();
const until = started + seconds * 1000;
log(`chaos: ${seconds} s, replicas ${replicas}, ${writers} writers × ${keysPerWriter} keys, ${readers} readers, seed ${seed}`);
const load = Promise.all([...Array.from({ length: writers }, (_, w) => writer(c, w)), ...Array.from({ length: readers }, () => reader(c))]);
await chaos(c, until);
stop = true;
await load;
await c.whenReady();

// Final check: every key against the model.
const keys = [...model.keys()];
const now = Date.now();
const finalValues = await c.mget(keys);
keys.forEach((k, i) => {
  const m = model.get(k)!;
  const got = finalValues[i] as string | null;
  const verdict = judge(m, got, now);
  if (verdict === 'resurrected') counts.resurrected++;
  else if (verdict === 'stale') counts.lost++;
  if (verdict !== 'ok' && samples.length < 20) samples.push(`final ${verdict}: ${k} got ${String(got)}; model ${JSON.stringify(m)}`);
});
await c.close();

const summary = {
  actions,
  acked_writes: counts.acked_writes,
  lost: counts.lost,
  resurrected: counts.resurrected,
  stale_reads: counts.stale_reads,
  hung_ops: counts.hung_ops,
  epochs: counts.epochs,
  killed_keys_lost: counts.killed_keys_lost,
  killed_keys_reported: counts.killed_keys_reported,
  misreported: counts.misreported,
};
log(
  `done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${counts.acked_writes} acked writes, ${counts.failed_writes} failed, ${counts.reads} reads; ` +
    `actions ${JSON.stringify(actions)}; epochs ${counts.epochs}`,
);
if (errors.size > 0) log(`errors: ${JSON.stringify(Object.fromEntries(errors))}`);
for (const line of samples) log(line);
log(
  `lost ${summary.lost}, resurrected ${summary.resurrected}, stale reads ${summary.stale_reads}, hung ops ${summary.hung_ops}; ` +
    `kill-r: ${summary.killed_keys_lost} keys lost, ${summary.killed_keys_reported} reported, ${summary.misreported} misreported`,
);
if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exitCode = summary.lost + summary.resurrected + summary.stale_reads + summary.hung_ops + summary.misreported === 0 ? 0 : 1;
