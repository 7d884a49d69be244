// `shardcache cluster status`: a running server's membership, per-shard keys and bytes, and the
// migration in progress, from GET /cluster. Prints; never changes the cluster.
import { Command, Flags } from '@oclif/core';
import { callServer, passwordFlag, urlFlag } from '../../commands-shared/rest-command.js';
import type { ClusterView, MigrationView, ShardView } from '../../server/rest-cluster.js';

export default class ClusterStatus extends Command {
  static override summary = "Show a running server's shards, their keys and bytes, and any migration.";
  static override description =
    'Asks the server at --url (GET /cluster) for its ring epoch, every shard with its state, keys and ' +
    'estimated bytes, and the progress of a membership change in flight. --json prints the reply as sent.';

  static override examples = ['<%= config.bin %> cluster status', '<%= config.bin %> cluster status --url http://10.0.0.5:9090 --json'];

  static override flags = {
    url: urlFlag,
    password: passwordFlag,
    json: Flags.boolean({ description: 'print the JSON reply instead of a table', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ClusterStatus);
    const { view, text } = await callServer(this, flags, (c) => c.cluster());
    this.log(flags.json ? text : render(view, Date.now()));
  }
}

/** The status as a table: a summary line, one row per shard, the migration line. */
export function render(view: ClusterView, now: number): string {
  const copies = sum(view.shards.map((s) => s.keys));
  const bytes = sum(view.shards.map((s) => s.bytes));
  // Keys once each; with replicas the shards' counts add up to the copies.
  const keys = view.replicas > 1 ? `${count(view.keys)} keys (${count(copies)} copies)` : `${count(view.keys)} keys`;
  const head = `epoch ${view.epoch}, ${view.shards.length} shard${view.shards.length === 1 ? '' : 's'}, ${keys}, ${size(bytes)}`;
  const rows = [
    ['SHARD', 'ID', 'STATE', 'KEYS', 'BYTES', 'CRASHES', 'PENDING'],
    ...view.shards.map((s: ShardView) => [
      s.name,
      String(s.id),
      s.state,
      count(s.keys),
      size(s.bytes),
      String(s.crashes),
      String(s.pending),
    ]),
  ];
  return [head, ...table(rows, [false, true, false, true, true, true, true]), `migration: ${migration(view, now)}`].join('\n');
}

function migration(view: ClusterView, now: number): string {
  const m: MigrationView | null = view.migration;
  if (m === null) return 'none';
  const name = view.shards.find((s) => s.id === m.shardId)?.name ?? `shard ${m.shardId}`;
  const pct = m.rangesTotal === 0 ? 100 : Math.floor((100 * m.rangesDone) / m.rangesTotal);
  const secs = Math.max(0, now - m.startedAt) / 1000;
  return (
    `${m.kind === 'add' ? 'adding' : 'removing'} ${name} (epoch ${m.epoch}): ${m.rangesDone}/${m.rangesTotal} ranges ` +
    `(${pct}%), ${count(m.keysMoved)} keys moved, ${secs.toFixed(1)} s`
  );
}

/** Columns padded to their widest cell; `right[i]` right-aligns column i (numbers). */
function table(rows: string[][], right: boolean[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

function sum(values: (number | null)[]): number | null {
  return values.some((v) => v === null) ? null : values.reduce<number>((a, b) => a + b!, 0);
}

function count(n: number | null): string {
  return n === null ? '-' : String(n);
}

/** Bytes for people: 512 B, 44.1 KiB, 3.0 MiB. */
function size(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}
