import "../mocks";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { byType, recorded } from "../mocks";
import { CENTRAL_CONFIG, EDGE_CONFIG, centralRef, runProgram } from "../harness";
import { stackExport, type StackExport } from "../stackExport";
import { WORKFLOWS_DIR } from "../../scripts/lintWorkflows";

/**
 * The drift workflow's certificate renewal, proven on the program's own resources: its jq programs, read
 * from the workflow file, run with the real jq (scripts/setup-jq.sh) on a `pulumi stack export` of what
 * the program declares.
 */

const LOCALLY_SIGNED = "tls:index/locallySignedCert:LocallySignedCert";
const SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert";

interface Step {
  name?: string;
  env?: Record<string, string>;
}

/** The jq program in `env[variable]` of the drift job `job`'s step that uses it. */
function jqProgram(job: string, variable: string): string {
  const workflow = parse(fs.readFileSync(path.join(WORKFLOWS_DIR, "drift.yml"), "utf8")) as {
    jobs: Record<string, { steps: Step[] }>;
  };
  const steps = workflow.jobs[job].steps.filter((s) => s.env?.[variable] !== undefined);
  assert.equal(steps.length, 1, `one step of ${job} sets ${variable}`);
  const text = fs.readFileSync(path.join(WORKFLOWS_DIR, "drift.yml"), "utf8");
  // The step must feed exactly this variable to jq, or the test would prove a program nobody runs.
  assert.match(text, new RegExp(`pulumi stack export --stack "\\$STACK" \\| jq -r "\\$${variable}"`));
  return steps[0].env?.[variable] ?? "";
}

/** The URNs `program` prints for `state`, run by jq itself. */
function jq(program: string, state: StackExport): string[] {
  const out = execFileSync(process.env.JQ_BIN ?? "jq", ["-r", program], { input: JSON.stringify(state) });
  return out.toString().split("\n").filter(Boolean).sort();
}

/** The URNs the export gives the recorded resources of `type`. */
function urnsOf(state: StackExport, type: string): string[] {
  return state.deployment.resources
    .filter((r) => r.type === type)
    .map((r) => r.urn)
    .sort();
}

const CENTRAL = {
  ...CENTRAL_CONFIG,
  edgeClusters: '["prod-eu","prod-us"]',
  fluentdExternalHosts: '["logs.example.com"]',
};

describe("drift workflow: certificate renewal", () => {
  const renewable = jqProgram("renew", "RENEWABLE");

  for (const [step, config] of [
    ["no rotation", {}],
    ["in the middle of a CA rotation", { caRotation: "trust" }],
  ] as const) {
    it(`renews every service and client certificate of the central, and no certificate authority (${step})`, async () => {
      await runProgram({ ...CENTRAL, ...config });
      const state = stackExport(recorded, "hub");
      const selected = jq(renewable, state);
      const cas = urnsOf(state, SELF_SIGNED);
      // Not vacuous: the authorities are in the export, and all the signed certificates are selected.
      assert.equal(cas.length, "caRotation" in config ? 4 : 2);
      assert.ok(byType(SELF_SIGNED).every((r) => r.inputs.isCaCertificate === true));
      assert.deepEqual(selected, urnsOf(state, LOCALLY_SIGNED));
      assert.equal(
        selected.length,
        4 + 1 + 2,
        "four service certificates, the central's own agents, two edges",
      );
      for (const ca of cas) {
        assert.ok(!selected.includes(ca), `${ca} would be replaced without overlap`);
      }
      assert.ok(
        selected.includes(
          "urn:pulumi:hub::efk::efk:stack:Central$efk:security:Pki$tls:index/locallySignedCert:LocallySignedCert::efk-pki-edge-prod-eu",
        ),
        selected.join("\n"),
      );
    });
  }

  it("would renew a self-signed certificate that is not an authority", async () => {
    await runProgram(CENTRAL);
    const state = stackExport(recorded, "hub");
    const ca = state.deployment.resources.find((r) => r.type === SELF_SIGNED);
    assert.ok(ca?.inputs);
    ca.inputs.isCaCertificate = false;
    assert.ok(jq(renewable, state).includes(ca.urn));
  });

  it("takes, on an edge, the central's reference and the Secret with the CA bundle and client certificate", async () => {
    await runProgram(EDGE_CONFIG, centralRef());
    const state = stackExport(recorded, "prod-eu");
    assert.deepEqual(jq(jqProgram("renew-edges", "TAKEN"), state), [
      "urn:pulumi:prod-eu::efk::efk:stack:Edge$efk:logging:FluentBit$kubernetes:core/v1:Secret::efk-fluent-bit-tls",
      "urn:pulumi:prod-eu::efk::pulumi:pulumi:StackReference::efk-central",
    ]);
  });
});
