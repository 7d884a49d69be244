// Servers the benchmarks start for themselves on free loopback ports: `shardcache start` (the
// node process itself, so its worker threads count in its /proc stat) and redis-server (no
// persistence, in a directory of its own removed with it).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from './ports.js';

export interface Server {
  port: number;
  proc: ChildProcess;
  /** A redis-server's directory, removed by stop(). */
  dir?: string;
}

/** `shardcache start` on free ports with `args`; resolves with its RESP port once it printed its ready line (15 s at most). */
export async function startShardcache(args: string[] = [], stderr: 'inherit' | 'ignore' = 'inherit'): Promise<Server> {
  const run = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
  const proc = spawn(process.execPath, [run, 'start', '--http-port', '0', '--port', '0', ...args], { stdio: ['ignore', 'pipe', stderr] });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('shardcache start printed no ready line within 15 s')), 15_000);
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => {
      buf += chunk;
      const m = /ready: .*RESP redis:\/\/[^\s]+:(\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`shardcache start exited (${code}) before its ready line`));
    });
  });
  proc.stdout!.resume();
  return { port, proc };
}

/** redis-server with `args` on a free port; resolves once it accepts connections. */
export async function startRedis(args: string[] = []): Promise<Server> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'shardcache-bench-redis-'));
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args],
    {
      stdio: 'ignore',
    },
  );
  await waitForPort(port);
  return { port, proc, dir };
}

/** Stops a server: `signal`, then SIGKILL after 10 s; removes a redis-server's directory. */
export async function stop(s: Server, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
  if (s.proc.exitCode === null && s.proc.signalCode === null) {
    const exited = once(s.proc, 'exit');
    s.proc.kill(signal);
    const timer = setTimeout(() => s.proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (s.dir !== undefined) rmSync(s.dir, { recursive: true, force: true });
}
