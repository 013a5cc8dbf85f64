import "../mocks";
import * as assert from "node:assert/strict";
import { parse } from "yaml";
import { createHash } from "node:crypto";
import { chartValuesOf } from "../../lib/offline";
import { byType, find, type Recorded } from "../mocks";
import { CENTRAL_CONFIG, runProgram } from "../harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const CHART = "kubernetes:helm.sh/v4:Chart";
const SECRET = "kubernetes:core/v1:Secret";

// Chart values are free-form; tests read the fields they check through this shape.
interface Values {
  [key: string]: unknown;
  esConfig: Record<string, string>;
  kibanaConfig: Record<string, string>;
  secretMounts: { name: string; secretName: string; path: string; subPath?: string }[];
  extraEnvs: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  roles: string[];
}

interface PodSpecShape {
  containers: { env: { name: string; value?: string; valueFrom?: unknown }[] }[];
  volumes: { name: string; secret?: { secretName: string }; configMap?: { name: string } }[];
}

function values(release: Recorded): Values {
  return (release.type === CHART ? chartValuesOf(release.inputs) : release.inputs.values) as Values;
}

function secretNames(): string[] {
  return byType(SECRET).map((s) => (s.inputs.metadata as { name: string }).name);
}

describe("central stack: Elasticsearch release", () => {
  let es: Recorded;
  before(async () => {
    await runProgram({
      ...CENTRAL_CONFIG,
      namespace: "obs",
      esReplicas: "5",
      esStorageClass: "fast-ssd",
      esStorageSize: "100Gi",
      esMemory: "4Gi",
      esCpu: "2",
    });
    es = find(RELEASE, "efk-elasticsearch-release");
  });

  it("pins chart, version and repository, with an explicit release name in the stack's namespace", () => {
    assert.equal(es.inputs.chart, "elasticsearch");
    // The one version its values builder is written for.
    assert.equal(es.inputs.version, "8.5.1");
    assert.deepEqual(es.inputs.repositoryOpts, { repo: "https://helm.elastic.co" });
    assert.equal(es.inputs.name, "elasticsearch");
    assert.equal(es.inputs.namespace, "obs");
  });

  it("waits long enough for a fresh cluster and rolls back a failed install", () => {
    assert.equal(es.inputs.timeout, 1200);
    assert.equal(es.inputs.atomic, true);
  });

  it("runs the configured node count with every role, as a list", () => {
    const v = values(es);
    assert.equal(v.replicas, 5);
    assert.ok(Array.isArray(v.roles));
    assert.ok(v.roles.includes("master") && v.roles.includes("data") && v.roles.includes("ingest"));
    assert.equal(v.roles.includes("ml"), false, "machine learning reserves memory a logging cluster needs");
  });

  it("turns on security and TLS on HTTP and transport with our certificates, not the chart's", () => {
    const v = values(es);
    assert.equal(v.createCert, false);
    assert.equal(v.protocol, "https");
    const yml = parse(v.esConfig["elasticsearch.yml"]) as Record<string, unknown>;
    assert.equal(yml["xpack.security.enabled"], true);
    assert.equal(yml["xpack.security.http.ssl.enabled"], true);
    assert.equal(yml["xpack.security.transport.ssl.enabled"], true);
    assert.equal(yml["xpack.security.transport.ssl.verification_mode"], "certificate");
    assert.deepEqual(yml["xpack.security.transport.ssl.certificate_authorities"], [
      "/usr/share/elasticsearch/config/certs/transport-ca.crt",
    ]);
  });

  it("mounts certificate files that the TLS Secret actually holds", () => {
    const v = values(es);
    const yml = parse(v.esConfig["elasticsearch.yml"]) as Record<string, unknown>;
    const mount = v.secretMounts.find((m) => m.path === "/usr/share/elasticsearch/config/certs");
    assert.ok(mount, "no mount at the certs directory");
    const secret = byType(SECRET).find(
      (s) => (s.inputs.metadata as { name: string }).name === mount.secretName,
    );
    assert.ok(secret, `no Secret named ${mount.secretName}`);
    const keys = Object.keys(secret.inputs.stringData as object);
    const files = Object.entries(yml)
      .filter(([k]) => /ssl\.(key|certificate|certificate_authorities)$/.test(k))
      .flatMap(([, f]) => (Array.isArray(f) ? f : [f]) as string[]);
    assert.equal(files.length, 6);
    for (const f of files) {
      assert.ok(keys.includes(f.replace(`${mount.path}/`, "")), `${f} is not a key of ${mount.secretName}`);
    }
  });

  it("reads every Secret it references from a Secret the program creates", () => {
    const v = values(es);
    const referenced = [
      ...v.secretMounts.map((m) => m.secretName),
      ...v.extraEnvs.map((e) => e.valueFrom?.secretKeyRef?.name).filter((n): n is string => n !== undefined),
    ];
    assert.ok(referenced.length >= 3);
    for (const name of referenced) {
      assert.ok(secretNames().includes(name), `${name} is referenced but not created`);
    }
  });

  it("uses our elastic password from the credentials Secret its readiness probe reads", () => {
    const v = values(es);
    assert.deepEqual(v.secret, { enabled: false });
    const creds = find(SECRET, "efk-elasticsearch-credentials").inputs;
    assert.equal((creds.metadata as { name: string }).name, "elasticsearch-master-credentials");
    assert.equal((creds.stringData as Record<string, string>).username, "elastic");
    const password = find("random:index/randomPassword:RandomPassword", "efk-elasticsearch-elastic-password");
    assert.equal(
      (creds.stringData as Record<string, string>).password,
      "mockpwefkelasticsearchelasticpassword",
    );
    assert.equal(password.inputs.length, 32);
    assert.equal(password.inputs.special, false);
  });

  it("keeps the Fluentd, Kibana setup and exporter users in the file realm as bcrypt hashes, each with its role", () => {
    const realm = find(SECRET, "efk-elasticsearch-file-realm").inputs.stringData as Record<string, string>;
    assert.equal(
      realm.users,
      "efk-fluentd:$2a$10$mockbcrypt.efk-elasticsearch-writer-password\n" +
        "efk-kibana-setup:$2a$10$mockbcrypt.efk-elasticsearch-kibana-setup-password\n" +
        "efk-exporter:$2a$10$mockbcrypt.efk-elasticsearch-exporter-password\n",
    );
    assert.equal(
      realm.users_roles,
      "efk_fluentd_writer:efk-fluentd\nefk_kibana_setup:efk-kibana-setup\nefk_monitor:efk-exporter\n",
    );
    const roles = parse(values(es).esConfig["roles.yml"]) as Record<
      string,
      { indices: { names: string[] }[] }
    >;
    assert.deepEqual(roles.efk_fluentd_writer.indices[0].names, ["efk-logs-*"]);
  });

  it("reads Kibana's service-account token hash from its service_tokens file, mounted from the program's Secret", () => {
    const tokens = find(SECRET, "efk-elasticsearch-service-tokens").inputs;
    assert.equal((tokens.metadata as { name: string }).name, "elasticsearch-master-service-tokens");
    assert.deepEqual(tokens.stringData, {
      service_tokens: "elastic/kibana/efk-pulumi:$2a$10$mockbcrypt.efk-elasticsearch-kibana-token\n",
    });
    const mount = values(es).secretMounts.find((m) => m.name === "service-tokens");
    assert.deepEqual(mount && { path: mount.path, secretName: mount.secretName, subPath: mount.subPath }, {
      path: "/usr/share/elasticsearch/config/service_tokens",
      secretName: "elasticsearch-master-service-tokens",
      subPath: "service_tokens",
    });
  });

  it("rolls the nodes when a credential file changes: the files' checksum is a pod annotation", () => {
    const realm = find(SECRET, "efk-elasticsearch-file-realm").inputs.stringData as Record<string, string>;
    const tokens = find(SECRET, "efk-elasticsearch-service-tokens").inputs.stringData as Record<
      string,
      string
    >;
    const digest = createHash("sha256")
      .update(realm.users_roles)
      .update(`${realm.users}\0${tokens.service_tokens}`)
      .digest("hex");
    assert.deepEqual(values(es).podAnnotations, { "efk-pulumi/credentials-checksum": digest });
  });

  it("claims volumes of the configured class and size, and sizes memory as request and limit", () => {
    const v = values(es);
    assert.deepEqual(v.volumeClaimTemplate, {
      accessModes: ["ReadWriteOnce"],
      storageClassName: "fast-ssd",
      resources: { requests: { storage: "100Gi" } },
    });
    assert.deepEqual(v.resources, {
      requests: { cpu: "2", memory: "4Gi" },
      limits: { cpu: null, memory: "4Gi" },
    });
    assert.equal(
      es.inputs.allowNullValues,
      true,
      "Pulumi would drop the null that removes the chart's CPU limit",
    );
  });

  it("installs the retention policy and the data-stream template with a Job that logs in as elastic from the Secret", () => {
    const job = find("kubernetes:batch/v1:Job", "efk-elasticsearch-index-setup").inputs as {
      spec: { template: { spec: PodSpecShape } };
    };
    const pod = job.spec.template.spec;
    const env = pod.containers[0].env;
    assert.deepEqual(env.find((e) => e.name === "ELASTIC_PASSWORD")?.valueFrom, {
      secretKeyRef: { name: "elasticsearch-master-credentials", key: "password" },
    });
    assert.ok(
      env.every((e) => e.value === undefined || !e.value.includes("mockpw")),
      "a password in the Job spec",
    );
    assert.equal(env.find((e) => e.name === "ES_URL")?.value, "https://elasticsearch-master.obs.svc:9200");
    // The CA alone, never the Secret that holds Elasticsearch's private keys.
    assert.deepEqual(pod.volumes.find((v) => v.name === "ca")?.secret, { secretName: "efk-ca" });
    const config = find("kubernetes:core/v1:ConfigMap", "efk-elasticsearch-index-setup");
    const configName = (config.outputs.metadata as { name: string }).name;
    assert.ok(configName, "the setup ConfigMap has no name");
    assert.equal(pod.volumes.find((v) => v.name === "setup")?.configMap?.name, configName);
    const data = config.inputs.data as Record<string, string>;
    assert.deepEqual(Object.keys(data).sort(), [
      "ilm-policy.json",
      "index-template-shared.json",
      "index-template.json",
      "setup.sh",
    ]);
    type Template = {
      index_patterns: string[];
      priority: number;
      template: { settings: Record<string, unknown> };
    };
    const template = JSON.parse(data["index-template.json"]) as Template;
    assert.deepEqual(template.index_patterns, ["efk-logs-*"]);
    assert.equal(template.template.settings["index.number_of_replicas"], 1);
    // The stream every cluster shares: a primary on each of this stack's 5 data nodes, and it wins over the other.
    const shared = JSON.parse(data["index-template-shared.json"]) as Template;
    assert.deepEqual(shared.index_patterns, ["efk-logs-shared"]);
    assert.equal(shared.template.settings["index.number_of_shards"], 5);
    assert.ok(shared.priority > template.priority);
    // The script installs it under the name and from the file the Job's environment gives.
    assert.match(data["setup.sh"], /put "\/_index_template\/\$SHARED_TEMPLATE" "\$SHARED_TEMPLATE_FILE"\n/);
    assert.equal(env.find((e) => e.name === "SHARED_TEMPLATE")?.value, "efk-logs-shared");
    assert.equal(env.find((e) => e.name === "SHARED_TEMPLATE_FILE")?.value, "index-template-shared.json");
  });

  it("gates readiness on a green cluster", () => {
    assert.equal(values(es).clusterHealthCheckParams, "wait_for_status=green&timeout=1s");
  });
});

