/**
 * npm run render -- --stack <name> --out <dir>
 *
 * Evaluates the stack's program with its Pulumi.<name>.yaml, offline (no cluster, no Pulumi service; generated
 * secrets replaced by placeholders), and writes what it would deploy: the Helm values of every release, the
 * aggregator's Fluentd configuration as Fluentd loads it, and Fluent Bit's configuration.
 */
import { parseArgs } from "node:util";
import { renderStack } from "./renderStack";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      stack: { type: "string" },
      out: { type: "string" },
      dir: { type: "string", default: process.cwd() },
    },
  });
  if (!values.stack || !values.out) {
    throw new Error("usage: npm run render -- --stack <name> --out <dir> [--dir <project dir>]");
  }
  const written = await renderStack({ projectDir: values.dir, stack: values.stack, outDir: values.out });
  for (const file of written) {
    console.log(file);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
