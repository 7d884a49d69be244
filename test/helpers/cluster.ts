// Starts a cluster for a test and destroys it when the test ends.
import { createCluster, type Cluster, type ClusterOptions } from '../../src/index.js';

/** The part of a tap test the helpers need. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function startCluster(t: Teardown, options: ClusterOptions = {}): Promise<Cluster> {
  const c = await createCluster(options);
  t.teardown(() => c.destroy());
  return c;
}
