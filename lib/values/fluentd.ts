import type { IndexLayout } from "../capacity";
import { sha256Hex } from "../digest";
import {
  ES_DATA_HEADLESS_SERVICE,
  ES_HEADLESS_SERVICE,
  ES_TRANSPORT_PORT,
  FLUENTD_FORWARD_PORT,
  FLUENTD_FULLNAME,
  FLUENTD_SELECTOR_LABELS,
  elasticsearchUrl,
  kibanaUrl,
  type MetricsStyle,
} from "../names";
import { SCRAPE } from "../monitoring/metrics";
import { scrapeAnnotations } from "../monitoring/scrape";
import { quantityBytes } from "../quantity";
import {
  BUFFER_WORKERS_SCRIPT,
  CERTIFICATE_KINDS,
  type CertificateProbes,
  FLUENTD_PLUGIN_DIR,
  FLUENTD_PLUGINS,
  FLUENTD_PATHS,
  bufferDirs,
  fluentdMainConf,
  pendingLimitBytes,
  renderFluentdConfig,
} from "../render/fluentd";
import { SECRETS } from "../secrets";
import { FLUENTD_WRITER_USER } from "./elasticsearch";

export const FLUENTD_METRICS_PORT = SCRAPE.fluentd.port;

/** jemalloc 5.3 as the fluent/fluentd base image builds it (its Dockerfile: `mv lib/libjemalloc.so.2 /usr/lib`). */
export const JEMALLOC_IN_IMAGE = "/usr/lib/libjemalloc.so.2";

/**
 * jemalloc's settings: one arena (Ruby's lock lets one thread run at a time, so threads gain nothing from
 * arenas of their own, and each arena keeps its own freed pages), and freed pages handed back within a
 * second. A worker's peak fell from 276 to 193 MiB at the same CPU (npm run bench, 2 threads of 4 MB).
 */
export const JEMALLOC_CONF = "narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0";

/** The chart's image repository (fluentd chart 0.6.0 values: image.repository). */
const FLUENTD_IMAGE = "fluent/fluentd-kubernetes-daemonset";
/** Where the chart mounts the buffer volume claim (its `_pod.tpl`, with persistence). */
const FLUENTD_VOLUME_DIR = "/var/log/fluent";

/**
 * The `fluent` user and group of the image, which it does not run as: fluent/fluentd's v1.19/debian
 * Dockerfile makes them with `groupadd -r` / `useradd -r` on a base without other system accounts, so both
 * get Debian's first system id, 999; fluentd-kubernetes-daemonset's Dockerfile then sets `USER root`.
 */
export const FLUENTD_IMAGE_UID = 999;

/**
 * Where Fluentd keeps chunks it evacuates (a chunk an output can never send, a broken buffer file). Its
 * default, /tmp/fluent (`DEFAULT_BACKUP_DIR` in fluentd's env.rb, unless FLUENT_BACKUP_DIR is set), would
 * be in the pod's memory (/tmp is a tmpfs here) and gone with the pod; on the volume they stay with the buffer.
 */
export const FLUENTD_BACKUP_DIR = `${FLUENTD_VOLUME_DIR}/backup`;

/** No capability, no privilege escalation, nothing written outside the volumes: Fluentd and its init container. */
const CONTAINER_SECURITY_CONTEXT = {
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
};

/**
 * The ConfigMap the program creates for the chart's main configuration (`fluentdMainFiles`): our
 * fluent.conf, the init container's script and our plugin.
 */
export const FLUENTD_MAIN_CONFIGMAP = `${FLUENTD_FULLNAME}-main-efk`;

/** The registered clusters' client certificates, `<cluster>.crt` each, that the forward input admits. */
export const FLUENTD_CLIENTS_CONFIGMAP = `${FLUENTD_FULLNAME}-clients`;

/** The share of the buffer volume the file buffer may fill; the rest is headroom for chunk files in flight. */
export const BUFFER_SHARE_OF_VOLUME = 0.8;

