/**
 * npm run capacity -- --clusters 1000 --retention 30 [--nodes 3] [--layout shared] [--dedicated 0]
 *                     [--gb-per-cluster-day 1] [--storage-gb 30]
 *
 * What Elasticsearch holds in steady state for a configuration: data streams, indices, shards against the
 * limit and its safe share (the check `pulumi preview` makes), and, for a daily volume per cluster, the
 * disk each data node needs. With --table, the README's capacity table.
 */
import { parseArgs } from "node:util";
import { capacity, diskPerNodeGb, maxClusters, SAFE_SHARE, type IndexLayout } from "../lib/capacity";

/** Elasticsearch stops allocating shards to a node past its high disk watermark (90% by default). */
const DISK_WATERMARK = 0.85;

function row(
  clusters: number,
  retention: number,
  nodes: number,
  layout: IndexLayout,
  dedicated: number,
  gb: number,
) {
  const c = capacity({
    clusters,
    retentionDays: retention,
    dataNodes: nodes,
    layout,
    dedicatedStreams: dedicated,
  });
  const disk = diskPerNodeGb({
    clusters,
    retentionDays: retention,
    dataNodes: nodes,
    layout,
    dedicatedStreams: dedicated,
    gbPerClusterDay: gb,
  });
  return { ...c, disk };
}

/** The fewest data nodes (odd, as the single node group wants) whose disk at `storageGb` each holds the logs. */
function nodesForDisk(clusters: number, retention: number, gb: number, storageGb: number): number {
  for (let nodes = 3; nodes < 1000; nodes += 2) {
    const disk = diskPerNodeGb({
      clusters,
      retentionDays: retention,
      dataNodes: nodes,
      layout: "shared",
      dedicatedStreams: 0,
      gbPerClusterDay: gb,
    });
    if (disk <= storageGb * DISK_WATERMARK) return nodes;
  }
  return Infinity;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      clusters: { type: "string", default: "10" },
      retention: { type: "string", default: "30" },
      nodes: { type: "string", default: "3" },
      layout: { type: "string", default: "shared" },
      dedicated: { type: "string", default: "0" },
      "gb-per-cluster-day": { type: "string", default: "1" },
      "storage-gb": { type: "string", default: "30" },
      table: { type: "boolean", default: false },
    },
  });
  const n = (k: keyof typeof values) => {
    const v = Number(values[k]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${k} ${String(values[k])}: a number`);
    return v;
  };
  const layout = values.layout;
  if (layout !== "shared" && layout !== "per-cluster") {
    throw new Error(`--layout ${String(layout)}: shared or per-cluster`);
  }
  if (values.table) {
    const gb = n("gb-per-cluster-day");
    console.log(
      `| clusters | retention (days) | layout | shards (3 data nodes) | fits ${Math.round(SAFE_SHARE * 100)}% of 3,000 | disk per node at ${gb} GB/cluster/day (3 nodes) | data nodes for that disk at ${n("storage-gb")} GB each |`,
    );
    console.log("|---|---|---|---|---|---|---|");
    for (const clusters of [10, 50, 200, 1000]) {
      for (const retention of [7, 30, 90]) {
        for (const l of ["per-cluster", "shared"] as const) {
          const r = row(clusters, retention, 3, l, 0, gb);
          console.log(
            `| ${clusters} | ${retention} | ${l} | ${r.shards} | ${r.fits ? "yes" : "no"} | ${Math.round(r.disk)} GB | ${nodesForDisk(clusters, retention, gb, n("storage-gb"))} |`,
          );
        }
      }
    }
    return;
  }
  const r = row(n("clusters"), n("retention"), n("nodes"), layout, n("dedicated"), n("gb-per-cluster-day"));
  const most = maxClusters({
    layout,
    retentionDays: n("retention"),
    dataNodes: n("nodes"),
    dedicatedStreams: n("dedicated"),
  });
  console.log(
    `layout ${layout}: ${r.streams} data stream(s), ${r.indicesPerStream} indices each, ${r.replicas} replica(s)`,
  );
  console.log(
    `shards: ${r.shards} of a limit of ${r.limit}; the safe share (${Math.round(SAFE_SHARE * 100)}%) is ${r.safe}: ${r.fits ? "fits" : "does NOT fit"}`,
  );
  console.log(
    `clusters this layout fits on ${n("nodes")} data nodes: ${most === Infinity ? "any number" : most}`,
  );
  console.log(
    `disk per data node at ${n("gb-per-cluster-day")} GB per cluster per day: ${Math.round(r.disk)} GB (keep under ${Math.round(DISK_WATERMARK * 100)}% of the volume)`,
  );
  if (!r.fits) process.exitCode = 1;
}

main();
