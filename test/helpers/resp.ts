// A RESP server on a free loopback port for a test, and a raw connection to it that reads
// replies byte-exact.
import { once } from 'node:events';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import type { Test } from 'tap';
import { RespClient } from '../../src/client/resp.js';
import { encodeCommand } from '../../src/resp/command-encoder.js';
import type { Cluster } from '../../src/index.js';
import { createRespServer, type RespServer, type RespServerOptions } from '../../src/server/resp/server.js';
import { listen } from '../../src/server/rest.js';
import type { Teardown } from './cluster.js';

/** A RESP server for `cluster` on a free loopback port (or `port`), closed with the test. */
export async function startResp(t: Teardown, cluster: Cluster, options: RespServerOptions = {}, port = 0): Promise<RespServer> {
  const server = createRespServer(cluster, options);
  await listen(server, port, '127.0.0.1');
  t.teardown(() => {
    server.destroyConnections();
    server.close();
  });
  return server;
}

/** startResp, resolving with the port. */
export async function serve(t: Teardown, cluster: Cluster, options: RespServerOptions = {}): Promise<number> {
  return (await startResp(t, cluster, options)).context.port;
}

/** A raw connection: send bytes, read until `expect` bytes of reply have arrived (or the close). */
export class Raw {
  #sock: Socket;
  /** What arrived and was not read yet: joined only when read (a long reply comes in many pieces). */
  #chunks: Buffer[] = [];
  #length = 0;
  #waiters: (() => void)[] = [];
  closed = false;
  constructor(port: number) {
    this.#sock = connect(port, '127.0.0.1');
    this.#sock.on('data', (d: Buffer) => {
      this.#chunks.push(d);
      this.#length += d.length;
      for (const w of this.#waiters.splice(0)) w();
    });
    this.#sock.on('close', () => {
      this.closed = true;
      for (const w of this.#waiters.splice(0)) w();
    });
  }
  send(s: string | Buffer): void {
    this.#sock.write(s);
  }
  /** Sends one command, as a client library would encode it. */
  command(...args: string[]): void {
    this.#sock.write(encodeCommand(args));
  }
  /** Bytes arrived and not read yet. */
  get unread(): number {
    return this.#length;
  }
  /** Waits for exactly `text` (as latin1) to have arrived, and returns what did. */
  async read(length: number): Promise<string> {
    while (this.#length < length && !this.closed) await new Promise<void>((r) => this.#waiters.push(r));
    const all = this.#buf;
    const out = all.subarray(0, length);
    this.#chunks = out.length < all.length ? [all.subarray(out.length)] : [];
    this.#length = all.length - out.length;
    return out.toString('latin1');
  }
  /** Everything unread, as one Buffer. */
  get #buf(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }
  /** Reads as many bytes as `want` has (to compare with it). */
  expect(want: string): Promise<string> {
    return this.read(Buffer.byteLength(want, 'latin1'));
  }
  /** Reads until `marker` has arrived; returns everything up to and including it. */
  async until(marker: string): Promise<string> {
    for (;;) {
      const at = this.#buf.indexOf(marker, 0, 'latin1');
      if (at >= 0) return this.read(at + marker.length);
      if (this.closed) return this.read(this.#buf.length);
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }
  /** Reads one bulk-string reply and returns its body. */
  async bulk(): Promise<string> {
    const head = await this.until('\r\n');
    const len = Number(/^\$(-?\d+)\r\n$/.exec(head)?.[1] ?? Number.NaN);
    if (!(len >= 0)) throw new Error(`not a bulk reply: ${JSON.stringify(head)}`);
    return (await this.read(len + 2)).slice(0, len);
  }
  /** Stops (and resumes) reading from the socket: the server's writes back up. */
  pause(): void {
    this.#sock.pause();
  }
  resume(): void {
    this.#sock.resume();
  }
  async closedByServer(): Promise<void> {
    if (!this.closed) await once(this.#sock, 'close');
  }
  end(): void {
    this.#sock.destroy();
  }
}

/** Reads as many bytes as `want` from `r` and compares. */
export async function check(t: Test, r: Raw, want: string, msg?: string): Promise<void> {
  t.equal(await r.expect(want), want, msg ?? JSON.stringify(want));
}

/**
 * A server of our own making that speaks just enough RESP for failure cases: it splits what each
 * client sends into commands (arrays of bulk strings) and hands each to `onCommand` with the
 * socket, which answers (or not) as the case needs. Closed with the test; resolves with its port.
 */
export async function commandServer(t: Teardown, onCommand: (args: string[], socket: Socket) => void): Promise<number> {
  const server = createNetServer((socket) => {
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const m = /^\*(\d+)\r\n/.exec(buf);
        if (m === null) return;
        let at = m[0].length;
        const args: string[] = [];
        for (let i = 0; i < Number(m[1]); i++) {
          const h = /^\$(\d+)\r\n/.exec(buf.slice(at));
          if (h === null || buf.length < at + h[0].length + Number(h[1]) + 2) return;
          args.push(buf.slice(at + h[0].length, at + h[0].length + Number(h[1])));
          at += h[0].length + Number(h[1]) + 2;
        }
        buf = buf.slice(at);
        onCommand(args, socket);
        if (socket.destroyed) return;
      }
    });
    socket.on('error', () => undefined);
  });
  const { port } = await listen(server, 0, '127.0.0.1');
  t.teardown(() => server.close());
  return port;
}

/** Warn lines a server logged (its `log` option), and a way to wait for one. */
export class Logs {
  lines: { obj: Record<string, unknown>; msg: string }[] = [];
  #waiters: (() => void)[] = [];
  readonly log = {
    info: (): void => undefined,
    warn: (obj: object, msg: string): void => {
      this.lines.push({ obj: obj as Record<string, unknown>, msg });
      for (const w of this.#waiters.splice(0)) w();
    },
  };
  async waitFor(count: number): Promise<void> {
    while (this.lines.length < count) await new Promise<void>((r) => this.#waiters.push(r));
  }
}

/** A RESP client of the server on `port`, closed with the test. */
export async function respClient(t: Teardown, port: number): Promise<RespClient> {
  const c = await RespClient.connect('127.0.0.1', port);
  t.teardown(() => c.close());
  return c;
}
