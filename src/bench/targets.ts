// What `shardcache bench` can drive: `embedded` (a cluster in the bench's own process, through the
// API a host app uses), `resp://[user:password@]host:port` (shardcache or any Redis-protocol
// server) and `http://host:port` (shardcache's REST API). Network targets open one connection per
// lane; load generator threads (./threads.ts) each open their own.
import { Agent, request } from 'node:http';
import { RespClient } from '../client/resp.js';
import { RespErrorReply, type RespReply } from '../resp/reply-parser.js';
import { createCluster } from '../cluster.js';
import { type BenchTarget, TargetLost } from './runner.js';
import type { BenchOp } from './workload.js';
import { basicAuthorization, urlCredentials } from '../client/rest.js';

/** A parsed --target. */
export type TargetSpec =
  | { kind: 'embedded'; name: string }
  | { kind: 'resp'; name: string; host: string; port: number; user: string | null; password: string | null }
  | { kind: 'http'; name: string; host: string; port: number; authorization: string | null };

/** Ops the REST API has no route for. */
const HTTP_UNSUPPORTED: readonly BenchOp[] = ['incr', 'mget'];

/**
 * Parses `embedded`, `resp://[user:password@]host:port` or `http://[user:password@]host:port`;
 * throws a RangeError saying what is wrong. `password` (--password) is used where the URL has none.
 */
export function parseTarget(input: string, password: string | null = null): TargetSpec {
  if (input === 'embedded') return { kind: 'embedded', name: 'embedded' };
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new RangeError(`target "${input}" is not a URL (embedded, resp://host:port or http://host:port)`);
  }
  const kind = url.protocol === 'resp:' || url.protocol === 'redis:' ? 'resp' : url.protocol === 'http:' ? 'http' : null;
  if (kind === null) throw new RangeError(`target "${input}": the scheme must be resp:// or http://`);
  // URL leaves the port of an unknown scheme as written; http's default (80) reads as "".
  const port = url.port === '' ? (kind === 'http' ? 80 : 6379) : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new RangeError(`target "${input}" has no host`);
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '')
    throw new RangeError(`target "${input}": only scheme://host:port is taken, no path or query`);
  const name = `${kind}://${url.host}`;
  const { user, password: given } = urlCredentials(url);
  if (user !== null && given === null) throw new RangeError(`target "${input}": a user needs a password (user:password@)`);
  const pass = given ?? password;
  if (kind === 'http') return { kind, name, host, port, authorization: pass === null ? null : basicAuthorization(user, pass) };
  return { kind, name, host, port, user, password: pass };
}

/** Refuses a workload the target cannot run, before anything starts. */
export function checkOps(spec: TargetSpec, mix: Partial<Record<BenchOp, number>>): void {
  if (spec.kind !== 'http') return;
  const missing = HTTP_UNSUPPORTED.filter((op) => (mix[op] ?? 0) > 0);
  if (missing.length > 0) throw new RangeError(`the http target has no ${missing.join(' or ')}: use resp://`);
}

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

/** The target a network spec names, with `connections` connections (one per lane); a reply late by `timeoutMs` ends the run. */
export function networkTarget(spec: TargetSpec, connections: number, timeoutMs: number): Promise<BenchTarget> {
  if (spec.kind === 'resp') return respTarget(spec, connections, timeoutMs);
  if (spec.kind === 'http') return Promise.resolve(httpTarget(spec, connections, timeoutMs));
  throw new RangeError('the embedded target runs in the bench process itself');
}

