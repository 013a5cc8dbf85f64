/**
 * What a Fluentd under test holds in memory: the resident memory (VmRSS) of every process in its process
 * group, read from /proc, and the allocator the pod runs it with.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { sleep } from "./fluentd";

export const MiB = 2 ** 20;

export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

/** jemalloc, which the pod preloads (`/usr/lib/libjemalloc.so.2` in the image); here Debian's libjemalloc2. */
export const JEMALLOC = ["/usr/lib/libjemalloc.so.2", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"].find(
  (f) => fs.existsSync(f),
);

/**
 * The allocator environment of the rendered pod (values/fluentd.yaml), with this machine's libjemalloc in
 * place of the image's path; without one, glibc's allocator (whose peaks run higher: 433 MiB against
 * jemalloc's 286 MiB under the front-door test's 20 hostile connections).
 */
export function allocatorEnv(renderDir: string): Record<string, string> {
  const values = parse(fs.readFileSync(path.join(renderDir, "values", "fluentd.yaml"), "utf8")) as {
    env: { name: string; value: string }[];
  };
  const env = Object.fromEntries(values.env.map((e) => [e.name, e.value]));
  if (!env.LD_PRELOAD?.includes("jemalloc")) {
    throw new Error(`the rendered aggregator does not preload jemalloc: ${JSON.stringify(values.env)}`);
  }
  return JEMALLOC ? { LD_PRELOAD: JEMALLOC, MALLOC_CONF: env.MALLOC_CONF } : {};
}

/** The resident memory of every process in the process group `pgid`, in bytes (VmRSS, from /proc). */
export async function groupRss(pgid: number): Promise<number> {
  let total = 0;
  for (const pid of await fs.promises.readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = await fs.promises.readFile(`/proc/${pid}/stat`, "utf8");
      // After the command name (which may hold spaces and parentheses): state, ppid, pgrp.
      const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      if (pgrp !== pgid) continue;
      const kb = /^VmRSS:\s+(\d+) kB$/m.exec(await fs.promises.readFile(`/proc/${pid}/status`, "utf8"));
      total += kb ? Number(kb[1]) * 1024 : 0;
    } catch {
      // The process has exited since the directory was listed.
    }
  }
  return total;
}

/** Samples the group's memory every 100 ms until `stop`, which resolves with the peak. */
export function rssSampler(pgid: number): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await groupRss(pgid));
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return Math.max(peak, await groupRss(pgid));
    },
  };
}

/** The most the group holds over a second of doing nothing. */
export async function idleRss(pgid: number): Promise<number> {
  const sampler = rssSampler(pgid);
  await sleep(1000);
  return sampler.stop();
}
