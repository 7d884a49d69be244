// `shardcache bench` against network targets, as a user runs it: resp:// (a shardcache RESP port
// in this process; a real redis-server when installed) and http:// (shardcache REST), driven from
// load generator threads; the JSON schema; --compare; an open loop that keeps its rate; errors
// (failing targets: bench-failures.test.ts).
import t, { type Test } from 'tap';
import { freePort } from '../bench/ports.js';
import { parseTarget } from '../src/bench/targets.js';
import { cli, clis, oneLineError } from './helpers/cli.js';
import { serveRest, startCluster } from './helpers/cluster.js';
import { hasRedis, startRedis } from './helpers/redis.js';
import { serve } from './helpers/resp.js';

const OPS = ['get', 'set', 'del', 'incr', 'mget', 'update', 'insert', 'rmw'];

/** Checks one run's JSON figures field by field. */
function checkRun(t: Test, r: Record<string, unknown>, what: string): void {
  t.type(r.target, 'string', `${what}: target`);
  for (const k of ['seconds', 'ops', 'errors', 'opsPerSec', 'allOps'])
    t.ok(typeof r[k] === 'number' && (r[k] as number) >= 0, `${what}: ${k}`);
  t.ok(r.firstError === null || typeof r.firstError === 'string', `${what}: firstError`);
  t.ok(Array.isArray(r.perOp) && (r.perOp as unknown[]).length > 0, `${what}: perOp`);
  for (const f of r.perOp as Record<string, unknown>[]) {
    t.ok(OPS.includes(f.op as string), `${what}: op ${String(f.op)}`);
    for (const k of ['count', 'errors', 'mean', 'p50', 'p90', 'p99', 'p999', 'max'])
      t.ok(Number.isInteger(f[k]), `${what}: ${String(f.op)}.${k}`);
    const [p50, p90, p99, p999, max] = ['p50', 'p90', 'p99', 'p999', 'max'].map((k) => f[k] as number);
    t.ok(p50! <= p90! && p90! <= p99! && p99! <= p999! && p999! <= max!, `${what}: ${String(f.op)} percentiles ordered`);
  }
  t.equal(
    (r.perOp as { count: number }[]).reduce((s, f) => s + f.count, 0),
    r.ops,
    `${what}: per-op counts add up to ops (the ones that succeeded)`,
  );
  t.equal(
    (r.perOp as { errors: number }[]).reduce((s, f) => s + f.errors, 0),
    r.errors,
    `${what}: per-op errors add up`,
  );
  t.ok(r.startLag === null || (r.startLag as { p99: number }).p99 >= 1, `${what}: startLag`);
  const cpu = r.cpu as Record<string, unknown>;
  for (const k of ['threads', 'seconds', 'percentOfCore', 'usPerOp'])
    t.ok(typeof cpu[k] === 'number' && (cpu[k] as number) >= 0, `${what}: cpu.${k}`);
  t.type(cpu.includesServer, 'boolean');
}

t.test('--target parsing', async (t) => {
  t.same(parseTarget('embedded'), { kind: 'embedded', name: 'embedded' });
  t.same(parseTarget('resp://127.0.0.1:7000'), {
    kind: 'resp',
    name: 'resp://127.0.0.1:7000',
    host: '127.0.0.1',
    port: 7000,
    user: null,
    password: null,
  });
  t.same(parseTarget('redis://:p%40ss@localhost'), {
    kind: 'resp',
    name: 'resp://localhost',
    host: 'localhost',
    port: 6379,
    user: null,
    password: 'p@ss',
  });
  t.match(parseTarget('resp://default:pw@[::1]:7000'), { host: '::1', port: 7000, user: 'default', password: 'pw' });
  t.same(parseTarget('http://127.0.0.1'), { kind: 'http', name: 'http://127.0.0.1', host: '127.0.0.1', port: 80, authorization: null });
  const basicPw = `Basic ${Buffer.from('default:pw').toString('base64')}`;
  t.match(
    parseTarget('http://default:pw@127.0.0.1:8080'),
    { name: 'http://127.0.0.1:8080', authorization: basicPw },
    'user:pass@, not in the name',
  );
  t.match(parseTarget('http://127.0.0.1:8080', 'pw'), { authorization: basicPw }, '--password');
  t.match(parseTarget('resp://127.0.0.1:1', 'pw'), { user: null, password: 'pw' }, '--password for AUTH');
  t.match(parseTarget('resp://:url@127.0.0.1:1', 'flag'), { password: 'url' }, "the URL's password first");
  t.throws(() => parseTarget('127.0.0.1:6379'), /is not a URL \(embedded, resp:\/\/host:port or http:\/\/host:port\)/);
  t.throws(() => parseTarget('resp://127.0.0.1:99999'), /is not a URL/);
  t.throws(() => parseTarget('resp://admin@127.0.0.1:1'), /a user needs a password/);
  t.throws(() => parseTarget('nonsense'), /is not a URL/);
  t.throws(() => parseTarget('https://x:1'), /scheme must be/);
  t.throws(() => parseTarget('http://x:1/keys'), /no path or query/);
});

