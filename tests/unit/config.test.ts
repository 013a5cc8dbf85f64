import "../mocks";
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CONFIG_KEYS, ConfigError, loadConfig } from "../../config";
import { CENTRAL_CONFIG, runProgramExpectingError } from "../harness";

const ROOT = path.join(__dirname, "..", "..");

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function load(values: Record<string, string>) {
  return loadConfig({
    get: (k) => (Object.hasOwn(values, k) ? values[k] : undefined),
    keys: () => Object.keys(values),
  });
}

function problemsOf(values: Record<string, string>): string[] {
  try {
    load(values);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.problems;
  }
  assert.fail("configuration was accepted");
}

/** Bad inputs the issue names, each with what its message must say (key, value, what is allowed). */
const BAD: { title: string; config: Record<string, string>; expect: RegExp }[] = [
  {
    title: "an unknown role",
    config: { role: "hub", clusterName: "c1" },
    expect: /efk:role = "hub": must be one of: central, edge/,
  },
  {
    title: "a cluster name that is not a DNS-1123 label",
    config: { ...CENTRAL_CONFIG, clusterName: "Prod_EU" },
    expect: /efk:clusterName = "Prod_EU": must be a DNS-1123 label/,
  },
  {
    title: "an even master count",
    config: { ...CENTRAL_CONFIG, esReplicas: "2" },
    expect: /efk:esReplicas = 2: must be an odd number of master-eligible nodes/,
  },
  {
    title: "a zero master count",
    config: { ...CENTRAL_CONFIG, esReplicas: "0" },
    expect: /efk:esReplicas = 0: must be an odd number/,
  },
  {
    title: "a storage size that is not a Kubernetes quantity",
    config: { ...CENTRAL_CONFIG, esStorageSize: "30GB" },
    expect: /efk:esStorageSize = "30GB": must be a Kubernetes quantity such as 512Mi/,
  },
  {
    title: "an agent disk buffer too small for Fluent Bit to make room in",
    config: { ...CENTRAL_CONFIG, fluentBitBufferSize: "8Mi" },
    expect: /efk:fluentBitBufferSize = "8Mi": must be at least 16Mi/,
  },
  {
    title: "a chart version, which is no longer a setting",
    config: { ...CENTRAL_CONFIG, fluentdChartVersion: "0.7.0" },
    expect:
      /efk:fluentdChartVersion is no longer a setting: the chart version is pinned with the values written for it .*; remove it \(pulumi config rm fluentdChartVersion\)/,
  },
  {
    title: "a negative backfill age",
    config: { ...CENTRAL_CONFIG, fluentBitBackfillHours: "-1" },
    expect: /efk:fluentBitBackfillHours = -1: must be 0 \(no limit\) or more hours/,
  },
  {
    title: "a negative validity",
    config: { ...CENTRAL_CONFIG, certValidityHours: "-24" },
    expect: /efk:certValidityHours = -24: must be a positive number of hours/,
  },
  {
    title: "an edge stack without the central stack's name",
    config: { role: "edge", clusterName: "prod-eu" },
    expect: /efk:centralStack is required for an edge stack/,
  },
  {
    title: "a renewal window as long as the validity",
    config: { ...CENTRAL_CONFIG, certValidityHours: "720", certRenewalHours: "720" },
    expect: /efk:certRenewalHours = 720: must be fewer hours than efk:certValidityHours \(720\)/,
  },
  {
    title: "a non-numeric replica count",
    config: { ...CENTRAL_CONFIG, esReplicas: "three" },
    expect: /efk:esReplicas = "three": must be a whole number/,
  },
  ...["0x3", "3.0", " 3 ", "1e0", ""].map((v) => ({
    title: `an integer written as ${JSON.stringify(v)}`,
    config: { ...CENTRAL_CONFIG, esReplicas: v },
    expect: new RegExp(`efk:esReplicas = ${escape(JSON.stringify(v))}: must be a whole number`),
  })),
  {
    title: "a timeout in exponent notation",
    config: { ...CENTRAL_CONFIG, helmTimeoutSeconds: "1e3" },
    expect: /efk:helmTimeoutSeconds = "1e3": must be a whole number/,
  },
  {
    title: "a wildcard as the first Kibana host, which would become its public URL",
    config: { ...CENTRAL_CONFIG, kibanaHosts: '["*.example.com","kibana.example.com"]' },
    expect:
      /efk:kibanaHosts\[0\] = "\*\.example\.com": must be a host name without a wildcard, because the first entry becomes Kibana's server\.publicBaseUrl; later entries may be wildcards/,
  },
  {
    title: "a wildcard as the first Fluentd host, which edges would dial",
    config: {
      ...CENTRAL_CONFIG,
      edgeClusters: '["prod-eu"]',
      fluentdExternalHosts: '["*.logs.example.com","logs.example.com"]',
    },
    expect:
      /efk:fluentdExternalHosts\[0\] = "\*\.logs\.example\.com": must be a host name without a wildcard, because the first entry is the host edges dial/,
  },
  {
    title: 'the reserved cluster name "unregistered" for this cluster',
    config: { ...CENTRAL_CONFIG, clusterName: "unregistered" },
    expect: /efk:clusterName = "unregistered": must be a name other than "unregistered"/,
  },
  {
    title: 'the reserved cluster name "unregistered" for an edge stack',
    config: { role: "edge", clusterName: "unregistered", centralStack: "acme/efk/central" },
    expect: /efk:clusterName = "unregistered": must be a name other than "unregistered"/,
  },
  {
    title: 'the reserved cluster name "unregistered" among the edge clusters',
    config: {
      ...CENTRAL_CONFIG,
      edgeClusters: '["prod-eu","unregistered"]',
      fluentdExternalHosts: '["logs.example.com"]',
    },
    expect: /efk:edgeClusters\[1\] = "unregistered": must be a name other than "unregistered"/,
  },
  {
    title: "a misspelt key, suggesting the one meant",
    config: { ...CENTRAL_CONFIG, edgeCluster: '["prod-eu"]' },
    expect: /efk:edgeCluster is not a key of this project \(did you mean efk:edgeClusters\?\): remove it/,
  },
  {
    title: "a key the project does not have",
    config: { ...CENTRAL_CONFIG, debugMode: "true" },
    expect: /efk:debugMode is not a key of this project: remove it \(pulumi config rm debugMode\)/,
  },
  {
    title: "a central-only key on an edge stack",
    config: { role: "edge", clusterName: "prod-eu", centralStack: "acme/efk/central", esReplicas: "5" },
    expect: /efk:esReplicas only applies to central stacks, and this is an edge stack/,
  },
  {
    title: "an edge-only key on a central stack",
    config: { ...CENTRAL_CONFIG, centralStack: "acme/efk/central" },
    expect: /efk:centralStack only applies to edge stacks, and this is a central stack/,
  },
  ...[
    "10.0.0.0",
    "10.0.0.0/33",
    "300.1.2.3/8",
    "10.0.0.0/08",
    "10.0.0.0/8/8",
    "2001:db8::/129",
    "logs/24",
  ].map((v) => ({
    title: `a LoadBalancer source range ${JSON.stringify(v)}`,
    config: {
      ...CENTRAL_CONFIG,
      fluentdLoadBalancerSourceRanges: JSON.stringify(["192.168.0.0/16", v]),
    },
    expect: new RegExp(
      `efk:fluentdLoadBalancerSourceRanges\\[1\\] = ${escape(JSON.stringify(v))}: must be a CIDR range`,
    ),
  })),
  {
    title: "a bad edge cluster name, reported with its index",
    config: {
      ...CENTRAL_CONFIG,
      edgeClusters: '["ok-one","Not OK"]',
      fluentdExternalHosts: '["logs.example.com"]',
    },
    expect: /efk:edgeClusters\[1\] = "Not OK": must be a DNS-1123 label/,
  },
  {
    title: "edge clusters but no name edges could verify Fluentd by",
    config: { ...CENTRAL_CONFIG, edgeClusters: '["prod-eu"]' },
    expect: /efk:fluentdExternalHosts = \[\]: must be at least one name/,
  },
  {
    title: "a LoadBalancer open to the internet without saying so (no source ranges)",
    config: { role: "central", clusterName: "hub" },
    expect:
      /efk:fluentdLoadBalancerSourceRanges = \[\]: must be the CIDR ranges the edges send from when efk:fluentdServiceType is LoadBalancer: .*pulumi config set --path 'fluentdLoadBalancerSourceRanges\[0\]' 0\.0\.0\.0\/0/,
  },
  {
    title: "an edge stack name without the cluster in it",
    config: { ...CENTRAL_CONFIG, edgeStackName: "acme/efk/edge" },
    expect: /efk:edgeStackName = "acme\/efk\/edge": must be a stack name .* with \{cluster\} in it/,
  },
  {
    title: "a missing role",
    config: { clusterName: "c1" },
    expect: /efk:role is required/,
  },
];

