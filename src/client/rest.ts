// A small client of the REST routes, for the `shardcache cluster` and `get|set|del` commands. It turns
// every failure (unreachable server, an error status, a body of the wrong shape) into one
// RestClientError whose message is a single line fit for a terminal. It never prints or exits.
import type { AddedShard, ClusterView, MigrationView, ShardView } from '../server/rest-cluster.js';

/** A failed call: `message` is one line; `status` is the HTTP status, or null if none arrived. */
export class RestClientError extends Error {
  readonly status: number | null;
  constructor(message: string, status: number | null) {
    super(message);
    this.name = 'RestClientError';
    this.status = status;
  }
}

/** A successful call: the body as sent, and parsed. */
export interface RestReply {
  status: number;
  text: string;
  body: unknown;
}

/** The `user:password@` of a URL, percent-decoded; null for a part it leaves out. */
export function urlCredentials(u: URL): { user: string | null; password: string | null } {
  return {
    user: u.username === '' ? null : decodeURIComponent(u.username),
    password: u.password === '' ? null : decodeURIComponent(u.password),
  };
}

/** An HTTP Basic `Authorization` value: `user` (the server takes `default`, or none) and the password. */
export function basicAuthorization(user: string | null, password: string): string {
  return `Basic ${Buffer.from(`${user ?? 'default'}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * The REST API of one shardcache server, at `base` (e.g. `http://127.0.0.1:8080`, or with
 * `user:password@`), sending `password` (when the URL has none) as HTTP Basic for `default`.
 */
export class RestClient {
  /** The base URL without credentials: what messages show. */
  readonly base: string;
  readonly #headers: Record<string, string>;

  constructor(base: string, password: string | null = null) {
    const u = new URL(base);
    const { user, password: given } = urlCredentials(u);
    u.username = '';
    u.password = '';
    this.base = u.href.replace(/\/+$/, '');
    const pass = given ?? password;
    this.#headers = pass === null ? {} : { authorization: basicAuthorization(user, pass) };
  }

  /** `GET /cluster`: membership, per-shard keys and bytes, the migration in progress. */
  async cluster(): Promise<{ view: ClusterView; text: string }> {
    const r = await this.call('GET', '/cluster');
    return { view: this.#narrow(r, asClusterView), text: r.text };
  }

  /** `POST /cluster/shards`: adds a shard; resolves when its keys have moved. */
  async addShard(): Promise<{ shard: AddedShard; epoch: number }> {
    const r = await this.call('POST', '/cluster/shards');
    return this.#narrow(r, (b) => {
      if (!isObject(b) || !isInt(b.epoch)) return null;
      const shard = asAddedShard(b.shard);
      return shard === null ? null : { shard, epoch: b.epoch };
    });
  }

  /** `DELETE /cluster/shards/:id`: removes a shard; resolves when its keys have moved. */
  async removeShard(id: number): Promise<{ removed: number; epoch: number }> {
    const r = await this.call('DELETE', `/cluster/shards/${id}`);
    return this.#narrow(r, (b) => (isObject(b) && isInt(b.removed) && isInt(b.epoch) ? { removed: b.removed, epoch: b.epoch } : null));
  }

  /** `GET /keys/:key`: the value's bytes, or null when the key does not exist. */
  async getValue(key: string): Promise<Buffer | null> {
    const { status, type, bytes } = await this.#raw('GET', keyPath(key));
    if (isKeyNotFound(status, bytes)) return null;
    // Only a value is octet-stream: another answer (another server, a wrong --url) is an error.
    if (status !== 200 || type !== 'application/octet-stream') throw this.#failure(status, bytes);
    return bytes;
  }

  /** `PUT /keys/:key[?ttl=S]`: stores the value; resolves with the node that holds it. */
  async setValue(key: string, value: Buffer, ttlSeconds?: number): Promise<{ node: string }> {
    const query = ttlSeconds === undefined ? '' : `?ttl=${ttlSeconds}`;
    const { status, bytes } = await this.#raw('PUT', keyPath(key) + query, value);
    if (status !== 201) throw this.#failure(status, bytes);
    const body = parseJson(bytes);
    if (!isObject(body) || typeof body.node !== 'string')
      throw new RestClientError(`unexpected response from ${this.base}: HTTP ${status}, not a shardcache reply`, status);
    return { node: body.node };
  }

  /** `DELETE /keys/:key`: true if it existed. */
  async deleteValue(key: string): Promise<boolean> {
    const { status, bytes } = await this.#raw('DELETE', keyPath(key));
    if (isKeyNotFound(status, bytes)) return false;
    const body = parseJson(bytes);
    if (status !== 200 || !isObject(body) || typeof body.message !== 'string') throw this.#failure(status, bytes);
    return true;
  }

  /** One request, whatever its status; rejects only when no answer arrived. */
  async #raw(method: string, path: string, body?: Buffer): Promise<{ status: number; type: string | null; bytes: Buffer }> {
    try {
      const res = await fetch(this.base + path, { method, headers: this.#headers, ...(body === undefined ? {} : { body }) });
      return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
    } catch (err) {
      throw new RestClientError(`the server at ${this.base} is not reachable (${reasonOf(err, this.base)})`, null);
    }
  }

  /**
   * An unexpected answer as a RestClientError carrying the server's one-line reason. A read-only
   * replica's refusal of a write (403, READONLY) is the seed client's "not leader" outcome.
   */
  #failure(status: number, bytes: Buffer): RestClientError {
    const body = parseJson(bytes);
    if (status === 401) return unauthorized(this.#headers, status);
    if (status === 403 && isObject(body) && typeof body.error === 'string' && body.error.startsWith('READONLY')) {
      const leader = typeof body.leader === 'string' ? ` (the leader is ${body.leader})` : '';
      return new RestClientError(oneLine(`not leader: ${body.error}${leader}`), status);
    }
    const message =
      isObject(body) && typeof body.error === 'string'
        ? body.error
        : `unexpected response from ${this.base}: HTTP ${status}, not a shardcache reply`;
    return new RestClientError(oneLine(message), status);
  }

  /** One request; resolves for 2xx with a JSON body, otherwise rejects with a RestClientError. */
  async call(method: string, path: string): Promise<RestReply> {
    const { status, bytes } = await this.#raw(method, path);
    const text = bytes.toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new RestClientError(`unexpected response from ${this.base}${path}: HTTP ${status}, not JSON`, status);
    }
    if (status === 401) throw unauthorized(this.#headers, status);
    if (status >= 400) {
      const message = isObject(body) && typeof body.error === 'string' ? body.error : `HTTP ${status}`;
      throw new RestClientError(oneLine(message), status);
    }
    return { status, text, body };
  }

  #narrow<T>(r: RestReply, as: (body: unknown) => T | null): T {
    const v = as(r.body);
    if (v === null) throw new RestClientError(`unexpected response from ${this.base}: HTTP ${r.status}, not a shardcache reply`, r.status);
    return v;
  }
}

