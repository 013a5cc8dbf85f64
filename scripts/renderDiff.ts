/**
 * What a change does to a stack's rendered output: the stack rendered offline at a base git ref (from a
 * temporary worktree, with that ref's own program and dependencies) and in the working tree, both with
 * `npm run render`'s script, then compared file by file.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FILE_HEADERS_ONLY, formatPatch, structuredPatch } from "diff";
import { renderScriptArgs } from "./renderStack";

/** A refusal or failure the user can act on: printed alone, exit code 2. */
export class DiffError extends Error {}

export interface FileChange {
  /** Path inside the render folder, e.g. `values/fluentd.yaml`. */
  file: string;
  added: number;
  removed: number;
  /** Unified diff of the file, `a/` the base and `b/` the working tree. */
  patch: string;
}

export interface StackDiff {
  stack: string;
  base: string;
  baseCommit: string;
  /** The stack file does not exist at the base: everything is new. */
  newStack: boolean;
  changes: FileChange[];
}

/**
 * Text that must never reach a diff: the render's placeholders for generated secrets and certificates, and
 * private keys. The render keeps them out of what it writes (tests search for them); this is the last
 * guard before output that may land in a pull-request comment.
 */
// A GENERATED-AT-DEPLOY placeholder stands for a certificate or a certificate request, which are public
// (the registered clusters' certificates are a ConfigMap): a diff may show it, as it shows who is added.
const SECRET_MARKERS = [/GENERATED-SECRET\(/, /-----BEGIN [A-Z ]*PRIVATE KEY-----/];

function git(cwd: string, args: string[]): string {
  const r = spawnSync("git", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) {
    throw new DiffError(`git ${args.join(" ")} failed: ${(r.stderr || r.stdout || "").trim()}`);
  }
  return r.stdout.trim();
}

function commitOf(repo: string, ref: string): string | undefined {
  const r = spawnSync("git", ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], {
    cwd: repo,
    encoding: "utf8",
  });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The base to compare with: `origin/main`, else `main`. */
export function defaultBase(repo: string): string {
  for (const ref of ["origin/main", "main"]) {
    if (commitOf(repo, ref)) return ref;
  }
  throw new DiffError("no base given and neither origin/main nor main exists: pass --base <git ref>");
}

function filesUnder(dir: string, prefix = ""): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    return statSync(full).isDirectory() ? filesUnder(full, rel) : [rel];
  });
}

/** Runs the tree's own render script on `stack`; throws with its message when the render fails. */
function render(tree: string, stack: string, out: string, what: string): void {
  const r = spawnSync(process.execPath, renderScriptArgs(stack, tree, out), { cwd: tree, encoding: "utf8" });
  if (r.status !== 0) {
    throw new DiffError(`rendering stack "${stack}" at ${what} failed:\n${(r.stderr || r.stdout).trim()}`);
  }
}

/**
 * A worktree of `commit` with its dependencies: the working tree's node_modules when both lockfiles are
 * the same (the same packages), else its own `npm ci`.
 */
function baseWorktree(repo: string, commit: string, dir: string): void {
  git(repo, ["worktree", "add", "--detach", "--quiet", dir, commit]);
  const lock = (tree: string) => {
    const file = path.join(tree, "package-lock.json");
    return existsSync(file) ? readFileSync(file, "utf8") : undefined;
  };
  if (lock(dir) !== undefined && lock(dir) === lock(repo) && existsSync(path.join(repo, "node_modules"))) {
    rmSync(path.join(dir, "node_modules"), { recursive: true, force: true });
    symlinkSync(path.join(repo, "node_modules"), path.join(dir, "node_modules"), "dir");
    return;
  }
  execFileSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: dir, stdio: "pipe" });
}

function assertNoSecret(dir: string, what: string): void {
  for (const file of filesUnder(dir)) {
    const text = readFileSync(path.join(dir, file), "utf8");
    if (SECRET_MARKERS.some((m) => m.test(text))) {
      throw new DiffError(
        `the render at ${what} holds a secret or its placeholder in ${file}: refusing to print it`,
      );
    }
  }
}

