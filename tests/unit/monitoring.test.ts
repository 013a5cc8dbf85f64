import "../mocks";
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { byType, find, recorded, type Recorded } from "../mocks";
import { CENTRAL_CONFIG, EDGE_CONFIG, centralRef, runProgram, runProgramExpectingError } from "../harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
const SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor";
const PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule";
const REGISTERED = centralRef();

/** Every object of the Prometheus Operator's API group: what a cluster without its CRDs cannot take. */
const operatorObjects = () => recorded.filter((r) => r.type.startsWith("kubernetes:monitoring.coreos.com/"));

function podAnnotations(release: string): Record<string, string> {
  return (
    (find(RELEASE, release).inputs.values as { podAnnotations?: Record<string, string> }).podAnnotations ?? {}
  );
}

const prometheusAnnotations = (annotations: Record<string, string>) =>
  Object.fromEntries(Object.entries(annotations).filter(([k]) => k.startsWith("prometheus.io/")));

function rulesConfigMap(): { groups: { name: string; rules: { alert: string }[] }[] } {
  const cm = find(CONFIG_MAP, "efk-monitoring-rules").inputs;
  assert.equal((cm.metadata as { name: string }).name, "efk-alert-rules");
  return parse((cm.data as Record<string, string>)["efk-alerts.yaml"]) as {
    groups: { name: string; rules: { alert: string }[] }[];
  };
}

const spec = (r: Recorded) =>
  r.inputs.spec as {
    selector: { matchLabels: Record<string, string> };
    namespaceSelector: { matchNames: string[] };
    endpoints: { port: string; path: string }[];
  };

describe("monitoring on the central stack: the default, annotations", () => {
  before(async () => {
    await runProgram(CENTRAL_CONFIG);
  });

  it("declares no object of the Prometheus Operator, so a cluster without its CRDs deploys", () => {
    assert.deepEqual(
      operatorObjects().map((r) => r.type),
      [],
    );
  });

  it("annotates the aggregator, the agents and the exporter for Prometheus' pod discovery", () => {
    assert.deepEqual(prometheusAnnotations(podAnnotations("efk-fluentd-release")), {
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "24231",
      // Every worker's series; /metrics is worker 0's alone.
      "prometheus.io/path": "/aggregated_metrics",
    });
    assert.deepEqual(prometheusAnnotations(podAnnotations("efk-fluent-bit-release")), {
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "2020",
      "prometheus.io/path": "/api/v2/metrics/prometheus",
    });
    assert.deepEqual(prometheusAnnotations(podAnnotations("efk-monitoring-exporter")), {
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "9108",
      "prometheus.io/path": "/metrics",
    });
  });

  it("keeps the metrics ports in the cluster: the external Service carries the forward port only", () => {
    const external = find("kubernetes:core/v1:Service", "efk-fluentd-external").inputs.spec as {
      ports: { name: string }[];
    };
    assert.deepEqual(
      external.ports.map((p) => p.name),
      ["forward"],
    );
    const exporter = find(RELEASE, "efk-monitoring-exporter").inputs.values as { service: { type: string } };
    assert.equal(exporter.service.type, "ClusterIP");
  });

  it("has the exporter verify Elasticsearch against our CA, as a user that may only monitor", () => {
    const v = find(RELEASE, "efk-monitoring-exporter").inputs.values as {
      es: { uri: string; ssl: { enabled: boolean; ca: { path: string }; client: { enabled: boolean } } };
      secretMounts: { secretName: string; path: string }[];
      env: Record<string, string>;
      extraEnvSecrets: Record<string, { secret: string; key: string }>;
    };
    assert.equal(v.es.uri, "https://elasticsearch-master.logging.svc:9200");
    assert.deepEqual(v.es.ssl.enabled && v.es.ssl.ca.path, "/ssl/ca.crt");
    assert.equal(v.es.ssl.client.enabled, false);
    assert.deepEqual(v.secretMounts, [{ name: "ca", secretName: "efk-ca", path: "/ssl" }]);
    assert.deepEqual(v.env, { ES_USERNAME: "efk-exporter" });
    const ref = v.extraEnvSecrets.ES_PASSWORD;
    const secret = find("kubernetes:core/v1:Secret", "efk-monitoring-exporter-credentials").inputs;
    assert.equal((secret.metadata as { name: string }).name, ref.secret);
    assert.deepEqual(secret.stringData, { [ref.key]: "mockpwefkelasticsearchexporterpassword" });
    const es = find(RELEASE, "efk-elasticsearch-release").inputs.values as {
      esConfig: Record<string, string>;
    };
    const roles = parse(es.esConfig["roles.yml"]) as Record<string, unknown>;
    assert.deepEqual(roles.efk_monitor, {
      cluster: ["monitor"],
      indices: [{ names: ["efk-logs-*"], privileges: ["monitor"] }],
    });
  });

  it("puts the alert rules in a ConfigMap: aggregator, clusters, Elasticsearch and the central's agents", () => {
    const groups = rulesConfigMap().groups;
    assert.deepEqual(
      groups.map((g) => g.name),
      ["efk-aggregator", "efk-clusters", "efk-elasticsearch", "efk-agent", "efk-certificates"],
    );
  });

  it("ships the dashboard as a ConfigMap Grafana's sidecar picks up", () => {
    const cm = find(CONFIG_MAP, "efk-monitoring-dashboard").inputs;
    assert.equal((cm.metadata as { labels: Record<string, string> }).labels.grafana_dashboard, "1");
    const dashboard = JSON.parse((cm.data as Record<string, string>)["efk-pipeline.json"]) as {
      title: string;
    };
    assert.equal(dashboard.title, "EFK pipeline");
  });
});

