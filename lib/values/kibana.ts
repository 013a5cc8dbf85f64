import type * as k8s from "@pulumi/kubernetes";
import { stringify } from "yaml";
import { elasticsearchUrl } from "../names";
import { KIBANA_SETUP_FILES } from "../render/kibanaSetup";
import { quantityBytes } from "../quantity";
import { KIBANA_KEY_ENVS, SECRETS } from "../secrets";
import { setupPodSpec } from "./setupPod";

export const KIBANA_SERVER_CERTS_DIR = "/usr/share/kibana/config/server-certs";

export interface KibanaValuesInput {
  /** Namespace of Kibana and Elasticsearch. */
  namespace: string;
  /** Whether Elasticsearch has dedicated masters: clients then reach it through the data nodes' Service. */
  esDedicatedMasters: boolean;
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

/** The pod annotations that carry digests of Kibana's server certificate and of its token (`kibanaValues`). */
export const TLS_CHECKSUM_ANNOTATION = "efk-pulumi/tls-checksum";
export const TOKEN_CHECKSUM_ANNOTATION = "efk-pulumi/token-checksum";

/** What rolls Kibana's pods, and how long its rollout may take. */
export interface KibanaRollout {
  /** SHA-256 of the server certificate (public). */
  tlsChecksum: string;
  /** SHA-256 of the service-account token (a digest of a random 32-character secret reveals nothing). */
  tokenChecksum: string;
  timeoutSeconds: number;
}

/** The chart and the one version these values are written for (see `PinnedChart`). */
export const KIBANA_CHART = { chart: "kibana", version: "8.5.1" } as const;

/**
 * Values for the elastic/kibana 8.5.1 chart, rendered without its hooks (`helmChart`). The chart's
 * Deployment reads Kibana's service-account token from `<fullname>-es-token`, which its hooks would make by
 * logging in as `elastic`; the program makes that Secret instead (`SECRETS.kibanaEsToken`), so no value here
 * names the `elastic` credentials, and Kibana never holds them.
 */
export function kibanaValues(v: KibanaValuesInput, rollout: KibanaRollout): Record<string, unknown> {
  return {
    imageTag: v.imageTag,
    // Kibana reads its certificate and token at start only: a new one must restart it, as a changed
    // kibana.yml does through the chart's own checksum.
    podAnnotations: {
      [TLS_CHECKSUM_ANNOTATION]: rollout.tlsChecksum,
      [TOKEN_CHECKSUM_ANNOTATION]: rollout.tokenChecksum,
    },
    // On the Deployment (the chart's hooks are not rendered): how long Pulumi waits for it to be ready.
    annotations: { "pulumi.com/timeoutSeconds": String(rollout.timeoutSeconds) },
    elasticsearchHosts: elasticsearchUrl(v.namespace, v.esDedicatedMasters),
    elasticsearchCertificateSecret: SECRETS.ca.name,
    elasticsearchCertificateAuthoritiesFile: SECRETS.ca.keys.ca,
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

export const KIBANA_IMAGE = "docker.elastic.co/kibana/kibana";
const KIBANA_NODE = "/usr/share/kibana/node/bin/node";
const SETUP_DIR = "/setup";
const SETUP_CA_DIR = "/ca";

export interface KibanaSetupPodInput {
  imageTag: string;
  /** In-cluster HTTPS URL of Kibana. */
  url: string;
  /** The file-realm user the Job signs in as; its password is in `SECRETS.kibanaSetupCredentials`. */
  user: string;
  /** ConfigMap holding objects.json and the script. */
  configMapName: string;
  /** How long the Job waits for Kibana to be ready. */
  waitSeconds: number;
}

/**
 * The pod of the Kibana setup Job: the script runs on the Node.js of the Kibana image, as its non-root
 * user, with the setup user's password from its Secret, the CA alone, and nothing writable.
 */
export function kibanaSetupPodSpec(v: KibanaSetupPodInput): k8s.types.input.core.v1.PodSpec {
  return setupPodSpec(
    {
      name: "kibana-setup",
      image: `${KIBANA_IMAGE}:${v.imageTag}`,
      command: [KIBANA_NODE, `${SETUP_DIR}/${KIBANA_SETUP_FILES.script}`],
      env: [
        { name: "KIBANA_URL", value: v.url },
        { name: "CA_FILE", value: `${SETUP_CA_DIR}/${SECRETS.ca.keys.ca}` },
        { name: "SETUP_DIR", value: SETUP_DIR },
        { name: "SETUP_USER", value: v.user },
        { name: "WAIT_SECONDS", value: String(v.waitSeconds) },
        {
          name: "SETUP_PASSWORD",
          valueFrom: {
            secretKeyRef: {
              name: SECRETS.kibanaSetupCredentials.name,
              key: SECRETS.kibanaSetupCredentials.keys.password,
            },
          },
        },
      ],
      volumeMounts: [
        { name: "setup", mountPath: SETUP_DIR, readOnly: true },
        { name: "ca", mountPath: SETUP_CA_DIR, readOnly: true },
      ],
      resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
    },
    [
      { name: "setup", configMap: { name: v.configMapName } },
      { name: "ca", secret: { secretName: SECRETS.ca.name } },
    ],
  );
}