describe("central stack: retention", () => {
  /** The delete phase of the ILM policy the index-setup Job installs, for a stack with `config`. */
  async function deleteAfter(config: Record<string, string>): Promise<string> {
    await runProgram(config);
    const data = find("kubernetes:core/v1:ConfigMap", "efk-elasticsearch-index-setup").inputs.data as Record<
      string,
      string
    >;
    const policy = JSON.parse(data["ilm-policy.json"]) as {
      policy: { phases: { delete: { min_age: string } } };
    };
    return policy.policy.phases.delete.min_age;
  }

  it("deletes a cluster's logs retentionDays after rollover: 30 by default, what the stack sets otherwise", async () => {
    assert.equal(await deleteAfter(CENTRAL_CONFIG), "30d");
    assert.equal(await deleteAfter({ ...CENTRAL_CONFIG, retentionDays: "9" }), "9d");
  });
});

describe("central stack: Kibana", () => {
  let kibana: Recorded;
  before(async () => {
    await runProgram({
      ...CENTRAL_CONFIG,
      namespace: "obs",
      kibanaHosts: '["kibana.example.com"]',
      edgeClusters: '["prod-eu","prod-us"]',
      fluentdExternalHosts: '["logs.example.com"]',
    });
    kibana = find(CHART, "efk-kibana-chart");
  });

  it("renders the pinned chart itself, without hooks, under an explicit release name; no Helm release", () => {
    assert.equal(kibana.inputs.chart, "kibana");
    assert.equal(kibana.inputs.version, "8.5.1");
    assert.equal(kibana.inputs.name, "kibana");
    assert.equal(kibana.inputs.namespace, "obs");
    assert.deepEqual(
      byType(RELEASE).map((r) => r.inputs.chart),
      ["elasticsearch", "prometheus-elasticsearch-exporter", "fluentd", "fluent-bit"],
    );
  });

  it("reaches Elasticsearch by a name in its certificate, verified against our CA", () => {
    const v = values(kibana);
    assert.equal(v.elasticsearchHosts, "https://elasticsearch-master.obs.svc:9200");
    const esNames = find("tls:index/certRequest:CertRequest", "efk-pki-es-http-csr").inputs
      .dnsNames as string[];
    assert.ok(esNames.includes("elasticsearch-master.obs.svc"));
    assert.equal(v.elasticsearchCertificateSecret, "efk-ca");
    const ca = find(SECRET, "efk-ca").inputs.stringData as Record<string, string>;
    assert.deepEqual(Object.keys(ca), [v.elasticsearchCertificateAuthoritiesFile]);
    assert.match(ca["ca.crt"], /mock-cert-efk-pki-ca\n/);
  });

  it("gives Kibana the elastic/kibana token whose bcrypt hash Elasticsearch holds, in the Secret the chart reads", () => {
    const secret = find(SECRET, "efk-kibana-es-token").inputs;
    // The chart's Deployment reads `<fullname>-es-token`, key `token`.
    assert.equal((secret.metadata as { name: string }).name, "kibana-kibana-es-token");
    const bearer = Buffer.from((secret.stringData as { token: string }).token, "base64");
    assert.deepEqual([...bearer.subarray(0, 4)], [0, 1, 0, 1]);
    assert.equal(
      bearer.subarray(4).toString("utf8"),
      "elastic/kibana/efk-pulumi:mockpwefkelasticsearchkibanatoken",
    );
    const tokens = find(SECRET, "efk-elasticsearch-service-tokens").inputs.stringData as Record<
      string,
      string
    >;
    // The mock's hash names the password it hashes: the same RandomPassword on both sides.
    assert.match(
      tokens.service_tokens,
      /^elastic\/kibana\/efk-pulumi:\$2a\$10\$mockbcrypt\.efk-elasticsearch-kibana-token\n$/,
    );
  });

  it("restarts Kibana when its certificate or its token changes: their digests are pod annotations", () => {
    const pem = find("tls:index/locallySignedCert:LocallySignedCert", "efk-pki-kibana-cert").outputs.certPem;
    assert.match(String(pem), /BEGIN CERTIFICATE/);
    const token = (find(SECRET, "efk-kibana-es-token").inputs.stringData as { token: string }).token;
    const digest = (text: string) => createHash("sha256").update(text).digest("hex");
    assert.deepEqual(values(kibana).podAnnotations, {
      "efk-pulumi/tls-checksum": digest(String(pem)),
      "efk-pulumi/token-checksum": digest(token),
    });
  });

  it("gives Pulumi helmTimeoutSeconds to wait for Kibana's Deployment and for the setup Job", () => {
    assert.deepEqual(values(kibana).annotations, { "pulumi.com/timeoutSeconds": "1200" });
  });

  it("names no elastic credentials in its values: no hook of the chart is applied to use them", () => {
    const v = values(kibana);
    assert.equal("elasticsearchCredentialSecret" in v, false);
    assert.equal(JSON.stringify(v).includes("elasticsearch-master-credentials"), false);
  });

  it("serves HTTPS with our certificate and turns telemetry and the newsfeed off", () => {
    const v = values(kibana);
    assert.equal(v.protocol, "https");
    const yml = parse(v.kibanaConfig["kibana.yml"]) as Record<string, unknown>;
    assert.equal(yml["server.ssl.enabled"], true);
    assert.equal(yml["telemetry.optIn"], false);
    assert.equal(yml["newsfeed.enabled"], false);
    assert.equal(yml["server.publicBaseUrl"], "https://kibana.example.com");
    const mount = v.secretMounts[0];
    assert.equal(yml["server.ssl.certificate"], `${mount.path}/tls.crt`);
    const tls = find(SECRET, "efk-kibana-tls").inputs;
    assert.equal((tls.metadata as { name: string }).name, mount.secretName);
    assert.deepEqual(Object.keys(tls.stringData as object).sort(), ["tls.crt", "tls.key"]);
  });
});

