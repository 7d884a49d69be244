// A bounded, deterministic fuzz of the RESP front end. With a seeded PRNG it sends 60 connections'
// worth of hostile input — valid commands with flipped bytes, truncated frames, wrong and negative
// lengths, huge declared sizes, random bytes, inline garbage with unbalanced quotes — split at
// random points across writes, and proves that: the server process never crashes and keeps serving
// (PING on a fresh connection after every batch of 10); a `-ERR Protocol error` is always the last
// thing a connection receives; declared sizes are not allocated up front (memory stays flat); and
// 200 keys (some binary) written before the fuzz by a well-behaved client read back byte for byte.
// No timers: each fuzz connection writes, ends its side and is read until the server closes it.
import { connect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import t from 'tap';
import { Rng } from '../src/bench/workload.js';
import { startCluster } from './helpers/cluster.js';
import { serve, startResp } from './helpers/resp.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_c0de) >>> 0;
const CONNECTIONS = 60;
const BATCH = 10;
const KNOWN = 200;

/** A small seeded generator (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

const rand = prng(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));

const frame = (...args: (string | Buffer)[]): Buffer =>
  Buffer.concat([
    Buffer.from(`*${args.length}\r\n`),
    ...args.flatMap((a) => {
      const b = typeof a === 'string' ? Buffer.from(a, 'latin1') : a;
      return [Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')];
    }),
  ]);

/** Fuzz keys live under `fz:`; the known keys under `known:` can never be named by a mutation. */
const fkey = (): string => `fz:${int(20)}`;

/** A valid request; none touches every key (no FLUSHALL, RENAME to arbitrary names, …). */
function validCommand(): Buffer {
  switch (int(14)) {
    case 0:
      return frame('SET', fkey(), bytes(int(64)));
    case 1:
      return frame('GET', fkey());
    case 2:
      return frame('DEL', fkey(), fkey());
    case 3:
      return frame('INCR', fkey());
    case 4:
      return frame('APPEND', fkey(), bytes(int(32)));
    case 5:
      return frame('MGET', fkey(), fkey(), fkey());
    case 6:
      return frame('PING');
    case 7:
      return frame('ECHO', bytes(int(40)));
    case 8:
      return frame('GETRANGE', fkey(), String(int(10)), String(int(10) - 3));
    case 9:
      return frame('SETRANGE', fkey(), String(int(100)), bytes(int(16)));
    case 10:
      return frame('EXPIRE', fkey(), String(int(1000) + 100));
    case 11:
      return frame('STRLEN', fkey());
    case 12:
      return Buffer.from(`${pick(['PING', 'ECHO hi', `GET ${fkey()}`, `SET ${fkey()} "a\\x00b"`])}\r\n`, 'latin1');
    default:
      return frame(pick(['NOSUCHCMD', 'set', 'Get', 'EXISTS']), fkey(), 'x');
  }
}

/** Flips 1–3 bytes of a frame. */
function flip(b: Buffer): Buffer {
  const out = Buffer.from(b);
  for (let i = 1 + int(3); i > 0 && out.length > 0; i--) out[int(out.length)]! ^= 1 + int(255);
  return out;
}

const truncate = (b: Buffer): Buffer => b.subarray(0, int(b.length));

/** Hand-picked hostile frames: lengths that lie, are negative, or declare far more than is sent. */
function nasty(): Buffer {
  const s = pick([
    '$5\r\nab\r\n',
    '*2\r\n$3\r\nGET\r\n$5\r\nab\r\n',
    '*2\r\n$3\r\nGET\r\n$1\r\nabc\r\n',
    '*-5\r\n',
    '*-1\r\nPING\r\n',
    '*2\r\n$-7\r\nab\r\n',
    '*1\r\n$-1\r\n',
    '*999999999\r\n',
    '*999999999\r\n$3\r\nGET\r\n',
    '*1\r\n$2000000000\r\n',
    '*2\r\n$3\r\nSET\r\n$2000000000\r\nabc',
    '*1025\r\n',
    '*1024\r\n$4\r\nPING\r\n',
    '*1\r\n$1048577\r\n',
    '*1\r\n$1048576\r\nonly a little',
    '*3\r\n$3\r\nSET\r\n$4\r\nfz:0\r\n$99999999999999\r\n',
    '*1\r\n$12a\r\n',
    '*1x\r\n',
    '*\r\n',
    '$\r\n',
    '*1\r\n:5\r\n',
    'set "abc def\r\n',
    "set 'abc\r\n",
    'get "a"b\r\n',
    'echo "\\x4"\r\n',
    '"\r\n',
    `${'A'.repeat(5000)}\r\n`,
    `*${'9'.repeat(5000)}`,
    `*1\r\n$${'1'.repeat(5000)}`,
  ]);
  return Buffer.from(s, 'latin1');
}

/** One connection's input: a short pipeline of valid, mutated, hostile and random pieces. */
function fuzzInput(): Buffer {
  const parts: Buffer[] = [];
  for (let n = 1 + int(4); n > 0; n--) {
    const kind = int(7);
    if (kind === 0) parts.push(validCommand());
    else if (kind === 1) parts.push(flip(validCommand()));
    else if (kind === 2) parts.push(truncate(validCommand()));
    else if (kind === 3) parts.push(nasty());
    else if (kind === 4) parts.push(flip(nasty()));
    else if (kind === 5) parts.push(bytes(int(2000)));
    else parts.push(Buffer.concat([validCommand(), validCommand()]));
  }
  return Buffer.concat(parts);
}

/** Cuts `b` into 1–5 pieces at random points. */
function split(b: Buffer): Buffer[] {
  const cuts = Array.from({ length: int(5) }, () => int(b.length + 1)).sort((x, y) => x - y);
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts, b.length]) {
    out.push(b.subarray(at, c));
    at = c;
  }
  return out.filter((p) => p.length > 0);
}

