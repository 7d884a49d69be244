// A short run of the shipped chaos check (npm run chaos): shards added, removed, killed and hung
// under a modelled load, with two copies of every key, and two killed at once (whose lost keys the
// crash reports must count exactly). Every counter of failure must be zero.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

const script = fileURLToPath(new URL('../bench/chaos.js', import.meta.url));

t.test('chaos, replicas 2: nothing lost, resurrected, stale or hung; kills of both copies reported exactly', async (t) => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [script, '--seconds', '4', '--replicas', '2', '--json'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.comment(stderr.trim());
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number> & { actions: Record<string, number> };
  t.match(result, { lost: 0, resurrected: 0, stale_reads: 0, hung_ops: 0, misreported: 0 });
  t.ok(result.actions['kill-r']! >= 1, 'the first cycle kills two shards at once');
  t.ok(result.killed_keys_lost! > 0, `${result.killed_keys_lost} keys lost their two copies`);
  t.equal(result.killed_keys_reported, result.killed_keys_lost, 'and the crash events counted exactly those');
  t.ok(result.acked_writes! > 1000, `${result.acked_writes} acked writes`);
  t.ok(result.actions.add! >= 1, 'the first action adds a shard');
  t.equal(result.epochs, result.actions.add! + result.actions.remove!, 'one epoch per add and per remove');
});

t.test('chaos rejects bad arguments with exit 2', async (t) => {
  for (const [args, message] of [
    [['--seconds', '0'], /--seconds must be a positive number/],
    [['--bogus'], /Unknown option '--bogus'/],
  ] as const) {
    const err = await promisify(execFile)(process.execPath, [script, ...args], { encoding: 'utf8' }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    t.equal(err?.code, 2, args.join(' '));
    t.match(err?.stderr, message);
  }
});
