// Replication test helpers: RESP servers (leaders or replicas) on loopback ports, closed with the
// test, their replica links, and clients.
import type { Test } from 'tap';
import { RespClient } from '../../src/client/resp.js';
import type { Cluster } from '../../src/index.js';
import type { Replica } from '../../src/replication/replica.js';
import type { RespServer, RespServerOptions } from '../../src/server/resp/server.js';
import { startResp } from './resp.js';

/** startResp with a quick reconnect backoff (10 ms doubling to 100 ms) for replicas. */
export function respOn(t: Test, cluster: Cluster, options: RespServerOptions = {}, port = 0): Promise<RespServer> {
  return startResp(t, cluster, { replBackoffMs: [10, 100], ...options }, port);
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
