// Runs bin/run.js as a user would, collecting its output, for the CLI tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));

export interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
}

/** Spawns `node bin/run.js ...args`, with `env` added to this process's environment. */
export function run(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return { child, out: () => out, err: () => err, exit };
}

/** Resolves with the first stdout line matching `re` (or rejects if the process exits first). */
export function waitFor(r: Run, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const m = re.exec(r.out());
      if (m !== null) {
        r.child.stdout!.off('data', check);
        resolve(m);
      }
    };
    r.child.stdout!.on('data', check);
    void r.exit.then((code) => reject(new Error(`exited ${code} before ${re}: ${r.out()} ${r.err()}`)));
    check();
  });
}

/** What a finished CLI run gave. */
export interface Done {
  code: number | null;
  out: string;
  err: string;
}

async function done(r: Run): Promise<{ code: number | null; out: string; err: string }> {
  const code = await r.exit;
  return { code, out: r.out(), err: r.err() };
}

/** Runs the CLI to its end. */
export function cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return done(run(args));
}

/** Runs the CLI to its end with `env` added to the environment. */
export function cliWithEnv(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return done(run(args, env));
}

/** The assertions oneLineError needs of a tap test. */
interface Asserts {
  equal(found: unknown, wanted: unknown, message: string): boolean;
  match(found: unknown, pattern: unknown, message: string): boolean;
  notMatch(found: unknown, pattern: unknown, message: string): boolean;
}

/** A runtime error as the user sees it: exit 1, exactly one line on stderr, no stack. */
export function oneLineError(t: Asserts, r: { code: number | null; out: string; err: string }, re: RegExp, what: string): void {
  t.equal(r.code, 1, `${what}: exit 1`);
  const lines = r.err.split('\n').filter((l) => l !== '');
  t.equal(lines.length, 1, `${what}: one line: ${r.err}`);
  t.match(lines[0], re, what);
  t.notMatch(r.err, /\bat .*\.js:\d+/, `${what}: no stack trace`);
  t.equal(r.out, '', `${what}: nothing on stdout`);
}

/**
 * Runs the CLI once per argument list, two at a time: each run loads oclif (about half a second of
 * CPU), and the suite runs beside other test files on small machines.
 */
export async function clis(argLists: string[][]): Promise<{ code: number | null; out: string; err: string }[]> {
  const results: { code: number | null; out: string; err: string }[] = [];
  for (let i = 0; i < argLists.length; i += 2) results.push(...(await Promise.all(argLists.slice(i, i + 2).map((a) => cli(...a)))));
  return results;
}
