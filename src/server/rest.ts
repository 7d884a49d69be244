// The REST front end: the distributed-cache seed's contract (SPEC §1a), byte for byte in status
// codes and JSON shapes, raw values under /keys/:key, /healthz, plus the membership routes of
// rest-cluster.ts under /cluster, each request admitted by rest-guard.ts first. It only calls the
// cluster's public API; it never sees shard internals, and never holds more body bytes than its budget.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Cluster } from '../cluster.js';
import { CacheError } from '../errors.js';
import { valueFromBytes } from '../value-bytes.js';
import { NAME, VERSION } from '../version.js';
import type { Registry } from 'prom-client';
import { createMetrics } from './metrics.js';
import { clusterRoute } from './rest-cluster.js';
import { AuthFailures } from './auth.js';
import { admit, decodePercent, type GuardOptions, parseTarget, type Target } from './rest-guard.js';

type Json = Record<string, unknown>;

function send(res: ServerResponse, status: number, body: Json, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
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

/**
 * The bytes of request bodies being read at once, bounded in total: a body is refused (503)
 * when taking its bytes would pass the bound, so concurrent uploads cannot hold more memory
 * than that between them. A body reserves its declared length up front, or its bytes as they
 * arrive when it has none (chunked).
 */
export class BodyBudget {
  readonly max: number;
  #used = 0;

  constructor(max: number) {
    this.max = max;
  }

  /** Bytes reserved now. */
  get used(): number {
    return this.#used;
  }

  /** Takes `n` bytes if they fit; false (nothing taken) otherwise. */
  take(n: number): boolean {
    if (this.#used + n > this.max) return false;
    this.#used += n;
    return true;
  }

  give(n: number): void {
    this.#used -= n;
  }
}

/** Why a body was not read whole. */
type BodyRefusal = 'too-large' | 'busy' | 'aborted';

/**
 * A request body, up to `max` bytes, within the server's body budget; a refusal as soon as it is
 * known to be larger (by its Content-Length, or once more has arrived) or not to fit the budget,
 * without reading the rest. Its budget bytes are given back when the returned release runs.
 */
function readBody(req: IncomingMessage, max: number, budget: BodyBudget): Promise<{ body: Buffer; release: () => void } | BodyRefusal> {
  const header = req.headers['content-length'];
  const declared = header === undefined ? null : Number(header);
  if (declared !== null && declared > max) return Promise.resolve('too-large');
  let reserved = declared ?? 0;
  if (declared !== null && !budget.take(declared)) return Promise.resolve('busy');
  const release = (): void => {
    budget.give(reserved);
    reserved = 0;
  };
  return new Promise((resolve) => {
    // With a declared length the bytes go straight into one buffer: no chunk list, no concat copy.
    const whole = declared === null ? null : Buffer.allocUnsafe(declared);
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const stop = (why: BodyRefusal): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.pause();
      release();
      resolve(why);
    };
    const onData = (c: Buffer): void => {
      if (size + c.length > max) {
        stop('too-large');
        return;
      }
      if (whole !== null) c.copy(whole, size);
      else {
        if (!budget.take(c.length)) {
          stop('busy');
          return;
        }
        reserved += c.length;
        chunks.push(c);
      }
      size += c.length;
    };
    req.on('data', onData);
    req.on('end', () => {
      if (settled) return;
      settled = true;
      resolve({ body: whole === null ? Buffer.concat(chunks) : whole.subarray(0, size), release });
    });
    // The client went away mid-body.
    req.on('close', () => stop('aborted'));
  });
}

/** `ttl` query parameter: seconds, a positive integer; undefined when absent, null when invalid. */
function ttlParam(target: Target): number | undefined | null {
  const ttl = target.query.get('ttl')?.toString('latin1');
  if (ttl === undefined) return undefined;
  if (!/^[1-9][0-9]{0,11}$/.test(ttl)) return null;
  return Number(ttl);
}

/** Whether a request came with a body (a length above 0, or chunked). */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** Answers without reading the request's body: a connection with a body left unread closes after the answer. */
function refuseUnread(req: IncomingMessage, res: ServerResponse, status: number, body: Json, headers: Record<string, string> = {}): void {
  if (!req.readableEnded && hasBody(req)) {
    res.setHeader('connection', 'close');
    res.on('finish', () => req.destroy());
  }
  send(res, status, body, headers);
}

/**
 * `/keys/:key`: GET the raw value (application/octet-stream), PUT a raw body (with `?ttl=`
 * seconds), DELETE. The key is the rest of the path, percent-decoded byte by byte.
 */
async function keyRoute(ctx: RestContext, req: IncomingMessage, res: ServerResponse, target: Target): Promise<void> {
  const { cluster } = ctx;
  // parseTarget checked the escapes: the key is the rest of the path as sent, `.`, `..` and `\` included.
  const key = decodePercent(target.path.slice(KEYS_PREFIX.length))!;
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
      const ttl = ttlParam(target);
      if (ttl === null) return refuseUnread(req, res, 400, { error: "'ttl' must be a positive whole number of seconds" });
      const max = cluster.options.maxValueBytes;
      const read = await readBody(req, max, ctx.bodies);
      if (read === 'aborted') return;
      if (read === 'too-large') return refuseUnread(req, res, 413, { error: `Value larger than the limit of ${max} bytes` });
      if (read === 'busy') {
        const error = `Too many request bodies in flight (more than ${ctx.bodies.max} bytes); retry later`;
        return refuseUnread(req, res, 503, { error }, { 'retry-after': '1' });
      }
      try {
        // Stored as the RESP port stores wire bytes: ASCII as text, anything else as bytes.
        const value = valueFromBytes(read.body, 0, read.body.length);
        await cluster.set(key, value, ttl === undefined ? undefined : { ex: ttl });
      } finally {
        read.release();
      }
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
 * keys: `data` says 'incomplete', with `keysLost`, until a FLUSHALL. Without credentials on a
 * server with a password, only the status.
 */
function health(cluster: Cluster, res: ServerResponse, full: boolean): void {
  const shards = cluster.shards().map((s) => ({ id: s.id, name: s.name, state: s.state }));
  const serving = cluster.state === 'ready' && shards.every((s) => s.state === 'ready');
  const loss = cluster.dataLoss;
  const status = serving && loss === null ? 'ok' : 'degraded';
  if (!full) {
    send(res, serving ? 200 : 503, { status });
    return;
  }
  const body: Json = { status, state: cluster.state, epoch: cluster.epoch, data: loss === null ? 'complete' : 'incomplete' };
  if (loss !== null) body.keysLost = loss.keysLost;
  body.shards = shards;
  send(res, serving ? 200 : 503, body);
}

export interface RestServerOptions {
  /** What GET /metrics serves; by default a registry of the cluster alone (createMetrics). */
  metrics?: Registry;
  /** The leader's address while this server is a read-only replica (writes get 403), else null. */
  readOnly?: () => string | null;
  /** The password every route needs (HTTP Basic as `default`, or Bearer); `/healthz` without it says only ok/degraded. Default none. */
  password?: string | null;
  /** Host header names answered besides `localhost` and the address a client connected to (DNS rebinding guard). Default none. */
  allowedHosts?: readonly string[];
  /** Origins allowed to make cross-origin requests (answered with CORS headers). Default none: every foreign Origin gets 403. */
  allowedOrigins?: readonly string[];
  /** Most bytes of request bodies read at once, over all requests (503 past it). Default 256 MiB, and at least the largest value. */
  maxBodyBytesInFlight?: number;
  /** Protected mode: without a password, clients from other addresses than loopback get 403 DENIED. Default true. */
  protectedMode?: boolean;
  /** Whether a peer address is local (tests stand in a remote client); default: loopback addresses. */
  isLocal?: (address: string | undefined) => boolean;
  /** Where each request with wrong credentials is counted and logged (surface `rest`); the RESP port's, to share one count. */
  authFailures?: AuthFailures;
}

/** What the routes share. */
interface RestContext {
  cluster: Cluster;
  registry: Registry;
  bodies: BodyBudget;
}

const KEYS_PREFIX = '/keys/';

/** `/keys/` followed by a key (`/keys/` alone is no route). */
const isKeyPath = (target: Target): boolean => target.path.startsWith(KEYS_PREFIX) && target.path.length > KEYS_PREFIX.length;

/** The route of a data write (what a read-only replica refuses). */
function isWrite(req: IncomingMessage, target: Target): boolean {
  if (isKeyPath(target)) return req.method === 'PUT' || req.method === 'DELETE';
  return (target.path === '/set' && req.method === 'POST') || (target.path === '/del' && req.method === 'DELETE');
}

/** GET, or HEAD (answered as GET; Node leaves the body out). */
const isGet = (req: IncomingMessage): boolean => req.method === 'GET' || req.method === 'HEAD';

/** A seed route's `key` or `value` parameter as text; null when it is not UTF-8. */
function textParam(target: Target, name: string): string | null {
  const bytes = target.query.get(name);
  if (bytes === undefined) return '';
  const text = bytes.toString('utf8');
  return Buffer.byteLength(text) === bytes.length && !text.includes('\uFFFD') ? text : null;
}

async function handle(ctx: RestContext, req: IncomingMessage, res: ServerResponse, target: Target): Promise<void> {
  const { cluster } = ctx;
  if (isKeyPath(target)) return keyRoute(ctx, req, res, target);
  const key = textParam(target, 'key');
  const value = textParam(target, 'value');
  if (key === null || value === null) {
    return send(res, 400, { error: "'key' and 'value' must be UTF-8 text (use /keys/ for binary keys and values)" });
  }
  switch (target.path) {
    case '/':
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      return send(res, 200, { message: `${NAME} distributed in-memory cache`, version: VERSION });
    case '/set': {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      if (key === '' || value === '') return send(res, 400, { error: "Both 'key' and 'value' parameters are required" });
      await cluster.set(key, value);
      return send(res, 201, { message: 'Value set successfully', key, node: cluster.ownerOf(key) });
    }
    case '/get': {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      if (key === '') return send(res, 400, { error: "Missing 'key' parameter" });
      const found = await cluster.get(key);
      if (found === null) return send(res, 404, { error: 'Key not found' });
      return send(res, 200, { key, value: found.toString(), node: cluster.ownerOf(key) });
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
      return health(cluster, res, true);
    case '/metrics': {
      if (!isGet(req)) return methodNotAllowed(res, 'GET, HEAD');
      const text = await ctx.registry.metrics();
      res.writeHead(200, { 'content-type': ctx.registry.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    default: {
      const reply = clusterRoute(cluster, req.method ?? 'GET', target.path);
      if (reply === null) return send(res, 404, { error: 'Endpoint not found' });
      const { status, body, allow } = await reply;
      if (allow !== undefined) res.setHeader('allow', allow);
      return send(res, status, body);
    }
  }
}

/** A CORS preflight from an allowed origin: the methods and headers the API takes. */
function preflight(res: ServerResponse): void {
  res.writeHead(204, {
    'access-control-allow-methods': 'GET, HEAD, POST, PUT, DELETE',
    'access-control-allow-headers': 'authorization, content-type',
    'access-control-max-age': '600',
  });
  res.end();
}

/** An HTTP server serving the REST API of a cluster (not yet listening). */
export function createRestServer(cluster: Cluster, options: RestServerOptions = {}): Server {
  const guard: GuardOptions = {
    password: options.password ?? null,
    allowedHosts: (options.allowedHosts ?? []).map((h) => h.toLowerCase()),
    allowedOrigins: options.allowedOrigins ?? [],
    protectedMode: options.protectedMode ?? true,
    ...(options.isLocal === undefined ? {} : { isLocal: options.isLocal }),
  };
  const authFailures = options.authFailures ?? new AuthFailures();
  const ctx: RestContext = {
    cluster,
    // Made now, not at the first scrape: it counts events (migrations) from the start.
    registry: options.metrics ?? createMetrics(cluster),
    bodies: new BodyBudget(Math.max(options.maxBodyBytesInFlight ?? 256 * 1024 * 1024, cluster.options.maxValueBytes)),
  };
  const server = createServer((req, res) => {
    // While the server closes, each connection ends once its answer is out (none waits for keep-alive).
    res.once('finish', () => {
      if (closing.has(server)) setImmediate(() => server.closeIdleConnections());
    });
    const admission = admit(req, guard);
    const target = parseTarget(req.url ?? '/');
    // Only an admitted PUT /keys/:key reads its body; a refused request with one is answered, then closed.
    const upload = admission.ok && req.method === 'PUT' && typeof target !== 'string' && isKeyPath(target);
    if (!hasBody(req)) req.resume();
    if (!admission.ok) {
      const { refusal } = admission;
      if (admission.auth) {
        if (admission.wrong) authFailures.record('rest', `${req.socket.remoteAddress}:${req.socket.remotePort}`);
        // Load balancers may probe health without the password: they learn only ok/degraded.
        if (typeof target !== 'string' && target.path === '/healthz' && isGet(req)) return health(cluster, res, false);
      }
      return refuseUnread(req, res, refusal.status, { error: refusal.error }, refusal.headers);
    }
    if (admission.cors !== null) {
      res.setHeader('access-control-allow-origin', admission.cors);
      res.setHeader('vary', 'Origin');
    }
    if (typeof target === 'string') return refuseUnread(req, res, 400, { error: target });
    if (req.method === 'OPTIONS') {
      if (admission.cors !== null) return preflight(res);
      return refuseUnread(req, res, 405, { error: 'Method not allowed' }, { allow: 'GET, HEAD, POST, PUT, DELETE' });
    }
    const leader = options.readOnly?.() ?? null;
    if (leader !== null && isWrite(req, target)) {
      return refuseUnread(req, res, 403, { error: "READONLY You can't write against a read only replica.", leader });
    }
    if (!upload && hasBody(req)) {
      // A body no route reads (a POST /set with one, say): drained, so the connection stays usable.
      req.resume();
    }
    handle(ctx, req, res, target).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else send(res, statusOf(err), { error: err instanceof Error ? err.message : String(err) });
    });
  });
  return server;
}

/** Servers being closed by closeRestServer. */
const closing = new WeakSet<Server>();

/**
 * Stops a REST server gracefully: no new connections, idle keep-alive connections closed, the
 * requests in flight answered; after `timeoutMs` the connections left are cut. Resolves when
 * every connection is gone.
 */
export function closeRestServer(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    closing.add(server);
    const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
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
