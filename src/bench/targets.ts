// What `shardcache bench` can drive. So far: `embedded`, a cluster in the bench's own process
// through the API a host app uses. Network targets (resp://, http://) come with their load
// generator threads.
import { createCluster } from '../cluster.js';
import type { BenchTarget } from './runner.js';

/** A fresh cluster of `shards` shards in this process; closed with the target. */
export async function embeddedTarget(shards: number): Promise<BenchTarget> {
  const c = await createCluster({ shards });
  return {
    name: `embedded (${shards} shards)`,
    get: (k) => c.get(k),
    set: (k, v) => c.set(k, v),
    del: (k) => c.del(k),
    incr: (k) => c.incr(k),
    mget: (ks) => c.mget(ks),
    close: () => c.close(),
  };
}