t.test('resp:// and http:// targets from load generator threads: JSON figures', async (t) => {
  const cluster = await startCluster(t, { shards: 2 });
  const resp = await serve(t, cluster);
  const rest = await serveRest(t, cluster);
  const [r, h] = await clis([
    [
      'bench',
      '--target',
      `resp://127.0.0.1:${resp}`,
      '--mix',
      'get=3,set=1,incr=1,mget=1,del=1',
      '--ops',
      '6000',
      '--keys',
      '300',
      '--connections',
      '4',
      '--pipeline',
      '8',
      '--threads',
      '2',
      '--json',
    ],
    ['bench', '--target', rest, '--workload', 'A', '--ops', '600', '--keys', '100', '--connections', '4', '--threads', '2', '--json'],
  ]);
  t.equal(r!.code, 0, r!.err);
  const rj = JSON.parse(r!.out) as Record<string, unknown>;
  checkRun(t, rj, 'resp');
  t.match(rj, {
    target: `resp://127.0.0.1:${resp}`,
    ops: 6000,
    errors: 0,
    firstError: null,
    workload: 'custom',
    loop: 'closed',
    rate: null,
  });
  t.match(rj.cpu, { threads: 2, includesServer: false });
  t.same((rj.perOp as { op: string }[]).map((f) => f.op).sort(), ['del', 'get', 'incr', 'mget', 'set']);
  t.equal(h!.code, 0, h!.err);
  const hj = JSON.parse(h!.out) as Record<string, unknown>;
  checkRun(t, hj, 'http');
  t.match(hj, { target: rest.replace('http://', 'http://'), ops: 600, errors: 0, workload: 'A' });
  // The preload wrote every key through the threads, each its share, and the incr counters exist.
  t.equal((await cluster.dbsize()) >= 300, true, 'the preload reached the server');
  t.ok((await cluster.get('key:000000000299')) !== null, 'the last preloaded key is there');
});

t.test('--compare: A B A B, medians and ratios', async (t) => {
  const cluster = await startCluster(t, { shards: 2 });
  const resp = await serve(t, cluster);
  const other = await startCluster(t, { shards: 1 });
  const resp2 = await serve(t, other);
  const r = await cli(
    'bench',
    '--target',
    `resp://127.0.0.1:${resp}`,
    '--compare',
    `resp://127.0.0.1:${resp2}`,
    '--pairs',
    '2',
    '--workload',
    'B',
    '--ops',
    '2000',
    '--keys',
    '200',
    '--connections',
    '2',
    '--pipeline',
    '4',
    '--json',
  );
  t.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as {
    compare: boolean;
    pairs: number;
    a: { target: string; runs: number; opsPerSec: number; perOp: Record<string, number | string>[] };
    b: { target: string; runs: number; opsPerSec: number; perOp: Record<string, number | string>[] };
    ratios: { opsPerSec: number; perOp: Record<string, number | string>[] };
    runs: ({ pair: number; side: string } & Record<string, unknown>)[];
  };
  t.match(j, {
    compare: true,
    pairs: 2,
    a: { target: `resp://127.0.0.1:${resp}`, runs: 2 },
    b: { target: `resp://127.0.0.1:${resp2}`, runs: 2 },
  });
  t.same(
    j.runs.map((x) => `${x.pair}${x.side}`),
    ['1a', '1b', '2a', '2b'],
    'alternating',
  );
  for (const run of j.runs) checkRun(t, run, `run ${run.pair}${run.side}`);
  const ofSide = (s: string): number[] => j.runs.filter((x) => x.side === s).map((x) => x.opsPerSec as number);
  const mid = (v: number[]): number => Math.round((v[0]! + v[1]!) / 2);
  t.equal(j.a.opsPerSec, mid(ofSide('a')), 'A: the median of its runs');
  t.equal(j.b.opsPerSec, mid(ofSide('b')), 'B: the median of its runs');
  t.equal(j.ratios.opsPerSec, Math.round((j.a.opsPerSec / j.b.opsPerSec) * 1000) / 1000, 'ratio A/B');
  const getA = j.a.perOp.find((f) => f.op === 'get')!;
  const getB = j.b.perOp.find((f) => f.op === 'get')!;
  const getQ = j.ratios.perOp.find((f) => f.op === 'get')!;
  t.equal(getQ.p99, Math.round(((getA.p99 as number) / (getB.p99 as number)) * 1000) / 1000, 'latency ratio');

  const table = await cli(
    'bench',
    '--target',
    `resp://127.0.0.1:${resp}`,
    '--compare',
    'embedded',
    '--pairs',
    '1',
    '--ops',
    '500',
    '--keys',
    '50',
    '--connections',
    '2',
  );
  t.equal(table.code, 0, table.err);
  t.match(table.out, new RegExp(`^A = resp://127.0.0.1:${resp}, B = embedded \\(3 shards\\): run alternately`, 'm'));
  t.match(table.out, /^median\s+[\d,]+\s+[\d,]+\s+A\/B [\d.]+$/m);
  t.match(table.out, /^get\s+p99\.9\s+[\d,]+\s+[\d,]+\s+[\d.]+$/m);
});

