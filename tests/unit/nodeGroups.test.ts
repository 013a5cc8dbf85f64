import "../mocks";
import * as assert from "node:assert/strict";
import { chartValuesOf } from "../../lib/offline";
import { byType, dependsOnTransitively, find, type Recorded } from "../mocks";
import { CENTRAL_CONFIG, runProgram, runProgramExpectingError } from "../harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const CHART = "kubernetes:helm.sh/v4:Chart";
const CSR = "tls:index/certRequest:CertRequest";
const JOB = "kubernetes:batch/v1:Job";

/** The elasticsearch chart's values, as far as these tests read them. */
interface EsValues {
  nodeGroup: string;
  replicas: number;
  roles: string[];
  masterService?: string;
  service?: { enabled: boolean };
  resources: { requests: { cpu: string; memory: string }; limits: { memory: string } };
  volumeClaimTemplate: { resources: { requests: { storage: string } } };
  extraEnvs: { name: string; valueFrom?: { secretKeyRef?: { name: string } } }[];
  secretMounts: { name: string; secretName: string }[];
  clusterHealthCheckParams: string;
}

/** Every release of the elasticsearch chart, by Helm release name. */
function esReleases(): Record<string, Recorded> {
  return Object.fromEntries(
    byType(RELEASE)
      .filter((r) => r.inputs.chart === "elasticsearch")
      .map((r) => [r.inputs.name as string, r]),
  );
}

const esValues = (r: Recorded) => r.inputs.values as EsValues;

/** A central stack with dedicated masters, each group sized apart from the other. */
const DEDICATED = {
  ...CENTRAL_CONFIG,
  esDedicatedMasters: "3",
  // Even: with dedicated masters the data nodes do not vote.
  esReplicas: "4",
  esCpu: "2",
  esMemory: "8Gi",
  esStorageSize: "200Gi",
  esMasterCpu: "250m",
  esMasterMemory: "1536Mi",
  esMasterStorageSize: "8Gi",
};

describe("Elasticsearch node groups: the default", () => {
  before(async function () {
    this.timeout(20_000);
    await runProgram(CENTRAL_CONFIG);
  });

  it("is one release of master-eligible data nodes, with no master service or client Service setting", () => {
    const releases = esReleases();
    assert.deepEqual(Object.keys(releases), ["elasticsearch"]);
    const v = esValues(releases.elasticsearch);
    assert.equal(releases.elasticsearch.name, "efk-elasticsearch-release");
    assert.equal(v.nodeGroup, "master");
    assert.equal(v.replicas, 3);
    assert.ok(v.roles.includes("master") && v.roles.includes("data"), v.roles.join(","));
    assert.equal("masterService" in v, false);
    assert.equal("service" in v, false);
  });

  it("has clients use the one group's Service", () => {
    const kibana = chartValuesOf(find(CHART, "efk-kibana-chart").inputs) as { elasticsearchHosts: string };
    assert.equal(kibana.elasticsearchHosts, "https://elasticsearch-master.logging.svc:9200");
  });
});

