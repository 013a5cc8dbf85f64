/**
 * Processes the integration tests start (Fluentd, Fluent Bit): each in its own process group, so signals
 * reach everything it starts, with its output kept, and killed when the test run ends.
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface ManagedProcess {
  /** PID of the process itself (also its process group id) */
  pid: number;
  /** everything it printed so far (stdout and stderr, in arrival order) */
  log(): string;
  /**
   * Sends `signal` (default SIGTERM) to its process group and resolves with the exit code once it has
   * exited (null when it died of a signal, e.g. SIGKILL). A process still running `graceMs` (default
   * 20 s) after a non-KILL signal gets SIGKILL. Resolves at once with the code if it already exited.
   */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  /** Sends a signal that does not stop Fluentd (SIGUSR1: flush buffers, SIGUSR2: reload, SIGCONT: dump). */
  signal(signal: NodeJS.Signals): void;
  /** false once the process has exited */
  running(): boolean;
}

class Managed implements ManagedProcess {
  readonly pid: number;
  private output = "";
  private exited = false;
  private exitCode: number | null = null;
  private readonly closed: Promise<void>;

  constructor(child: ChildProcess) {
    if (child.pid === undefined) throw new Error("the process did not start");
    this.pid = child.pid;
    const append = (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    this.closed = new Promise((resolve) => {
      child.once("close", (code) => {
        this.exited = true;
        this.exitCode = code;
        live.delete(this);
        resolve();
      });
    });
  }

  log(): string {
    return this.output;
  }

  running(): boolean {
    return !this.exited;
  }

  onceClosed(): Promise<void> {
    return this.closed;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.exited) throw new Error(`process ${this.pid} has already exited`);
    killGroup(this.pid, signal);
  }

  async kill(signal: NodeJS.Signals = "SIGTERM", graceMs = 20_000): Promise<number | null> {
    if (!this.exited) {
      killGroup(this.pid, signal);
      if (signal !== "SIGKILL") {
        const timer = setTimeout(() => killGroup(this.pid, "SIGKILL"), graceMs);
        await this.closed;
        clearTimeout(timer);
      }
      await this.closed;
    }
    return this.exitCode;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}

const live = new Set<Managed>();
function killAllNow(): void {
  for (const f of live) killGroup(f.pid, "SIGKILL");
}
// Each process runs in its own process group, so a Ctrl-C of the test run does not reach it: kill it on
// the way out, and then let the signal do what it would have done.
process.on("exit", killAllNow);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    killAllNow();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  });
}

/**
 * Spawns `command` in its own process group, keeping what it prints. Rejects when the spawn itself fails
 * (e.g. no such program).
 */
export function spawnManaged(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<ManagedProcess> {
  const child = spawn(command, args, { ...opts, stdio: ["ignore", "pipe", "pipe"], detached: true });
  if (child.pid === undefined) {
    // spawn failed (e.g. no such program on PATH): the reason comes as an "error" event
    return new Promise((_resolve, reject) => child.once("error", reject));
  }
  const p = new Managed(child);
  live.add(p);
  return Promise.resolve(p);
}

/** Kills (SIGKILL, whole process group) every process started by spawnManaged that is still running. */
export async function stopAll(): Promise<void> {
  const all = [...live];
  await Promise.all(all.map((p) => p.kill("SIGKILL")));
  await Promise.all(all.map((p) => p.onceClosed()));
}
