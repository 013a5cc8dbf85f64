/**
 * Where each cluster's logs are stored, and how many shards that costs Elasticsearch in steady state. One
 * definition for the renderers (which stream a record goes to), the config check that refuses a stack that
 * would not fit, and `npm run capacity`.
 *
 * Why shared streams. Elasticsearch refuses to create an index past `cluster.max_shards_per_node` (1,000
 * per data node by default, primaries and replicas counted). Retention exact to within a day needs each
 * backing index to hold at most a day, so a stream holds about `retentionDays + 2` indices whatever its
 * volume. A stream per cluster therefore costs every cluster 64 shards at 30 days with a replica: about 28
 * clusters fit the safe share of three nodes. One stream that every cluster shares costs the same 64 shards
 * times its primaries, for any number of clusters; each record keeps its `cluster` field (a keyword), by
 * which every view, search, alert and deletion (`_delete_by_query`) selects it. A loud cluster may still
 * have a stream of its own (`dedicatedStreams`), its indices then rolled by its own size and age.
 */

/** How clusters' records are laid out in data streams. */
export const INDEX_LAYOUTS = ["shared", "per-cluster"] as const;
export type IndexLayout = (typeof INDEX_LAYOUTS)[number];

/** The shared stream's name after the prefix; no cluster may have this name. */
export const SHARED_STREAM = "shared";

/** Elasticsearch's default `cluster.max_shards_per_node` (ShardLimitValidator, 8.x). */
export const MAX_SHARDS_PER_NODE = 1000;

/**
 * The share of the shard limit a stack may plan to use: 60%. The rest is for what the model does not count
 * and a cluster must still absorb: Elasticsearch's own indices (security, Kibana, ILM history: a few dozen),
 * the per-cluster streams an existing stack keeps until their retention passes after it moves to the shared
 * layout, size-based rollovers on busy days, and the loss of one of three data nodes, which takes a third
 * of the limit away while every shard stays (a cluster at 60% of three nodes is at 90% of two).
 */
export const SAFE_SHARE = 0.6;

/** ILM rolls a stream's write index over daily (and at 50 GB per primary shard, which the model leaves to disk sizing). */
export const ROLLOVERS_PER_DAY = 1;

export function dataStreamName(prefix: string, stream: string): string {
  return `${prefix}-${stream}`;
}

/** The data stream of a cluster's records. */
export function clusterStream(layout: IndexLayout, dedicated: readonly string[], cluster: string): string {
  return layout === "per-cluster" || dedicated.includes(cluster) ? cluster : SHARED_STREAM;
}

export interface CapacityInput {
  /** Registered clusters: the central one and every edge. */
  clusters: number;
  layout: IndexLayout;
  /** With `shared`: clusters with a stream of their own. */
  dedicatedStreams: number;
  retentionDays: number;
  /** Nodes that hold data: every node, or the data group's with dedicated masters. */
  dataNodes: number;
}

export interface Capacity {
  streams: number;
  /** Backing indices a stream holds in steady state. */
  indicesPerStream: number;
  /** Primaries of the shared stream's indices (one per data node, so that every node indexes). */
  sharedPrimaries: number;
  replicas: number;
  shards: number;
  /** `MAX_SHARDS_PER_NODE` times the data nodes: where Elasticsearch starts refusing. */
  limit: number;
  /** `SAFE_SHARE` of the limit. */
  safe: number;
  fits: boolean;
}

/** One replica when a second data node can hold it, none on a single node (the index template's rule). */
export function indexReplicas(dataNodes: number): number {
  return dataNodes > 1 ? 1 : 0;
}

/**
 * Steady-state shards: each stream holds the write index, one index per day of retention (ILM deletes an
 * index `retentionDays` after its rollover), and one more whose deletion waits for ILM's next run.
 */
export function capacity(i: CapacityInput): Capacity {
  const replicas = indexReplicas(i.dataNodes);
  const indicesPerStream = ROLLOVERS_PER_DAY * i.retentionDays + 2;
  const sharedPrimaries = i.dataNodes;
  const perCluster = i.layout === "per-cluster" ? i.clusters : i.dedicatedStreams;
  const shared = i.layout === "shared" && i.clusters > i.dedicatedStreams ? 1 : 0;
  const shards = indicesPerStream * (1 + replicas) * (perCluster * 1 + shared * sharedPrimaries);
  const limit = MAX_SHARDS_PER_NODE * i.dataNodes;
  const safe = Math.floor(limit * SAFE_SHARE);
  return {
    streams: perCluster + shared,
    indicesPerStream,
    sharedPrimaries,
    replicas,
    shards,
    limit,
    safe,
    fits: shards <= safe,
  };
}

/** The most clusters `layout` fits within the safe share, all else equal (Infinity when the count does not matter). */
export function maxClusters(i: Omit<CapacityInput, "clusters">): number {
  const one = capacity({ ...i, clusters: 1 + i.dedicatedStreams });
  const perStream = one.indicesPerStream * (1 + one.replicas);
  if (i.layout === "shared") {
    return one.fits ? Infinity : 0;
  }
  return Math.floor(one.safe / perStream);
}

/** Disk the logs take on each data node: daily volume, replicas and retention, spread over the nodes. */
export function diskPerNodeGb(i: CapacityInput & { gbPerClusterDay: number }): number {
  const replicas = indexReplicas(i.dataNodes);
  return (i.gbPerClusterDay * i.clusters * (i.retentionDays + 1) * (1 + replicas)) / i.dataNodes;
}
