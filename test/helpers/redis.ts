// A real redis-server on a free loopback port, for interop tests (installed by .ci/run).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../bench/ports.js';
import type { Teardown } from './cluster.js';

export const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

/** A running redis-server: its port, and a way to wait for a line of its log. */
export interface Redis {
  port: number;
  /** Resolves with the first log line (from start) matching `re`. */
  logLine(re: RegExp): Promise<string>;
}

/** Starts redis-server with `args` (no persistence), resolves once it accepts connections. */
export async function startRedisServer(t: Teardown, args: string[] = []): Promise<Redis> {
  const port = await freePort();
  // Its own directory: no dump.rdb read from, or left in, the working directory.
  const dir = mkdtempSync(join(tmpdir(), 'shardcache-redis-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  t.teardown(() => redis.kill('SIGKILL'));
  let out = '';
  const watchers = new Set<() => void>();
  redis.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of [...watchers]) w();
  });
  const logLine = (re: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const line = out.split('\n').find((l) => re.test(l));
        if (line !== undefined) {
          watchers.delete(check);
          resolve(line);
        }
      };
      watchers.add(check);
      redis.once('exit', (code) => reject(new Error(`redis-server exited ${code} before ${re}: ${out}`)));
      check();
    });
  await logLine(/Ready to accept connections/);
  return { port, logLine };
}

/** startRedisServer, resolving with the port. */
export async function startRedis(t: Teardown, args: string[] = []): Promise<number> {
  return (await startRedisServer(t, args)).port;
}
