import { stringify } from "yaml";
import { CA_KEY, CA_SECRET, ES_CREDENTIALS_SECRET, elasticsearchUrl } from "../names";
import { quantityBytes } from "../quantity";

/** Secrets the Kibana release reads; the component creates them with exactly these names. */
export const KIBANA_SECRETS = {
  tls: "kibana-tls",
  encryptionKeys: "kibana-encryption-keys",
} as const;

export const KIBANA_SERVER_CERTS_DIR = "/usr/share/kibana/config/server-certs";

export interface KibanaValuesInput {
  /** Namespace of Kibana and Elasticsearch. */
  namespace: string;
  /** Kibana image tag. */
  imageTag: string;
  /** CPU request. */
  cpu: string;
  /** Memory request and limit; Node's heap is three quarters of it. */
  memory: string;
  /** External names; the first becomes Kibana's public base URL. */
  hosts: string[];
}

/** kibana.yml: HTTPS with our certificate, no phoning home, encryption keys from the environment (a Secret). */
export function kibanaYml(hosts: string[]): string {
  return stringify({
    "server.ssl.enabled": true,
    "server.ssl.certificate": `${KIBANA_SERVER_CERTS_DIR}/tls.crt`,
    "server.ssl.key": `${KIBANA_SERVER_CERTS_DIR}/tls.key`,
    ...(hosts.length > 0 ? { "server.publicBaseUrl": `https://${hosts[0]}` } : {}),
    "elasticsearch.ssl.verificationMode": "full",
    "telemetry.optIn": false,
    "telemetry.allowChangingOptInStatus": false,
    "newsfeed.enabled": false,
    // Without fixed keys Kibana invents new ones at each start: sessions and saved secrets break on restart.
    "xpack.security.encryptionKey": "${KIBANA_SECURITY_KEY}",
    "xpack.encryptedSavedObjects.encryptionKey": "${KIBANA_SAVED_OBJECTS_KEY}",
    "xpack.reporting.encryptionKey": "${KIBANA_REPORTING_KEY}",
  });
}

export const KIBANA_KEY_ENVS = [
  "KIBANA_SECURITY_KEY",
  "KIBANA_SAVED_OBJECTS_KEY",
  "KIBANA_REPORTING_KEY",
] as const;

/** Node's heap: three quarters of the container's memory limit, leaving room for native memory. */
export function nodeHeapMiB(memory: string): number {
  return Math.floor((quantityBytes(memory) / 2 ** 20) * 0.75);
}

/**
 * The chart and the one version the values below are written for: another version's values differ in
 * shape, and would be applied silently. A new chart version comes with its values, in a release of this
 * project.
 */
export const KIBANA_CHART = { chart: "kibana", version: "8.5.1" } as const;

/** Values for the elastic/kibana 8.5.1 chart. */
export function kibanaValues(v: KibanaValuesInput): Record<string, unknown> {
  return {
    imageTag: v.imageTag,
    // One https URL, no trailing slash: the token hook concatenates it into a request URL.
    elasticsearchHosts: elasticsearchUrl(v.namespace),
    elasticsearchCertificateSecret: CA_SECRET,
    elasticsearchCertificateAuthoritiesFile: CA_KEY,
    // The token hook logs in as `elastic` to create a service-account token; Kibana itself never uses elastic.
    elasticsearchCredentialSecret: ES_CREDENTIALS_SECRET,
    protocol: "https",
    kibanaConfig: { "kibana.yml": kibanaYml(v.hosts) },
    secretMounts: [{ name: "server-tls", secretName: KIBANA_SECRETS.tls, path: KIBANA_SERVER_CERTS_DIR }],
    extraEnvs: [
      { name: "NODE_OPTIONS", value: `--max-old-space-size=${nodeHeapMiB(v.memory)}` },
      ...KIBANA_KEY_ENVS.map((env) => ({
        name: env,
        valueFrom: { secretKeyRef: { name: KIBANA_SECRETS.encryptionKeys, key: env } },
      })),
    ],
    resources: {
      requests: { cpu: v.cpu, memory: v.memory },
      // null deletes the chart's default CPU limit (Helm merges maps).
      limits: { cpu: null, memory: v.memory },
    },
  };
}
