import "../mocks";
import * as assert from "node:assert/strict";
import { parse } from "yaml";
import { ConfigError, loadConfig } from "../../config";
import { ES_SETUP_ENV, esSetupEnv, SETUP_FILES, SETUP_SCRIPT } from "../../lib/render/esSetup";
import { ES_EXPORTER_ROLE } from "../../lib/values/elasticsearch";
import { byType, find, recorded, secretValues } from "../mocks";
import { CENTRAL_CONFIG, runProgram, runProgramExpectingError } from "../harness";
import { leaksIn } from "../leaks";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
const SECRET = "kubernetes:core/v1:Secret";
const JOB = "kubernetes:batch/v1:Job";

const S3: Record<string, string> = {
  ...CENTRAL_CONFIG,
  snapshotType: "s3",
  snapshotBucket: "efk-backups",
  snapshotBasePath: "central/hub",
  snapshotCredentialsSecret: "efk-snapshot-credentials",
  snapshotS3Endpoint: "https://minio.example.com:9000",
  snapshotIntervalHours: "6",
  snapshotRetentionDays: "14",
};

function problemsOf(values: Record<string, string>): string[] {
  try {
    loadConfig({
      get: (k) => (Object.hasOwn(values, k) ? values[k] : undefined),
      keys: () => Object.keys(values),
    });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.problems;
  }
  assert.fail("configuration was accepted");
}

function assertProblem(values: Record<string, string>, expect: RegExp): void {
  const problems = problemsOf(values);
  assert.ok(
    problems.some((p) => expect.test(p)),
    `no problem matched ${expect}:\n${problems.join("\n")}`,
  );
}

describe("snapshot configuration", () => {
  it("accepts a repository with its bucket, Secret and schedule", () => {
    const c = loadConfig({ get: (k) => S3[k], keys: () => Object.keys(S3) });
    assert.equal(c.snapshotType, "s3");
    assert.equal(c.snapshotIntervalHours, 6);
  });

  it("refuses a type without a bucket, naming both keys", () => {
    const { snapshotBucket: _b, ...rest } = S3;
    assertProblem(rest, /efk:snapshotBucket = "": must be the bucket .* since efk:snapshotType is s3/);
  });

  it("refuses a type without the credentials Secret", () => {
    const { snapshotCredentialsSecret: _s, ...rest } = S3;
    assertProblem(
      rest,
      /efk:snapshotCredentialsSecret = "": must be the name of the Secret .*efk:snapshotType is s3/,
    );
  });

  it("refuses snapshot keys while snapshotType is none, rather than ignoring them", () => {
    assertProblem(
      { ...CENTRAL_CONFIG, snapshotBucket: "efk-backups" },
      /efk:snapshotBucket = "efk-backups": must be left unset while efk:snapshotType is none/,
    );
  });

  it("refuses an S3 endpoint for another store", () => {
    assertProblem(
      { ...S3, snapshotType: "gcs" },
      /efk:snapshotS3Endpoint = "https:\/\/minio.example.com:9000": must be empty unless efk:snapshotType is s3 \(it is gcs\)/,
    );
  });

  it("refuses an unknown type, an interval that does not divide the day, a plain-http endpoint and a bad bucket", () => {
    assertProblem(
      { ...S3, snapshotType: "nfs" },
      /efk:snapshotType = "nfs": must be one of: none, s3, gcs, azure/,
    );
    assertProblem(
      { ...S3, snapshotIntervalHours: "5" },
      /efk:snapshotIntervalHours = 5: must be one of 1, 2, 3, 4, 6, 8, 12, 24/,
    );
    assertProblem(
      { ...S3, snapshotS3Endpoint: "http://minio:9000" },
      /efk:snapshotS3Endpoint = "http:\/\/minio:9000": must be empty \(AWS S3\) or an https:\/\/ URL/,
    );
    assertProblem(
      { ...S3, snapshotBucket: "Backups" },
      /efk:snapshotBucket = "Backups": must be a bucket or container name/,
    );
    assertProblem(
      { ...S3, snapshotBasePath: "/abs/" },
      /efk:snapshotBasePath = "\/abs\/": must be a relative path/,
    );
  });

  it("registers no resource when a type has no bucket", async () => {
    const { snapshotBucket: _b, ...rest } = S3;
    const { error, registered } = await runProgramExpectingError(rest);
    assert.match(error.message, /efk:snapshotBucket/);
    assert.equal(registered, 0);
  });
});

