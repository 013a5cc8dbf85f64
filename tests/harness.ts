import { setStackConfig } from "../lib/offline";
import { recorded, resetMocks, settle, stackReferences } from "./mocks";
import type { StackOutputs } from "../program";

/** Mocked stacks that StackReference can read: outputs and which of them are secret. */
export type StackRefs = Record<string, { outputs: Record<string, unknown>; secretOutputNames: string[] }>;

/** The minimal valid central configuration; tests override single keys. */
export const CENTRAL_CONFIG: Record<string, string> = {
  role: "central",
  clusterName: "hub",
};

/**
 * Runs the real entry point (`index.ts`) with the given `efk:*` config, as `pulumi up` would, and waits
 * for every registration to reach the mock engine.
 */
export async function runProgram(
  config: Record<string, string>,
  refs: StackRefs = {},
): Promise<StackOutputs> {
  resetMocks();
  for (const [stack, ref] of Object.entries(refs)) {
    stackReferences.set(stack, ref);
  }
  setStackConfig(config);
  // Required here, not imported at the top: the entry point must load after the mocks are set.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const main = require("../index") as () => Promise<StackOutputs>;
  const outputs = await main();
  await settle();
  return outputs;
}

/** Runs the program expecting it to fail; returns the error and how many resources got registered. */
export async function runProgramExpectingError(
  config: Record<string, string>,
  refs: StackRefs = {},
): Promise<{ error: Error; registered: number }> {
  try {
    await runProgram(config, refs);
  } catch (e) {
    await settle();
    return { error: e as Error, registered: recorded.length };
  }
  throw new Error("the program succeeded, but an error was expected");
}
