// The REST routes of runtime membership: GET /cluster, POST /cluster/shards, DELETE
// /cluster/shards/:id. Pure routing over the cluster's public API; the seed routes live in rest.ts
// and must never change shape because of these.
import type { Cluster } from '../cluster.js';

/** What the routes need of a cluster: a small seam, so tests can stand in for a migration. */
export type MembershipApi = Pick<Cluster, 'stats' | 'migration' | 'addShard' | 'removeShard' | 'epoch' | 'options'>;

/** A shard as `GET /cluster` reports it (`keys`: the copies it holds); `keys`/`bytes` are null while the shard cannot answer. */
export interface ShardView {
  id: number;
  name: string;
  state: string;
  crashes: number;
  pending: number;
  keys: number | null;
  bytes: number | null;
}

/** The membership change in progress, as `GET /cluster` reports it (`startedAt` in Unix ms). */
export type MigrationView = NonNullable<ReturnType<Cluster['migration']>>;

/** The body of `GET /cluster`. */
export interface ClusterView {
  epoch: number;
  /** Copies of every key (`replicas`). */
  replicas: number;
  /** Keys in the cluster, each counted once however many copies it has; null while a shard cannot answer. */
  keys: number | null;
  shards: ShardView[];
  migration: MigrationView | null;
}

/** A shard as `POST /cluster/shards` reports it. */
export interface AddedShard {
  id: number;
  name: string;
  state: string;
  crashes: number;
  pending: number;
}

/** A route's answer; `allow` is set on 405s. */
export interface Reply {
  status: number;
  body: Record<string, unknown>;
  allow?: string;
}

const SHARD_PATH = /^\/cluster\/shards\/([^/]+)$/;

/**
 * Routes a request to the membership endpoints, or returns null when the path is not one of
 * theirs (the caller answers 404). Rejections are the cluster's CacheErrors, for the caller's
 * status mapping (NOT_FOUND 404, LIMIT 409, CLOSED/SHARD_* 503, EINVAL 400).
 */
export function clusterRoute(cluster: MembershipApi, method: string, path: string): Promise<Reply> | null {
  if (path === '/cluster') {
    if (method !== 'GET') return Promise.resolve(methodNotAllowed('GET'));
    return view(cluster).then((body) => ({ status: 200, body: { ...body } }));
  }
  if (path === '/cluster/shards') {
    if (method !== 'POST') return Promise.resolve(methodNotAllowed('POST'));
    return cluster.addShard().then((s) => {
      const shard: AddedShard = { id: s.id, name: s.name, state: s.state, crashes: s.crashes, pending: s.pending };
      return { status: 201, body: { shard, epoch: cluster.epoch } };
    });
  }
  const m = SHARD_PATH.exec(path);
  if (m === null) return null;
  if (method !== 'DELETE') return Promise.resolve(methodNotAllowed('DELETE'));
  const raw = m[1]!;
  const id = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id)) {
    return Promise.resolve({ status: 400, body: { error: `shard id must be a non-negative integer, got "${truncate(raw)}"` } });
  }
  return cluster.removeShard(id).then(() => ({ status: 200, body: { removed: id, epoch: cluster.epoch } }));
}

/** The cluster's membership with each shard's key count and bytes, and the migration in progress. */
async function view(cluster: MembershipApi): Promise<ClusterView> {
  const stats = await cluster.stats();
  const shards = stats.shards.map(
    (s): ShardView => ({
      id: s.id,
      name: s.name,
      state: s.state,
      crashes: s.crashes,
      pending: s.pending,
      keys: s.stats?.keys ?? null,
      bytes: s.stats?.bytes ?? null,
    }),
  );
  // Read after the stats arrived, so a migration that ended meanwhile is not reported as running.
  const m = cluster.migration();
  const migration: MigrationView | null =
    m === null
      ? null
      : {
          kind: m.kind,
          shardId: m.shardId,
          epoch: m.epoch,
          rangesTotal: m.rangesTotal,
          rangesDone: m.rangesDone,
          keysMoved: m.keysMoved,
          startedAt: m.startedAt,
        };
  // Each key is held by min(replicas, shards) shards: exact when stable, approximate while keys move.
  const copies = Math.max(1, Math.min(cluster.options.replicas, shards.length));
  const keys = shards.some((s) => s.keys === null) ? null : Math.round(shards.reduce((a, s) => a + s.keys!, 0) / copies);
  return { epoch: stats.epoch, replicas: cluster.options.replicas, keys, shards, migration };
}

function methodNotAllowed(allow: string): Reply {
  return { status: 405, body: { error: 'Method not allowed' }, allow };
}

/** A path segment as it may appear in an error message: bounded, as received (still URL-encoded). */
function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