interface EsValues {
  keystore?: { secretName: string; items: { key: string; path: string }[] }[];
  esConfig: Record<string, string>;
}

describe("snapshots on the central stack, with dedicated masters", () => {
  before(async function () {
    this.timeout(20_000);
    await runProgram({ ...S3, esDedicatedMasters: "3" });
  });

  const esReleases = () => byType(RELEASE).filter((r) => r.inputs.chart === "elasticsearch");

  it("puts the operator's Secret in the keystore of every node group, each key as its client setting", () => {
    const releases = esReleases();
    assert.deepEqual(releases.map((r) => r.inputs.name).sort(), ["elasticsearch", "elasticsearch-data"]);
    for (const r of releases) {
      const v = r.inputs.values as EsValues;
      assert.deepEqual(
        v.keystore,
        [
          {
            secretName: "efk-snapshot-credentials",
            items: [
              { key: "access-key", path: "s3.client.efk.access_key" },
              { key: "secret-key", path: "s3.client.efk.secret_key" },
            ],
          },
        ],
        `${String(r.inputs.name)}'s keystore`,
      );
      const yml = parse(v.esConfig["elasticsearch.yml"]) as Record<string, unknown>;
      assert.equal(yml["s3.client.efk.endpoint"], "minio.example.com:9000");
      assert.equal(yml["s3.client.efk.protocol"], "https");
      assert.equal(yml["s3.client.efk.path_style_access"], true);
    }
  });

  it("leaves the credentials to the operator's Secret: the program makes no Secret of them, and no generated secret leaks", () => {
    assert.equal(
      byType(SECRET).some(
        (s) => (s.inputs.metadata as { name?: string }).name === "efk-snapshot-credentials",
      ),
      false,
    );
    assert.ok(secretValues.size >= 5, `only ${secretValues.size} generated secrets to look for`);
    for (const r of recorded.filter((x) => x.type === CONFIG_MAP || x.type === RELEASE || x.type === JOB)) {
      assert.deepEqual(leaksIn(r.inputs, secretValues), [], `${r.type} ${r.name} holds a secret value`);
    }
  });

  it("gives the index-setup Job the repository and the policy to install, covering our data streams and Kibana's and security's state", () => {
    const data = find(CONFIG_MAP, "efk-elasticsearch-index-setup").inputs.data as Record<string, string>;
    assert.deepEqual(JSON.parse(data[SETUP_FILES.repository]), {
      type: "s3",
      settings: { bucket: "efk-backups", base_path: "central/hub", client: "efk" },
    });
    const policy = JSON.parse(data[SETUP_FILES.slmPolicy]) as Record<string, unknown>;
    assert.deepEqual(policy, {
      schedule: "0 30 0/6 * * ?",
      name: "<efk-snap-{now/d}>",
      repository: "efk-snapshots",
      config: { indices: ["efk-logs-*"], include_global_state: true, feature_states: ["kibana", "security"] },
      // 14 days of 4 snapshots a day, plus room for runs out of schedule.
      retention: { expire_after: "14d", min_count: 3, max_count: 66 },
    });
  });

  it("sets every variable the script requires in the Job's pod, from the one definition the tests use", () => {
    const job = byType(JOB).find((j) => j.name === "efk-elasticsearch-index-setup");
    assert.ok(job, "no index-setup Job");
    const env = (
      job.inputs.spec as { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } }
    ).template.spec.containers[0].env;
    const names = env.map((e) => e.name);
    // What the script insists on (`: "${NAME:?}"`): each must be in the pod.
    const required = [...SETUP_SCRIPT.matchAll(/\$\{([A-Z_]+):\?/g)].map((m) => m[1]);
    assert.ok(required.length >= 12, `only ${required.length} required variables found`);
    for (const name of required) assert.ok(names.includes(name), `the pod does not set ${name}`);
    // Every variable the script reads is named in ES_SETUP_ENV, so tests and pod cannot drift from it.
    const read = new Set([...SETUP_SCRIPT.matchAll(/\$\{?([A-Z][A-Z_]+)/g)].map((m) => m[1]));
    assert.deepEqual(
      [...read].filter((n) => !(Object.values(ES_SETUP_ENV) as string[]).includes(n)),
      [],
    );
    const values = Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    for (const [name, value] of Object.entries(esSetupEnv("efk-logs", true))) {
      assert.equal(values[name], value, name);
    }
  });

  it("has the exporter collect snapshots and SLM, with the read-only privileges those collectors need", () => {
    const v = find(RELEASE, "efk-monitoring-exporter").inputs.values as { es: Record<string, unknown> };
    assert.equal(v.es.snapshots, true);
    assert.equal(v.es.slm, true);
    for (const r of esReleases()) {
      const roles = parse((r.inputs.values as EsValues).esConfig["roles.yml"]) as Record<
        string,
        { cluster: string[] }
      >;
      assert.deepEqual(roles[ES_EXPORTER_ROLE].cluster, [
        "monitor",
        "monitor_snapshot",
        "cluster:admin/slm/status",
        "cluster:admin/slm/stats",
      ]);
    }
  });

  it("alerts on a stale snapshot at the interval plus 2 hours, and on a failed one", () => {
    const rules = find(CONFIG_MAP, "efk-monitoring-rules").inputs.data as Record<string, string>;
    const groups = (
      parse(Object.values(rules)[0]) as {
        groups: { name: string; rules: { alert: string; expr: string }[] }[];
      }
    ).groups;
    const group = groups.find((g) => g.name === "efk-snapshots");
    assert.ok(group, "no efk-snapshots group");
    assert.deepEqual(
      group.rules.map((r) => r.alert),
      ["EfkSnapshotStale", "EfkSnapshotFailed"],
    );
    assert.match(group.rules[0].expr, /> 28800$/);
  });
});

describe("the central stack without snapshots", () => {
  before(async function () {
    this.timeout(20_000);
    await runProgram({ ...CENTRAL_CONFIG, esDedicatedMasters: "3", esReplicas: "2" });
  });

  it("has no keystore, no repository client, no snapshot files, collectors, privileges or alerts", () => {
    for (const r of byType(RELEASE).filter((x) => x.inputs.chart === "elasticsearch")) {
      const v = r.inputs.values as EsValues;
      assert.equal("keystore" in v, false);
      assert.doesNotMatch(v.esConfig["elasticsearch.yml"], /s3\.client/);
      const roles = parse(v.esConfig["roles.yml"]) as Record<string, { cluster: string[] }>;
      assert.deepEqual(roles[ES_EXPORTER_ROLE].cluster, ["monitor"]);
    }
    const data = find(CONFIG_MAP, "efk-elasticsearch-index-setup").inputs.data as Record<string, string>;
    assert.deepEqual(Object.keys(data).sort(), [
      "ilm-policy.json",
      "index-template-shared.json",
      "index-template.json",
      "setup.sh",
    ]);
    const v = find(RELEASE, "efk-monitoring-exporter").inputs.values as { es: Record<string, unknown> };
    assert.equal(v.es.snapshots, false);
    assert.equal("slm" in v.es, false);
    const rules = find(CONFIG_MAP, "efk-monitoring-rules").inputs.data as Record<string, string>;
    assert.doesNotMatch(Object.values(rules)[0], /efk-snapshots|EfkSnapshot/);
  });
});
