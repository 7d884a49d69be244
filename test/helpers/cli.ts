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

/** Spawns `node bin/run.js ...args`. */
export function run(args: string[]): Run {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