t.test('open loop: the rate is kept (within 10%), latency counted from when each op was due', async (t) => {
  const cluster = await startCluster(t, { shards: 2 });
  const resp = await serve(t, cluster);
  const [net, emb] = await clis([
    ['bench', '--target', `resp://127.0.0.1:${resp}`, '--rate', '2000', '--duration', '1', '--keys', '100', '--connections', '4', '--json'],
    ['bench', '--rate', '1000', '--duration', '1', '--keys', '100', '--connections', '2', '--workload', 'A', '--json'],
  ]);
  for (const [r, rate, what] of [
    [net!, 2000, 'resp'],
    [emb!, 1000, 'embedded'],
  ] as const) {
    t.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as Record<string, unknown> & { ops: number; opsPerSec: number };
    checkRun(t, j, what);
    t.match(j, { loop: 'open', rate, errors: 0 });
    t.ok(Math.abs(j.ops - rate) <= rate * 0.01, `${what}: ${j.ops} ops due in 1 s at ${rate}/s`);
    t.ok(Math.abs(j.opsPerSec - rate) <= rate * 0.1, `${what}: ${j.opsPerSec} ops/s measured, ${rate} asked`);
  }
});

t.test('errors: counted per op with the first one shown; unusable targets refused clearly', async (t) => {
  // A full cluster refuses writes (noeviction): the bench counts them and says why.
  const full = await startCluster(t, { shards: 1, maxMemoryBytes: 4096 });
  const fullPort = await serve(t, full);
  const auth = await startCluster(t, { shards: 1 });
  const authPort = await serve(t, auth, { password: 'sesame' });
  const closed = await freePort();
  const rest = await serveRest(t, auth);
  const [oom, noAuth, withAuth, refused, notResp, httpIncr, badTarget] = await clis([
    [
      'bench',
      '--target',
      `resp://127.0.0.1:${fullPort}`,
      '--mix',
      'get=1,set=1',
      '--no-preload',
      '--ops',
      '400',
      '--keys',
      '50',
      '--connections',
      '2',
    ],
    ['bench', '--target', `resp://127.0.0.1:${authPort}`, '--ops', '100'],
    ['bench', '--target', `resp://:sesame@127.0.0.1:${authPort}`, '--ops', '200', '--keys', '20', '--connections', '2', '--json'],
    ['bench', '--target', `resp://127.0.0.1:${closed}`, '--ops', '100'],
    ['bench', '--target', rest.replace('http', 'resp'), '--ops', '100'],
    ['bench', '--target', rest, '--mix', 'get=1,incr=1'],
    ['bench', '--target', 'tcp://127.0.0.1:1'],
  ]);
  t.equal(oom!.code, 0, oom!.err);
  const setRow = /^set\s+([\d,]+)\s+([\d,]+)\s/m.exec(oom!.out);
  t.ok(setRow !== null && Number(setRow[2]!.replace(/,/g, '')) > 0, `set errors counted: ${oom!.out}`);
  t.match(oom!.out, /^first error: set: OOM command not allowed when used memory > 'maxmemory'/m);
  t.match(oom!.out, /^get\s+[\d,]+\s+0\s/m, 'reads still succeed');
  oneLineError(t, noAuth!, /answered PING with an error: NOAUTH Authentication required/, 'no password');
  t.equal(withAuth!.code, 0, withAuth!.err);
  t.match(JSON.parse(withAuth!.out), { errors: 0, ops: 200 });
  oneLineError(t, refused!, new RegExp(`cannot connect to resp://127.0.0.1:${closed}: ECONNREFUSED`), 'refused');
  oneLineError(t, notResp!, /not a Redis-protocol reply/, 'an HTTP port');
  t.equal(httpIncr!.code, 2);
  t.match(httpIncr!.err, /the http target has no incr: use resp:\/\//);
  t.equal(badTarget!.code, 2);
  t.match(badTarget!.err, /scheme must be resp:\/\/ or http:\/\//);
});

t.test(
  'a real redis-server as the target',
  { skip: hasRedis ? false : 'redis-server not installed (apt-get install redis-server)' },
  async (t) => {
    const port = await startRedis(t);
    const r = await cli(
      'bench',
      '--target',
      `resp://127.0.0.1:${port}`,
      '--workload',
      'F',
      '--ops',
      '2000',
      '--keys',
      '100',
      '--connections',
      '2',
      '--pipeline',
      '4',
      '--json',
    );
    t.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as Record<string, unknown>;
    checkRun(t, j, 'redis-server');
    t.match(j, { ops: 2000, errors: 0, workload: 'F' });
    t.same((j.perOp as { op: string }[]).map((f) => f.op).sort(), ['get', 'rmw']);
  },
);
