import { createHash } from "node:crypto";

/**
 * The SHA-256 of a text, in hex: the pod annotations that roll a workload when a file it reads at start
 * changes, and the offline render's stable name suffixes.
 */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
