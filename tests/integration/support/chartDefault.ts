/**
 * The fluent-bit chart's default configuration (fluent/helm-charts, chart 0.58.1, values.yaml `config`,
 * with `flush: 1`, `logLevel: info`, `metricsPort: 2020` filled in): the baseline the agent's burst is
 * measured against. When FLUENT_CHARTS_DIR holds the chart, the copy below is checked against it.
 *
 * Relocated to the test's folders like the rendered agent, and changed only where this machine needs it:
 * - its `systemd` input (the kubelet's journal, `host.*`) and the output that ships it are left out: this
 *   machine has no journal to read, and the burst is container lines;
 * - the kubernetes filter gets the API stand-in's address, CA and token, and the tag prefix of the
 *   relocated /var/log/containers (its defaults are the in-cluster ones);
 * - the `es` output gets the stand-in's address, TLS and user (the chart's talks plain HTTP to a cluster
 *   without security, which no real Elasticsearch 8 allows), and `Suppress_Type_Name On`, without which
 *   Elasticsearch 8 refuses every bulk item; and `Buffer_Size False`: the output reads Elasticsearch's
 *   answer into 512k by default (plugins/out_es/es.h, FLB_ES_DEFAULT_HTTP_MAX), an answer lists every item
 *   (about 190 bytes each, from the stand-in as from Elasticsearch), and an answer that does not fit fails
 *   the request (`http_do=-1`), so a chunk of more than about 2,700 records is retried forever.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

export const CHART_DEFAULT_CONFIG = {
  service: `[SERVICE]
    Daemon Off
    Flush 1
    Log_Level info
    Parsers_File /fluent-bit/etc/parsers.conf
    Parsers_File /fluent-bit/etc/conf/custom_parsers.conf
    HTTP_Server On
    HTTP_Listen 0.0.0.0
    HTTP_Port 2020
    Health_Check On
`,
  inputs: `[INPUT]
    Name tail
    Path /var/log/containers/*.log
    multiline.parser docker, cri
    Tag kube.*
    Mem_Buf_Limit 5MB
    Skip_Long_Lines On

[INPUT]
    Name systemd
    Tag host.*
    Systemd_Filter _SYSTEMD_UNIT=kubelet.service
    Read_From_Tail On
`,
  filters: `[FILTER]
    Name kubernetes
    Match kube.*
    Merge_Log On
    Keep_Log Off
    K8S-Logging.Parser On
    K8S-Logging.Exclude On
`,
  outputs: `[OUTPUT]
    Name es
    Match kube.*
    Host elasticsearch-master
    Logstash_Format On
    Retry_Limit False

[OUTPUT]
    Name es
    Match host.*
    Host elasticsearch-master
    Logstash_Format On
    Logstash_Prefix node
    Retry_Limit False
`,
  customParsers: `[PARSER]
    Name docker_no_time
    Format json
    Time_Keep Off
    Time_Key time
    Time_Format %Y-%m-%dT%H:%M:%S.%L
`,
} as const;

/** The chart's values.yaml `config`, its `{{ .Values.x }}` filled as above, when FLUENT_CHARTS_DIR has it. */
export function chartConfigDrift(): string | undefined {
  const dir = process.env.FLUENT_CHARTS_DIR;
  const file = dir ? path.join(dir, "fluent-bit", "values.yaml") : "";
  if (!file || !fs.existsSync(file)) return undefined;
  const values = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, string> };
  const norm = (s: string) =>
    s
      .replace("{{ .Values.flush }}", "1")
      .replace("{{ .Values.logLevel }}", "info")
      .replace("{{ .Values.metricsPort }}", "2020")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "")
      .join("\n");
  for (const [key, text] of Object.entries(CHART_DEFAULT_CONFIG)) {
    if (norm(values.config[key] ?? "") !== norm(text)) {
      return `${file}: config.${key} differs from the copy in chartDefault.ts`;
    }
  }
  return undefined;
}

export interface ChartDefaultRelocation {
  /** Replaces /var/log/containers (the tail input's path and the kubernetes filter's tag prefix). */
  containersDir: string;
  parsersFile: string;
  kubeApiPort: number;
  serviceAccountDir: string;
  metricsPort: number;
  es: { port: number; caFile: string; user: string; password: string };
}

function replaceOnce(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`chart default configuration: no ${String(from)} to replace`);
  return out;
}

/** Writes the chart's default fluent-bit.conf (see above) into `dir`; returns its path. */
export function writeChartDefault(dir: string, r: ChartDefaultRelocation): string {
  fs.mkdirSync(dir, { recursive: true });
  const c = CHART_DEFAULT_CONFIG;
  const customParsers = path.join(dir, "custom_parsers.conf");
  fs.writeFileSync(customParsers, c.customParsers);
  const tagPrefix = `kube${r.containersDir.replace(/\//g, ".")}.`;
  let service = replaceOnce(c.service, "/fluent-bit/etc/parsers.conf", r.parsersFile);
  service = replaceOnce(service, "/fluent-bit/etc/conf/custom_parsers.conf", customParsers);
  service = replaceOnce(service, "HTTP_Listen 0.0.0.0", "HTTP_Listen 127.0.0.1");
  service = replaceOnce(service, "HTTP_Port 2020", `HTTP_Port ${r.metricsPort}`);
  const inputs = replaceOnce(
    replaceOnce(c.inputs, /\n\[INPUT\]\n    Name systemd\n[\s\S]*$/, ""),
    "/var/log/containers/",
    `${r.containersDir}/`,
  );
  const filters =
    c.filters +
    `    Kube_URL https://127.0.0.1:${r.kubeApiPort}\n` +
    `    Kube_CA_File ${r.serviceAccountDir}/ca.crt\n` +
    `    Kube_Token_File ${r.serviceAccountDir}/token\n` +
    `    Kube_Tag_Prefix ${tagPrefix}\n`;
  let outputs = replaceOnce(c.outputs, /\n\[OUTPUT\]\n    Name es\n    Match host\.\*\n[\s\S]*$/, "");
  outputs = replaceOnce(
    outputs,
    "Host elasticsearch-master\n",
    `Host 127.0.0.1\n    Port ${r.es.port}\n    tls On\n    tls.verify On\n    tls.ca_file ${r.es.caFile}\n` +
      `    HTTP_User ${r.es.user}\n    HTTP_Passwd ${r.es.password}\n    Suppress_Type_Name On\n` +
      "    Buffer_Size False\n",
  );
  const file = path.join(dir, "fluent-bit.conf");
  fs.writeFileSync(file, [service, inputs, filters, outputs].join("\n"));
  return file;
}