export interface FluentdValuesInput {
  /** Namespace of the aggregator and of Elasticsearch. */
  namespace: string;
  /** Whether Elasticsearch has dedicated masters: clients then reach it through the data nodes' Service. */
  esDedicatedMasters: boolean;
  /** StatefulSet replicas, each with its own buffer volume. */
  replicas: number;
  /** Tag of the fluentd-kubernetes-daemonset image (an elasticsearch8 variant). */
  imageTag: string;
  /** CPU request per pod. */
  cpu: string;
  /** Memory request and limit per pod. */
  memory: string;
  /** StorageClass of the buffer volumes; empty for the cluster default. */
  storageClass: string;
  /** Size of each pod's buffer volume; the file buffer may fill 80% of it. */
  storageSize: string;
  /** Clusters allowed to forward (the central one and every edge). */
  clusters: string[];
  /** How clusters' records are laid out in data streams. */
  indexLayout: IndexLayout;
  /** With the shared layout: clusters with a stream of their own. */
  dedicatedStreams: string[];
  /** Require a client certificate signed by our CA from every forwarder. */
  clientCertAuth: boolean;
  /** Data streams are `<prefix>-<cluster>`. */
  dataStreamPrefix: string;
  /** How Prometheus finds the metrics: `annotations` puts `prometheus.io/*` on the pods. */
  metrics: MetricsStyle;
  /** Fluentd worker processes per pod. */
  workers: number;
}

export function fluentdFileConfigs(v: FluentdValuesInput): Record<string, string> {
  const tls = (file: string) => `${FLUENTD_PATHS.tlsDir}/${file}`;
  const es = new URL(elasticsearchUrl(v.namespace, v.esDedicatedMasters));
  return renderFluentdConfig({
    forwardPort: FLUENTD_FORWARD_PORT,
    metricsPort: FLUENTD_METRICS_PORT,
    tls: {
      certPath: tls(SECRETS.fluentdTls.keys.cert),
      keyPath: tls(SECRETS.fluentdTls.keys.key),
    },
    identity: v.clientCertAuth
      ? { kind: "certificate", caPath: tls(SECRETS.fluentdTls.keys.ca), certsDir: FLUENTD_PATHS.clientsDir }
      : { kind: "user" },
    clusters: v.clusters,
    layout: { kind: v.indexLayout, dedicated: v.dedicatedStreams },
    pendingLimitBytes: pendingLimitBytes(quantityBytes(v.memory), v.workers),
    elasticsearch: {
      host: es.hostname,
      port: Number(es.port),
      caPath: tls(SECRETS.fluentdTls.keys.ca),
      user: FLUENTD_WRITER_USER,
    },
    dataStreamPrefix: v.dataStreamPrefix,
    bufferDir: FLUENTD_PATHS.bufferDir,
    deadLetterDir: FLUENTD_PATHS.deadLetterDir,
    bufferLimitBytes: Math.floor(quantityBytes(v.storageSize) * BUFFER_SHARE_OF_VOLUME),
    workers: v.workers,
    certificates: certificateProbes(v),
  });
}

/** Where the aggregator finds Elasticsearch's transport CA bundle (one key of Elasticsearch's TLS Secret). */
export const ES_TRANSPORT_CA_DIR = "/fluentd/es-transport-ca";

/**
 * The certificates in use that the aggregator reports the expiry of: the files it loaded itself (its server
 * certificate, the CA bundle, the registered clusters' certificates), Elasticsearch's transport CA bundle,
 * and what Elasticsearch (HTTPS, and every node's transport port) and Kibana present. Each edge's client
 * certificate comes from the forward input's handshakes.
 */
export function certificateProbes(v: FluentdValuesInput): CertificateProbes {
  const tls = (file: string) => `${FLUENTD_PATHS.tlsDir}/${file}`;
  const es = new URL(elasticsearchUrl(v.namespace, v.esDedicatedMasters));
  const kibana = new URL(kibanaUrl(v.namespace));
  // Every node answers on its transport port; with dedicated masters, the data nodes are another Service.
  const headless = [ES_HEADLESS_SERVICE, ...(v.esDedicatedMasters ? [ES_DATA_HEADLESS_SERVICE] : [])];
  return {
    files: [
      { kind: CERTIFICATE_KINDS.forwardServer, path: tls(SECRETS.fluentdTls.keys.cert) },
      { kind: CERTIFICATE_KINDS.ca, path: tls(SECRETS.fluentdTls.keys.ca) },
      {
        kind: CERTIFICATE_KINDS.elasticsearchTransportCa,
        path: `${ES_TRANSPORT_CA_DIR}/${SECRETS.esTls.keys.transportCa}`,
      },
    ],
    directories: v.clientCertAuth
      ? [{ kind: CERTIFICATE_KINDS.registeredClient, path: FLUENTD_PATHS.clientsDir }]
      : [],
    endpoints: [
      { kind: CERTIFICATE_KINDS.elasticsearchHttp, host: es.hostname, port: Number(es.port) },
      ...headless.map((service) => ({
        kind: CERTIFICATE_KINDS.elasticsearchTransport,
        host: `${service}.${v.namespace}.svc`,
        port: ES_TRANSPORT_PORT,
        eachAddress: true,
      })),
      { kind: CERTIFICATE_KINDS.kibana, host: kibana.hostname, port: Number(kibana.port) },
    ],
  };
}

