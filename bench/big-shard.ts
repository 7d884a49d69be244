// bench:big-shard — one shard store past 2^24 keys, at real size: inserts 17M keys, reads a
// sample back, and prints timings, the longest single insert (an index rebuild), heap and shared memory.
//   npm run bench:big-shard -- [--keys 17000000]
import { parseArgs } from 'node:util';
import { ShardStore } from '../workers/store.js';

const { values } = parseArgs({ options: { keys: { type: 'string', default: '17000000' } } });
const n = Number(values.keys);
const store = new ShardStore();
const t0 = performance.now();
let longest = 0;
for (let i = 0; i < n; i++) {
  const a = performance.now();
  store.setPlain(`k${i}`, 'v');
  const d = performance.now() - a;
  if (d > longest) longest = d;
}
const t1 = performance.now();
let found = 0;
for (let i = 0; i < n; i += 97) if (store.get(`k${i}`) === 'v') found++;
const heap = process.memoryUsage().heapUsed;
console.log(
  `${store.size.toLocaleString('en')} keys in one shard: insert ${((t1 - t0) / 1000).toFixed(1)} s (longest single insert ` +
    `${longest.toFixed(0)} ms), sample reads ${found}/${Math.ceil(n / 97)} found, JS heap ${(heap / 2 ** 20).toFixed(0)} MiB, ` +
    `shared memory ${(store.table.reservedBytes / 2 ** 30).toFixed(2)} GiB, RSS ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB`,
);
if (store.size !== n || found !== Math.ceil(n / 97)) process.exit(1);