describe("Elasticsearch node groups: dedicated masters", () => {
  let masters: EsValues;
  let data: EsValues;
  before(async function () {
    this.timeout(20_000);
    await runProgram(DEDICATED);
    const releases = esReleases();
    assert.deepEqual(Object.keys(releases).sort(), ["elasticsearch", "elasticsearch-data"]);
    masters = esValues(releases.elasticsearch);
    data = esValues(releases["elasticsearch-data"]);
  });

  it("makes the masters a group of their own: master role only, their count, their size", () => {
    assert.equal(masters.nodeGroup, "master");
    assert.deepEqual(masters.roles, ["master"]);
    assert.equal(masters.replicas, 3);
    assert.deepEqual(masters.resources.requests, { cpu: "250m", memory: "1536Mi" });
    assert.equal(masters.resources.limits.memory, "1536Mi");
    assert.equal(masters.volumeClaimTemplate.resources.requests.storage, "8Gi");
  });

  it("gives the masters no client Service, so that no client traffic reaches them", () => {
    assert.deepEqual(masters.service, { enabled: false });
    assert.equal(data.service, undefined);
  });

  it("makes the data nodes every role but master, sized by esReplicas, esCpu, esMemory and esStorageSize", () => {
    assert.equal(data.nodeGroup, "data");
    assert.deepEqual(data.roles, ["data", "data_content", "data_hot", "data_warm", "data_cold", "ingest"]);
    assert.equal(data.replicas, 4);
    assert.deepEqual(data.resources.requests, { cpu: "2", memory: "8Gi" });
    assert.equal(data.resources.limits.memory, "8Gi");
    assert.equal(data.volumeClaimTemplate.resources.requests.storage, "200Gi");
  });

  it("points the data nodes' discovery at the masters (the chart seeds from <masterService>-headless)", () => {
    assert.equal(data.masterService, "elasticsearch-master");
    assert.equal("masterService" in masters, false);
  });

  it("starts the data nodes only once the masters' release is ready", () => {
    const [m, d] = [
      find(RELEASE, "efk-elasticsearch-release"),
      find(RELEASE, "efk-elasticsearch-data-release"),
    ];
    assert.ok(m.urn && d.urn, "a release without a URN");
    assert.ok(d.dependencies.includes(m.urn), "the data release does not wait for the masters' release");
    assert.equal(dependsOnTransitively(m, d), false);
  });

  it("has Kibana, Fluentd and the index setup wait for the data nodes", () => {
    const d = find(RELEASE, "efk-elasticsearch-data-release");
    for (const r of [
      find(CHART, "efk-kibana-chart"),
      find(RELEASE, "efk-fluentd-release"),
      find(JOB, "efk-elasticsearch-index-setup"),
    ]) {
      assert.ok(dependsOnTransitively(r, d), `${r.name} does not wait for the data nodes`);
    }
  });

  it("gives both groups the same TLS, credentials and readiness check", () => {
    for (const v of [masters, data]) {
      assert.equal(
        v.extraEnvs.find((e) => e.name === "ELASTIC_PASSWORD")?.valueFrom?.secretKeyRef?.name,
        "elasticsearch-master-credentials",
      );
      assert.equal(v.secretMounts.find((m) => m.name === "tls")?.secretName, "elasticsearch-master-tls");
      assert.equal(v.clusterHealthCheckParams, "wait_for_status=green&timeout=1s");
    }
  });

  it("names both groups in the HTTP and transport certificates", () => {
    for (const csr of ["efk-pki-es-http-csr", "efk-pki-es-transport-csr"]) {
      const names = find(CSR, csr).inputs.dnsNames as string[];
      for (const name of [
        "elasticsearch-data.logging.svc",
        "elasticsearch-data-headless.logging.svc",
        "*.elasticsearch-data-headless.logging.svc",
        "*.elasticsearch-master-headless.logging.svc.cluster.local",
      ]) {
        assert.ok(names.includes(name), `${csr} lacks ${name}`);
      }
    }
  });

  it("has every client reach Elasticsearch through the data nodes' Service", () => {
    const url = "https://elasticsearch-data.logging.svc:9200";
    const kibana = chartValuesOf(find(CHART, "efk-kibana-chart").inputs) as { elasticsearchHosts: string };
    assert.equal(kibana.elasticsearchHosts, url);
    const exporter = find(RELEASE, "efk-monitoring-exporter").inputs.values as { es: { uri: string } };
    assert.equal(exporter.es.uri, url);
    const fluentd = find(RELEASE, "efk-fluentd-release").inputs.values as {
      fileConfigs: Record<string, string>;
    };
    assert.match(Object.values(fluentd.fileConfigs).join("\n"), /host elasticsearch-data\.logging\.svc\n/);
    const job = find(JOB, "efk-elasticsearch-index-setup").inputs as {
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    };
    assert.equal(job.spec.template.spec.containers[0].env.find((e) => e.name === "ES_URL")?.value, url);
  });
});

describe("Elasticsearch node groups: health with one data node", () => {
  it("has a restarted master wait for yellow too, since one data node can never make the cluster green", async () => {
    await runProgram({ ...DEDICATED, esReplicas: "1" });
    const releases = esReleases();
    for (const name of ["elasticsearch", "elasticsearch-data"]) {
      assert.equal(
        esValues(releases[name]).clusterHealthCheckParams,
        "wait_for_status=yellow&timeout=1s",
        name,
      );
    }
  });
});

describe("Elasticsearch node groups: refused combinations", () => {
  const REFUSED: { title: string; config: Record<string, string>; expect: RegExp }[] = [
    {
      title: "an even node count without dedicated masters",
      config: { ...CENTRAL_CONFIG, esReplicas: "4" },
      expect:
        /efk:esReplicas = 4: must be an odd number of master-eligible nodes \(1, 3, 5, \.\.\.\) while efk:esDedicatedMasters is 0/,
    },
    {
      title: "a dedicated master count that is not 3 or 5",
      config: { ...CENTRAL_CONFIG, esDedicatedMasters: "2" },
      expect: /efk:esDedicatedMasters = 2: must be 0 \(every node master-eligible\), 3 or 5/,
    },
    {
      title: "a master size without dedicated masters",
      config: { ...CENTRAL_CONFIG, esMasterMemory: "4Gi" },
      expect: /efk:esMasterMemory = "4Gi": must be left unset while efk:esDedicatedMasters is 0/,
    },
    {
      title: "no data node beside dedicated masters",
      config: { ...CENTRAL_CONFIG, esDedicatedMasters: "3", esReplicas: "0" },
      expect: /efk:esReplicas = 0: must be .*with efk:esDedicatedMasters at least 1 data node/,
    },
  ];
  for (const c of REFUSED) {
    it(`refuses ${c.title}, naming the key, the value and what is allowed, before any resource`, async () => {
      const { error, registered } = await runProgramExpectingError(c.config);
      assert.match(error.message, c.expect);
      assert.equal(registered, 0);
    });
  }

  it("reports an even node count beside the other bad keys, not after them", async () => {
    const { error } = await runProgramExpectingError({
      ...CENTRAL_CONFIG,
      esReplicas: "4",
      esStorageSize: "1TB",
    });
    assert.match(error.message, /efk:esReplicas = 4/);
    assert.match(error.message, /efk:esStorageSize = "1TB"/);
  });

  it("accepts an even number of data nodes beside dedicated masters", async () => {
    await runProgram({ ...CENTRAL_CONFIG, esDedicatedMasters: "5", esReplicas: "2" });
    assert.equal(esValues(esReleases()["elasticsearch-data"]).replicas, 2);
    assert.equal(esValues(esReleases().elasticsearch).replicas, 5);
  });
});