/** The chart's volume of the main ConfigMap (its `_pod.tpl`), and where the chart mounts it. */
const MAIN_CONFIG_VOLUME = "etcfluentd-main";
const MAIN_CONFIG_DIR = "/etc/fluent";
const BUFFER_WORKERS_FILE = "buffer-workers.sh";

/**
 * The program's main ConfigMap: our fluent.conf, the script that hands a gone worker's chunks on, and our
 * plugins.
 */
export function fluentdMainFiles(v: Pick<FluentdValuesInput, "workers">): Record<string, string> {
  return {
    "fluent.conf": fluentdMainConf(v.workers),
    [BUFFER_WORKERS_FILE]: BUFFER_WORKERS_SCRIPT,
    ...Object.fromEntries(FLUENTD_PLUGINS.map((p) => [p.file, p.source])),
  };
}

/** The chart and the one version these values are written for (see `PinnedChart`). */
export const FLUENTD_CHART = { chart: "fluentd", version: "0.6.0" } as const;

/** Values for the fluent/fluentd 0.6.0 chart, as an aggregator: StatefulSet, buffer volume, no host mounts. */
export function fluentdValues(v: FluentdValuesInput, tlsChecksum = ""): Record<string, unknown> {
  return {
    fullnameOverride: FLUENTD_FULLNAME,
    kind: "StatefulSet",
    replicaCount: v.replicas,
    variant: "elasticsearch8",
    image: { tag: v.imageTag },
    // An aggregator reads no host logs and asks nothing of the Kubernetes API.
    mountVarLogDirectory: false,
    mountDockerContainersDirectory: false,
    rbac: { create: false },
    // The chart mounts the claim at /var/log/fluent; the file buffer lives there.
    persistence: {
      enabled: true,
      storageClass: v.storageClass,
      accessMode: "ReadWriteOnce",
      size: v.storageSize,
    },
    service: {
      type: "ClusterIP",
      ports: [{ name: "forward", protocol: "TCP", containerPort: FLUENTD_FORWARD_PORT }],
    },
    envFrom: [{ secretRef: { name: SECRETS.fluentdEnv.name } }],
    // jemalloc, which the image ships and turns off (LD_PRELOAD=""): under load glibc's per-thread arenas
    // hold on to freed memory; see the README's benchmark for the figures.
    env: [
      { name: "LD_PRELOAD", value: JEMALLOC_IN_IMAGE },
      { name: "MALLOC_CONF", value: JEMALLOC_CONF },
      { name: "FLUENT_BACKUP_DIR", value: FLUENTD_BACKUP_DIR },
    ],
    volumes: [
      // 0400, and group-readable through fsGroup (the kubelet adds g+r): Fluentd does not run as root.
      { name: "tls", secret: { secretName: SECRETS.fluentdTls.name, defaultMode: 0o400 } },
      // /tmp, the root filesystem being read-only: Fluentd's lock directory and ServerEngine's socket. In
      // memory because a tmpfs root is 1777: Ruby's Dir.tmpdir refuses a world-writable directory without
      // the sticky bit, which a disk emptyDir (0777) is, and Fluentd then cannot start.
      { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
      // The registered clusters' certificates (public): who may send, by key.
      ...(v.clientCertAuth ? [{ name: "clients", configMap: { name: FLUENTD_CLIENTS_CONFIGMAP } }] : []),
      // Elasticsearch's transport CA bundle (public), for its expiry: that one key of the Secret, whose
      // transport key stays out of this pod.
      {
        name: "es-transport-ca",
        secret: {
          secretName: SECRETS.esTls.name,
          items: [{ key: SECRETS.esTls.keys.transportCa, path: SECRETS.esTls.keys.transportCa }],
          defaultMode: 0o444,
        },
      },
    ],
    volumeMounts: [
      { name: "tls", mountPath: FLUENTD_PATHS.tlsDir, readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
      // Our plugins, beside the image's own plugins (files, not the directory).
      ...FLUENTD_PLUGINS.map((p) => ({
        name: MAIN_CONFIG_VOLUME,
        mountPath: `${FLUENTD_PLUGIN_DIR}/${p.file}`,
        subPath: p.file,
        readOnly: true,
      })),
      ...(v.clientCertAuth ? [{ name: "clients", mountPath: FLUENTD_PATHS.clientsDir, readOnly: true }] : []),
      { name: "es-transport-ca", mountPath: ES_TRANSPORT_CA_DIR, readOnly: true },
    ],
    fileConfigs: fluentdFileConfigs(v),
    // Our fluent.conf (it counts refused forward connections, and sets the workers); the chart's checksum
    // covers only its own ConfigMaps, so a change to ours rolls the pods through this annotation.
    mainConfigMapNameOverride: FLUENTD_MAIN_CONFIGMAP,
    podAnnotations: {
      "efk-pulumi/main-config-checksum": sha256Hex(JSON.stringify(fluentdMainFiles(v))),
      // Fluentd reads its certificate, its CA and the clusters' certificates at start only: a renewed or
      // revoked one must restart it.
      ...(tlsChecksum ? { "efk-pulumi/tls-checksum": tlsChecksum } : {}),
      ...scrapeAnnotations(v.metrics, SCRAPE.fluentd),
    },
    // Before Fluentd: the chunks of workers that no longer exist go to worker 0, so changing the worker
    // count strands nothing on the volume.
    initContainers: [
      {
        name: "buffer-workers",
        image: `${FLUENTD_IMAGE}:${v.imageTag}`,
        command: [
          "sh",
          `${MAIN_CONFIG_DIR}/${BUFFER_WORKERS_FILE}`,
          String(v.workers),
          ...Object.values(bufferDirs(FLUENTD_PATHS.bufferDir)),
        ],
        volumeMounts: [
          { name: MAIN_CONFIG_VOLUME, mountPath: MAIN_CONFIG_DIR, readOnly: true },
          // The chart's volume claim (`<fullname>-buffer`), mounted where the chart mounts it.
          { name: `${FLUENTD_FULLNAME}-buffer`, mountPath: FLUENTD_VOLUME_DIR },
        ],
        resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "64Mi" } },
        securityContext: CONTAINER_SECURITY_CONTEXT,
      },
    ],
    resources: { requests: { cpu: v.cpu, memory: v.memory }, limits: { memory: v.memory } },
    // Time to flush the buffer at shutdown; what is left stays on the volume.
    terminationGracePeriodSeconds: 120,
    // The pod's, so the init container runs the same way (_pod.tpl: `securityContext:
    // {{- toYaml .Values.podSecurityContext }}` on the pod). fsGroup gives the fluent group the volume and
    // the 0400 TLS files, also a volume written by earlier, root-run pods; OnRootMismatch skips relabelling
    // every chunk file at each start once the volume's root is ours.
    podSecurityContext: {
      runAsNonRoot: true,
      runAsUser: FLUENTD_IMAGE_UID,
      runAsGroup: FLUENTD_IMAGE_UID,
      fsGroup: FLUENTD_IMAGE_UID,
      fsGroupChangePolicy: "OnRootMismatch",
      seccompProfile: { type: "RuntimeDefault" },
    },
    securityContext: CONTAINER_SECURITY_CONTEXT,
    // Replicas over nodes and zones, softly (ScheduleAnyway): a hard rule also counts the nodes a pod cannot
    // use (full, or tainted) as empty domains and then leaves a replica Pending, and a restarted pod must
    // stay in its volume's zone. Soft, 3 replicas on 2 nodes run 2 + 1. (_pod.tpl renders the list as is.)
    topologySpreadConstraints: ["kubernetes.io/hostname", "topology.kubernetes.io/zone"].map(
      (topologyKey) => ({
        maxSkew: 1,
        topologyKey,
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: FLUENTD_SELECTOR_LABELS },
      }),
    ),
    // A boolean: the chart tests the value's truth, and the string "false" is true.
    dashboards: { enabled: false },
  };
}
