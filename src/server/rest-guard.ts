// What a REST request must pass before any route sees it: a peer protected mode admits, a
// well-formed request target (exact path, strict percent-encoding), a Host this server answers to
// (no DNS rebinding), no foreign Origin (no browser-borne request), and the password when one is set. Pure checks over the
// request's line and headers: it never reads a body and never touches the cluster.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { checkPassword } from './auth.js';
import { isLoopback, PROTECTED_MODE_MESSAGE } from './protected.js';

/** What the checks need to know of the server. */
export interface GuardOptions {
  /** The password every route but a bare `/healthz` needs (`requirepass`); null: none. */
  password: string | null;
  /** Host names answered besides `localhost` and the address a connection came in on (lowercase, no port). */
  allowedHosts: readonly string[];
  /** Origins whose cross-origin requests are allowed (CORS answered for them); none by default. */
  allowedOrigins: readonly string[];
  /** Protected mode: without a password, only loopback clients are served (as the RESP port). */
  protectedMode: boolean;
  /** Whether a peer address is local (a seam for tests; default isLoopback). */
  isLocal?: (address: string | undefined) => boolean;
}

/** A refused request: its status, JSON error and extra headers. */
export interface Refusal {
  status: number;
  error: string;
  headers?: Record<string, string>;
}

/** A request target: the path exactly as sent (never dot-segment resolved), and its query decoded. */
export interface Target {
  path: string;
  /** Each parameter's first value, as bytes (`+` is a space, `%XX` a byte). */
  query: Map<string, Buffer>;
}

/** A path or query component's bytes: `%XX` decoded byte by byte; null when a `%` is not followed by two hex digits. */
export function decodePercent(text: string, plusIsSpace = false): Buffer | null {
  const raw = Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === 0x2b /* + */ && plusIsSpace) out[n++] = 0x20;
    else if (b !== 0x25 /* % */) out[n++] = b;
    else {
      const hi = hexValue(raw[i + 1]);
      const lo = hexValue(raw[i + 2]);
      if (hi < 0 || lo < 0) return null;
      out[n++] = hi * 16 + lo;
      i += 2;
    }
  }
  return out.subarray(0, n);
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * Splits a request target (`/path?query`) without resolving `.`/`..` and checks every
 * percent-escape in it; a string says what is malformed (the caller answers 400).
 */
export function parseTarget(raw: string): Target | string {
  if (!raw.startsWith('/')) return 'Malformed request URL';
  const hash = raw.indexOf('#');
  const target = hash < 0 ? raw : raw.slice(0, hash);
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  if (decodePercent(path) === null) return 'Malformed percent-encoding in the path';
  const query = new Map<string, Buffer>();
  if (q >= 0) {
    for (const pair of target.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const name = decodePercent(eq < 0 ? pair : pair.slice(0, eq), true);
      const value = decodePercent(eq < 0 ? '' : pair.slice(eq + 1), true);
      if (name === null || value === null) return 'Malformed percent-encoding in the query';
      const key = name.toString('latin1');
      if (!query.has(key)) query.set(key, value);
    }
  }
  return { path, query };
}

/** The host name of a Host header, lowercase, without port, brackets or a trailing dot; null if unparsable. */
export function hostName(header: string): string | null {
  let h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return null;
    return h.slice(1, end);
  }
  const colon = h.indexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h === '' ? null : h;
}

/** An address as the socket reports it, IPv4-mapped IPv6 unwrapped. */
function plainAddress(address: string): string {
  return address.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

/**
 * Whether a Host header names this server: `localhost`, a name in `allowed`, or the IP address
 * the connection came in on. A page that rebinds its own name to 127.0.0.1 still sends its
 * name, so it is refused; an IP literal cannot be rebound. No Host (HTTP/1.0) is no browser.
 */
export function hostAllowed(header: string | undefined, localAddress: string | undefined, allowed: readonly string[]): boolean {
  if (header === undefined) return true;
  const name = hostName(header);
  if (name === null) return false;
  if (name === 'localhost' || allowed.includes(name)) return true;
  return isIP(name) !== 0 && localAddress !== undefined && plainAddress(name) === plainAddress(localAddress);
}

/** The password a request presents: HTTP Basic as `default` (or no user), or a Bearer token; null when none or malformed. */
export function presentedPassword(authorization: string | undefined): string | null {
  if (authorization === undefined) return null;
  const space = authorization.indexOf(' ');
  if (space < 0) return null;
  const scheme = authorization.slice(0, space).toLowerCase();
  const credentials = authorization.slice(space + 1).trim();
  if (scheme === 'bearer') return credentials;
  if (scheme !== 'basic') return null;
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const user = decoded.slice(0, colon);
  return user === 'default' || user === '' ? decoded.slice(colon + 1) : null;
}

const CHALLENGE = { 'www-authenticate': 'Basic realm="shardcache", charset="UTF-8"' };

/** What the request needs before a route sees it. */
export type Admission =
  /** Passes; `cors` is the allowed foreign origin to answer for, if any. */
  | { ok: true; cors: string | null }
  /** Refused before authentication (Host, Origin); nothing of the server is revealed. */
  | { ok: false; refusal: Refusal; auth: false }
  /** No valid credentials; `wrong` when some were presented (an attempt to count and log). */
  | { ok: false; refusal: Refusal; auth: true; wrong: boolean };

/** Checks a request's peer (protected mode), Host, Origin and credentials, in that order. */
export function admit(req: IncomingMessage, options: GuardOptions): Admission {
  if (options.protectedMode && options.password === null && !(options.isLocal ?? isLoopback)(req.socket.remoteAddress)) {
    return { ok: false, auth: false, refusal: { status: 403, error: PROTECTED_MODE_MESSAGE } };
  }
  const host = req.headers.host;
  if (!hostAllowed(host, req.socket.localAddress, options.allowedHosts)) {
    return {
      ok: false,
      auth: false,
      refusal: { status: 421, error: `Host "${clip(host ?? '')}" is not a name of this server (--allowed-hosts)` },
    };
  }
  const origin = req.headers.origin;
  let cors: string | null = null;
  if (origin !== undefined) {
    const own = host !== undefined && origin.toLowerCase() === `http://${host.toLowerCase()}`;
    if (!own) {
      if (!options.allowedOrigins.includes(origin)) {
        return { ok: false, auth: false, refusal: { status: 403, error: `Cross-origin request refused (Origin ${clip(origin)})` } };
      }
      cors = origin;
    }
  } else if (req.headers['sec-fetch-site'] === 'cross-site') {
    return { ok: false, auth: false, refusal: { status: 403, error: 'Cross-site request refused' } };
  }
  // A CORS preflight carries no credentials; it is answered (or not) by the router.
  if (req.method === 'OPTIONS') return { ok: true, cors };
  if (options.password !== null) {
    const given = presentedPassword(req.headers.authorization);
    if (given === null || !checkPassword(given, options.password)) {
      const wrong = req.headers.authorization !== undefined;
      const error = wrong ? 'Invalid username-password pair' : 'Authentication required';
      return { ok: false, auth: true, wrong, refusal: { status: 401, error, headers: CHALLENGE } };
    }
  }
  return { ok: true, cors };
}

/** A header value as it may appear in an error message: bounded. */
function clip(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}
