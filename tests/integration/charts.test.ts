/**
 * The charts rendered by the real `helm` with the values `npm run render` writes, as Pulumi applies them:
 * Kibana as a `helm.v4.Chart` (`helm template --no-hooks`: Pulumi applies the manifest and never a hook),
 * the others as Releases. Runs when HELM_BIN names a helm binary, and per repository when its chart
 * sources at the pinned versions are in a directory: ELASTIC_CHARTS_DIR (elastic/helm-charts at v8.5.1:
 * `kibana`, `elasticsearch`), FLUENT_CHARTS_DIR (fluent/helm-charts: `fluentd` 0.6.0, `fluent-bit` 0.58.1),
 * PROMETHEUS_CHARTS_DIR (prometheus-community/helm-charts: `prometheus-elasticsearch-exporter` 7.4.0);
 * says SKIPPED otherwise. Nothing of either is committed.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { createHash } from "node:crypto";
import { MONITORED_SERVICES, serviceMonitorSpec } from "../../components/monitoring";
import { ELASTICSEARCH_CHART, ES_IMAGE } from "../../lib/values/elasticsearch";
import { ES_EXPORTER_CHART } from "../../lib/values/esExporter";
import { elasticsearchDnsNames, FLUENTD_SELECTOR_LABELS } from "../../lib/names";
import { FLUENT_BIT_CHART, NODE_AGENT_PRIORITY_CLASS } from "../../lib/values/fluentBit";
import { FLUENTD_CHART, FLUENTD_IMAGE_UID } from "../../lib/values/fluentd";
import { KIBANA_CHART, KIBANA_IMAGE } from "../../lib/values/kibana";
import { DEFAULT_STACK_VERSION } from "../../lib/stackVersion";
import { renderStackFile } from "./support/rendered";

const HELM = process.env.HELM_BIN ?? "";

/** The oldest release the program is tested with: the charts' own, which earlier versions deployed. */
const OLDEST_TESTED = "8.5.1";

/** Why the charts of one repository cannot be rendered here, or undefined when they can. */
function unavailable(env: string, charts: { chart: string; version: string }[]): string | undefined {
  const dir = process.env[env] ?? "";
  if (!HELM || !dir) return `Set HELM_BIN to a helm binary and ${env} to the chart sources.`;
  for (const { chart, version: pinned } of charts) {
    const file = path.join(dir, chart, "Chart.yaml");
    if (!fs.existsSync(file)) return `${file} does not exist.`;
    const version = (parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
    if (version !== pinned) return `${file} is version ${version}, not the pinned ${pinned}.`;
  }
  return undefined;
}

let work = "";
let renderDir = "";
let programSecrets: string[] = [];

/** The central stack the suites below render. */
const CENTRAL = {
  role: "central",
  clusterName: "hub",
  edgeClusters: ["edge-a"],
  fluentdExternalHosts: ["logs.efk.test"],
  fluentdLoadBalancerSourceRanges: ["0.0.0.0/0"],
  kibanaHosts: ["kibana.efk.test"],
};

/** The Secrets a render's program creates: `kubernetes:core/v1:Secret <resource> (<name>)` in resources.txt. */
function secretsCreated(dir: string): string[] {
  return fs
    .readFileSync(path.join(dir, "resources.txt"), "utf8")
    .split("\n")
    .map((l) => /^kubernetes:core\/v1:Secret \S+ \((.+)\)$/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

/** Renders the central stack once, for every suite below that runs. */
function renderCentral(): void {
  if (renderDir) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), "efk-charts-"));
  renderDir = renderStackFile(path.join(work, "stack"), "central", CENTRAL);
  programSecrets = secretsCreated(renderDir);
}

after(() => work && fs.rmSync(work, { recursive: true, force: true }));

