/**
 * The alert rules and the dashboard that `npm run render` writes, checked by the real promtool (Debian's
 * `prometheus` package, which `npm test`'s pretest installs): every rule file passes `promtool check
 * rules`, every alert fires on a synthetic series of its fault and stays quiet on a healthy one
 * (`promtool test rules`), with the labels that say which cluster and which pod, and every dashboard
 * query is valid PromQL that computes what its panel says.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { renderStackFile } from "./support/rendered";

const PROMTOOL = process.env.PROMTOOL_BIN ?? "promtool";
const NS = "logging";
const CENTRAL = {
  role: "central",
  clusterName: "hub",
  edgeClusters: ["edge-a", "edge-b"],
  fluentdExternalHosts: ["logs.efk.test"],
  fluentdLoadBalancerSourceRanges: ["0.0.0.0/0"],
};
/** The central stack with snapshots every 6 hours: its snapshot alerts exist only then. */
const BACKUPS = {
  ...CENTRAL,
  snapshotType: "s3",
  snapshotBucket: "efk-backups",
  snapshotCredentialsSecret: "efk-snapshot-credentials",
  snapshotIntervalHours: 6,
};

interface Rule {
  alert: string;
  expr: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface Series {
  series: string;
  values: string;
}

/** One alert's promtool cases: series that make it fire (with the labels expected) and healthy ones. */
interface AlertCase {
  alert: string;
  /** The render whose rules define it: the central stack's (default), or the one with snapshots. */
  stack?: "backups";
  evalTime: string;
  firing: Series[];
  expect: Record<string, string>[];
  healthy: Series[];
}

function promtool(args: string[]): { code: number; out: string } {
  const r = spawnSync(PROMTOOL, args, { encoding: "utf8" });
  if (r.error) {
    throw new Error(
      `${PROMTOOL} could not run (${r.error.message}): npm test's pretest installs it (scripts/setup-promtool.sh); set PROMTOOL_BIN to use another`,
    );
  }
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

const s = (series: string, values: string): Series => ({ series, values });
const agent = (metric: string, values: string, namespace = NS) =>
  s(`${metric}{namespace="${namespace}", name="to_aggregator", pod="fluent-bit-x1"}`, values);
const agentLabels = (severity: string) => ({
  severity,
  cluster: "hub",
  namespace: NS,
  name: "to_aggregator",
  pod: "fluent-bit-x1",
});
const fluentdOut = (metric: string, values: string, pluginId = "out_elasticsearch") =>
  s(`${metric}{namespace="${NS}", plugin_id="${pluginId}", type="elasticsearch", pod="fluentd-0"}`, values);
const fluentdOutLabels = (severity: string) => ({
  severity,
  cluster: "hub",
  namespace: NS,
  plugin_id: "out_elasticsearch",
  type: "elasticsearch",
  pod: "fluentd-0",
});
const health = (color: string, values: string) =>
  s(
    `elasticsearch_cluster_health_status{namespace="${NS}", cluster="elasticsearch", color="${color}", pod="elasticsearch-exporter-1"}`,
    values,
  );
const disk = (metric: string, values: string) =>
  s(
    `${metric}{namespace="${NS}", cluster="elasticsearch", name="elasticsearch-master-0", host="10.0.0.5", pod="elasticsearch-exporter-1"}`,
    values,
  );
const exporterSeries = (metric: string, labels: string, values: string) =>
  s(`${metric}{namespace="${NS}", ${labels}, pod="elasticsearch-exporter-1"}`, values);
/** A notAfter `n` days after promtool's time 0, held for 3 hours of 1-minute samples. */
const days = (n: number) => `${n * 86400}x180`;
const at = (n: number) => n * 86400;
const certificate = (
  kind: string,
  subject: string,
  ca: string,
  cluster: string,
  values: string,
  pod = "fluentd-0",
) =>
  s(
    `efk_certificate_expiry_timestamp_seconds{namespace="${NS}", kind="${kind}", subject="${subject}", ca="${ca}", cluster="${cluster}", source="src", pod="${pod}"}`,
    values,
  );
const certificateLabels = (severity: string, kind: string, subject: string, ca: string, cluster: string) => ({
  severity,
  namespace: NS,
  kind,
  subject,
  ca,
  cluster,
  source: "src",
});
const recordsIn = (cluster: string, values: string) =>
  s(`efk_fluentd_records_in_total{namespace="${NS}", cluster="${cluster}", pod="fluentd-0"}`, values);

const CASES: AlertCase[] = [
  {
    alert: "EfkAgentRetrying",
    evalTime: "30m",
    firing: [agent("fluentbit_output_retries_total", "0+1x40")],
    expect: [agentLabels("warning")],
    // Flat, or retrying in another namespace's Fluent Bit.
    healthy: [
      agent("fluentbit_output_retries_total", "5x40"),
      agent("fluentbit_output_retries_total", "0+1x40", "other"),
    ],
  },
  {
    alert: "EfkAgentDropping",
    evalTime: "10m",
    firing: [agent("fluentbit_output_dropped_records_total", "0x5 50x20")],
    expect: [agentLabels("critical")],
    healthy: [agent("fluentbit_output_dropped_records_total", "0x20")],
  },
  {
    alert: "EfkAgentBufferNearFull",
    evalTime: "10m",
    firing: [agent("fluentbit_output_chunk_available_capacity_percent", "10x20")],
    expect: [agentLabels("warning")],
    healthy: [agent("fluentbit_output_chunk_available_capacity_percent", "95x20")],
  },
  {
    alert: "EfkAggregatorNotReady",
    evalTime: "10m",
    firing: [s(`kube_pod_status_ready{namespace="${NS}", pod="fluentd-1", condition="true"}`, "0x20")],
    expect: [{ severity: "critical", cluster: "hub", namespace: NS, pod: "fluentd-1", condition: "true" }],
    healthy: [
      s(`kube_pod_status_ready{namespace="${NS}", pod="fluentd-1", condition="true"}`, "1x20"),
      // Not an aggregator pod.
      s(`kube_pod_status_ready{namespace="${NS}", pod="fluent-bit-x1", condition="true"}`, "0x20"),
    ],
  },
  {
    alert: "EfkAggregatorReplicasMissing",
    evalTime: "15m",
    firing: [
      s(`kube_statefulset_status_replicas_ready{namespace="${NS}", statefulset="fluentd"}`, "2x20"),
      s(`kube_statefulset_replicas{namespace="${NS}", statefulset="fluentd"}`, "3x20"),
    ],
    expect: [{ severity: "critical", cluster: "hub", namespace: NS, statefulset: "fluentd" }],
    healthy: [
      s(`kube_statefulset_status_replicas_ready{namespace="${NS}", statefulset="fluentd"}`, "3x20"),
      s(`kube_statefulset_replicas{namespace="${NS}", statefulset="fluentd"}`, "3x20"),
    ],
  },
  {
    alert: "EfkAggregatorBufferNearFull",
    evalTime: "10m",
    firing: [fluentdOut("fluentd_output_status_buffer_available_space_ratio", "10x20")],
    expect: [fluentdOutLabels("critical")],
    healthy: [
      fluentdOut("fluentd_output_status_buffer_available_space_ratio", "90x20"),
      // The dead-letter output's buffer is not the one that matters.
      fluentdOut("fluentd_output_status_buffer_available_space_ratio", "10x20", "out_dead_letter"),
    ],
  },
  {
    alert: "EfkAggregatorBufferGrowing",
    evalTime: "100m",
    // Half a percent of the buffer a minute, steadily: full in under 4 hours.
    firing: [fluentdOut("fluentd_output_status_buffer_available_space_ratio", "100-0.5x200")],
    expect: [fluentdOutLabels("warning")],
    healthy: [fluentdOut("fluentd_output_status_buffer_available_space_ratio", "100x200")],
  },
  {
    alert: "EfkAggregatorOutputFailing",
    evalTime: "30m",
    firing: [fluentdOut("fluentd_output_status_num_errors", "0+2x40")],
    expect: [fluentdOutLabels("warning")],
    healthy: [fluentdOut("fluentd_output_status_num_errors", "3x40")],
  },
  {
    alert: "EfkDeadLetterRecords",
    evalTime: "10m",
    firing: [
      s(
        `efk_fluentd_dead_letter_records_total{namespace="${NS}", cluster="edge-a", pod="fluentd-0"}`,
        "0x5 7x20",
      ),
    ],
    // The cluster the records came from, and the pod whose volume holds them.
    expect: [{ severity: "warning", cluster: "edge-a", namespace: NS, pod: "fluentd-0" }],
    healthy: [
      s(
        `efk_fluentd_dead_letter_records_total{namespace="${NS}", cluster="edge-a", pod="fluentd-0"}`,
        "0x20",
      ),
    ],
  },
  {
    alert: "EfkForwardImpersonation",
    evalTime: "10m",
    firing: [
      s(
        `efk_fluentd_forward_impersonated_records_total{namespace="${NS}", cluster="edge-a", pod="fluentd-0"}`,
        "0x5 4x20",
      ),
    ],
    expect: [{ severity: "critical", cluster: "edge-a", namespace: NS, pod: "fluentd-0" }],
    healthy: [
      s(
        `efk_fluentd_forward_impersonated_records_total{namespace="${NS}", cluster="edge-a", pod="fluentd-0"}`,
        "4x20",
      ),
    ],
  },
  {
    alert: "EfkForwardRefused",
    evalTime: "10m",
    firing: [
      s(
        `efk_fluentd_forward_refusals_total{namespace="${NS}", reason="user_password", pod="fluentd-0"}`,
        "0x5 1x20",
      ),
    ],
    expect: [
      { severity: "warning", cluster: "hub", namespace: NS, pod: "fluentd-0", reason: "user_password" },
    ],
    healthy: [
      s(
        `efk_fluentd_forward_refusals_total{namespace="${NS}", reason="user_password", pod="fluentd-0"}`,
        "1x20",
      ),
    ],
  },
  {
    alert: "EfkClusterSilent",
    evalTime: "30m",
    // hub keeps sending, edge-a stopped after 10 minutes, edge-b never sent.
    firing: [recordsIn("hub", "0+10x40"), recordsIn("edge-a", "0+10x10 100x30")],
    expect: [
      { severity: "critical", cluster: "edge-a" },
      { severity: "critical", cluster: "edge-b" },
    ],
    healthy: [recordsIn("hub", "0+10x40"), recordsIn("edge-a", "0+10x40"), recordsIn("edge-b", "0+1x40")],
  },
  {
    alert: "EfkElasticsearchNotGreen",
    evalTime: "15m",
    firing: [health("green", "0x20"), health("yellow", "1x20"), health("red", "0x20")],
    expect: [{ severity: "critical", cluster: "hub", namespace: NS }],
    healthy: [health("green", "1x20"), health("yellow", "0x20"), health("red", "0x20")],
  },
  {
    alert: "EfkElasticsearchMetricsMissing",
    evalTime: "20m",
    firing: [s(`up{namespace="${NS}", pod="elasticsearch-exporter-1"}`, "0x30")],
    expect: [{ severity: "warning", cluster: "hub", namespace: NS }],
    healthy: [health("green", "1x30")],
  },
  {
    alert: "EfkElasticsearchDiskNearWatermark",
    evalTime: "15m",
    firing: [
      disk("elasticsearch_filesystem_data_available_bytes", "10x20"),
      disk("elasticsearch_filesystem_data_size_bytes", "100x20"),
    ],
    // The Elasticsearch node's pod, not the exporter's.
    expect: [
      {
        severity: "warning",
        cluster: "hub",
        namespace: NS,
        name: "elasticsearch-master-0",
        host: "10.0.0.5",
        pod: "elasticsearch-master-0",
      },
    ],
    healthy: [
      disk("elasticsearch_filesystem_data_available_bytes", "50x20"),
      disk("elasticsearch_filesystem_data_size_bytes", "100x20"),
    ],
  },
  {
    alert: "EfkSnapshotStale",
    stack: "backups",
    // The interval (6 hours) plus 2: past 8 hours, for 15 minutes. Never a snapshot (the exporter's 0).
    evalTime: "8h30m",
    firing: [
      exporterSeries(
        "elasticsearch_snapshot_stats_latest_snapshot_timestamp_seconds",
        'repository="efk-snapshots"',
        "0x600",
      ),
    ],
    expect: [
      {
        severity: "warning",
        cluster: "hub",
        namespace: NS,
        repository: "efk-snapshots",
        pod: "elasticsearch-exporter-1",
      },
    ],
    // A snapshot started at 6 hours is 2.5 hours old at the evaluation; another repository's age does not count.
    healthy: [
      exporterSeries(
        "elasticsearch_snapshot_stats_latest_snapshot_timestamp_seconds",
        'repository="efk-snapshots"',
        "0x360 21600x240",
      ),
      exporterSeries(
        "elasticsearch_snapshot_stats_latest_snapshot_timestamp_seconds",
        'repository="someone-elses"',
        "0x600",
      ),
    ],
  },
  {
    alert: "EfkSnapshotFailed",
    stack: "backups",
    evalTime: "40m",
    firing: [
      exporterSeries("elasticsearch_slm_stats_snapshots_failed_total", 'policy="efk-snapshots"', "0x30 1x60"),
    ],
    expect: [
      {
        severity: "warning",
        cluster: "hub",
        namespace: NS,
        policy: "efk-snapshots",
        pod: "elasticsearch-exporter-1",
      },
    ],
    // Failures long ago, counted but not new.
    healthy: [
      exporterSeries("elasticsearch_slm_stats_snapshots_failed_total", 'policy="efk-snapshots"', "2x90"),
    ],
  },
  // Certificates: promtool's clock starts at 0, so a notAfter of N days is N * 86400. With the default
  // certRenewalHours (720), a service certificate warns inside 672 hours, a CA inside 90 days, any
  // certificate is critical inside 72 hours.
  {
    alert: "EfkCertificateExpiringSoon",
    evalTime: "2h",
    firing: [
      // Kibana's certificate on both aggregator pods (one alert), 20 days left; a CA with 60 days.
      certificate("kibana", "CN=kibana", "false", "", days(20), "fluentd-0"),
      certificate("kibana", "CN=kibana", "false", "", days(20), "fluentd-1"),
      certificate("ca", "CN=efk-pulumi CA", "true", "", days(60)),
    ],
    expect: [
      certificateLabels("warning", "kibana", "CN=kibana", "false", "hub"),
      certificateLabels("warning", "ca", "CN=efk-pulumi CA", "true", "hub"),
    ],
    healthy: [
      // 29 days: inside certRenewalHours, but the daily renewal has a day more to run.
      certificate("kibana", "CN=kibana", "false", "", days(29)),
      certificate("ca", "CN=efk-pulumi CA", "true", "", days(200)),
      // Expiring in 20 days, then renewed (a year) after 30 minutes: cleared.
      certificate("edge-client", "CN=edge-a", "false", "edge-a", `${at(20)}x30 ${at(365)}x150`),
      // One pod still holds the old certificate of an edge whose agents use the new one (the other pod sees).
      certificate("edge-client", "CN=edge-b", "false", "edge-b", days(20), "fluentd-0"),
      certificate("edge-client", "CN=edge-b", "false", "edge-b", days(365), "fluentd-1"),
    ],
  },
  {
    alert: "EfkCertificateExpiryCritical",
    evalTime: "10m",
    firing: [certificate("edge-client", "CN=edge-a", "false", "edge-a", days(2))],
    // An edge's certificate: the alert names the edge's cluster.
    expect: [certificateLabels("critical", "edge-client", "CN=edge-a", "false", "edge-a")],
    healthy: [
      certificate("edge-client", "CN=edge-a", "false", "edge-a", days(20)),
      // Renewed at 5 minutes: cleared by 10.
      certificate("elasticsearch-http", "CN=elasticsearch", "false", "", `${at(2)}x5 ${at(365)}x20`),
    ],
  },
  {
    alert: "EfkCertificateProbeFailing",
    evalTime: "30m",
    firing: [
      s(
        `efk_certificate_probe_success{namespace="${NS}", kind="kibana", source="kibana-kibana.logging.svc:5601", pod="fluentd-0"}`,
        "0x40",
      ),
    ],
    expect: [
      {
        severity: "warning",
        cluster: "hub",
        namespace: NS,
        kind: "kibana",
        source: "kibana-kibana.logging.svc:5601",
        pod: "fluentd-0",
      },
    ],
    healthy: [
      s(
        `efk_certificate_probe_success{namespace="${NS}", kind="kibana", source="kibana-kibana.logging.svc:5601", pod="fluentd-0"}`,
        "1x40",
      ),
      // One round failed, the next succeeded.
      s(
        `efk_certificate_probe_success{namespace="${NS}", kind="kibana", source="kibana-kibana.logging.svc:5601", pod="fluentd-1"}`,
        "1x20 0x5 1x15",
      ),
    ],
  },
];

describe("alert rules and dashboard, on the real promtool", function () {
  this.timeout(120_000);
  let dir: string;
  let central: string;
  let edge: string;
  let backups: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "efk-alerts-"));
    central = renderStackFile(path.join(dir, "central"), "central", CENTRAL);
    backups = renderStackFile(path.join(dir, "backups"), "central", BACKUPS);
    edge = renderStackFile(
      path.join(dir, "edge"),
      "edge-a",
      { role: "edge", clusterName: "edge-a", centralStack: "organization/efk/central" },
      { central: CENTRAL },
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const rulesFile = (render: string) => path.join(render, "prometheus", "rules.yaml");
  const rules = (render: string): Rule[] =>
    (parse(fs.readFileSync(rulesFile(render), "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap(
      (g) => g.rules,
    );

  it("passes promtool check rules: the central stack's 18 alerts and an edge's 3", () => {
    for (const [render, count] of [
      [central, 18],
      [edge, 3],
    ] as const) {
      const r = promtool(["check", "rules", rulesFile(render)]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`SUCCESS: ${count} rules found`));
    }
  });

  it("passes promtool check rules with snapshots configured: the central's alerts and the 2 of snapshots", () => {
    const count = (render: string) => {
      const r = promtool(["check", "rules", rulesFile(render)]);
      assert.equal(r.code, 0, r.out);
      return Number(/SUCCESS: (\d+) rules found/.exec(r.out)?.[1]);
    };
    assert.equal(count(backups), count(central) + 2);
    assert.equal(rules(central).filter((r) => r.alert.startsWith("EfkSnapshot")).length, 0);
  });

  it("fails promtool check rules on a broken expression or template (so the check above can fail)", () => {
    for (const [field, broken] of [
      ["expr", "sum by (pod (up)"],
      ["summary", "{{ $labels.pod "],
    ]) {
      const doc = parse(fs.readFileSync(rulesFile(central), "utf8")) as {
        groups: { rules: Record<string, unknown>[] }[];
      };
      const rule = doc.groups[0].rules[0];
      if (field === "expr") rule.expr = broken;
      else (rule.annotations as Record<string, string>).summary = broken;
      const file = path.join(dir, `broken-${field}.yaml`);
      fs.writeFileSync(file, stringify(doc));
      assert.notEqual(promtool(["check", "rules", file]).code, 0, `a broken ${field} passed`);
    }
  });

  it("gives every alert a severity, a cluster, a summary and a runbook line", () => {
    for (const rule of [...rules(backups), ...rules(edge)]) {
      assert.match(rule.labels.severity, /^(critical|warning)$/, rule.alert);
      const clusterFromSeries = /sum by \([^)]*cluster|"cluster"/.test(rule.expr);
      assert.ok(rule.labels.cluster || clusterFromSeries, `${rule.alert} says nothing of the cluster`);
      assert.ok(rule.annotations.summary && rule.annotations.runbook, `${rule.alert} lacks text`);
    }
    assert.ok(rules(edge).every((r) => r.labels.cluster === "edge-a"));
  });

  it("has a firing and a healthy case below for every alert the stacks define", () => {
    const defined = [...new Set([...rules(backups), ...rules(edge)].map((r) => r.alert))].sort();
    assert.deepEqual(CASES.map((c) => c.alert).sort(), defined);
  });

  for (const c of CASES) {
    it(`${c.alert}: fires on its fault with the labels that say where, stays quiet when healthy`, () => {
      // Annotations are templates that promtool check validated above; here, when and with which labels.
      const doc = parse(fs.readFileSync(rulesFile(c.stack === "backups" ? backups : central), "utf8")) as {
        groups: { rules: Rule[] }[];
      };
      for (const g of doc.groups) for (const r of g.rules) r.annotations = {} as Rule["annotations"];
      const bare = path.join(dir, "bare-rules.yaml");
      fs.writeFileSync(bare, stringify(doc));
      const test = (input: Series[], expected: Record<string, string>[]) => ({
        interval: "1m",
        input_series: input,
        alert_rule_test: [
          { eval_time: c.evalTime, alertname: c.alert, exp_alerts: expected.map((l) => ({ exp_labels: l })) },
        ],
      });
      const file = path.join(dir, `${c.alert}.test.yaml`);
      fs.writeFileSync(
        file,
        stringify({
          rule_files: [bare],
          evaluation_interval: "1m",
          tests: [test(c.firing, c.expect), test(c.healthy, [])],
        }),
      );
      const r = promtool(["test", "rules", file]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /SUCCESS/);
    });
  }

  it("fails a promtool case whose expected labels are wrong (so the cases above can fail)", () => {
    const c = CASES.find((x) => x.alert === "EfkAgentDropping")!;
    const file = path.join(dir, "wrong.test.yaml");
    fs.writeFileSync(
      file,
      stringify({
        rule_files: [rulesFile(central)],
        evaluation_interval: "1m",
        tests: [
          {
            interval: "1m",
            input_series: c.firing,
            alert_rule_test: [
              {
                eval_time: c.evalTime,
                alertname: c.alert,
                exp_alerts: [{ exp_labels: { ...c.expect[0], pod: "other" } }],
              },
            ],
          },
        ],
      }),
    );
    assert.notEqual(promtool(["test", "rules", file]).code, 0);
  });

  describe("dashboard", () => {
    interface Dashboard {
      panels: {
        title: string;
        targets: { expr: string; legendFormat: string }[];
        datasource: { uid: string };
      }[];
      templating: { list: { name: string; type: string }[] };
    }
    const dashboard = () =>
      JSON.parse(fs.readFileSync(path.join(central, "grafana", "efk-pipeline.json"), "utf8")) as Dashboard;

    it("shows records in and out per cluster, buffers, retries, refusals, dead letters and Elasticsearch's health", () => {
      const d = dashboard();
      assert.deepEqual(
        d.panels.map((p) => p.title),
        [
          "Records in per cluster",
          "Records out per cluster",
          "Aggregator buffer use",
          "Agent disk buffer use",
          "Retries and errors",
          "Refused forward connections",
          "Dead letters and drops",
          "Elasticsearch health",
          "Elasticsearch disk use",
        ],
      );
      assert.ok(d.panels.every((p) => p.datasource.uid === "${datasource}" && p.targets.length > 0));
      assert.deepEqual(
        d.templating.list.map((v) => [v.name, v.type]),
        [["datasource", "datasource"]],
      );
    });

    it("queries only valid PromQL: every panel's expressions pass promtool as recording rules", () => {
      const recording = dashboard().panels.flatMap((p, i) =>
        p.targets.map((t, j) => ({ record: `efk:dashboard:panel_${i}_${j}`, expr: t.expr })),
      );
      const file = path.join(dir, "dashboard-rules.yaml");
      fs.writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules: recording }] }));
      const r = promtool(["check", "rules", file]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`SUCCESS: ${recording.length} rules found`));
    });

    it("turns each data stream's backing indices into a cluster's records out per second", () => {
      const expr = dashboard().panels.find((p) => p.title === "Records out per cluster")!.targets[0].expr;
      const docs = (index: string, values: string) =>
        s(
          `elasticsearch_indices_docs_primary{namespace="${NS}", index="${index}", cluster="elasticsearch"}`,
          values,
        );
      const file = path.join(dir, "records-out.test.yaml");
      fs.writeFileSync(
        file,
        stringify({
          rule_files: [],
          evaluation_interval: "1m",
          tests: [
            {
              interval: "1m",
              input_series: [
                // 60 documents a minute into edge-a's stream, 120 into the unregistered one, across a rollover.
                docs(".ds-efk-logs-edge-a-2026.11.29-000001", "0+60x10"),
                docs(".ds-efk-logs-unregistered-2026.11.28-000002", "0+60x10"),
                docs(".ds-efk-logs-unregistered-2026.11.29-000003", "0+60x10"),
                // Not one of ours.
                docs(".ds-logs-nginx-default-2026.11.29-000001", "0+600x10"),
              ],
              promql_expr_test: [
                {
                  expr,
                  eval_time: "8m",
                  exp_samples: [
                    { labels: '{cluster="edge-a"}', value: 1 },
                    { labels: '{cluster="unregistered"}', value: 2 },
                  ],
                },
              ],
            },
          ],
        }),
      );
      const r = promtool(["test", "rules", file]);
      assert.equal(r.code, 0, r.out);
    });
  });

  it("is the rules file the central stack puts in its ConfigMap and PrometheusRule", () => {
    const inConfigMap = fs.readFileSync(
      path.join(central, "configmaps", "efk-monitoring-rules", "efk-alerts.yaml"),
      "utf8",
    );
    assert.equal(inConfigMap, fs.readFileSync(rulesFile(central), "utf8"));
    execFileSync(PROMTOOL, ["--version"]);
  });
});