/** A 401 as a one-line reason that says what to do. */
function unauthorized(headers: Record<string, string>, status: number): RestClientError {
  const message =
    headers.authorization === undefined
      ? 'the server needs a password: pass --password, set SHARDCACHE_PASSWORD, or put user:password@ in --url'
      : 'the server refused the password (HTTP 401)';
  return new RestClientError(message, status);
}

/** `/keys/` and the key's UTF-8 bytes percent-encoded (the server decodes them byte by byte). */
function keyPath(key: string): string {
  return `/keys/${encodeURIComponent(key)}`;
}

/** The /keys routes' own "no such key" (a 404 from anything else is an error). */
function isKeyNotFound(status: number, bytes: Buffer): boolean {
  if (status !== 404) return false;
  const body = parseJson(bytes);
  return isObject(body) && body.error === 'Key not found';
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function isCount(v: unknown): v is number | null {
  return v === null || isInt(v);
}

function asAddedShard(v: unknown): AddedShard | null {
  if (!isObject(v) || !isInt(v.id) || typeof v.name !== 'string' || typeof v.state !== 'string') return null;
  if (!isInt(v.crashes) || !isInt(v.pending)) return null;
  return { id: v.id, name: v.name, state: v.state, crashes: v.crashes, pending: v.pending };
}

function asShardView(v: unknown): ShardView | null {
  const s = asAddedShard(v);
  if (s === null || !isObject(v) || !isCount(v.keys) || !isCount(v.bytes)) return null;
  return { ...s, keys: v.keys, bytes: v.bytes };
}

function asMigrationView(v: unknown): MigrationView | null {
  if (!isObject(v) || (v.kind !== 'add' && v.kind !== 'remove' && v.kind !== 'refill')) return null;
  const { shardId, epoch, rangesTotal, rangesDone, keysMoved, startedAt } = v;
  if (![shardId, epoch, rangesTotal, rangesDone, keysMoved, startedAt].every(isInt)) return null;
  return {
    kind: v.kind,
    shardId: shardId as number,
    epoch: epoch as number,
    rangesTotal: rangesTotal as number,
    rangesDone: rangesDone as number,
    keysMoved: keysMoved as number,
    startedAt: startedAt as number,
  };
}

/** Narrows a `GET /cluster` body, or null if it has another shape. */
export function asClusterView(v: unknown): ClusterView | null {
  if (!isObject(v) || !isInt(v.epoch) || !isInt(v.replicas) || !isCount(v.keys) || !Array.isArray(v.shards)) return null;
  const shards = v.shards.map(asShardView);
  if (shards.some((s) => s === null)) return null;
  const migration = v.migration === null ? null : asMigrationView(v.migration);
  if (v.migration !== null && migration === null) return null;
  return { epoch: v.epoch, replicas: v.replicas, keys: v.keys, shards: shards as ShardView[], migration };
}

/** Why a fetch failed, in a word: the system error code (ECONNREFUSED, ENOTFOUND...) when there is one. */
function reasonOf(err: unknown, base: string): string {
  const cause = err instanceof Error ? err.cause : undefined;
  // fetch never connects to ports on the Fetch standard's blocked list (1, 22, 25, 6000...).
  if (cause instanceof Error && cause.message === 'bad port') return `fetch refuses to connect to port ${new URL(base).port}`;
  for (const e of [cause, err]) {
    if (isObject(e) && typeof e.code === 'string') return e.code;
    // Several addresses tried (localhost → ::1 and 127.0.0.1): an AggregateError without a code.
    if (e instanceof AggregateError) {
      const first: unknown = e.errors[0];
      if (isObject(first) && typeof first.code === 'string') return first.code;
    }
  }
  return oneLine(cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err));
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** Where the `shardcache cluster` commands look for a server unless told otherwise. */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** Checks a server's base URL (http or https, no query) and returns it without a trailing slash. */
export function parseBaseUrl(input: string): string {
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    throw new Error(`a server URL must be http:// or https://, got "${input}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`a server URL must be http:// or https://, got "${input}"`);
  if (u.search !== '' || u.hash !== '') throw new Error(`a server URL takes no query or fragment, got "${input}"`);
  // Credentials stay in the URL for RestClient, which takes them out of what it shows.
  const auth = u.username === '' && u.password === '' ? '' : `${u.username}:${u.password}@`;
  return `${u.protocol}//${auth}${u.host}${u.pathname.replace(/\/+$/, '')}`;
}