describe("configuration", () => {
  for (const c of BAD) {
    it(`refuses ${c.title}, naming the key, the value and what is allowed`, () => {
      const problems = problemsOf(c.config);
      assert.ok(
        problems.some((p) => c.expect.test(p)),
        `no problem matched ${c.expect}:\n${problems.join("\n")}`,
      );
    });
  }

  it("reports every bad key at once, not only the first", () => {
    const problems = problemsOf({
      ...CENTRAL_CONFIG,
      clusterName: "A",
      esReplicas: "4",
      esStorageSize: "1TB",
    });
    assert.equal(problems.length, 3, problems.join("\n"));
  });

  it("fills every default for a minimal central stack", () => {
    const cfg = load(CENTRAL_CONFIG);
    assert.equal(cfg.namespace, "logging");
    assert.equal(cfg.esReplicas, 3);
    assert.equal(cfg.fluentBitBackfillHours, 24);
    assert.deepEqual(cfg.edgeClusters, []);
    assert.equal(cfg.certRenewalHours, 720);
  });

  it("parses typed values: integers, lists and booleans", () => {
    const cfg = load({
      ...CENTRAL_CONFIG,
      esReplicas: "5",
      kibanaHosts: '["kibana.example.com"]',
      clientCertAuth: "true",
    });
    assert.equal(cfg.esReplicas, 5);
    assert.deepEqual(cfg.kibanaHosts, ["kibana.example.com"]);
    assert.equal(cfg.clientCertAuth, true);
  });

  it("accepts integers written as plain digits, negative ones included, before the rules run", () => {
    assert.equal(load({ ...CENTRAL_CONFIG, helmTimeoutSeconds: "0900" }).helmTimeoutSeconds, 900);
    assert.match(
      problemsOf({ ...CENTRAL_CONFIG, retentionDays: "-3" }).join("\n"),
      /efk:retentionDays = -3: must be at least 1 day/,
    );
  });

  it("accepts wildcards after the first Kibana and Fluentd host: they only go into the certificate", () => {
    const cfg = load({
      ...CENTRAL_CONFIG,
      kibanaHosts: '["kibana.example.com","*.kibana.example.com"]',
      fluentdExternalHosts: '["logs.example.com","*.logs.example.com"]',
    });
    assert.deepEqual(cfg.kibanaHosts, ["kibana.example.com", "*.kibana.example.com"]);
    assert.deepEqual(cfg.fluentdExternalHosts, ["logs.example.com", "*.logs.example.com"]);
  });

  it("accepts IPv4 and IPv6 CIDR ranges for the LoadBalancer, and none by default when there is no LoadBalancer", () => {
    const ranges = ["0.0.0.0/0", "10.0.0.0/8", "203.0.113.7/32", "2001:db8::/32", "::/0", "2001:db8::1/128"];
    const cfg = load({ ...CENTRAL_CONFIG, fluentdLoadBalancerSourceRanges: JSON.stringify(ranges) });
    assert.deepEqual(cfg.fluentdLoadBalancerSourceRanges, ranges);
    assert.deepEqual(
      load({ role: "central", clusterName: "hub", fluentdServiceType: "NodePort" })
        .fluentdLoadBalancerSourceRanges,
      [],
    );
  });

  it("accepts a stack holding every default Pulumi.yaml declares, as `pulumi up` hands them to the program", () => {
    const project = parse(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
      config: Record<string, { default?: unknown }>;
    };
    // The CLI passes array defaults as JSON and the others formatted as Go's %v does.
    const defaults = Object.fromEntries(
      Object.entries(project.config)
        .filter(([, spec]) => spec.default !== undefined)
        .map(([k, spec]) => [
          k,
          Array.isArray(spec.default) ? JSON.stringify(spec.default) : String(spec.default),
        ]),
    );
    const edge = { ...defaults, role: "edge", clusterName: "prod-eu", centralStack: "acme/efk/central" };
    assert.equal(load(edge).esReplicas, 3);
    assert.equal(load({ ...defaults, ...CENTRAL_CONFIG }).centralStack, "");
  });

  it("refuses an unknown key even when every other key is valid, and reports it with the others", () => {
    const problems = problemsOf({ ...CENTRAL_CONFIG, esReplica: "3", esReplicas: "4" });
    assert.equal(problems.length, 2, problems.join("\n"));
    assert.match(problems[0], /efk:esReplica is not a key of this project \(did you mean efk:esReplicas\?\)/);
  });

  for (const c of BAD.filter((b) => b.config.role === "central" || b.config.role === "edge")) {
    it(`registers no resource when the config has ${c.title}`, async () => {
      const { error, registered } = await runProgramExpectingError(c.config);
      assert.match(error.message, c.expect);
      assert.equal(registered, 0);
    });
  }
});

describe("Pulumi.yaml", () => {
  const project = parse(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
    config: Record<string, { type: string; default?: unknown; description: string }>;
  };

  it("declares exactly the keys the config module reads, with the same types and defaults", () => {
    assert.deepEqual(Object.keys(project.config).sort(), Object.keys(CONFIG_KEYS).sort());
    for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
      const declared = project.config[key];
      assert.equal(declared.type, spec.type, `type of ${key}`);
      assert.deepEqual(declared.default, "default" in spec ? spec.default : undefined, `default of ${key}`);
    }
  });

  it("ships stack files whose values the config module accepts", () => {
    for (const stack of ["central", "edge"]) {
      const file = parse(readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as {
        config: Record<string, unknown>;
      };
      const values = Object.fromEntries(
        Object.entries(file.config).map(([k, v]) => [
          k.replace(/^efk:/, ""),
          typeof v === "string" ? v : JSON.stringify(v),
        ]),
      );
      assert.equal(load(values).role, stack);
    }
  });
});

describe("README", () => {
  it("documents every config key in its reference", () => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    const missing = Object.keys(CONFIG_KEYS).filter((k) => !readme.includes(`| \`${k}\``));
    assert.deepEqual(missing, []);
  });
});