/** `helm template <release> <dir>/<chart> -f values/<release>.yaml`, parsed. */
function template(
  env: string,
  chart: string,
  release: string,
  extra: string[] = [],
  render: string = renderDir,
): K8sObject[] {
  const out = execFileSync(
    HELM,
    [
      "template",
      release,
      path.join(process.env[env] as string, chart),
      "--namespace",
      "logging",
      "-f",
      path.join(render, "values", `${release}.yaml`),
      ...extra,
    ],
    {
      encoding: "utf8",
      env: { ...process.env, HELM_CACHE_HOME: work, HELM_CONFIG_HOME: work, HELM_DATA_HOME: work },
    },
  );
  return parseAllDocuments(out)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** Skips the suite, saying why, when its charts are not here; renders the stack otherwise. */
function needCharts(ctx: Mocha.Context, env: string, charts: { chart: string; version: string }[]): void {
  const why = unavailable(env, charts);
  if (why) {
    console.log(`      SKIPPED: the real-helm chart checks of ${env} did not run. ${why}`);
    ctx.skip();
  }
  renderCentral();
}

interface K8sObject {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    serviceName?: string;
    template?: { metadata?: { annotations?: Record<string, string> }; spec: PodSpec };
    type?: string;
    ports?: { name: string; port: number }[];
  };
  data?: Record<string, string>;
}

interface PodSpec {
  containers: {
    name: string;
    image?: string;
    command?: string[];
    args?: string[];
    ports?: { name: string; containerPort: number }[];
    env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
    envFrom?: { secretRef?: { name: string } }[];
    volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
    resources?: { limits?: Record<string, string> };
  }[];
  initContainers?: PodSpec["containers"];
  volumes?: { name: string; secret?: { secretName: string }; configMap?: { name: string } }[];
}

const HOOK = "helm.sh/hook";

/** Every Secret a pod reads: env, envFrom and volumes, in its containers and init containers. */
function secretsReferenced(pod: PodSpec): string[] {
  const containers = [...pod.containers, ...(pod.initContainers ?? [])];
  return [
    ...containers.flatMap((c) => (c.env ?? []).map((e) => e.valueFrom?.secretKeyRef?.name)),
    ...containers.flatMap((c) => (c.envFrom ?? []).map((e) => e.secretRef?.name)),
    ...(pod.volumes ?? []).map((v) => v.secret?.secretName),
  ].filter((n): n is string => n !== undefined);
}