describe("central stack: Kibana setup Job", () => {
  let job: Recorded;
  let pod: {
    automountServiceAccountToken: boolean;
    containers: {
      image: string;
      command: string[];
      env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
    }[];
    volumes: { name: string; secret?: { secretName: string }; configMap?: { name: string } }[];
  };
  before(async () => {
    await runProgram({
      ...CENTRAL_CONFIG,
      namespace: "obs",
      edgeClusters: '["prod-eu","prod-us"]',
      fluentdExternalHosts: '["logs.example.com"]',
    });
    job = find("kubernetes:batch/v1:Job", "efk-kibana-setup");
    pod = (job.inputs.spec as { template: { spec: typeof pod } }).template.spec;
  });

  const env = (name: string) => pod.containers[0].env.find((e) => e.name === name);

  interface Objects {
    dataViews: { id: string; title: string; timeFieldName: string }[];
    defaultDataView: string;
    savedSearches: { id: string; attributes: { kibanaSavedObjectMeta: { searchSourceJSON: string } } }[];
  }
  const objectsOf = () =>
    JSON.parse(
      (find("kubernetes:core/v1:ConfigMap", "efk-kibana-setup").inputs.data as Record<string, string>)[
        "objects.json"
      ],
    ) as Objects;

  it("describes a view per data stream and one for all (the default), and a search per registered cluster", () => {
    const configMap = find("kubernetes:core/v1:ConfigMap", "efk-kibana-setup");
    const objects = objectsOf();
    assert.deepEqual(
      objects.dataViews.map((v) => [v.id, v.title, v.timeFieldName]),
      [
        ["efk-view-all-clusters", "efk-logs-*", "@timestamp"],
        ["efk-view-cluster-shared", "efk-logs-shared", "@timestamp"],
      ],
    );
    assert.deepEqual(
      objects.savedSearches.map((s) => [
        s.id,
        (JSON.parse(s.attributes.kibanaSavedObjectMeta.searchSourceJSON) as { query: { query: string } })
          .query.query,
      ]),
      [
        ["efk-search-logs-by-cluster", ""],
        ["efk-search-cluster-hub", 'cluster:"hub"'],
        ["efk-search-cluster-prod-eu", 'cluster:"prod-eu"'],
        ["efk-search-cluster-prod-us", 'cluster:"prod-us"'],
      ],
    );
    assert.equal(objects.defaultDataView, "efk-view-all-clusters");
    const volume = pod.volumes.find((v) => v.name === "setup");
    assert.equal(volume?.configMap?.name, (configMap.outputs.metadata as { name: string }).name);
  });

  it("signs in as the setup user with the password whose hash is in the file realm, never as elastic", () => {
    assert.equal(env("SETUP_USER")?.value, "efk-kibana-setup");
    const ref = env("SETUP_PASSWORD")?.valueFrom?.secretKeyRef;
    assert.deepEqual(ref, { name: "kibana-setup-credentials", key: "password" });
    const secret = find(SECRET, "efk-kibana-setup-credentials").inputs;
    assert.equal((secret.metadata as { name: string }).name, ref?.name);
    assert.deepEqual(secret.stringData, { password: "mockpwefkelasticsearchkibanasetuppassword" });
    const realm = find(SECRET, "efk-elasticsearch-file-realm").inputs.stringData as Record<string, string>;
    assert.match(
      realm.users,
      /^efk-kibana-setup:\$2a\$10\$mockbcrypt\.efk-elasticsearch-kibana-setup-password$/m,
    );
    assert.equal(JSON.stringify(pod).includes("elasticsearch-master-credentials"), false);
  });

  it("verifies Kibana by a name in its certificate against the CA Secret, with no service-account token mounted", () => {
    const url = new URL(String(env("KIBANA_URL")?.value));
    assert.equal(url.protocol, "https:");
    const names = find("tls:index/certRequest:CertRequest", "efk-pki-kibana-csr").inputs.dnsNames as string[];
    assert.ok(names.includes(url.hostname), `${url.hostname} is not in Kibana's certificate`);
    assert.equal(pod.volumes.find((v) => v.name === "ca")?.secret?.secretName, "efk-ca");
    assert.equal(pod.automountServiceAccountToken, false);
  });

  it("is replaced by the next pulumi up when it failed, instead of failing that one too", () => {
    assert.deepEqual((job.inputs.metadata as { annotations: object }).annotations, {
      "pulumi.com/replaceUnready": "true",
    });
    const indexSetup = find("kubernetes:batch/v1:Job", "efk-elasticsearch-index-setup");
    assert.deepEqual((indexSetup.inputs.metadata as { annotations: object }).annotations, {
      "pulumi.com/replaceUnready": "true",
    });
  });

  it("runs the script on the Node.js of the configured Kibana image", () => {
    assert.equal(pod.containers[0].image, "docker.elastic.co/kibana/kibana:8.19.26");
    assert.deepEqual(pod.containers[0].command, ["/usr/share/kibana/node/bin/node", "/setup/setup.js"]);
  });
});

