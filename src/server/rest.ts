// The REST front end: the distributed-cache seed's contract (SPEC §1a), byte for byte in status
// codes and JSON shapes, plus the membership routes of rest-cluster.ts under /cluster. It only
// calls the cluster's public API; it never sees shard internals.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Cluster } from '../cluster.js';
import { CacheError } from '../errors.js';
import { NAME, VERSION } from '../version.js';
import { clusterRoute } from './rest-cluster.js';

type Json = Record<string, unknown>;

function send(res: ServerResponse, status: number, body: Json): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** HTTP status for an error the cluster raised. */
export function statusOf(err: unknown): number {
  if (!CacheError.is(err)) return 500;
  switch (err.code) {
    case 'EINVAL':
      return 400;
    case 'NOT_FOUND':
      return 404;
    case 'LIMIT':
      return 409;
    case 'OOM':
      return 507;
    case 'CLOSED':
    case 'SHARD_CRASHED':
    case 'SHARD_UNAVAILABLE':
      return 503;
    default:
      return 500;
  }
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  send(res, 405, { error: 'Method not allowed' });
}

async function handle(cluster: Cluster, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    send(res, 400, { error: 'Malformed request URL' });
    return;
  }
  const key = url.searchParams.get('key') ?? '';
  switch (url.pathname) {
    case '/':
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      return send(res, 200, { message: `${NAME} distributed in-memory cache`, version: VERSION });
    case '/set': {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      const value = url.searchParams.get('value') ?? '';
      if (key === '' || value === '') return send(res, 400, { error: "Both 'key' and 'value' parameters are required" });
      await cluster.set(key, value);
      return send(res, 201, { message: 'Value set successfully', key, node: cluster.ownerOf(key) });
    }
    case '/get': {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      if (key === '') return send(res, 400, { error: "Missing 'key' parameter" });
      const value = await cluster.get(key);
      if (value === null) return send(res, 404, { error: 'Key not found' });
      return send(res, 200, { key, value: value.toString(), node: cluster.ownerOf(key) });
    }
    case '/del': {
      if (req.method !== 'DELETE') return methodNotAllowed(res, 'DELETE');
      if (key === '') return send(res, 400, { error: "Missing 'key' parameter" });
      const removed = await cluster.del(key);
      if (removed === 0) return send(res, 404, { error: 'Key not found' });
      return send(res, 200, { message: 'Value deleted successfully', key, node: cluster.ownerOf(key) });
    }
    default: {
      const reply = clusterRoute(cluster, req.method ?? 'GET', url.pathname);
      if (reply === null) return send(res, 404, { error: 'Endpoint not found' });
      const { status, body, allow } = await reply;
      if (allow !== undefined) res.setHeader('allow', allow);
      return send(res, status, body);
    }
  }
}

/** An HTTP server serving the REST API of a cluster (not yet listening). */
export function createRestServer(cluster: Cluster): Server {
  return createServer((req, res) => {
    // No route takes a body: drain whatever was sent so the connection stays usable.
    req.resume();
    handle(cluster, req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else send(res, statusOf(err), { error: err instanceof Error ? err.message : String(err) });
    });
  });
}

/** Listens on host:port (0 = any free port) and resolves with the bound address. */
export function listen(server: NetServer, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
