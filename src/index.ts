// The one entry for host apps: createCluster, the Cluster type, errors and public types.
export { Cluster, createCluster } from './cluster.js';
export { attach } from './shared/attach.js';
export type { AttachedCache } from './shared/attach.js';
export type { CacheHandle } from './shared/handles.js';
export { createReplica } from './replica-cluster.js';
export type { ReplicaCluster, ReplicaClusterOptions } from './replica-cluster.js';
export type { ClusterEvents, ClusterState, ClusterStats, DataLoss, ShardInfo, ShardReport } from './cluster.js';
export type { ExpireMode, Key, SetOptions, Value } from './args.js';
export { CacheError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { ClusterOptions } from './options.js';
export type { EvictionPolicy, ShardStats } from './protocol.js';
export type { ShardState } from './shard-handle.js';
