import { stringify } from "yaml";
import { elasticsearchUrl } from "../names";
import { quantityBytes } from "../quantity";
import { KIBANA_KEY_ENVS, SECRETS } from "../secrets";

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
    "server.ssl.certificate": `${KIBANA_SERVER_CERTS_DIR}/${SECRETS.kibanaTls.keys.cert}`,
    "server.ssl.key": `${KIBANA_SERVER_CERTS_DIR}/${SECRETS.kibanaTls.keys.key}`,
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

/** Node's heap: three quarters of the container's memory limit, leaving room for native memory. */
export function nodeHeapMiB(memory: string): number {
  return Math.floor((quantityBytes(memory) / 2 ** 20) * 0.75);
}

/** The chart and the one version these values are written for (see `PinnedChart`). */
export const KIBANA_CHART = { chart: "kibana", version: "8.5.1" } as const;

/** Values for the elastic/kibana 8.5.1 chart. */
export function kibanaValues(v: KibanaValuesInput): Record<string, unknown> {
  return {
    imageTag: v.imageTag,
    // One https URL, no trailing slash: the token hook concatenates it into a request URL.
    elasticsearchHosts: elasticsearchUrl(v.namespace),
    elasticsearchCertificateSecret: SECRETS.ca.name,
    elasticsearchCertificateAuthoritiesFile: SECRETS.ca.keys.ca,
    // The token hook logs in as `elastic` to create a service-account token; Kibana itself never uses elastic.
    elasticsearchCredentialSecret: SECRETS.esCredentials.name,
    protocol: "https",
    kibanaConfig: { "kibana.yml": kibanaYml(v.hosts) },
    secretMounts: [{ name: "server-tls", secretName: SECRETS.kibanaTls.name, path: KIBANA_SERVER_CERTS_DIR }],
    extraEnvs: [
      { name: "NODE_OPTIONS", value: `--max-old-space-size=${nodeHeapMiB(v.memory)}` },
      ...KIBANA_KEY_ENVS.map((env) => ({
        name: env,
        valueFrom: { secretKeyRef: { name: SECRETS.kibanaEncryptionKeys.name, key: env } },
      })),
    ],
    resources: {
      requests: { cpu: v.cpu, memory: v.memory },
      // null deletes the chart's default CPU limit (Helm merges maps).
      limits: { cpu: null, memory: v.memory },
    },
  };
}