describe("the Elastic charts rendered by the real helm", function () {
  this.timeout(120000);
  const elastic = (chart: string, release: string, extra: string[] = [], render = renderDir) =>
    template("ELASTIC_CHARTS_DIR", chart, release, extra, render);

  before(function () {
    needCharts(this, "ELASTIC_CHARTS_DIR", [KIBANA_CHART, ELASTICSEARCH_CHART]);
  });

  it("Kibana as Pulumi applies it: its config, a Deployment and a Service, no hook at all", () => {
    const objects = elastic("kibana", "kibana", ["--no-hooks"]);
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
      "ConfigMap/kibana-kibana-config",
      "Deployment/kibana-kibana",
      "Service/kibana-kibana",
    ]);
    assert.deepEqual(
      objects.filter((o) => o.metadata.annotations?.[HOOK]),
      [],
    );
  });

  it("the chart's own hooks, which Pulumi leaves out, are the ones that log in as elastic", () => {
    const hooks = elastic("kibana", "kibana").filter((o) => o.metadata.annotations?.[HOOK]);
    // If this changed, the chart changed: what --no-hooks removes must be looked at again.
    assert.deepEqual(hooks.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
      "ConfigMap/kibana-kibana-helm-scripts",
      "Job/post-delete-kibana-kibana",
      "Job/pre-install-kibana-kibana",
      "Role/post-delete-kibana-kibana",
      "Role/pre-install-kibana-kibana",
      "RoleBinding/post-delete-kibana-kibana",
      "RoleBinding/pre-install-kibana-kibana",
      "ServiceAccount/post-delete-kibana-kibana",
      "ServiceAccount/pre-install-kibana-kibana",
    ]);
    const jobs = hooks.filter((o) => o.kind === "Job");
    assert.ok(
      jobs.every((j) =>
        secretsReferenced(j.spec!.template!.spec).includes("elasticsearch-master-credentials"),
      ),
    );
  });

  it("every Secret the Kibana pod reads is one the program creates, and none holds elastic's credentials", () => {
    const deployment = elastic("kibana", "kibana", ["--no-hooks"]).find((o) => o.kind === "Deployment");
    const pod = deployment!.spec!.template!.spec;
    const referenced = secretsReferenced(pod);
    assert.deepEqual([...new Set(referenced)].sort(), [
      "efk-ca",
      "kibana-encryption-keys",
      "kibana-kibana-es-token",
      "kibana-tls",
    ]);
    for (const name of referenced) {
      assert.ok(
        programSecrets.includes(name),
        `${name} is read by Kibana but the program does not create it`,
      );
    }
    assert.equal(referenced.includes("elasticsearch-master-credentials"), false);
    const token = pod.containers[0].env?.find((e) => e.name === "ELASTICSEARCH_SERVICEACCOUNTTOKEN");
    assert.deepEqual(token?.valueFrom?.secretKeyRef, {
      name: "kibana-kibana-es-token",
      key: "token",
      optional: false,
    });
  });

  it("Kibana's null CPU limit deletes the chart's default through a values file, as Pulumi passes it", () => {
    const deployment = elastic("kibana", "kibana", ["--no-hooks"]).find((o) => o.kind === "Deployment");
    const limits = deployment!.spec!.template!.spec.containers[0].resources?.limits;
    assert.deepEqual(limits, { memory: "1Gi" });
  });

  it("Kibana's pods carry its certificate's and token's digests, its Deployment Pulumi's timeout", () => {
    const deployment = elastic("kibana", "kibana", ["--no-hooks"]).find((o) => o.kind === "Deployment");
    const annotations = deployment!.spec!.template!.metadata?.annotations ?? {};
    assert.match(annotations["efk-pulumi/tls-checksum"] ?? "", /^[0-9a-f]{64}$/);
    assert.match(annotations["efk-pulumi/token-checksum"] ?? "", /^[0-9a-f]{64}$/);
    assert.equal(deployment!.metadata.annotations?.["pulumi.com/timeoutSeconds"], "1200");
  });

  it("Elasticsearch mounts the service_tokens file and rolls its nodes when a credential file changes", () => {
    const objects = elastic("elasticsearch", "elasticsearch");
    assert.deepEqual(
      objects.filter((o) => o.metadata.annotations?.[HOOK]).map((o) => o.metadata.name),
      [],
      "the Elasticsearch release has hooks",
    );
    const sts = objects.find((o) => o.kind === "StatefulSet");
    const pod = sts!.spec!.template!;
    const mount = pod.spec.containers[0].volumeMounts?.find((m) => m.mountPath.endsWith("/service_tokens"));
    assert.deepEqual(mount && { path: mount.mountPath, subPath: mount.subPath }, {
      path: "/usr/share/elasticsearch/config/service_tokens",
      subPath: "service_tokens",
    });
    assert.match(pod.metadata?.annotations?.["efk-pulumi/credentials-checksum"] ?? "", /^[0-9a-f]{64}$/);
    for (const name of secretsReferenced(pod.spec)) {
      assert.ok(
        programSecrets.includes(name),
        `${name} is read by Elasticsearch but the program does not create it`,
      );
    }
    const config = objects.find((o) => o.kind === "ConfigMap" && o.data?.["roles.yml"]);
    assert.ok(
      (parse(config!.data!["roles.yml"]) as Record<string, unknown>).efk_kibana_setup,
      "roles.yml lacks the Kibana setup role",
    );
  });

  it("with dedicated masters, renders two node groups whose data nodes discover the masters and serve the clients", () => {
    const dir = renderStackFile(path.join(work, "stack-dedicated"), "central", {
      ...CENTRAL,
      esDedicatedMasters: 3,
      esReplicas: 2,
    });
    const masters = elastic("elasticsearch", "elasticsearch", [], dir);
    const data = elastic("elasticsearch", "elasticsearch-data", [], dir);
    const names = (objects: K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`);
    // One namespace holds both releases: no object of one may be an object of the other.
    assert.deepEqual(
      names(masters).filter((n) => names(data).includes(n)),
      [],
    );
    const env = (objects: K8sObject[]) => {
      const sts = objects.find((o) => o.kind === "StatefulSet")!;
      const vars = sts.spec!.template!.spec.containers[0].env ?? [];
      return { sts, get: (name: string) => vars.find((e) => e.name === name)?.value };
    };
    const m = env(masters);
    assert.equal(m.sts.metadata.name, "elasticsearch-master");
    assert.equal(m.sts.spec!.replicas, 3);
    assert.equal(m.get("node.roles"), "master,");
    assert.equal(
      m.get("cluster.initial_master_nodes"),
      "elasticsearch-master-0,elasticsearch-master-1,elasticsearch-master-2,",
    );
    assert.equal(m.get("discovery.seed_hosts"), "elasticsearch-master-headless");
    const d = env(data);
    assert.equal(d.sts.metadata.name, "elasticsearch-data");
    assert.equal(d.sts.spec!.replicas, 2);
    assert.equal(d.get("node.roles"), "data,data_content,data_hot,data_warm,data_cold,ingest,");
    assert.equal(d.get("cluster.initial_master_nodes"), undefined, "data nodes would bootstrap a cluster");
    assert.equal(d.get("discovery.seed_hosts"), "elasticsearch-master-headless");
    assert.equal(d.get("cluster.name"), m.get("cluster.name"));
    // The masters' headless Service is what the data nodes seed from; the masters have no client Service.
    const services = (objects: K8sObject[]) =>
      objects.filter((o) => o.kind === "Service").map((o) => o.metadata.name);
    assert.deepEqual(services(masters), ["elasticsearch-master-headless"]);
    assert.deepEqual(services(data).sort(), ["elasticsearch-data", "elasticsearch-data-headless"]);
    // Clients' URL names the data nodes' Service, and the certificate every name a node answers to.
    const kibana = parse(fs.readFileSync(path.join(dir, "values", "kibana.yaml"), "utf8")) as {
      elasticsearchHosts: string;
    };
    assert.equal(new URL(kibana.elasticsearchHosts).hostname, "elasticsearch-data.logging.svc");
    const certified = elasticsearchDnsNames("logging", true);
    for (const sts of [m.sts, d.sts]) {
      assert.ok(certified.includes(`*.${sts.spec!.serviceName}.logging.svc`), `pods of ${sts.metadata.name}`);
    }
    for (const name of [...services(masters), ...services(data)]) {
      assert.ok(certified.includes(`${name}.logging.svc`), `${name} is not in the certificate`);
    }
    const created = secretsCreated(dir);
    for (const sts of [m.sts, d.sts]) {
      for (const name of secretsReferenced(sts.spec!.template!.spec)) {
        assert.ok(
          created.includes(name),
          `${name} is read by ${sts.metadata.name} but the program does not create it`,
        );
      }
    }
  });

  it(`Elasticsearch and Kibana ${OLDEST_TESTED} render as ${DEFAULT_STACK_VERSION} does, but for their images`, () => {
    // The charts read nothing from the tag but its major (elasticsearch.esMajorVersion in _helpers.tpl), so
    // any difference between two 8.x renders would be something the values builders make of the version.
    const dir = renderStackFile(path.join(work, `stack-${OLDEST_TESTED}`), "central", {
      ...CENTRAL,
      esImageTag: OLDEST_TESTED,
      kibanaImageTag: OLDEST_TESTED,
    });
    const images = (objects: K8sObject[]) =>
      objects.flatMap((o) => {
        const pod = o.spec?.template?.spec;
        return pod ? [...pod.containers, ...(pod.initContainers ?? [])].map((c) => c.image) : [];
      });
    for (const [chart, release, image, extra] of [
      ["elasticsearch", "elasticsearch", ES_IMAGE, []],
      ["kibana", "kibana", KIBANA_IMAGE, ["--no-hooks"]],
    ] as const) {
      const current = elastic(chart, release, [...extra]);
      const oldest = elastic(chart, release, [...extra], dir);
      assert.ok(images(current).length > 0, `${release} renders no container`);
      for (const [objects, tag] of [
        [current, DEFAULT_STACK_VERSION],
        [oldest, OLDEST_TESTED],
      ] as const) {
        assert.deepEqual(
          [...new Set(images(objects))],
          [`${image}:${tag}`],
          `${release} at ${tag} runs another image`,
        );
      }
      const retagged = JSON.parse(
        JSON.stringify(oldest)
          .split(`"${image}:${OLDEST_TESTED}"`)
          .join(`"${image}:${DEFAULT_STACK_VERSION}"`),
      ) as K8sObject[];
      assert.deepEqual(
        retagged,
        current,
        `${release} at ${OLDEST_TESTED} differs from ${DEFAULT_STACK_VERSION}`,
      );
    }
  });

  it("an image change rolls Elasticsearch one node at a time, each waiting for green; Kibana stops before it starts", () => {
    const objects = elastic("elasticsearch", "elasticsearch");
    const sts = objects.find((o) => o.kind === "StatefulSet") as K8sObject & {
      spec: { updateStrategy?: { type: string } };
    };
    assert.deepEqual(sts.spec.updateStrategy, { type: "RollingUpdate" });
    // A restarted node is ready once the cluster is green again (before, it is not), so the StatefulSet
    // controller takes down the next one only then.
    const probe = (
      sts.spec.template!.spec.containers[0] as { readinessProbe?: { exec?: { command: string[] } } }
    ).readinessProbe?.exec?.command.join(" ");
    assert.ok(
      probe?.includes('http "/_cluster/health?wait_for_status=green&timeout=1s" "--fail"'),
      "the readiness probe does not wait for green",
    );
    const pdb = objects.find((o) => o.kind === "PodDisruptionBudget") as
      | (K8sObject & { spec: { maxUnavailable: number } })
      | undefined;
    assert.equal(pdb?.spec.maxUnavailable, 1, "no budget of one node at a time for drains");
    // Kibana's saved-object migrations want no older Kibana running beside the new one.
    const kibana = elastic("kibana", "kibana", ["--no-hooks"]).find((o) => o.kind === "Deployment") as
      | (K8sObject & { spec: { strategy?: { type: string } } })
      | undefined;
    assert.deepEqual(kibana?.spec.strategy, { type: "Recreate" });
  });
});

/** The object names of `kind` the program itself creates, from resources.txt. */
function programObjects(kind: string): string[] {
  return fs
    .readFileSync(path.join(renderDir, "resources.txt"), "utf8")
    .split("\n")
    .map((l) => new RegExp(`^kubernetes:core/v1:${kind} \\S+ \\((.+)\\)$`).exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

/** The one Service a ServiceMonitor of `svc` would select, with its metrics port. */
function assertSelectsOneService(
  objects: K8sObject[],
  svc: (typeof MONITORED_SERVICES)[keyof typeof MONITORED_SERVICES],
): void {
  const spec = serviceMonitorSpec("logging", svc.name, svc.instance, svc.target) as {
    selector: { matchLabels: Record<string, string> };
    endpoints: { port: string }[];
  };
  const selected = objects.filter(
    (o) =>
      o.kind === "Service" &&
      Object.entries(spec.selector.matchLabels).every(([k, v]) => o.metadata.labels?.[k] === v),
  );
  assert.equal(
    selected.length,
    1,
    `${svc.name}: ${selected.length} Services match, not 1 (a double scrape, or none)`,
  );
  const port = selected[0].spec?.ports?.find((p) => p.name === spec.endpoints[0].port);
  assert.equal(
    port?.port,
    svc.target.port,
    `${svc.name}: no port ${spec.endpoints[0].port} = ${svc.target.port}`,
  );
}

describe("the Fluent charts rendered by the real helm", function () {
  this.timeout(120000);
  const fluent = (chart: string, release: string) => template("FLUENT_CHARTS_DIR", chart, release);

  before(function () {
    needCharts(this, "FLUENT_CHARTS_DIR", [FLUENTD_CHART, FLUENT_BIT_CHART]);
  });

  it("runs the aggregator on our fluent.conf, from the program's ConfigMap, rolling it when that changes", () => {
    const objects = fluent("fluentd", "fluentd");
    const sts = objects.find((o) => o.kind === "StatefulSet")!;
    const main = sts.spec!.template!.spec.volumes?.find((v) => v.name === "etcfluentd-main");
    assert.equal(main?.configMap?.name, "fluentd-main-efk");
    assert.ok(programObjects("ConfigMap").includes("fluentd-main-efk"), "the program does not create it");
    assert.equal(
      objects.some((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("fluentd-main-")),
      false,
      "the chart still renders its own fluent.conf",
    );
    const file = (name: string) => fs.readFileSync(path.join(renderDir, "fluentd", name), "utf8");
    const ours = {
      "fluent.conf": file("fluent.conf"),
      "buffer-workers.sh": file("buffer-workers.sh"),
      "filter_efk_count.rb": file("filter_efk_count.rb"),
      "in_efk_forward.rb": file("in_efk_forward.rb"),
    };
    const annotations = sts.spec!.template!.metadata?.annotations ?? {};
    assert.equal(
      annotations["efk-pulumi/main-config-checksum"],
      createHash("sha256").update(JSON.stringify(ours)).digest("hex"),
    );
    // The init container that hands on gone workers' chunks mounts the chart's own buffer claim.
    const init = sts.spec!.template!.spec.initContainers?.find((c) => c.name === "buffer-workers");
    const claims = (sts.spec as { volumeClaimTemplates?: { metadata: { name: string } }[] })
      .volumeClaimTemplates;
    assert.ok(init, "no buffer-workers init container");
    assert.deepEqual(
      init.volumeMounts?.map((m) => m.name),
      ["etcfluentd-main", claims?.[0].metadata.name],
    );
    assert.equal(annotations["prometheus.io/port"], "24231");
    // Our plugins, as files in the image's plugin directory (which its entrypoint loads with -p).
    const fluentd = sts.spec!.template!.spec.containers.find((c) => c.name === "fluentd");
    assert.deepEqual(
      fluentd?.volumeMounts?.filter((m) => m.mountPath.startsWith("/fluentd/plugins")),
      ["filter_efk_count.rb", "in_efk_forward.rb"].map((f) => ({
        name: "etcfluentd-main",
        mountPath: `/fluentd/plugins/${f}`,
        subPath: f,
        readOnly: true,
      })),
    );
    // The registered clusters' certificates, where the forward input reads them.
    const clients = sts.spec!.template!.spec.volumes?.find((v) => v.configMap?.name === "fluentd-clients");
    assert.ok(clients, "no volume of the fluentd-clients ConfigMap");
    assert.ok(programObjects("ConfigMap").includes("fluentd-clients"), "the program does not create it");
    assert.deepEqual(
      fluentd?.volumeMounts?.filter((m) => m.name === clients.name).map((m) => m.mountPath),
      ["/fluentd/clients"],
    );
  });

  it("gives a ServiceMonitor exactly one Service to scrape, on the metrics port, for the aggregator and the agents", () => {
    assertSelectsOneService(fluent("fluentd", "fluentd"), MONITORED_SERVICES.fluentd);
    assertSelectsOneService(fluent("fluent-bit", "fluent-bit"), MONITORED_SERVICES.fluentBit);
  });

  it("annotates the agents' pods with the port their configuration listens on", () => {
    const ds = fluent("fluent-bit", "fluent-bit").find((o) => o.kind === "DaemonSet")!;
    const pod = ds.spec!.template!;
    assert.equal(pod.metadata?.annotations?.["prometheus.io/port"], "2020");
    assert.equal(pod.metadata?.annotations?.["prometheus.io/path"], "/api/v2/metrics/prometheus");
    assert.deepEqual(pod.spec.containers[0].ports?.find((p) => p.name === "http")?.containerPort, 2020);
    const conf = fs.readFileSync(path.join(renderDir, "fluent-bit", "fluent-bit.conf"), "utf8");
    assert.match(conf, /^\s*HTTP_Port\s+2020$/m);
  });

  it("runs the aggregator as fluent on a read-only root, both containers locked down, spread over nodes and zones", () => {
    const sts = fluent("fluentd", "fluentd").find((o) => o.kind === "StatefulSet")!;
    const pod = sts.spec!.template as unknown as HardenedPod;
    assert.deepEqual(pod.spec.securityContext, {
      runAsNonRoot: true,
      runAsUser: FLUENTD_IMAGE_UID,
      runAsGroup: FLUENTD_IMAGE_UID,
      fsGroup: FLUENTD_IMAGE_UID,
      fsGroupChangePolicy: "OnRootMismatch",
      seccompProfile: { type: "RuntimeDefault" },
    });
    const locked = {
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    };
    const fluentd = pod.spec.containers.find((c) => c.name === "fluentd");
    assert.deepEqual(fluentd?.securityContext, locked);
    assert.deepEqual(
      pod.spec.initContainers?.find((c) => c.name === "buffer-workers")?.securityContext,
      locked,
    );
    const tmp = fluentd?.volumeMounts?.find((m) => m.mountPath === "/tmp");
    assert.equal(pod.spec.volumes?.find((v) => v.name === tmp?.name)?.emptyDir?.medium, "Memory");
    // The spread constraints and the program's PodDisruptionBudget select the chart's pods.
    const selects = (labels: Record<string, string>) =>
      Object.entries(labels).every(([k, v]) => pod.metadata?.labels?.[k] === v);
    assert.deepEqual(
      pod.spec.topologySpreadConstraints?.map((c) => [
        c.topologyKey,
        c.whenUnsatisfiable,
        selects(c.labelSelector.matchLabels),
      ]),
      [
        ["kubernetes.io/hostname", "ScheduleAnyway", true],
        ["topology.kubernetes.io/zone", "ScheduleAnyway", true],
      ],
    );
    assert.ok(selects(FLUENTD_SELECTOR_LABELS), "the PodDisruptionBudget's selector misses the pods");
    assert.ok(
      programResources().includes("kubernetes:policy/v1:PodDisruptionBudget efk-fluentd-pdb (fluentd)"),
    );
  });

  it("runs the agents in the PriorityClass the program creates, under the runtime's seccomp profile", () => {
    const ds = fluent("fluent-bit", "fluent-bit").find((o) => o.kind === "DaemonSet")!;
    const pod = ds.spec!.template as unknown as HardenedPod;
    assert.equal(pod.spec.priorityClassName, NODE_AGENT_PRIORITY_CLASS.name);
    assert.ok(
      programResources().includes(
        `kubernetes:scheduling.k8s.io/v1:PriorityClass efk-fluent-bit-priority (${NODE_AGENT_PRIORITY_CLASS.name})`,
      ),
    );
    assert.deepEqual(pod.spec.securityContext?.seccompProfile, { type: "RuntimeDefault" });
  });
});

/** The pod fields the hardening checks read. */
interface HardenedPod {
  metadata?: { labels?: Record<string, string> };
  spec: {
    securityContext?: Record<string, unknown>;
    priorityClassName?: string;
    topologySpreadConstraints?: {
      topologyKey: string;
      whenUnsatisfiable: string;
      labelSelector: { matchLabels: Record<string, string> };
    }[];
    volumes?: { name: string; emptyDir?: { medium?: string } }[];
    containers: {
      name: string;
      securityContext?: Record<string, unknown>;
      volumeMounts?: { name: string; mountPath: string }[];
    }[];
    initContainers?: { name: string; securityContext?: Record<string, unknown> }[];
  };
}

/** Every resource the program declares: `<type> <resource name> (<object name>)`, from resources.txt. */
function programResources(): string[] {
  return fs.readFileSync(path.join(renderDir, "resources.txt"), "utf8").split("\n");
}

describe("the exporter chart rendered by the real helm", function () {
  this.timeout(120000);
  let objects: K8sObject[];

  before(function () {
    needCharts(this, "PROMETHEUS_CHARTS_DIR", [ES_EXPORTER_CHART]);
    objects = template("PROMETHEUS_CHARTS_DIR", ES_EXPORTER_CHART.chart, "elasticsearch-exporter");
  });

  it("reaches Elasticsearch over HTTPS verified by our CA, collecting only what its role allows", () => {
    const container = objects.find((o) => o.kind === "Deployment")!.spec!.template!.spec.containers[0];
    const flags = [...(container.command ?? []), ...(container.args ?? [])];
    for (const flag of [
      "--es.uri=https://elasticsearch-master.logging.svc:9200",
      "--es.ca=/ssl/ca.crt",
      "--es.all",
      "--es.indices",
      "--no-es.aliases",
    ]) {
      assert.ok(flags.includes(flag), `${flag} is not among ${flags.join(" ")}`);
    }
    for (const needsMore of [
      "--es.client-cert",
      "--es.indices_settings",
      "--es.indices_mappings",
      "--es.shards",
      "--collector.snapshots",
      "--es.ssl-skip-verify",
    ]) {
      assert.ok(!flags.some((f) => f.startsWith(needsMore)), `${needsMore} is set`);
    }
  });

  it("reads its password and CA from Secrets the program creates, and makes no Secret of its own", () => {
    const pod = objects.find((o) => o.kind === "Deployment")!.spec!.template!.spec;
    const env = Object.fromEntries((pod.containers[0].env ?? []).map((e) => [e.name, e]));
    assert.equal(env.ES_USERNAME?.value, "efk-exporter");
    assert.deepEqual(env.ES_PASSWORD?.valueFrom?.secretKeyRef, {
      name: "elasticsearch-exporter-credentials",
      key: "password",
    });
    for (const name of secretsReferenced(pod)) {
      assert.ok(
        programSecrets.includes(name),
        `${name} is read by the exporter but the program does not create it`,
      );
    }
    assert.deepEqual(
      objects.filter((o) => o.kind === "Secret").map((o) => o.metadata.name),
      [],
    );
  });

  it("serves its metrics in the cluster only, to a ServiceMonitor's one Service", () => {
    const service = objects.find((o) => o.kind === "Service")!;
    assert.equal(service.spec?.type, "ClusterIP");
    assertSelectsOneService(objects, MONITORED_SERVICES.esExporter);
  });
});
