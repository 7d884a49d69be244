// A read-only replica inside a host app: `createReplica({ leader: 'host:6379' })` gives the app a
// cluster that follows a leader (shardcache or redis-server) through the same replica link as
// `shardcache start --replicaof`; its reads work as usual and its writes reject with a CacheError
// of code READONLY — the seed client's "not leader" outcome, in the API.
import { type Cluster, createCluster } from './cluster.js';
import { CacheError } from './errors.js';
import type { ClusterOptions } from './options.js';
import { parseHostPort, type Replica, type ReplicaLog } from './replication/replica.js';
import { followLeader } from './server/resp/apply.js';
import { HANDLE_METHODS } from './shared/handles.js';
import { createContext } from './server/resp/context.js';

export interface ReplicaClusterOptions extends ClusterOptions {
  /** The leader to follow, `HOST:PORT`. */
  leader: string;
  /** AUTH to the leader. */
  masterauth?: string;
  /** Where the link logs (a pino logger fits). Default: silent. */
  log?: ReplicaLog;
}

/** The Cluster methods that change data (the same table cache handles route by): a replica's reject with READONLY. */
const WRITES = new Set<string>(Object.keys(HANDLE_METHODS).filter((m) => HANDLE_METHODS[m] === 'write'));

/**
 * A cluster following a leader: reads as a Cluster's, writes rejected (READONLY), and its link.
 * A proxy over the Cluster: for the public API only (shardcache's own servers and metrics take a
 * Cluster itself).
 */
export type ReplicaCluster = Cluster & {
  /** The link to the leader: state, offset, lastError; 'synced' and 'failed' events. */
  readonly replication: Replica;
};

/** Starts a cluster that follows `options.leader`; resolves once its shards are ready (the first sync follows). */
export async function createReplica(options: ReplicaClusterOptions): Promise<ReplicaCluster> {
  const { leader, masterauth, log, ...clusterOptions } = options;
  const address = parseHostPort(leader);
  if (address === null) throw new CacheError('EINVAL', `options.leader must be HOST:PORT, got "${leader}"`);
  const { host, port } = address;
  const cluster = await createCluster(clusterOptions);
  // The replica link applies the leader's stream through the RESP command table; nothing listens.
  const linkOptions = { masterauth: masterauth ?? null, ...(log === undefined ? {} : { log }) };
  const link = followLeader(createContext(cluster, linkOptions), linkOptions, host, port);
  const readonly = (): Promise<never> =>
    Promise.reject(new CacheError('READONLY', `READONLY You can't write against a read only replica (the leader is ${host}:${port})`));
  return new Proxy(cluster, {
    get(target, prop) {
      if (prop === 'replication') return link;
      if (typeof prop === 'string' && WRITES.has(prop)) return readonly;
      if (prop === 'close' || prop === 'destroy') {
        const end = Reflect.get(target, prop, target) as () => Promise<void>;
        return async () => {
          await link.stopped();
          await end.call(target);
        };
      }
      const v = Reflect.get(target, prop, target);
      // Methods run on the cluster itself (its private fields are not the proxy's).
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as ReplicaCluster;
}
