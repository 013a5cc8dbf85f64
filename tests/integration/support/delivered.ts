/**
 * Records as the tests send them, each carrying the cluster that sent it and its sequence number, and the
 * count of what arrived: distinct records and duplicates, whatever stream they landed in.
 */
import type { EsStandin } from "./esStandin";
import { tailRecord } from "./sender";

/**
 * `n` records of `cluster` for `run`, shaped as Fluent Bit reads a line (the id is derived from where it
 * was read and the line itself), with `sent_by` and `seq` to count them by, whatever their cluster field
 * becomes. `line` is appended to each line (to make records larger).
 */
export function sentRecords(cluster: string, n: number, run: string, line = ""): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    ...tailRecord(
      `/var/log/containers/${run}_${cluster}.log`,
      i * 100,
      `${run} record ${i} from ${cluster}${line}`,
    ),
    cluster,
    sent_by: cluster,
    run,
    seq: i,
  }));
}

/** How many distinct records of `run` arrived, how many more than once, and in which streams. */
export function delivered(
  es: EsStandin,
  run: string,
): { distinct: number; duplicates: number; streams: Set<string> } {
  const seen = new Map<string, number>();
  const streams = new Set<string>();
  for (const stream of es.streams()) {
    for (const doc of es.docs(stream)) {
      if (doc.run === run) {
        // The record as sent: its sender and sequence number (its cluster field may have been rewritten).
        const key = `${String(doc.sent_by)}/${String(doc.seq)}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        streams.add(stream);
      }
    }
  }
  const duplicates = [...seen.values()].reduce((sum, k) => sum + k - 1, 0);
  return { distinct: seen.size, duplicates, streams };
}