async function respTarget(spec: Extract<TargetSpec, { kind: 'resp' }>, connections: number, timeoutMs: number): Promise<BenchTarget> {
  const conns: RespClient[] = [];
  const closeAll = (): Promise<unknown> => Promise.all(conns.map((c) => c.close()));
  try {
    for (let i = 0; i < connections; i++) {
      const c = await RespClient.connect(spec.host, spec.port, timeoutMs).catch((err: Error & { code?: string }) => {
        throw new Error(`cannot connect to ${spec.name}: ${err.code ?? err.message}`);
      });
      conns.push(c);
      if (spec.password !== null) {
        const r = await (spec.user === null ? c.call('AUTH', spec.password) : c.call('AUTH', spec.user, spec.password));
        if (r instanceof RespErrorReply) throw new Error(`${spec.name} refused AUTH: ${r.message}`);
      }
      // A PING on each connection tells a Redis-protocol server from anything else, and a
      // server that turned this connection away (maxclients) says so, before the clock starts.
      const pong = await c.call('PING');
      if (pong !== 'PONG') throw new Error(`${spec.name} answered PING with ${describe(pong)}`);
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  const cmd = (lane: number, args: string[]): Promise<RespReply> =>
    new Promise((resolve, reject) =>
      conns[lane]!.send(args, (err, reply) => {
        // The connection failed (closed, reset, silent): nothing more can be measured on it.
        if (err !== null) reject(new TargetLost(err.message));
        else if (reply instanceof RespErrorReply) reject(new Error(reply.message));
        else resolve(reply!);
      }),
    );
  return {
    name: spec.name,
    get: (k, lane) => cmd(lane, ['GET', k]),
    set: (k, v, lane) => cmd(lane, ['SET', k, v]),
    del: (k, lane) => cmd(lane, ['DEL', k]),
    incr: (k, lane) => cmd(lane, ['INCR', k]),
    mget: (ks, lane) => cmd(lane, ['MGET', ...ks]),
    close: async () => {
      await closeAll();
    },
  };
}

function describe(reply: RespReply): string {
  if (reply instanceof RespErrorReply) return `an error: ${reply.message}`;
  return JSON.stringify(Buffer.isBuffer(reply) ? reply.toString() : reply);
}

/** REST over keep-alive connections: one agent of one socket per lane (HTTP/1.1 does not pipeline, so a lane's requests queue). */
function httpTarget(spec: Extract<TargetSpec, { kind: 'http' }>, connections: number, timeoutMs: number): BenchTarget {
  const agents = Array.from({ length: connections }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  const call = (lane: number, method: string, key: string, body: string | null, ok: (status: number) => boolean): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          agent: agents[lane],
          host: spec.host,
          port: spec.port,
          method,
          path: `/keys/${encodeURIComponent(key)}`,
          headers: {
            ...(spec.authorization === null ? {} : { authorization: spec.authorization }),
            ...(body === null ? {} : { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(body) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (ok(status)) resolve(status);
            else reject(new Error(`HTTP ${status} ${httpReason(Buffer.concat(chunks))}`));
          });
          res.on('error', reject);
        },
      );
      // No answer at all (refused, reset, silent): the run cannot go on.
      req.on('error', (err: Error & { code?: string }) => reject(new TargetLost(err.code ?? err.message)));
      if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error(`no reply for ${timeoutMs / 1000} s`)));
      req.end(body ?? undefined);
    });
  // A miss is an answer, not an error.
  const found = (s: number): boolean => s === 200 || s === 404;
  return {
    name: spec.name,
    get: (k, lane) => call(lane, 'GET', k, null, found),
    set: (k, v, lane) => call(lane, 'PUT', k, v, (s) => s === 201 || s === 200),
    del: (k, lane) => call(lane, 'DELETE', k, null, found),
    incr: () => Promise.reject(new Error('the http target has no incr')),
    mget: () => Promise.reject(new Error('the http target has no mget')),
    close: async () => {
      for (const a of agents) a.destroy();
    },
  };
}

/** A REST error body's `error` text, else its first 100 bytes. */
function httpReason(body: Buffer): string {
  try {
    const j = JSON.parse(body.toString('utf8')) as { error?: unknown };
    if (typeof j.error === 'string') return j.error;
  } catch {}
  return body.toString('utf8', 0, 100);
}

/** Checks an http target answers as shardcache before the clock starts (GET /healthz). */
export async function probeHttp(spec: Extract<TargetSpec, { kind: 'http' }>, timeoutMs: number): Promise<void> {
  let res: Response;
  let body: string;
  try {
    const url = `http://${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}/healthz`;
    res = await fetch(url, {
      ...(timeoutMs > 0 ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
      ...(spec.authorization === null ? {} : { headers: { authorization: spec.authorization } }),
    });
    body = await res.text();
  } catch (err) {
    const e = err as Error & { cause?: Error & { code?: string } };
    if (e.name === 'TimeoutError') throw new Error(`${spec.name}: no answer to GET /healthz for ${timeoutMs / 1000} s`);
    const code = e.cause?.code ?? e.cause?.message ?? e.message;
    // Connected, then closed with no HTTP answer: something else listens there.
    if (code === 'UND_ERR_SOCKET') throw new Error(`${spec.name} closed the connection without an HTTP answer (not an HTTP server?)`);
    throw new Error(`cannot connect to ${spec.name}: ${code}`);
  }
  if (!/"status"/.test(body)) throw new Error(`${spec.name} is not a shardcache REST API (GET /healthz answered HTTP ${res.status})`);
  // /healthz answers without the password, with less: whether the credentials are right shows here.
  if (!/"state"/.test(body)) {
    const reason =
      spec.authorization === null ? 'the server needs a password (--password, or user:password@ in the URL)' : 'the password was refused';
    throw new Error(`${spec.name}: ${reason}`);
  }
}
