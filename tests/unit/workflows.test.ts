import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { lintWorkflows, workflowFiles, WORKFLOWS_DIR } from "../../scripts/lintWorkflows";
import { discoverStacks } from "../../scripts/stacks";

interface Step {
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string | string[];
  if?: string;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  strategy?: { matrix: { stack: string } };
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
}

function workflow(name: string): Workflow {
  return parse(fs.readFileSync(path.join(WORKFLOWS_DIR, name), "utf8")) as Workflow;
}

const ALL = ["pull-request.yml", "deploy.yml", "drift.yml"];

describe("GitHub Actions workflows", function () {
  this.timeout(60_000);

  it("pass actionlint, every one of them", async () => {
    const files = workflowFiles();
    assert.deepEqual(files.map((f) => path.basename(f)).sort(), [...ALL].sort());
    const problems = await lintWorkflows(files);
    assert.deepEqual(
      problems.map((p) => `${path.basename(p.file)}:${p.line}:${p.column} ${p.message}`),
      [],
    );
  });

  it("would fail actionlint with an undefined context property or an unknown action input", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "efk-wf-"));
    const file = path.join(dir, "bad.yml");
    fs.writeFileSync(
      file,
      [
        "on: push",
        "jobs:",
        "  a:",
        "    runs-on: ubuntu-latest",
        "    steps:",
        "      - run: echo ${{ matrix.nope }}",
        // actionlint knows the inputs of popular actions by major version (not by exact version).
        "      - uses: actions/checkout@v4",
        "        with:",
        "          no-such-input: 1",
        "",
      ].join("\n"),
    );
    const problems = await lintWorkflows([file]);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(
      problems.map((p) => p.line),
      [6, 9],
    );
  });

  it("pin every action to an exact version", () => {
    for (const name of ALL) {
      for (const [job, j] of Object.entries(workflow(name).jobs)) {
        for (const step of j.steps.filter((s) => s.uses)) {
          assert.match(step.uses as string, /^[\w-]+\/[\w-]+@v\d+\.\d+\.\d+$/, `${name} ${job}`);
        }
      }
    }
  });

  it("take the stacks from the stack files, never from a list of their own", () => {
    for (const name of ALL) {
      const text = fs.readFileSync(path.join(WORKFLOWS_DIR, name), "utf8");
      assert.match(text, /npm run -s stacks -- --role/, name);
      for (const stack of [...discoverStacks(path.join(WORKFLOWS_DIR, "..", "..")).central, "edge"]) {
        assert.doesNotMatch(text, new RegExp(`stack-name: ${stack}\\b`), `${name} names stack ${stack}`);
      }
    }
  });

  it("deploy central stacks first, then edges, never two updates of one stack at once", () => {
    const { jobs } = workflow("deploy.yml");
    assert.deepEqual(jobs.edges.needs, ["stacks", "central"]);
    for (const job of [jobs.central, jobs.edges]) {
      assert.equal(job.concurrency?.group, "pulumi-stack-${{ matrix.stack }}");
      assert.equal(job.concurrency?.["cancel-in-progress"], false);
      const up = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
      assert.equal(up?.with?.command, "up");
      assert.equal(up?.with?.["stack-name"], "${{ matrix.stack }}");
    }
  });

  it("preview every stack on a pull request when the secrets exist, and say that it was skipped otherwise", () => {
    const { jobs } = workflow("pull-request.yml");
    const preview = jobs.preview;
    assert.equal(
      preview.env?.HAS_SECRETS,
      "${{ secrets.PULUMI_ACCESS_TOKEN != '' && secrets.KUBECONFIG != '' }}",
    );
    const action = preview.steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
    assert.equal(action?.if, "env.HAS_SECRETS == 'true'");
    assert.deepEqual([action?.with?.command, action?.with?.["comment-on-pr"]], ["preview", true]);
    const skipped = preview.steps.find((s) => s.if === "env.HAS_SECRETS != 'true'");
    assert.match(skipped?.run ?? "", /skipped/);
    // The rendered diff: one comment, found by its marker and updated.
    const diffScript = jobs["render-diff"].steps
      .map((s) => `${s.run ?? ""}${String((s.with?.script as string | undefined) ?? "")}`)
      .join("\n");
    assert.match(
      diffScript,
      /npm run -s diff -- --stack "\$stack" --base "origin\/\$BASE_REF" --format markdown/,
    );
    assert.match(diffScript, /updateComment/);
  });

  it("fail the daily run on drift, after renewing the certificates that are due", () => {
    const { on, jobs } = workflow("drift.yml");
    assert.ok("schedule" in on);
    assert.deepEqual(jobs.drift.needs, ["stacks", "renew", "renew-edges"]);
    const preview = jobs.drift.steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
    assert.deepEqual(
      [preview?.with?.command, preview?.with?.refresh, preview?.with?.["expect-no-changes"]],
      ["preview", true, true],
    );
    assert.match(
      jobs.renew.steps.map((s) => s.run ?? "").join("\n"),
      /pulumi up --yes --refresh .*--target-dependents/,
    );
  });
});

describe("stack discovery", () => {
  it("lists each Pulumi.<stack>.yaml by the role it sets, and refuses a file without one", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "efk-stacks-"));
    const write = (stack: string, role?: string) =>
      fs.writeFileSync(
        path.join(dir, `Pulumi.${stack}.yaml`),
        `config:\n${role ? `  efk:role: ${role}\n` : "  x: 1\n"}`,
      );
    write("hub", "central");
    write("prod-us", "edge");
    write("prod-eu", "edge");
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: efk\n");
    assert.deepEqual(discoverStacks(dir), { central: ["hub"], edge: ["prod-eu", "prod-us"] });
    write("broken");
    assert.throws(() => discoverStacks(dir), /Pulumi\.broken\.yaml: efk:role must be central or edge/);
    fs.rmSync(path.join(dir, "Pulumi.broken.yaml"));
    // The workflows put stack names into shell commands.
    write("a$(id)", "edge");
    assert.throws(() => discoverStacks(dir), /"a\$\(id\)" is not a stack name/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
