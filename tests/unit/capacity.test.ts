import "../mocks";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { byType, find } from "../mocks";
import { ConfigError, loadConfig } from "../../config";
import { capacity, maxClusters, MAX_SHARDS_PER_NODE, SAFE_SHARE } from "../../lib/capacity";
import { CENTRAL_CONFIG, runProgram, runProgramExpectingError } from "../harness";

const ROOT = path.join(__dirname, "..", "..");
const edges = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => `edge-${i}`));
const source = (c: Record<string, string>) => ({ get: (k: string) => c[k], keys: () => Object.keys(c) });

describe("capacity model", () => {
  it("counts a stream per cluster at 64 shards for 30 days with a replica: the cliff comes at about 45 clusters", () => {
    const at = (clusters: number) =>
      capacity({ clusters, layout: "per-cluster", dedicatedStreams: 0, retentionDays: 30, dataNodes: 3 });
    assert.equal(at(1).shards, 64);
    assert.equal(at(46).shards > 3 * MAX_SHARDS_PER_NODE, false);
    assert.equal(at(47).shards > 3 * MAX_SHARDS_PER_NODE, true);
    // The safe share (60%) is reached well before the limit.
    assert.equal(
      maxClusters({ layout: "per-cluster", dedicatedStreams: 0, retentionDays: 30, dataNodes: 3 }),
      28,
    );
    assert.equal(at(28).fits, true);
    assert.equal(at(29).fits, false);
  });

  it("counts the shared stream's shards whatever the number of clusters: 1,000 clusters fit three nodes", () => {
    const at = (clusters: number) =>
      capacity({ clusters, layout: "shared", dedicatedStreams: 0, retentionDays: 30, dataNodes: 3 });
    assert.equal(at(1000).shards, at(2).shards);
    assert.equal(at(1000).shards, 32 * 3 * 2);
    assert.equal(at(1000).fits, true);
    assert.equal(at(1000).safe, 3 * MAX_SHARDS_PER_NODE * SAFE_SHARE);
  });

  it("counts each dedicated stream like a per-cluster one", () => {
    const c = (dedicatedStreams: number) =>
      capacity({ clusters: 100, layout: "shared", dedicatedStreams, retentionDays: 30, dataNodes: 3 }).shards;
    assert.equal(c(5) - c(0), 5 * 64);
  });

  it("needs no replica, and so half the shards, on a single node", () => {
    const one = capacity({
      clusters: 1,
      layout: "per-cluster",
      dedicatedStreams: 0,
      retentionDays: 30,
      dataNodes: 1,
    });
    assert.deepEqual([one.replicas, one.shards, one.limit], [0, 32, 1000]);
  });
});

describe("capacity check", () => {
  it("refuses, at preview, a per-cluster layout past the safe share, with the numbers and the options", () => {
    const config = {
      ...CENTRAL_CONFIG,
      indexLayout: "per-cluster",
      edgeClusters: edges(49),
      fluentdExternalHosts: '["logs.example.com"]',
    };
    assert.throws(
      () => loadConfig(source(config)),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        const m = e.problems.join("\n");
        assert.match(
          m,
          /Elasticsearch would hold 3200 shards \(50 data streams x 32 indices for efk:retentionDays 30/,
        );
        assert.match(m, /over 60% of its limit of 3000 \(1000 per data node x efk:esReplicas 3\)/);
        assert.match(
          m,
          /efk:indexLayout shared \(one stream for every cluster; this layout fits 28 clusters\)/,
        );
        assert.match(m, /a shorter efk:retentionDays; more data nodes \(efk:esReplicas\)/);
        assert.match(m, /npm run capacity -- --clusters 50 --retention 30 --nodes 3/);
        return true;
      },
    );
  });

  it("declares nothing when it refuses", async () => {
    const { error, registered } = await runProgramExpectingError({
      ...CENTRAL_CONFIG,
      indexLayout: "per-cluster",
      edgeClusters: edges(49),
      fluentdExternalHosts: '["logs.example.com"]',
    });
    assert.match(error.message, /Elasticsearch would hold 3200 shards/);
    assert.equal(registered, 0);
  });

  it("refuses dedicated streams of clusters nobody registered, or with a stream per cluster already", () => {
    const problems = (c: Record<string, string>) => {
      try {
        loadConfig(source({ ...CENTRAL_CONFIG, ...c }));
        return [];
      } catch (e) {
        return (e as ConfigError).problems;
      }
    };
    assert.match(
      problems({ dedicatedStreams: '["prod-xx"]' }).join("\n"),
      /efk:dedicatedStreams = \["prod-xx"\]: must be registered clusters .*not registered: prod-xx/,
    );
    assert.match(
      problems({ indexLayout: "per-cluster", dedicatedStreams: '["hub"]' }).join("\n"),
      /efk:dedicatedStreams = \["hub"\]: must be empty with efk:indexLayout per-cluster/,
    );
    assert.match(
      problems({ edgeClusters: '["shared"]', fluentdExternalHosts: '["logs.example.com"]' }).join("\n"),
      /efk:edgeClusters\[0\] = "shared": must be a name other than "shared"/,
    );
  });

  it("prints the same numbers with npm run capacity, and fails it when they do not fit", () => {
    const run = (args: string[]) =>
      execFileSync(
        process.execPath,
        ["-r", "ts-node/register/transpile-only", "scripts/capacity.ts", ...args],
        {
          cwd: ROOT,
          encoding: "utf8",
        },
      );
    assert.match(run(["--clusters", "1000", "--retention", "30"]), /shards: 192 of a limit of 3000;.*: fits/);
    assert.throws(
      () => run(["--clusters", "50", "--retention", "30", "--layout", "per-cluster"]),
      (e: { status: number; stdout: string }) => {
        assert.equal(e.status, 1);
        assert.match(
          e.stdout,
          /shards: 3200 of a limit of 3000; the safe share \(60%\) is 1800: does NOT fit/,
        );
        return true;
      },
    );
  });
});

describe("a central stack with 1,000 edge clusters", () => {
  it("evaluates, fits the capacity model, and routes every cluster to the shared stream", async function () {
    // The figure is printed; the README quotes it. The timeout only stops a run that hangs.
    this.timeout(180_000);
    const started = Date.now();
    await runProgram({
      ...CENTRAL_CONFIG,
      edgeClusters: edges(1000),
      fluentdExternalHosts: '["logs.example.com"]',
    });
    console.log(`      1,000 edge clusters evaluated in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(byType("pulumi:pulumi:StackReference").length, 1000);
    assert.equal(byType("tls:index/locallySignedCert:LocallySignedCert").length, 1000 + 5);
    const clients = find("kubernetes:core/v1:ConfigMap", "efk-fluentd-clients").inputs.data as Record<
      string,
      string
    >;
    assert.equal(Object.keys(clients).length, 1001);
    const conf = Object.values(
      (
        find("kubernetes:helm.sh/v3:Release", "efk-fluentd-release").inputs.values as {
          fileConfigs: Record<string, string>;
        }
      ).fileConfigs,
    ).join("\n");
    assert.match(conf, /index_name efk-logs-shared\n/);
    assert.equal(
      capacity({ clusters: 1001, layout: "shared", dedicatedStreams: 0, retentionDays: 30, dataNodes: 3 })
        .fits,
      true,
    );
  });
});
