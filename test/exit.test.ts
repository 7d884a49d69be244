// A host process ends by itself: after close(), and even when it never calls close()
// (idle shard workers are unref'd), without process.exit.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const script = fileURLToPath(new URL('./fixtures/host-app.js', import.meta.url));

function run(mode: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

t.test('exits by itself after close()', async (t) => {
  const r = await run('close');
  t.equal(r.code, 0, r.err);
  t.equal(r.out, 'v999 true closed\n');
});

t.test('exits by itself when the host forgets close()', async (t) => {
  const r = await run('open');
  t.equal(r.code, 0, r.err);
  t.equal(r.out, 'v999 left open\n');
});
