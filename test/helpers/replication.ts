// Replication test helpers: RESP servers (leaders or replicas) on loopback ports, closed with the
// test, their replica links, and clients.
import type { Test } from 'tap';
import { RespClient } from '../../src/client/resp.js';
import type { Cluster } from '../../src/index.js';
import type { Replica } from '../../src/replication/replica.js';
import { listen } from '../../src/server/rest.js';
import { createRespServer, type RespServer, type RespServerOptions } from '../../src/server/resp/server.js';

/** A RESP server on a free loopback port (or `port`), closed with the test. */
export async function respOn(t: Test, cluster: Cluster, options: RespServerOptions = {}, port = 0): Promise<RespServer> {
  const server = createRespServer(cluster, { replBackoffMs: [10, 100], ...options });
  await listen(server, port, '127.0.0.1');
  t.teardown(() => {
    server.destroyConnections();
    server.close();
  });
  return server;
}

/** The server's replica link (set by replicaOf / REPLICAOF). */
export function linkOf(server: RespServer): Replica {
  return server.context.replicaOf as unknown as Replica;
}

export async function client(t: Test, port: number): Promise<RespClient> {
  const c = await RespClient.connect('127.0.0.1', port);
  t.teardown(() => c.close());
  return c;
}