/** Compares two render folders; unchanged files are left out. */
export function compareRenders(baseDir: string, headDir: string): FileChange[] {
  const files = [...new Set([...filesUnder(baseDir), ...filesUnder(headDir)])].sort();
  const changes: FileChange[] = [];
  for (const file of files) {
    const read = (dir: string) =>
      existsSync(path.join(dir, file)) ? readFileSync(path.join(dir, file), "utf8") : "";
    const before = read(baseDir);
    const after = read(headDir);
    if (before === after) continue;
    const patch = structuredPatch(`a/${file}`, `b/${file}`, before, after, "", "", { context: 3 });
    const lines = patch.hunks.flatMap((h) => h.lines);
    changes.push({
      file,
      added: lines.filter((l) => l.startsWith("+")).length,
      removed: lines.filter((l) => l.startsWith("-")).length,
      patch: formatPatch(patch, FILE_HEADERS_ONLY).trimEnd(),
    });
  }
  return changes;
}

/** Renders `stack` at `base` and in the working tree of `repo`, and compares them. */
export function diffStack(repo: string, stack: string, base: string): StackDiff {
  if (!existsSync(path.join(repo, `Pulumi.${stack}.yaml`))) {
    throw new DiffError(
      `no stack file Pulumi.${stack}.yaml in ${repo}: which stacks there are, \`ls Pulumi.*.yaml\` shows`,
    );
  }
  const baseCommit = commitOf(repo, base);
  if (!baseCommit) {
    throw new DiffError(
      `the base "${base}" is not a commit in ${repo} (a branch, tag or commit, e.g. origin/main)`,
    );
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), "efk-diff-"));
  const worktree = path.join(tmp, "base");
  try {
    baseWorktree(repo, baseCommit, worktree);
    const newStack = !existsSync(path.join(worktree, `Pulumi.${stack}.yaml`));
    const baseOut = path.join(tmp, "render-base");
    const headOut = path.join(tmp, "render-head");
    if (!newStack) render(worktree, stack, baseOut, `${base} (${baseCommit.slice(0, 7)})`);
    render(repo, stack, headOut, "the working tree");
    assertNoSecret(baseOut, base);
    assertNoSecret(headOut, "the working tree");
    return { stack, base, baseCommit, newStack, changes: compareRenders(baseOut, headOut) };
  } finally {
    spawnSync("git", ["worktree", "remove", "--force", worktree], { cwd: repo });
    rmSync(tmp, { recursive: true, force: true });
  }
}

function totals(d: StackDiff): string {
  const added = d.changes.reduce((n, c) => n + c.added, 0);
  const removed = d.changes.reduce((n, c) => n + c.removed, 0);
  const files = `${d.changes.length} file${d.changes.length === 1 ? "" : "s"}`;
  return `${files} changed (+${added} -${removed})`;
}

function against(d: StackDiff): string {
  return `${d.base} (${d.baseCommit.slice(0, 7)})`;
}

export function formatText(d: StackDiff): string {
  if (d.changes.length === 0) {
    return `stack ${d.stack}: no change in the rendered output against ${against(d)}\n`;
  }
  const head = `stack ${d.stack}: ${totals(d)} against ${against(d)}${d.newStack ? ", a new stack" : ""}`;
  return [head, ...d.changes.map((c) => c.patch)].join("\n\n") + "\n";
}

/** A code fence longer than any run of backticks in `text`, so the text cannot close it. */
function fence(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return "`".repeat(longest + 1);
}

/** For a pull-request comment: a summary line, then one collapsed section per changed file. */
export function formatMarkdown(d: StackDiff): string {
  if (d.changes.length === 0) {
    return `**\`${d.stack}\`**: no change in the rendered output against \`${against(d)}\`.\n`;
  }
  const sections = d.changes.map((c) => {
    const f = fence(c.patch);
    return `<details><summary><code>${c.file}</code> (+${c.added} -${c.removed})</summary>\n\n${f}diff\n${c.patch}\n${f}\n\n</details>`;
  });
  const head = `**\`${d.stack}\`**: ${totals(d)} in the rendered output against \`${against(d)}\`${d.newStack ? " (a new stack)" : ""}.`;
  return [head, ...sections].join("\n\n") + "\n";
}
