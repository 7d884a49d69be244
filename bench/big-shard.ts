// bench:big-shard — one shard store past V8's 2^24-entries-per-Map limit, at real size: inserts
// 17M keys, reads a sample back, and prints timings and heap use. Needs ~4 GB of heap.
//   npm run bench:big-shard -- [--keys 17000000]
import { parseArgs } from 'node:util';
import { ShardStore } from '../workers/store.js';

const { values } = parseArgs({ options: { keys: { type: 'string', default: '17000000' } } });
const n = Number(values.keys);
const store = new ShardStore();
const t0 = performance.now();
for (let i = 0; i < n; i++) store.setPlain(`k${i}`, 'v');
const t1 = performance.now();
let found = 0;
for (let i = 0; i < n; i += 97) if (store.get(`k${i}`) === 'v') found++;
const heap = process.memoryUsage().heapUsed;
console.log(
  `${store.size.toLocaleString('en')} keys in one shard (V8 caps one Map at ${(2 ** 24).toLocaleString('en')}): ` +
    `insert ${((t1 - t0) / 1000).toFixed(1)} s, sample reads ${found}/${Math.ceil(n / 97)} found, heap ${(heap / 2 ** 30).toFixed(2)} GiB`,
);
if (store.size !== n || found !== Math.ceil(n / 97)) process.exit(1);