describe("monitoring on the central stack: prometheus-operator", () => {
  it("declares a ServiceMonitor per scraped Service, selected by the charts' labels, and no rule unless asked", async () => {
    await runProgram({
      ...CENTRAL_CONFIG,
      metrics: "prometheus-operator",
      prometheusLabels: '["release=kube-prometheus-stack"]',
    });
    const monitors = byType(SERVICE_MONITOR);
    assert.deepEqual(monitors.map((m) => (m.inputs.metadata as { name: string }).name).sort(), [
      "efk-elasticsearch-exporter",
      "efk-fluent-bit",
      "efk-fluentd",
    ]);
    for (const m of monitors) {
      assert.deepEqual((m.inputs.metadata as { labels: Record<string, string> }).labels, {
        "app.kubernetes.io/part-of": "efk-pulumi",
        release: "kube-prometheus-stack",
      });
      assert.deepEqual(spec(m).namespaceSelector, { matchNames: ["logging"] });
    }
    // The aggregator's pods, as the chart labels them (the external Service selects them the same way).
    const external = find("kubernetes:core/v1:Service", "efk-fluentd-external").inputs.spec as {
      selector: Record<string, string>;
    };
    const fluentd = monitors.find((m) => (m.inputs.metadata as { name: string }).name === "efk-fluentd")!;
    assert.deepEqual(spec(fluentd).selector.matchLabels, external.selector);
    assert.deepEqual(spec(fluentd).endpoints, [
      { port: "metrics", path: "/aggregated_metrics", interval: "30s" },
    ]);
    const fluentBit = monitors.find(
      (m) => (m.inputs.metadata as { name: string }).name === "efk-fluent-bit",
    )!;
    assert.deepEqual(spec(fluentBit).endpoints, [
      { port: "http", path: "/api/v2/metrics/prometheus", interval: "30s" },
    ]);
    assert.equal(byType(PROMETHEUS_RULE).length, 0);
    assert.deepEqual(prometheusAnnotations(podAnnotations("efk-fluentd-release")), {});
  });

  it("declares the PrometheusRule with the same groups as the rules ConfigMap when asked", async () => {
    await runProgram({ ...CENTRAL_CONFIG, metrics: "prometheus-operator", prometheusRules: "true" });
    const rule = find(PROMETHEUS_RULE, "efk-monitoring-prometheus-rule").inputs;
    assert.deepEqual(rule.spec, rulesConfigMap());
  });
});

describe("monitoring on the central stack: none", () => {
  before(async () => {
    await runProgram({ ...CENTRAL_CONFIG, metrics: "none" });
  });

  it("scrapes nothing: no annotation, no operator object, no exporter and no exporter user", () => {
    assert.deepEqual(operatorObjects(), []);
    assert.deepEqual(prometheusAnnotations(podAnnotations("efk-fluentd-release")), {});
    assert.deepEqual(prometheusAnnotations(podAnnotations("efk-fluent-bit-release")), {});
    assert.ok(!byType(RELEASE).some((r) => r.name === "efk-monitoring-exporter"));
    const realm = find("kubernetes:core/v1:Secret", "efk-elasticsearch-file-realm").inputs
      .stringData as Record<string, string>;
    assert.doesNotMatch(realm.users, /efk-exporter/);
    assert.doesNotMatch(realm.users_roles, /efk-exporter/);
  });

  it("still writes the rules, for a Prometheus that scrapes by other means", () => {
    assert.ok(rulesConfigMap().groups.length > 0);
  });
});

