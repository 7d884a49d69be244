// `shardcache start`: a local cluster with the REST API. Parses flags, starts the library's
// pieces, logs one ready line, shuts down cleanly on SIGINT/SIGTERM.
import { Command, Flags } from '@oclif/core';
import type { AddressInfo } from 'node:net';
import { type Cluster, createCluster } from '../cluster.js';
import { CacheError } from '../errors.js';
import { EVICTION_POLICIES } from '../options.js';
import { createRespServer } from '../server/resp/server.js';
import { createMetrics } from '../server/metrics.js';
import { AuthFailures } from '../server/auth.js';
import { isLoopbackHost } from '../server/protected.js';
import { parseOutputLimits } from '../resp/output-limits.js';
import { closeRestServer, createRestServer, listen } from '../server/rest.js';
import { createLogger, type LogLevel, LOG_LEVELS, logCluster } from '../server/log.js';
import { parseHostPort } from '../replication/replica.js';
import { parseBytes } from '../units.js';
import { NAME, VERSION } from '../version.js';

export default class Start extends Command {
  static override summary = 'Start a local shardcache cluster with its REST API.';
  static override description =
    'Starts SHARDS shard worker threads on a consistent-hash ring behind one coordinator, and serves ' +
    'the REST API (POST /set, GET /get, DELETE /del, and /cluster to add and remove shards) on HOST:HTTP-PORT. ' +
    'With --replicaof it is a read-only replica of that leader (shardcache or redis-server). Stops cleanly on SIGINT or SIGTERM.';

  static override examples = [
    '<%= config.bin %> start',
    '<%= config.bin %> start --shards 4 --http-port 9090',
    '<%= config.bin %> start --maxmemory 256mb --maxmemory-policy allkeys-lru',
    '<%= config.bin %> start --port 6380 --http-port 8081 --replicaof 127.0.0.1:6379',
  ];

