/**
 * The Elastic charts rendered by the real `helm` with the values `npm run render` writes, as Pulumi
 * applies them: Kibana as a `helm.v4.Chart` (`helm template --no-hooks`: Pulumi applies the manifest and
 * never a hook), Elasticsearch as a Release. Runs when HELM_BIN names a helm binary and ELASTIC_CHARTS_DIR
 * a directory holding the `kibana` and `elasticsearch` charts at their pinned version (the
 * elastic/helm-charts sources at tag v8.5.1); says SKIPPED otherwise. Nothing of either is committed.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { ELASTICSEARCH_CHART } from "../../lib/values/elasticsearch";
import { KIBANA_CHART } from "../../lib/values/kibana";
import { renderStackFile } from "./support/rendered";

const HELM = process.env.HELM_BIN ?? "";
const CHARTS = process.env.ELASTIC_CHARTS_DIR ?? "";

function unavailable(): string | undefined {
  if (!HELM || !CHARTS)
    return "Set HELM_BIN to a helm binary and ELASTIC_CHARTS_DIR to the elastic/helm-charts v8.5.1 sources.";
  for (const [chart, pinned] of [
    ["kibana", KIBANA_CHART.version],
    ["elasticsearch", ELASTICSEARCH_CHART.version],
  ]) {
    const file = path.join(CHARTS, chart, "Chart.yaml");
    if (!fs.existsSync(file)) return `${file} does not exist.`;
    const version = (parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
    if (version !== pinned) return `${file} is version ${version}, not the pinned ${pinned}.`;
  }
  return undefined;
}

interface K8sObject {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: { template?: { metadata?: { annotations?: Record<string, string> }; spec: PodSpec } };
  data?: Record<string, string>;
}

interface PodSpec {
  containers: {
    name: string;
    env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
    envFrom?: { secretRef?: { name: string } }[];
    volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
    resources?: { limits?: Record<string, string> };
  }[];
  initContainers?: PodSpec["containers"];
  volumes?: { name: string; secret?: { secretName: string } }[];
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
  let dir: string;
  let render: string;
  let programSecrets: string[];

  function template(chart: string, release: string, extra: string[] = []): K8sObject[] {
    const out = execFileSync(
      HELM,
      [
        "template",
        release,
        path.join(CHARTS, chart),
        "--namespace",
        "logging",
        "-f",
        path.join(render, "values", `${release}.yaml`),
        ...extra,
      ],
      {
        encoding: "utf8",
        env: { ...process.env, HELM_CACHE_HOME: dir, HELM_CONFIG_HOME: dir, HELM_DATA_HOME: dir },
      },
    );
    return parseAllDocuments(out)
      .map((d) => d.toJS() as K8sObject | null)
      .filter((o): o is K8sObject => o !== null);
  }

  before(function () {
    const why = unavailable();
    if (why) {
      console.log(`      SKIPPED: the real-helm chart checks did not run. ${why}`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "efk-charts-"));
    render = renderStackFile(path.join(dir, "stack"), "central", {
      role: "central",
      clusterName: "hub",
      edgeClusters: ["edge-a"],
      fluentdExternalHosts: ["logs.efk.test"],
      kibanaHosts: ["kibana.efk.test"],
    });
    // The Secrets the program creates: `kubernetes:core/v1:Secret <resource> (<name>)` in resources.txt.
    programSecrets = fs
      .readFileSync(path.join(render, "resources.txt"), "utf8")
      .split("\n")
      .map((l) => /^kubernetes:core\/v1:Secret \S+ \((.+)\)$/.exec(l)?.[1])
      .filter((n): n is string => n !== undefined);
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it("Kibana as Pulumi applies it: its config, a Deployment and a Service, no hook at all", () => {
    const objects = template("kibana", "kibana", ["--no-hooks"]);
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
    const hooks = template("kibana", "kibana").filter((o) => o.metadata.annotations?.[HOOK]);
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
    const deployment = template("kibana", "kibana", ["--no-hooks"]).find((o) => o.kind === "Deployment");
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
    const deployment = template("kibana", "kibana", ["--no-hooks"]).find((o) => o.kind === "Deployment");
    const limits = deployment!.spec!.template!.spec.containers[0].resources?.limits;
    assert.deepEqual(limits, { memory: "1Gi" });
  });

  it("Kibana's pods carry its certificate's and token's digests, its Deployment Pulumi's timeout", () => {
    const deployment = template("kibana", "kibana", ["--no-hooks"]).find((o) => o.kind === "Deployment");
    const annotations = deployment!.spec!.template!.metadata?.annotations ?? {};
    assert.match(annotations["efk-pulumi/tls-checksum"] ?? "", /^[0-9a-f]{64}$/);
    assert.match(annotations["efk-pulumi/token-checksum"] ?? "", /^[0-9a-f]{64}$/);
    assert.equal(deployment!.metadata.annotations?.["pulumi.com/timeoutSeconds"], "1200");
  });

  it("Elasticsearch mounts the service_tokens file and rolls its nodes when a credential file changes", () => {
    const objects = template("elasticsearch", "elasticsearch");
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
});
