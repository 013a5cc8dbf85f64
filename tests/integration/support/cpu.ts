/**
 * What a process group (a Fluentd and its workers, a Fluent Bit) costs, read from /proc: CPU seconds so
 * far and each process's peak RSS. The bench and the agent suite's burst read their processes through it.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** The processes of a process group: Fluentd, or its supervisor and workers; Fluent Bit. */
export function processGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(Number(entry))[2]) === pgid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** User + system CPU seconds the group's processes have used so far (threads included). */
export function cpuSeconds(pgid: number): number {
  return processGroup(pgid).reduce((sum, pid) => {
    try {
      const f = statFields(pid);
      return sum + (Number(f[11]) + Number(f[12])) / CLK_TCK;
    } catch {
      return sum;
    }
  }, 0);
}

/**
 * The peak RSS of each of the group's processes, in MiB, the group's leader (the supervisor, with workers)
 * first. Their sum is what a pod's memory limit must hold, at most.
 */
export function peakRssMiB(pgid: number): number[] {
  return processGroup(pgid)
    .sort((a, b) => (a === pgid ? -1 : b === pgid ? 1 : a - b))
    .map((pid) => {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
      return m ? Number(m[1]) / 1024 : 0;
    });
}
