// bench:output-buffers — what clients that never read their replies cost a `shardcache start`
// process (its RSS, read from /proc), and what a maxclients flood costs:
//  1. 4 clients pipelining GETs of a 1 MiB value and reading nothing.
//  2. 40 `PSYNC ? -1` clients reading nothing, against a data set of --dataset-mb.
//  3. 5,000 connection attempts over --maxclients: time, and RSS.
// Each figure is the peak RSS seen over --settle seconds, sampled every 100 ms, next to the idle RSS.
//
//   npm run bench:output-buffers -- [--gets 2000] [--dataset-mb 64] [--settle 5] [--flood 5000]
//                                   [--only gets,psync,flood] [--bin bin/run.js] [--json]
// --bin runs another build's bin/run.js (e.g. an older release, to compare).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RespClient } from '../src/client/resp.js';
import { encodeCommand } from '../src/resp/command-encoder.js';

const { values: args } = parseArgs({
  options: {
    gets: { type: 'string', default: '2000' },
    'dataset-mb': { type: 'string', default: '64' },
    settle: { type: 'string', default: '5' },
    flood: { type: 'string', default: '5000' },
    only: { type: 'string', default: 'gets,psync,flood' },
    bin: { type: 'string', default: fileURLToPath(new URL('../../bin/run.js', import.meta.url)) },
    json: { type: 'boolean', default: false },
  },
});
const MiB = 1024 * 1024;
const settleMs = Number(args.settle) * 1000;

/** `shardcache start` from --bin on free ports; resolves with the process and its RESP port. */
async function start(extra: string[]): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(
    process.execPath,
    [args.bin, 'start', '--http-port', '0', '--port', '0', '--shards', '2', '--log-level', 'error', ...extra],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  let out = '';
  proc.stdout!.setEncoding('utf8');
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.on('data', (d: string) => {
      out += d;
      const m = /RESP redis:\/\/[^\s]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', (code) => reject(new Error(`shardcache start exited (${code}) before its ready line`)));
  });
  return { proc, port };
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill('SIGKILL');
  await exited;
}

/** Resident set size of a process in MB (0 once it is gone). */
function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) / 1024;
  } catch {
    return 0;
  }
}

/** The peak RSS over `ms`, sampled every 100 ms. */
async function peakRss(pid: number, ms: number): Promise<number> {
  let peak = rssMb(pid);
  for (let t = 0; t < ms; t += 100) {
    await new Promise((r) => setTimeout(r, 100));
    peak = Math.max(peak, rssMb(pid));
  }
  return peak;
}

/** A socket that sends `bytes` and never reads (paused); counts whether the server closed it. */
async function nonReader(port: number, bytes: string | Buffer): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  await once(s, 'connect');
  s.pause();
  s.write(bytes);
  return s;
}

async function nonReadingGets(): Promise<Record<string, number>> {
  const { proc, port } = await start([]);
  try {
    const c = await RespClient.connect('127.0.0.1', port);
    await c.call('SET', 'big', 'x'.repeat(MiB));
    const idle = rssMb(proc.pid!);
    const gets = Buffer.concat(Array<Buffer>(Number(args.gets)).fill(encodeCommand(['GET', 'big'])));
    const socks = await Promise.all(Array.from({ length: 4 }, () => nonReader(port, gets)));
    const peak = await peakRss(proc.pid!, settleMs);
    // A server swamped by its clients' replies may not answer in time: its omem is then unknown (-1).
    const list = String(await c.call('CLIENT', 'LIST').catch(() => ''));
    const omem = [...list.matchAll(/omem=(\d+)/g)].map((m) => Number(m[1]));
    if (omem.length === 0) omem.push(-MiB, -MiB);
    const closed = socks.filter((s) => s.destroyed || s.readableEnded).length;
    for (const s of socks) s.destroy();
    await c.close();
    return { idleMb: idle, peakMb: peak, largestOmemMb: Math.max(...omem) / MiB, clientsLeft: omem.length - 1, closedSeen: closed };
  } finally {
    await stop(proc);
  }
}

async function nonReadingPsyncs(): Promise<Record<string, number>> {
  const { proc, port } = await start([]);
  try {
    const c = await RespClient.connect('127.0.0.1', port);
    const value = 'd'.repeat(256 * 1024);
    const keys = Math.ceil((Number(args['dataset-mb']) * MiB) / value.length);
    for (let i = 0; i < keys; i += 64)
      await Promise.all(Array.from({ length: Math.min(64, keys - i) }, (_, j) => c.call('SET', `k${i + j}`, value)));
    const idle = rssMb(proc.pid!);
    const socks = await Promise.all(Array.from({ length: 40 }, () => nonReader(port, 'PSYNC ? -1\r\n')));
    const peak = await peakRss(proc.pid!, settleMs);
    const info = String(await c.call('INFO', 'replication').catch(() => ''));
    const attached = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? -1);
    for (const s of socks) s.destroy();
    await c.close();
    return { datasetMb: Number(args['dataset-mb']), idleMb: idle, peakMb: peak, replicasStillAttached: attached };
  } finally {
    await stop(proc);
  }
}

async function flood(): Promise<Record<string, number>> {
  const { proc, port } = await start(['--maxclients', '10']);
  try {
    const holders = await Promise.all(Array.from({ length: 10 }, () => RespClient.connect('127.0.0.1', port)));
    const idle = rssMb(proc.pid!);
    const n = Number(args.flood);
    let refused = 0;
    let peak = idle;
    const began = performance.now();
    for (let i = 0; i < n; i += 500) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(500, n - i) }, async () => {
          const s = connect(port, '127.0.0.1');
          s.on('error', () => undefined);
          let got = '';
          s.on('data', (d: Buffer) => (got += d.toString()));
          await once(s, 'close');
          return got;
        }),
      );
      refused += batch.filter((g) => g.startsWith('-ERR max number of clients reached')).length;
      peak = Math.max(peak, rssMb(proc.pid!));
    }
    const seconds = (performance.now() - began) / 1000;
    for (const h of holders) await h.close();
    return { attempts: n, refused, seconds, perSecond: n / seconds, idleMb: idle, peakMb: peak };
  } finally {
    await stop(proc);
  }
}

const only = new Set(args.only.split(','));
const results = {
  nonReadingGets: only.has('gets') ? await nonReadingGets() : null,
  nonReadingPsyncs: only.has('psync') ? await nonReadingPsyncs() : null,
  maxclientsFlood: only.has('flood') ? await flood() : null,
};
const mb = (x: number): string => `${x.toFixed(0)} MB`;
const g = results.nonReadingGets;
const p = results.nonReadingPsyncs;
const f = results.maxclientsFlood;
if (args.json) console.log(JSON.stringify(results, null, 2));
else {
  if (g !== null) {
    console.log(
      `4 clients × ${args.gets} GETs of a 1 MiB value, none read: RSS ${mb(g.idleMb!)} idle → peak ${mb(g.peakMb!)}; largest omem ${g.largestOmemMb!.toFixed(1)} MiB`,
    );
  }
  if (p !== null) {
    console.log(
      `40 PSYNC ? -1 clients, none read, ${p.datasetMb} MB data set: RSS ${mb(p.idleMb!)} idle → peak ${mb(p.peakMb!)}; still attached: ${p.replicasStillAttached}`,
    );
  }
  if (f !== null) {
    console.log(
      `${f.attempts} connections over --maxclients 10: ${f.refused} refused in ${f.seconds!.toFixed(2)} s (${f.perSecond!.toFixed(0)}/s); RSS ${mb(f.idleMb!)} idle → peak ${mb(f.peakMb!)}`,
    );
  }
}