describe("monitoring on an edge stack", () => {
  it("annotates its agents and keeps their alerts, labelled with its cluster", async () => {
    await runProgram(EDGE_CONFIG, REGISTERED);
    assert.equal(
      prometheusAnnotations(podAnnotations("efk-fluent-bit-release"))["prometheus.io/path"],
      "/api/v2/metrics/prometheus",
    );
    const groups = rulesConfigMap().groups;
    assert.deepEqual(
      groups.map((g) => g.name),
      ["efk-agent"],
    );
    assert.deepEqual(operatorObjects(), []);
  });

  it("with the operator: a ServiceMonitor of its agents and, when asked, their PrometheusRule", async () => {
    await runProgram({ ...EDGE_CONFIG, metrics: "prometheus-operator", prometheusRules: "true" }, REGISTERED);
    assert.deepEqual(
      byType(SERVICE_MONITOR).map((m) => (m.inputs.metadata as { name: string }).name),
      ["efk-fluent-bit"],
    );
    const rule = find(PROMETHEUS_RULE, "efk-monitoring-prometheus-rule").inputs.spec as {
      groups: { rules: { alert: string; labels: Record<string, string> }[] }[];
    };
    assert.deepEqual(
      rule.groups.flatMap((g) => g.rules.map((r) => [r.alert, r.labels.cluster])),
      [
        ["EfkAgentRetrying", "prod-eu"],
        ["EfkAgentDropping", "prod-eu"],
        ["EfkAgentBufferNearFull", "prod-eu"],
      ],
    );
  });
});

describe("monitoring configuration", () => {
  for (const c of [
    {
      title: "PrometheusRule objects without the operator's style",
      config: { ...CENTRAL_CONFIG, prometheusRules: "true" },
      message:
        /efk:prometheusRules = true: must be false unless efk:metrics is prometheus-operator \(it is annotations\)/,
    },
    {
      title: "a label that is not key=value",
      config: { ...CENTRAL_CONFIG, metrics: "prometheus-operator", prometheusLabels: '["release"]' },
      message: /efk:prometheusLabels\[0\] = "release": must be a label as key=value/,
    },
    {
      title: "labels for objects that annotations do not make",
      config: { ...CENTRAL_CONFIG, prometheusLabels: '["release=x"]' },
      message:
        /efk:prometheusLabels = \["release=x"\]: must be empty unless efk:metrics is prometheus-operator/,
    },
    {
      title: "an unknown scrape style",
      config: { ...CENTRAL_CONFIG, metrics: "servicemonitor" },
      message: /efk:metrics = "servicemonitor": must be one of: prometheus-operator, annotations, none/,
    },
    {
      title: "a buffer threshold of 100%",
      config: { ...CENTRAL_CONFIG, alertBufferPercent: "100" },
      message: /efk:alertBufferPercent = 100: must be 1 to 99/,
    },
  ]) {
    it(`refuses ${c.title}, naming the key, the value and what is allowed, before declaring anything`, async () => {
      const { error, registered } = await runProgramExpectingError(c.config);
      assert.match(error.message, c.message);
      assert.equal(registered, 0);
    });
  }
});

describe("README alert table", () => {
  it("has a row, with a first action, for every alert a stack defines", async () => {
    await runProgram(CENTRAL_CONFIG);
    const readme = readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
    const alerts = rulesConfigMap().groups.flatMap((g) => g.rules.map((r) => r.alert));
    assert.equal(alerts.length, 18);
    for (const alert of alerts) {
      const row = readme.split("\n").find((l) => l.startsWith(`| \`${alert}\``));
      assert.ok(row, `the README's alert table has no row for ${alert}`);
      assert.equal(
        row.split("|").filter((cell) => cell.trim() !== "").length,
        4,
        `${alert}'s row is incomplete`,
      );
    }
  });
});
