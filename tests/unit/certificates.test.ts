import "../mocks";
import * as assert from "node:assert/strict";
import { find } from "../mocks";
import { CENTRAL_CONFIG, runProgram } from "../harness";
import { EFK_METRICS } from "../../lib/monitoring/metrics";
import {
  CA_EXPIRY_WARNING_DAYS,
  certificateExpiryThresholds,
  ruleGroups,
  type AlertRule,
} from "../../lib/monitoring/rules";
import { CERTIFICATE_PROBE_INTERVAL_SECONDS, FLUENTD_PLUGINS } from "../../lib/render/fluentd";
import { ES_TRANSPORT_CA_DIR } from "../../lib/values/fluentd";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const CONFIGMAP = "kubernetes:core/v1:ConfigMap";

interface Values {
  fileConfigs: Record<string, string>;
  volumes: { name: string; secret?: { secretName: string; items?: { key: string; path: string }[] } }[];
  volumeMounts: { name: string; mountPath: string; subPath?: string }[];
}

const values = () => find(RELEASE, "efk-fluentd-release").inputs.values as Values;
const sources = () => values().fileConfigs["01_sources.conf"];

/** The text of the `<worker 0>` block of the sources file; fails unless there is exactly one. */
function workerZero(text: string): string {
  const blocks = [...text.matchAll(/^<worker 0>\n([\s\S]*?)^<\/worker>$/gm)];
  assert.equal(blocks.length, 1, text);
  return blocks[0][1];
}

/** The `<endpoint>` sections of the probe as kind -> "host:port" (and each_address). */
function endpoints(block: string): string[] {
  return [
    ...block.matchAll(/<endpoint>\n\s+kind (\S+)\n\s+host (\S+)\n\s+port (\d+)\n(\s+each_address true\n)?/g),
  ].map((m) => `${m[1]} ${m[2]}:${m[3]}${m[4] ? " each" : ""}`);
}

describe("certificate expiry: the aggregator's probe", () => {
  before(async () => {
    await runProgram({
      ...CENTRAL_CONFIG,
      namespace: "obs",
      edgeClusters: '["prod-eu"]',
      fluentdExternalHosts: '["logs.example.com"]',
      fluentdWorkers: "2",
    });
  });

  it("declares the efk_certificates input once, inside <worker 0>, with the metrics the rules read", () => {
    const text = sources();
    assert.equal(text.match(/@type efk_certificates/g)?.length, 1);
    const block = workerZero(text);
    assert.match(block, /@type efk_certificates\n/);
    assert.match(block, new RegExp(`expiry_metric ${EFK_METRICS.certificateExpiry}\\n`));
    assert.match(block, new RegExp(`probe_metric ${EFK_METRICS.certificateProbe}\\n`));
    assert.match(block, new RegExp(`interval ${CERTIFICATE_PROBE_INTERVAL_SECONDS}\\n`));
    // Several workers here: the probe would otherwise run in each.
    assert.match(
      (find(CONFIGMAP, "efk-fluentd-main-config").inputs.data as Record<string, string>)["fluent.conf"],
      /workers 2\n/,
    );
  });

  it("probes Elasticsearch where Fluentd writes, every node's transport port, and Kibana, in the stack's namespace", () => {
    assert.deepEqual(endpoints(workerZero(sources())), [
      "elasticsearch-http elasticsearch-master.obs.svc:9200",
      "elasticsearch-transport elasticsearch-master-headless.obs.svc:9300 each",
      "kibana kibana-kibana.obs.svc:5601",
    ]);
    // The output's host is the one probed.
    assert.match(
      values().fileConfigs["04_outputs.conf"],
      /host elasticsearch-master\.obs\.svc\n\s+port 9200\n/,
    );
  });

  it("reads the files the aggregator loaded and the transport CA, mounted from that one key of Elasticsearch's Secret", () => {
    const block = workerZero(sources());
    const files = [...block.matchAll(/<(file|directory)>\n\s+kind (\S+)\n\s+path (\S+)\n/g)].map(
      (m) => `${m[1]} ${m[2]} ${m[3]}`,
    );
    assert.deepEqual(files, [
      "file fluentd-forward /fluentd/tls/tls.crt",
      "file ca /fluentd/tls/ca.crt",
      `file elasticsearch-transport-ca ${ES_TRANSPORT_CA_DIR}/transport-ca.crt`,
      "directory registered-client /fluentd/clients",
    ]);
    const v = values();
    const volume = v.volumes.find((x) => x.name === "es-transport-ca");
    assert.deepEqual(volume?.secret?.items, [{ key: "transport-ca.crt", path: "transport-ca.crt" }]);
    assert.ok(
      v.volumeMounts.some((m) => m.name === "es-transport-ca" && m.mountPath === ES_TRANSPORT_CA_DIR),
    );
  });

  it("records each edge's presented certificate in the forward input, and mounts the plugin and the gauges it shares", () => {
    assert.match(
      sources(),
      /@type efk_forward[\s\S]*certificate_metric efk_certificate_expiry_timestamp_seconds\n/,
    );
    const mounted = values().volumeMounts.map((m) => m.subPath);
    for (const file of ["in_efk_certificates.rb", "efk_certificate_metrics.rb"]) {
      assert.ok(FLUENTD_PLUGINS.some((p) => p.file === file));
      assert.ok(mounted.includes(file), `${file} is not mounted`);
    }
  });
});

describe("certificate expiry: the alerts", () => {
  const rules = (certRenewalHours?: number): AlertRule[] =>
    ruleGroups({
      namespace: "logging",
      clusterName: "hub",
      thresholds: { silentClusterMinutes: 30, bufferPercent: 80, esDiskPercent: 80 },
      clusters: ["hub"],
      certRenewalHours,
    }).flatMap((g) => g.rules);

  it("warns below the renewal window, two daily drift runs in, and is critical within 3 days", () => {
    assert.deepEqual(certificateExpiryThresholds(720), { warningHours: 672, criticalHours: 72 });
    const warning = rules(720).find((r) => r.alert === "EfkCertificateExpiringSoon")!;
    assert.match(
      warning.expr,
      new RegExp(`ca="false".* < ${672 * 3600} or .*ca="true".* < ${CA_EXPIRY_WARNING_DAYS * 86400}$`),
    );
    assert.match(rules(720).find((r) => r.alert === "EfkCertificateExpiryCritical")!.expr, / < 259200$/);
  });

  it("keeps both thresholds below a short renewal window, the critical one below the warning", () => {
    for (const renewal of [1, 24, 100, 720, 8000]) {
      const t = certificateExpiryThresholds(renewal);
      assert.ok(t.warningHours < renewal && t.warningHours > 0, `${renewal}: ${JSON.stringify(t)}`);
      assert.ok(t.criticalHours < t.warningHours, `${renewal}: ${JSON.stringify(t)}`);
    }
  });

  it("exists on a central stack only", () => {
    assert.equal(rules(720).filter((r) => r.alert.startsWith("EfkCertificate")).length, 3);
    assert.equal(rules(undefined).filter((r) => r.alert.startsWith("EfkCertificate")).length, 0);
  });
});
