// Starts a cluster for a test and destroys it when the test ends.
import { createCluster, type Cluster, type ClusterOptions } from '../../src/index.js';
import { createRestServer, listen, type RestServerOptions } from '../../src/server/rest.js';

/** The part of a tap test the helpers need. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function startCluster(t: Teardown, options: ClusterOptions = {}): Promise<Cluster> {
  const c = await createCluster(options);
  t.teardown(() => c.destroy());
  return c;
}

/** Serves a cluster's REST API on a free loopback port for a test; resolves with its base URL. */
export async function serveRest(t: Teardown, cluster: Cluster, options: RestServerOptions = {}): Promise<string> {
  const server = createRestServer(cluster, options);
  const addr = await listen(server, 0, '127.0.0.1');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${addr.port}`;
}

/** A data set of N keys (`k0`…) whose values say which key they belong to. */
export const N = 6000;
export const keys = Array.from({ length: N }, (_, i) => `k${i}`);

/** Writes the data set. */
export async function preload(c: Cluster): Promise<void> {
  for (let i = 0; i < N; i += 1000) await c.mset(keys.slice(i, i + 1000).map((k) => [k, `v${k}`] as const));
}

/** How many keys of the data set are missing or wrong. */
export async function missing(c: Cluster): Promise<number> {
  const values = await c.mget(keys);
  return values.filter((v, i) => v !== `v${keys[i]}`).length;
}
