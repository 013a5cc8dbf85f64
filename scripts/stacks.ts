/**
 * npm run stacks [-- --role central|edge|all]
 *
 * The project's stacks, from its Pulumi.<stack>.yaml files and the role each sets, as a JSON array (one
 * role, or all with central stacks first) or, without --role, an object by role, sorted by name: what the workflows iterate over, so that no list of stacks is
 * written down twice.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { parse } from "yaml";

export type StackRole = "central" | "edge";

/** Pulumi's stack name characters; anything else in a file name is refused (the workflows run with it). */
const STACK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function discoverStacks(dir: string): Record<StackRole, string[]> {
  const found: Record<StackRole, string[]> = { central: [], edge: [] };
  for (const file of readdirSync(dir).sort()) {
    const m = /^Pulumi\.(.+)\.yaml$/.exec(file);
    if (!m) continue;
    if (!STACK_NAME.test(m[1])) {
      throw new Error(`${file}: "${m[1]}" is not a stack name (letters, digits, '.', '_' and '-')`);
    }
    const doc = (parse(readFileSync(path.join(dir, file), "utf8")) ?? {}) as {
      config?: Record<string, unknown>;
    };
    const role = doc.config?.["efk:role"];
    if (role !== "central" && role !== "edge") {
      throw new Error(`${file}: efk:role must be central or edge, got ${JSON.stringify(role)}`);
    }
    found[role].push(m[1]);
  }
  return found;
}

if (require.main === module) {
  const { values } = parseArgs({
    options: { role: { type: "string" }, dir: { type: "string", default: process.cwd() } },
  });
  try {
    const stacks = discoverStacks(values.dir);
    const role = values.role;
    if (role === undefined) {
      console.log(JSON.stringify(stacks));
    } else if (role === "all") {
      console.log(JSON.stringify([...stacks.central, ...stacks.edge]));
    } else if (role === "central" || role === "edge") {
      console.log(JSON.stringify(stacks[role]));
    } else {
      throw new Error(`--role ${role}: must be central, edge or all`);
    }
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 2;
  }
}
