// A whole data set through the Redis protocol, to compare a leader with its replica: every key
// (SCAN) with its value and absolute expiry (PEXPIRETIME). Works against shardcache and redis-server.
import type { RespClient } from '../../src/client/resp.js';

/** key → "value @expiry-ms" (-1: none), every key of database 0. */
export async function dumpAll(c: RespClient): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = (await c.call('SCAN', cursor, 'COUNT', '1000')) as [Buffer, Buffer[]];
    cursor = next.toString();
    const names = keys.map((k) => k.toString('latin1'));
    const vals = await Promise.all(names.map((k) => Promise.all([c.call('GET', k), c.call('PEXPIRETIME', k)])));
    for (let i = 0; i < names.length; i++) out.set(names[i]!, `${String(vals[i]![0])} @${String(vals[i]![1])}`);
  } while (cursor !== '0');
  return out;
}

/** The keys whose value or expiry differ (or that one side lacks), at most `max`. */
export function differences(a: Map<string, string>, b: Map<string, string>, max = 5): string[] {
  const out: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(k) !== b.get(k)) out.push(`${k}: ${a.get(k) ?? 'absent'} / ${b.get(k) ?? 'absent'}`);
    if (out.length >= max) break;
  }
  return out;
}
