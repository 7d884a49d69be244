// The transfer form of migrating entries keeps every key and value exact.
import t from 'tap';
import { BINARY_MARK } from '../src/keys.js';
import { decodeEntries, encodeEntries, entryCount } from '../workers/entries.js';

t.test('round trip', async (t) => {
  // biome-ignore format: one entry (key, value, expireAt) per line
  const entries = [
    'plain', 'value', 0,
    '', '', 1_800_000_000_000.5,
    'ünïcødé ✓ 😀', 'värde ✓', 42,
    `${BINARY_MARK}\u00ff\u0000\u0080`, new Uint8Array([0, 255, 128]), 7,
    'lone \uD800 surrogate?', 'x'.repeat(10_000), 0,
  ];
  const buf = encodeEntries(entries);
  t.ok(buf instanceof ArrayBuffer);
  t.equal(entryCount(buf), 5);
  const out: unknown[] = [];
  t.equal(
    decodeEntries(buf, (k, v, at) => out.push(k, v, at)),
    5,
  );
  t.same(out, entries);
  t.equal(entryCount(encodeEntries([])), 0);
  t.equal(entryCount(new ArrayBuffer(0)), 0);
});