  static override flags = {
    shards: Flags.integer({ description: 'shard worker threads to start', default: 3, min: 1, max: 256 }),
    'http-port': Flags.integer({ description: 'REST API port (0 = any free port)', default: 8080, min: 0, max: 65535 }),
    port: Flags.integer({ description: 'Redis-protocol (RESP) port (0 = any free port)', default: 6379, min: 0, max: 65535 }),
    requirepass: Flags.string({ description: 'password every client needs: AUTH on RESP, HTTP Basic or Bearer on REST (default: none)' }),
    'allowed-hosts': Flags.string({
      description: 'REST: Host names answered besides localhost and the bound address, comma-separated (DNS rebinding guard)',
    }),
    'allowed-origins': Flags.string({
      description: 'REST: origins allowed cross-origin requests (CORS), comma-separated (default: none)',
    }),
    'http-max-body-inflight': Flags.string({
      description: 'REST: most request body bytes read at once, over all requests (503 past it)',
      default: '256mb',
    }),
    maxclients: Flags.integer({ description: 'most RESP clients connected at once', default: 10_000, min: 1, max: 1_000_000 }),
    'proto-max-bulk-len': Flags.string({ description: 'largest RESP bulk string (a key or value), e.g. 512mb', default: '512mb' }),
    host: Flags.string({ description: 'address to bind', default: '127.0.0.1' }),
    'protected-mode': Flags.string({
      description: 'without --requirepass, refuse clients that are not on loopback (RESP -DENIED, REST 403)',
      options: ['yes', 'no'],
      default: 'yes',
    }),
    'client-output-buffer-limit': Flags.string({
      description:
        'RESP output buffer limits per class: "<class> <hard> <soft> <soft-seconds>" groups, classes normal, replica, pubsub (0 = no limit)',
      default: 'normal 1gb 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60',
    }),
    'shutdown-timeout': Flags.integer({
      description: 'seconds SIGINT/SIGTERM waits for requests already read to be answered before closing connections',
      default: 10,
      min: 0,
      max: 3600,
    }),
    maxmemory: Flags.string({ description: 'memory limit of the whole cluster, e.g. 256mb, 2gb (0 = unlimited)', default: '0' }),
    'maxmemory-policy': Flags.string({
      description: 'what happens at maxmemory',
      options: [...EVICTION_POLICIES],
      default: 'noeviction',
    }),
    'virtual-nodes': Flags.integer({ description: 'virtual nodes per shard on the ring', default: 256, min: 1, max: 65536 }),
    replicas: Flags.integer({
      description: 'copies of every key on distinct shards; 2 or more survives the loss of any one shard',
      default: 1,
      min: 1,
      max: 5,
    }),
    'log-level': Flags.string({
      description: 'least level of the JSON logs on stderr',
      options: [...LOG_LEVELS],
      default: 'info',
    }),
    replicaof: Flags.string({ description: 'start as a read-only replica of the leader at HOST:PORT (shardcache or redis-server)' }),
    masterauth: Flags.string({ description: 'password to AUTH with to the leader (--replicaof)' }),
    'repl-backlog-size': Flags.string({ description: 'stream kept for replicas that reconnect (partial resync)', default: '1mb' }),
    'max-shards': Flags.integer({
      description: 'most shards `cluster add` may grow the cluster to (default: 64, or --shards if larger)',
      min: 1,
      max: 1024,
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Start);
    const maxMemoryBytes = parseBytes(flags.maxmemory);
    if (maxMemoryBytes === null) this.error(`--maxmemory must be a size like 256mb or 1gb, got "${flags.maxmemory}"`, { exit: 2 });
    const maxBulk = parseBytes(flags['proto-max-bulk-len']);
    if (maxBulk === null || maxBulk < 1 || maxBulk > 2 ** 31 - 1) {
      this.error(`--proto-max-bulk-len must be a size from 1 byte to 2gb, like 512mb, got "${flags['proto-max-bulk-len']}"`, { exit: 2 });
    }

    const replicaOf = flags.replicaof === undefined ? null : parseHostPort(flags.replicaof);
    if (replicaOf === null && flags.replicaof !== undefined)
      this.error(`--replicaof must be HOST:PORT (a port from 1 to 65535), got "${flags.replicaof}"`, { exit: 2 });
    const backlog = parseBytes(flags['repl-backlog-size']);
    if (backlog === null || backlog < 16 * 1024)
      this.error(`--repl-backlog-size must be a size of at least 16kb, got "${flags['repl-backlog-size']}"`, { exit: 2 });

    const bodies = parseBytes(flags['http-max-body-inflight']);
    if (bodies === null || bodies < 1)
      this.error(`--http-max-body-inflight must be a size like 256mb, got "${flags['http-max-body-inflight']}"`, { exit: 2 });
    const list = (v: string | undefined): string[] =>
      (v ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
    const outputLimits = parseOutputLimits(flags['client-output-buffer-limit']);
    if (typeof outputLimits === 'string') this.error(`--client-output-buffer-limit: ${outputLimits}`, { exit: 2 });

    const log = createLogger(flags['log-level'] as LogLevel);
    const authFailures = new AuthFailures({ log });
    let cluster: Cluster;
    try {
      cluster = await createCluster({
        shards: flags.shards,
        virtualNodes: flags['virtual-nodes'],
        maxMemoryBytes,
        evictionPolicy: flags['maxmemory-policy'] as (typeof EVICTION_POLICIES)[number],
        replicas: flags.replicas,
        maxShards: flags['max-shards'],
        maxValueBytes: maxBulk,
      });
    } catch (err) {
      this.error(CacheError.is(err) ? err.message : String(err), { exit: 1 });
    }
    logCluster(cluster, log);
    const resp = createRespServer(cluster, {
      password: flags.requirepass ?? null,
      maxClients: flags.maxclients,
      limits: { maxBulkBytes: maxBulk },
      replicaOf,
      masterauth: flags.masterauth ?? null,
      replBacklogBytes: backlog,
      log,
      protectedMode: flags['protected-mode'] === 'yes',
      outputLimits,
      authFailures,
    });
    const server = createRestServer(cluster, {
      password: flags.requirepass ?? null,
      allowedHosts: list(flags['allowed-hosts']),
      allowedOrigins: list(flags['allowed-origins']),
      maxBodyBytesInFlight: bodies,
      protectedMode: flags['protected-mode'] === 'yes',
      authFailures,
      metrics: createMetrics(cluster, resp.context, authFailures),
      readOnly: () => {
        const r = resp.context.replicaOf;
        return r === null ? null : `${r.host}:${r.port}`;
      },
    });
    const bind = async (s: typeof server | typeof resp, port: number): Promise<AddressInfo> => {
      try {
        return await listen(s, port, flags.host);
      } catch (err) {
        server.close();
        resp.close();
        await cluster.destroy();
        const e = err as NodeJS.ErrnoException;
        const why = e.code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${e.code ?? e.message})`;
        this.error(`${flags.host}:${port} ${why}`, { exit: 1 });
      }
    };
    const address = await bind(server, flags['http-port']);
    const respAddress = await bind(resp, flags.port);
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const copies = flags.replicas > 1 ? ` × ${flags.replicas} copies` : '';
    // Bound to more than loopback: say so, and louder when nothing asks for a password.
    const exposed = !isLoopbackHost(flags.host);
    const warning = !exposed
      ? ''
      : flags.requirepass !== undefined
        ? ` (WARNING: reachable from the network on ${flags.host})`
        : flags['protected-mode'] === 'yes'
          ? ` (WARNING: bound to ${flags.host} without --requirepass: protected mode refuses clients that are not on loopback)`
          : ` (WARNING: bound to ${flags.host} without --requirepass and with --protected-mode no: ANYONE who can reach it can read, change and erase the data)`;
    this.log(
      `${NAME} ${VERSION} ready: ${flags.shards} shards${copies}, REST http://${host}:${address.port}, RESP redis://${host}:${respAddress.port}${replicaOf === null ? '' : `, replica of ${flags.replicaof}`}${warning}`,
    );
    if (exposed) {
      log.warn(
        { event: 'exposed', host: flags.host, requirepass: flags.requirepass !== undefined, protectedMode: flags['protected-mode'] },
        warning.slice(2, -1),
      );
    }
    log.info(
      {
        event: 'ready',
        version: VERSION,
        shards: flags.shards,
        replicas: flags.replicas,
        rest: address.port,
        resp: respAddress.port,
        host: flags.host,
      },
      'ready',
    );
    resp.on('connection', (socket) =>
      log.debug({ event: 'client', remote: `${socket.remoteAddress}:${socket.remotePort}` }, 'RESP client connected'),
    );

    await new Promise<void>((resolve) => {
      const stop = (signal: string): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        this.log(`${signal} received, shutting down`);
        log.info({ event: 'shutdown', signal }, 'shutting down');
        // Each front end answers what it already read (within --shutdown-timeout) before the shards go.
        const timeoutMs = flags['shutdown-timeout'] * 1000;
        const drains: Promise<void>[] = [resp.shutdown(timeoutMs), closeRestServer(server, timeoutMs)];
        Promise.all(drains)
          .catch(() => undefined)
          .then(() => cluster.close())
          .catch(() => undefined)
          .finally(resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  }
}
