/**
 * A node's container logs as the kubelet lays them out, for Fluent Bit to tail: each container writes CRI
 * lines to `pods/<namespace>_<pod>_<uid>/<container>/0.log`, and `containers/<pod>_<namespace>_<container>-
 * <container id>.log` is a symlink to it. Rotation is the kubelet's: rename `0.log` to `0.log.<timestamp>`
 * and start a new `0.log` (the symlink keeps pointing at the path).
 *
 * Every line carries a unique marker (`<run>#<n>`), so a test can count which lines arrived, and how often.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export interface Pod {
  namespace: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
}

/** One line as written: its marker, and what the document's content must be. */
export interface WrittenLine {
  marker: string;
  container: ContainerLog;
}

export class ContainerLog {
  readonly file: string;
  readonly link: string;
  readonly containerId: string;
  private rotations = 0;

  constructor(
    readonly node: NodeLogs,
    readonly pod: Pod,
    readonly name: string,
  ) {
    this.containerId = createHash("sha256").update(`${pod.uid}/${name}`).digest("hex");
    const dir = path.join(node.podsDir, `${pod.namespace}_${pod.name}_${pod.uid}`, name);
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, "0.log");
    fs.writeFileSync(this.file, "");
    this.link = path.join(node.containersDir, `${pod.name}_${pod.namespace}_${name}-${this.containerId}.log`);
    fs.symlinkSync(this.file, this.link);
  }

  /**
   * Appends `count` lines, each with a fresh marker. Every `partialEvery`-th line is written as the
   * runtime writes a long line, in two parts (P then F); every `jsonEvery`-th is a JSON object.
   */
  write(count: number, opts: { partialEvery?: number; jsonEvery?: number } = {}): WrittenLine[] {
    const lines: string[] = [];
    const written: WrittenLine[] = [];
    for (let i = 0; i < count; i++) {
      const marker = this.node.nextMarker();
      const n = written.length + 1;
      const stamp = this.node.timestamp();
      if (opts.jsonEvery && n % opts.jsonEvery === 0) {
        lines.push(`${stamp} stdout F ${JSON.stringify({ msg: marker, level: "info", n })}`);
      } else if (opts.partialEvery && n % opts.partialEvery === 0) {
        lines.push(`${stamp} stderr P ${marker} first part, `);
        lines.push(`${stamp} stderr F second part`);
      } else {
        lines.push(`${stamp} stdout F ${marker} from ${this.pod.name}/${this.name}`);
      }
      written.push({ marker, container: this });
    }
    fs.appendFileSync(this.file, lines.join("\n") + "\n");
    this.node.written.push(...written);
    return written;
  }

  /** As the kubelet rotates: the current file is renamed, and the runtime writes to a new one. */
  rotate(): void {
    this.rotations++;
    fs.renameSync(this.file, `${this.file}.20261129-0000${String(this.rotations).padStart(2, "0")}`);
    fs.writeFileSync(this.file, "");
  }
}

export class NodeLogs {
  readonly containersDir: string;
  readonly podsDir: string;
  /** Every line written, in order. */
  readonly written: WrittenLine[] = [];
  private counter = 0;
  private clockNs = BigInt(Date.now()) * 1_000_000n;

  constructor(
    readonly root: string,
    private readonly run: string,
  ) {
    this.containersDir = path.join(root, "containers");
    this.podsDir = path.join(root, "pods");
    fs.mkdirSync(this.containersDir, { recursive: true });
    fs.mkdirSync(this.podsDir, { recursive: true });
  }

  container(pod: Pod, name: string): ContainerLog {
    return new ContainerLog(this, pod, name);
  }

  nextMarker(): string {
    this.counter++;
    return `${this.run}#${this.counter}`;
  }

  /** A CRI timestamp with nanoseconds that never repeats, like the runtime's. */
  timestamp(): string {
    const now = BigInt(Date.now()) * 1_000_000n;
    this.clockNs = now > this.clockNs ? now : this.clockNs + 1n;
    const ms = Number(this.clockNs / 1_000_000n);
    const iso = new Date(ms).toISOString(); // 2026-11-29T01:02:03.456Z
    const ns = String(this.clockNs % 1_000_000_000n).padStart(9, "0");
    return `${iso.slice(0, 19)}.${ns}Z`;
  }
}

/** The marker a delivered document carries: in the raw line, or in the merged JSON. */
export function markerOf(doc: Record<string, unknown>): string | undefined {
  const processed = doc.log_processed as { msg?: unknown } | undefined;
  if (processed && typeof processed.msg === "string") return processed.msg;
  const m = typeof doc.log === "string" ? /^(\S+#\d+) /.exec(doc.log) : null;
  return m ? m[1] : undefined;
}

export interface Tally {
  sent: number;
  delivered: number;
  lost: number;
  duplicates: number;
  /** Markers of lost lines (the first few), for the failure message. */
  missing: string[];
}

/** Compares what was written with the documents that arrived. */
export function tally(written: WrittenLine[], docs: Record<string, unknown>[]): Tally {
  const want = new Set(written.map((w) => w.marker));
  const seen = new Map<string, number>();
  for (const doc of docs) {
    const marker = markerOf(doc);
    if (marker !== undefined && want.has(marker)) seen.set(marker, (seen.get(marker) ?? 0) + 1);
  }
  const missing = [...want].filter((m) => !seen.has(m));
  const duplicates = [...seen.values()].reduce((sum, n) => sum + n - 1, 0);
  return {
    sent: want.size,
    delivered: seen.size,
    lost: missing.length,
    duplicates,
    missing: missing.slice(0, 10),
  };
}

export function formatTally(name: string, t: Tally, extra = ""): string {
  return `      ${name}: sent ${t.sent}, delivered ${t.delivered}, lost ${t.lost}, duplicates ${t.duplicates}${extra}`;
}
