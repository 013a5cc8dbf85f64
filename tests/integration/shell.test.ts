/**
 * The shell scripts the project ships, checked by the real shellcheck (Debian's `shellcheck`, which `npm
 * test`'s pretest installs): the tracked ones through `npm run lint:shell` (scripts/check-shell.sh), and the
 * ones a deployment runs from ConfigMaps, as `npm run render` writes them.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT } from "./support/fluentd";
import { renderStackFile } from "./support/rendered";

const SHELLCHECK = process.env.SHELLCHECK_BIN ?? "shellcheck";

function run(cmd: string, args: string[]): { code: number; out: string } {
  const r = spawnSync(cmd, args, { cwd: PROJECT_ROOT, encoding: "utf8" });
  if (r.error) {
    throw new Error(
      `${cmd} could not run (${r.error.message}): npm test's pretest installs shellcheck (scripts/setup-shellcheck.sh)`,
    );
  }
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function shFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".sh"))
    .map((f) => path.join(dir, f));
}

describe("shell scripts, on the real shellcheck", function () {
  this.timeout(120_000);
  let work: string;
  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "efk-shell-"));
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it("passes npm run lint:shell: every tracked script, the index-setup Job's among them", () => {
    const r = run("bash", ["scripts/check-shell.sh"]);
    assert.equal(r.code, 0, r.out);
    for (const f of ["lib/render/scripts/es-setup.sh", "scripts/setup-shellcheck.sh", ".ci/run"]) {
      assert.ok(r.out.includes(f), `${f} was not checked:\n${r.out}`);
    }
  });

  it("passes shellcheck on every script a central stack's ConfigMaps carry, as rendered", () => {
    const render = renderStackFile(path.join(work, "central"), "central", {
      role: "central",
      clusterName: "hub",
      fluentdServiceType: "None",
      snapshotType: "s3",
      snapshotBucket: "efk-backups",
      snapshotCredentialsSecret: "efk-snapshot-credentials",
    });
    const files = shFiles(path.join(render, "configmaps"));
    assert.ok(
      files.some((f) => f.endsWith("setup.sh")),
      files.join(", "),
    );
    for (const f of files) {
      const r = run(SHELLCHECK, [f]);
      assert.equal(r.code, 0, `${f}:\n${r.out}`);
    }
  });

  it("fails a script with an unquoted expansion (so the checks above can fail)", () => {
    const broken = path.join(work, "broken.sh");
    const script = fs.readFileSync(path.join(PROJECT_ROOT, "lib/render/scripts/es-setup.sh"), "utf8");
    const text = script.replace('sleep "$delay"', "sleep $delay");
    assert.notEqual(text, script, "the script no longer has the line this test breaks");
    fs.writeFileSync(broken, text);
    const r = run(SHELLCHECK, [broken]);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /SC2086/);
  });
});
