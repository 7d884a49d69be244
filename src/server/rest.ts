// The REST front end: the distributed-cache seed's contract (SPEC §1a), byte for byte in status
// codes and JSON shapes, raw values under /keys/:key, /healthz, plus the membership routes of
// rest-cluster.ts under /cluster. It only
// calls the cluster's public API; it never sees shard internals.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Cluster } from '../cluster.js';
import { CacheError } from '../errors.js';
import { valueFromBytes } from '../value-bytes.js';
import { NAME, VERSION } from '../version.js';
import type { Registry } from 'prom-client';
import { createMetrics } from './metrics.js';
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
    case 'READONLY':
      return 403;
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

/** A path segment's bytes: %XX decoded byte by byte, so any key (not only UTF-8 text) can be named. */
export function decodePathBytes(segment: string): Buffer | null {
  const out: number[] = [];
  const raw = Buffer.from(segment, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b !== 0x25 /* % */) {
      out.push(b);
      continue;
    }
    const hex = raw.toString('latin1', i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
    out.push(Number.parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(out);
}

/**
 * A request body, up to `max` bytes; null as soon as it is known to be larger (by its
 * Content-Length, or once more has arrived), without reading the rest.
 */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > max) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > max) {
        req.off('data', onData);
        req.pause();
        resolve(null);
      } else chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `ttl` query parameter: seconds, a positive integer; undefined when absent, null when invalid. */
function ttlParam(url: URL): number | undefined | null {
  const ttl = url.searchParams.get('ttl');
  if (ttl === null) return undefined;
  if (!/^[1-9][0-9]{0,11}$/.test(ttl)) return null;
  return Number(ttl);
}

/**
 * `/keys/:key`: GET the raw value (application/octet-stream), PUT a raw body (with `?ttl=`
 * seconds), DELETE. The key is the rest of the path, percent-decoded byte by byte.
 */
async function keyRoute(cluster: Cluster, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  // From the raw request line: URL parsing would turn `.`, `..` and `\` in the key into path steps.
  const raw = (req.url ?? '').split('?')[0]!;
  const key = decodePathBytes(raw.slice(raw.indexOf('/keys/') + '/keys/'.length));
  if (key === null) {
    req.resume();
    return send(res, 400, { error: 'Malformed key in path' });
  }
  const name = key.toString('utf8');
  switch (req.method) {
    case 'GET':
    case 'HEAD': {
      const value = await cluster.get(key);
      if (value === null) return send(res, 404, { error: 'Key not found' });
      const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
      res.end(bytes);
      return;
    }
    case 'PUT': {
      const body = await readBody(req, cluster.options.maxValueBytes);
      if (body === null) {
        // The rest of the upload is not read: answer, then close the connection.
        res.setHeader('connection', 'close');
        res.on('finish', () => req.destroy());
        return send(res, 413, { error: `Value larger than the limit of ${cluster.options.maxValueBytes} bytes` });
      }
      const ttl = ttlParam(url);
      if (ttl === null) return send(res, 400, { error: "'ttl' must be a positive whole number of seconds" });
      // Stored as the RESP port stores wire bytes: ASCII as text, anything else as bytes.
      await cluster.set(key, valueFromBytes(body, 0, body.length), ttl === undefined ? undefined : { ex: ttl });
      return send(res, 201, { message: 'Value set successfully', key: name, node: cluster.ownerOf(key) });
    }
    case 'DELETE': {
      const removed = await cluster.del(key);
      if (removed === 0) return send(res, 404, { error: 'Key not found' });
      return send(res, 200, { message: 'Value deleted successfully', key: name, node: cluster.ownerOf(key) });
    }
    default:
      return methodNotAllowed(res, 'GET, HEAD, PUT, DELETE');
  }
}

/**
 * `/healthz`: 200 while every shard serves, 503 (with the shards' states) otherwise. Status
 * 'degraded' too (still 200 if every shard serves) while crashes have lost every copy of some
 * keys: `data` says 'incomplete', with `keysLost`, until a FLUSHALL.
 */
function health(cluster: Cluster, res: ServerResponse): void {
  const shards = cluster.shards().map((s) => ({ id: s.id, name: s.name, state: s.state }));
  const serving = cluster.state === 'ready' && shards.every((s) => s.state === 'ready');
  const loss = cluster.dataLoss;
  const body: Json = {
    status: serving && loss === null ? 'ok' : 'degraded',
    state: cluster.state,
    epoch: cluster.epoch,
    data: loss === null ? 'complete' : 'incomplete',
  };
  if (loss !== null) body.keysLost = loss.keysLost;
  body.shards = shards;
  send(res, serving ? 200 : 503, body);
}

export interface RestServerOptions {
  /** What GET /metrics serves; by default a registry of the cluster alone (createMetrics). */
  metrics?: Registry;
  /** The leader's address while this server is a read-only replica (writes get 403), else null. */
  readOnly?: () => string | null;
}

/** A data write of the REST API (what a read-only replica refuses). */
function isWrite(req: IncomingMessage): boolean {
  const raw = req.url ?? '/';
  // Classified as the router routes: /keys/ by the raw path, the rest by the parsed one (`/./set` is /set).
  if (/^\/keys\/[^?]/.test(raw)) return req.method === 'PUT' || req.method === 'DELETE';
  let path: string;
  try {
    path = new URL(raw, 'http://localhost').pathname;
  } catch {
    return false;
  }
  return (path === '/set' && req.method === 'POST') || (path === '/del' && req.method === 'DELETE');
}

/** GET, or HEAD (answered as GET; Node leaves the body out). */
const isGet = (req: IncomingMessage): boolean => req.method === 'GET' || req.method === 'HEAD';

async function handle(cluster: Cluster, req: IncomingMessage, res: ServerResponse, registry: Registry): Promise<void> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    send(res, 400, { error: 'Malformed request URL' });
    return;
  }
  // Before the parsed path, which has resolved `.` and `..` (a key may be named so).
  if (/^\/keys\/[^?]/.test(req.url ?? '')) return keyRoute(cluster, req, res, url);
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
    case '/healthz':
      if (!isGet(req)) return methodNotAllowed(res, 'GET, HEAD');
      return health(cluster, res);
    case '/metrics': {
      if (!isGet(req)) return methodNotAllowed(res, 'GET, HEAD');
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
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
export function createRestServer(cluster: Cluster, options: RestServerOptions = {}): Server {
  // Made now, not at the first scrape: it counts events (migrations) from the start.
  const registry = options.metrics ?? createMetrics(cluster);
  return createServer((req, res) => {
    // Only PUT /keys/:key reads a body: drain any other so the connection stays usable.
    if (!(req.method === 'PUT' && req.url?.startsWith('/keys/'))) req.resume();
    const leader = options.readOnly?.() ?? null;
    if (leader !== null && isWrite(req)) {
      // The body is not read: the connection closes after the answer.
      if (req.method === 'PUT') res.setHeader('connection', 'close');
      send(res, 403, { error: "READONLY You can't write against a read only replica.", leader });
      return;
    }
    handle(cluster, req, res, registry).catch((err: unknown) => {
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
