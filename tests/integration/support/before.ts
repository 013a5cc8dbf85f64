/**
 * The aggregator as it was before the cost cuts of issue 22, from the rendered files of today, so that the
 * bench and the agent suite's burst measure before and after in the same run: the Elasticsearch output made
 * `@timestamp` itself (`include_timestamp true`, a DateTime per record) instead of the cluster filter
 * copying the line's own timestamp, and the bundle had no Oj (bulk bodies in Yajl). Each change must be
 * found, so that a renderer change shows up here rather than as a silently different baseline.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "./fluentd";

/** Rewrites the relocated config.d/04_outputs.conf beside `confPath` (fluent.conf) as it was. */
export function aggregatorBefore(confPath: string): void {
  const file = path.join(path.dirname(confPath), "config.d", "04_outputs.conf");
  const text = fs.readFileSync(file, "utf8");
  const before = text
    .replace(/\n\s+@timestamp "[^\n]*"(?=\n)/, "")
    .replace("include_timestamp false\n", "include_timestamp true\n");
  if (before.includes('@timestamp "') || !before.includes("include_timestamp true\n") || before === text) {
    throw new Error(`${file}: no @timestamp in the cluster filter or include_timestamp false to revert`);
  }
  fs.writeFileSync(file, before);
}

/** Environment for a Fluentd that cannot load Oj (bench/withoutOj.rb), as the bundle was. */
export function withoutOjEnv(): Record<string, string> {
  const hide = `-r${path.join(PROJECT_ROOT, "bench", "withoutOj.rb")}`;
  return { RUBYOPT: [process.env.RUBYOPT, hide].filter(Boolean).join(" ") };
}
