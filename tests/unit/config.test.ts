import "../mocks";
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CONFIG_KEYS, ConfigError, loadConfig } from "../../config";
import { CENTRAL_CONFIG, runProgramExpectingError } from "../harness";

const ROOT = path.join(__dirname, "..", "..");

function load(values: Record<string, string>) {
  return loadConfig({ get: (k) => values[k] });
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
    expect: /efk:esReplicas = "three": must be a number/,
  },
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
    assert.equal(cfg.esChartVersion, "8.5.1");
    assert.equal(cfg.kibanaChartVersion, "8.5.1");
    assert.equal(cfg.fluentdChartVersion, "0.6.0");
    assert.equal(cfg.fluentBitChartVersion, "0.58.1");
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
