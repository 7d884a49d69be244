// Protected mode as Redis has it: without a password, only loopback clients are served. Holds the
// loopback test and the refusal text for every surface (RESP here; REST can use the same); it
// never decides anything from a host name other than `localhost`.

/** Whether a peer's address (as net.Socket.remoteAddress gives it) is loopback: 127.0.0.0/8, ::1, ::ffff:127.x.x.x. */
export function isLoopback(address: string | undefined | null): boolean {
  if (address == null) return false;
  const a = address.toLowerCase();
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** Whether binding `host` (--host) keeps the server on loopback only; 0.0.0.0, :: and any other address expose it. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  return h.toLowerCase() === 'localhost' || isLoopback(h);
}

/** What a refused client is told (Redis's -DENIED reply, for shardcache's flags), without the `-` and CRLF. */
export const PROTECTED_MODE_MESSAGE =
  'DENIED shardcache is running in protected mode because protected mode is enabled and no password is set for the default user. ' +
  'In this mode connections are only accepted from the loopback interface. ' +
  'If you want to connect from external computers to shardcache you may adopt one of the following solutions: ' +
  "1) Restart it with '--requirepass <password>' and have clients authenticate (AUTH). " +
  "2) If the network is trusted and shardcache is NOT publicly accessible from the internet, restart it with the '--protected-mode no' option. " +
  'NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.';
