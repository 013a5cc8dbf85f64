/**
 * npm run diff -- --stack <name> [--base <git ref>] [--format text|markdown] [--dir <project dir>]
 *
 * Prints what the working tree changes in a stack's rendered output (Helm values, Fluentd and Fluent Bit
 * configuration, the program's ConfigMaps, the resource list) against a base ref: origin/main, else main.
 * Exit code 0: no change; 1: a change; 2: an error. No secret, or secret placeholder, is ever printed.
 */
import { parseArgs } from "node:util";
import { DiffError, defaultBase, diffStack, formatMarkdown, formatText } from "./renderDiff";

function main(): number {
  const { values } = parseArgs({
    options: {
      stack: { type: "string" },
      base: { type: "string" },
      format: { type: "string", default: "text" },
      dir: { type: "string", default: process.cwd() },
    },
  });
  if (!values.stack) {
    throw new DiffError(
      "usage: npm run diff -- --stack <name> [--base <git ref>] [--format text|markdown] [--dir <project dir>]",
    );
  }
  if (values.format !== "text" && values.format !== "markdown") {
    throw new DiffError(`--format ${values.format}: must be text or markdown`);
  }
  const base = values.base ?? defaultBase(values.dir);
  const d = diffStack(values.dir, values.stack, base);
  process.stdout.write(values.format === "markdown" ? formatMarkdown(d) : formatText(d));
  return d.changes.length === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(e instanceof DiffError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 2;
}