describe("central stack: Kibana objects for each layout", () => {
  const objects = () =>
    JSON.parse(
      (find("kubernetes:core/v1:ConfigMap", "efk-kibana-setup").inputs.data as Record<string, string>)[
        "objects.json"
      ],
    ) as { dataViews: { title: string }[]; savedSearches: { id: string }[] };
  const base = {
    ...CENTRAL_CONFIG,
    edgeClusters: '["prod-eu","prod-us"]',
    fluentdExternalHosts: '["logs.example.com"]',
  };

  it("per-cluster: a view of each cluster's stream and of the unregistered one, and the same searches", async () => {
    await runProgram({ ...base, indexLayout: "per-cluster" });
    assert.deepEqual(
      objects().dataViews.map((v) => v.title),
      ["efk-logs-*", "efk-logs-hub", "efk-logs-prod-eu", "efk-logs-prod-us", "efk-logs-unregistered"],
    );
    assert.equal(objects().savedSearches.length, 4);
  });

  it("shared with a dedicated stream: a view of the shared stream and of the dedicated one", async () => {
    await runProgram({ ...base, dedicatedStreams: '["prod-us"]' });
    assert.deepEqual(
      objects().dataViews.map((v) => v.title),
      ["efk-logs-*", "efk-logs-shared", "efk-logs-prod-us"],
    );
  });
});
