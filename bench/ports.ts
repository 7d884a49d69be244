// Loopback port helpers for benchmarks that start servers of their own (redis-server, shardcache).
import { once } from 'node:events';
import { connect, createServer } from 'node:net';

/** A port free on 127.0.0.1 right now (the caller binds it soon after). */
export async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port (5 s at most). */
export async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on port ${port} within 5 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