/** Writes `pieces` (one write each), ends our side, and resolves with everything read before the close. */
function exchange(port: number, pieces: Buffer[]): Promise<Buffer> {
  return new Promise((resolve) => {
    const sock: Socket = connect({ port, host: '127.0.0.1', noDelay: true });
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    sock.on('error', () => undefined); // EPIPE/ECONNRESET once the server has closed: expected
    sock.on('close', () => resolve(Buffer.concat(got)));
    sock.on('connect', () => {
      for (const p of pieces) sock.write(p);
      sock.end();
    });
  });
}

/** PING on a fresh connection; resolves with the reply, destroying the socket once it is complete. */
function ping(port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    let got = '';
    const done = (): void => {
      sock.destroy();
      resolve(got);
    };
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.endsWith('\r\n')) done();
    });
    sock.on('error', () => undefined);
    sock.on('close', done);
    sock.write('PING\r\n');
  });
}

const memory = (): number => {
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
};

t.test(`RESP fuzz (seed ${SEED.toString(16)})`, async (t) => {
  const cluster = await startCluster(t, { shards: 2 });
  const server = await startResp(t, cluster, {
    limits: { maxBulkBytes: 1024 * 1024, maxMultibulk: 1024, maxInline: 4096 },
    maxQueryBuffer: 4 * 1024 * 1024,
  });
  const { port } = server.context;

  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  t.teardown(() => redis.disconnect());
  await redis.connect();

  // The well-behaved client's data: every fourth value binary (CR, LF, NUL and high bytes).
  const known = new Map<string, Buffer>();
  for (let i = 0; i < KNOWN; i++) {
    const value =
      i % 4 === 0 ? Buffer.concat([bytes(int(300)), Buffer.from('\r\n\0\xff', 'latin1')]) : Buffer.from(`value-${i}-${int(1e9)}`);
    known.set(`known:${i}`, value);
  }
  const pipe = redis.pipeline();
  for (const [k, v] of known) pipe.set(k, v);
  const results = await pipe.exec();
  t.ok(
    results?.every(([err, r]) => err === null && r === 'OK'),
    'known keys written',
  );

  const base = memory();
  let peak = 0;
  let protocolErrors = 0;
  let replied = 0;
  let errorNotLast = 0;
  for (let batch = 0; batch < CONNECTIONS / BATCH; batch++) {
    const inputs = Array.from({ length: BATCH }, () => split(fuzzInput()));
    const replies = await Promise.all(inputs.map((pieces) => exchange(port, pieces)));
    for (const r of replies) {
      const text = r.toString('latin1');
      if (text.length > 0) replied++;
      const at = text.indexOf('-ERR Protocol error');
      if (at >= 0) {
        protocolErrors++;
        // The protocol error closes the connection: nothing may follow its line.
        if (text.indexOf('\r\n', at) + 2 !== text.length) errorNotLast++;
      }
    }
    t.equal(await ping(port), '+PONG\r\n', `server still serves after batch ${batch + 1}`);
    peak = Math.max(peak, memory() - base);
  }

  t.equal(errorNotLast, 0, 'a protocol error is always the last reply on its connection');
  t.ok(protocolErrors >= 5, `fuzz reached the protocol-error paths (${protocolErrors} connections)`);
  t.ok(replied > protocolErrors, `some fuzz connections got ordinary replies (${replied} replied)`);
  t.ok(peak < 64 * 1024 * 1024, `memory grew by ${(peak / 1024 / 1024).toFixed(1)} MB, not by declared sizes`);

  const keys = [...known.keys()];
  const values = await redis.mgetBuffer(...keys);
  const bad = keys.filter((k, i) => !(values[i] instanceof Buffer && values[i].equals(known.get(k)!)));
  t.same(bad, [], 'all known keys read back intact');
  t.equal(server.context.stats.connections >= CONNECTIONS, true, 'every fuzz connection reached the server');
});

// Found by this fuzz: the parser once recursed per empty inline line, so one read of ~10,000
// bare `\n` overflowed the stack and the exception killed the server, before AUTH.
t.test('many empty inline lines in one read', async (t) => {
  const cluster = await startCluster(t, { shards: 2 });
  const port = await serve(t, cluster);
  t.equal((await exchange(port, [Buffer.alloc(20_000, '\n'), Buffer.from('PING\r\n')])).toString(), '+PONG\r\n');
  t.equal(await ping(port), '+PONG\r\n', 'server still serves');
});
