/**
 * `npm run diff` on real config changes, in a throwaway git repository holding this project's files: the
 * base is its first commit, and each test changes stack files in its working tree.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { PROJECT_ROOT } from "./support/fluentd";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("npm run diff", function () {
  this.timeout(120_000);
  let repo: string;
  let base: string;

  before(() => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), "efk-diff-it-"));
    const tracked = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
    })
      .split("\0")
      .filter((f) => f !== "" && fs.existsSync(path.join(PROJECT_ROOT, f)));
    for (const file of tracked) {
      fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
      fs.copyFileSync(path.join(PROJECT_ROOT, file), path.join(repo, file));
    }
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(repo, "node_modules"), "dir");
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: repo });
    git("init", "--quiet", "--initial-branch", "main");
    git("add", "--all");
    git("commit", "--quiet", "-m", "base");
    base = execFileSync("git", ["rev-parse", "HEAD"], { cwd: repo, encoding: "utf8" }).trim();
  });

  after(() => {
    fs.rmSync(repo, { recursive: true, force: true });
  });

  afterEach(() => {
    execFileSync("git", ["checkout", "--quiet", "--", "."], { cwd: repo });
  });

  function diff(...args: string[]): Run {
    const r = spawnSync(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", "scripts/diff.ts", "--dir", repo, ...args],
      { cwd: repo, encoding: "utf8" },
    );
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Changes `efk:<key>` in a stack file of the working tree. */
  function setConfig(stack: string, key: string, value: unknown): void {
    const file = path.join(repo, `Pulumi.${stack}.yaml`);
    const doc = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    doc.config[`efk:${key}`] = value;
    fs.writeFileSync(file, stringify(doc));
  }

  /** The lines a diff adds or removes (without their +/- and the file headers). */
  function changed(text: string, sign: "+" | "-"): string[] {
    return text
      .split("\n")
      .filter((l) => l.startsWith(sign) && !l.startsWith(`${sign}${sign}${sign} `))
      .map((l) => l.slice(1));
  }

  it("exits 0 and says so when the stack's render is unchanged", () => {
    const r = diff("--stack", "central", "--base", "main");
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^stack central: no change in the rendered output against main \([0-9a-f]{7}\)\n$/,
    );
  });

  it("shows a new edge cluster's certificate, signed for its own request and admitted by the aggregator, never a key", () => {
    setConfig("central", "edgeClusters", ["prod-eu", "prod-us"]);
    const r = diff("--stack", "central", "--base", "main");
    assert.equal(r.code, 1, r.stderr);
    const added = changed(r.stdout, "+");
    assert.match(r.stdout, /^\+\+\+ b\/configmaps\/efk-fluentd-clients\/prod-us\.crt$/m);
    assert.ok(added.includes("tls:index/locallySignedCert:LocallySignedCert efk-pki-edge-prod-us"));
    assert.ok(added.includes("pulumi:pulumi:StackReference efk-edge-prod-us"));
    assert.doesNotMatch(r.stdout, /GENERATED-SECRET|PRIVATE KEY/);
  });

  it("shows a retentionDays change as the ILM policy's delete phase", () => {
    setConfig("central", "retentionDays", 9);
    const r = diff("--stack", "central", "--base", "main");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^--- a\/configmaps\/efk-elasticsearch-index-setup\/ilm-policy\.json$/m);
    assert.deepEqual(
      [changed(r.stdout, "-"), changed(r.stdout, "+")].map((lines) =>
        lines.filter((l) => l.includes("min_age")),
      ),
      [['        "min_age": "30d",'], ['        "min_age": "9d",']],
    );
  });

  it("renders an edge with the central stack file of the same ref", () => {
    setConfig("central", "fluentdExternalHosts", ["logs2.example.com"]);
    const r = diff("--stack", "edge", "--base", "main");
    assert.equal(r.code, 1, r.stderr);
    assert.ok(changed(r.stdout, "-").some((l) => /Host\s+logs\.example\.com$/.test(l)));
    assert.ok(changed(r.stdout, "+").some((l) => /Host\s+logs2\.example\.com$/.test(l)));
  });

  it("writes Markdown for a pull-request comment: a summary line, then one collapsed section per file", () => {
    setConfig("central", "retentionDays", 9);
    const r = diff("--stack", "central", "--base", base, "--format", "markdown");
    assert.equal(r.code, 1, r.stderr);
    const [first] = r.stdout.split("\n");
    assert.match(
      first,
      /^\*\*`central`\*\*: 1 file changed \(\+1 -1\) in the rendered output against `[0-9a-f]{40} \([0-9a-f]{7}\)`\.$/,
    );
    assert.equal((r.stdout.match(/<details>/g) ?? []).length, 1);
    assert.match(
      r.stdout,
      /<summary><code>configmaps\/efk-elasticsearch-index-setup\/ilm-policy\.json<\/code> \(\+1 -1\)<\/summary>/,
    );
  });

  it("fails with exit 2 and a clear message for a stack or a base that does not exist", () => {
    const noStack = diff("--stack", "nope", "--base", "main");
    assert.equal(noStack.code, 2);
    assert.match(noStack.stderr, /no stack file Pulumi\.nope\.yaml in /);
    const noBase = diff("--stack", "central", "--base", "no-such-branch");
    assert.equal(noBase.code, 2);
    assert.match(noBase.stderr, /the base "no-such-branch" is not a commit/);
  });
});
