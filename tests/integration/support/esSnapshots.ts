/**
 * The snapshot and SLM APIs of the Elasticsearch stand-in, answering as Elasticsearch 8.x does, for the
 * index-setup script and the exporter's collectors:
 *
 * - `PUT /_snapshot/<repo>` (RepositoriesService#registerRepository): the repository is registered in the
 *   cluster state first, and verified on every master and data node only when its settings changed
 *   (`isAcknowledged() && changed`); a failed verification answers 500 `repository_verification_exception`
 *   ("[<repo>] path [<base_path>] is not accessible on master node", BlobStoreRepository#startVerification,
 *   with the store's error as `caused_by`) and leaves the repository registered. Success: 200
 *   `{"acknowledged": true}`.
 * - `POST /_snapshot/<repo>/_verify` (VerifyRepositoryAction): verifies every time; 200 `{"nodes": {..}}`.
 * - `GET /_snapshot`, `GET /_snapshot/<repo>` (`{<name>: {type, settings}}`; 404
 *   `repository_missing_exception` "[<repo>] missing"), `GET /_snapshot/<repo>/_all` (`{snapshots, total,
 *   remaining}`, oldest first, each with `snapshot`, `uuid`, `state`, `indices`, `data_streams`,
 *   `include_global_state`, `feature_states`, `start_time_in_millis`, `end_time_in_millis`, `shards`,
 *   `failures`, `metadata.policy`: SnapshotInfo#toXContent).
 * - `PUT /_slm/policy/<id>` (TransportPutSnapshotLifecycleAction: 400 `illegal_argument_exception` "no such
 *   repository [<repo>]" from SnapshotLifecycleService#validateRepositoryExists; every PUT bumps `version`
 *   and `modified_date`), `GET /_slm/policy/<id>` (`{<id>: {version, modified_date_millis, policy,
 *   last_success?, last_failure?, next_execution_millis, stats}}`; 404 `resource_not_found_exception`
 *   "snapshot lifecycle policy or policies [<id>] not found, no policies are configured" when there are
 *   none), `DELETE /_slm/policy/<id>` (404 "snapshot lifecycle policy not found: <id>").
 * - `POST /_slm/policy/<id>/_execute`: takes a snapshot now; 200 `{"snapshot_name": ..}`, the name the
 *   policy's date math gives plus "-" and a random lowercase id (SnapshotLifecyclePolicy#generateSnapshotName).
 *   A snapshot the store refuses counts as failed in the stats and sets `last_failure`.
 * - `GET /_slm/stats` (SnapshotLifecycleStats#toXContent, what the exporter's collector/slm.go reads) and
 *   `GET /_slm/status` (`{"operation_mode": "RUNNING"}`).
 *
 * The object store is modelled by what it accepts: buckets that exist and the credentials it takes; the
 * nodes' keystore holds what the chart's keystore init container put there. Verification and snapshots
 * succeed only when the keystore's secure settings for the repository's client match the store's.
 */
import { randomBytes } from "node:crypto";

export interface SnapshotStore {
  /** The repository type the store serves. */
  type: "s3" | "gcs" | "azure";
  /** Buckets (Azure: containers) that exist. */
  buckets: string[];
  /** The credentials it accepts: secure client setting (`access_key`, `credentials_file`...) -> value. */
  accepts: Record<string, string>;
}

interface Reply {
  status: number;
  body?: unknown;
}

/** The secure settings a repository client of each type needs (8.x docs, each repository's client settings). */
const SECURE_SETTINGS: Record<SnapshotStore["type"], string[]> = {
  s3: ["access_key", "secret_key"],
  gcs: ["credentials_file"],
  azure: ["account", "key"],
};

/** What each store answers to wrong credentials (the innermost `caused_by` of the verification failure). */
const STORE_REFUSALS: Record<SnapshotStore["type"], { type: string; reason: string }> = {
  s3: {
    type: "amazon_s3_exception",
    reason:
      "The AWS Access Key Id you provided does not exist in our records. (Service: Amazon S3; Status Code: 403; Error Code: InvalidAccessKeyId; Request ID: 0; S3 Extended Request ID: 0; Proxy: null)",
  },
  gcs: { type: "storage_exception", reason: "401 Unauthorized: invalid_grant" },
  azure: {
    type: "blob_storage_exception",
    reason: "Status code 403, AuthenticationFailed: Server failed to authenticate the request.",
  },
};

export interface Repository {
  type: string;
  settings: Record<string, string>;
}

export interface SnapshotInfo {
  snapshot: string;
  uuid: string;
  repository: string;
  state: "SUCCESS" | "FAILED";
  indices: string[];
  data_streams: string[];
  include_global_state: boolean;
  feature_states: { feature_name: string; indices: string[] }[];
  metadata: { policy: string };
  start_time_in_millis: number;
  end_time_in_millis: number;
  failures: unknown[];
  shards: { total: number; failed: number; successful: number };
}

interface SlmPolicy {
  version: number;
  modifiedMillis: number;
  policy: {
    name: string;
    schedule: string;
    repository: string;
    config?: { indices?: string[]; include_global_state?: boolean; feature_states?: string[] };
    retention?: Record<string, unknown>;
  };
  lastSuccess?: { snapshot_name: string; start_time: number; time: number };
  lastFailure?: { snapshot_name: string; time: number; details: string };
  stats: { taken: number; failed: number };
}

function esError(status: number, type: string, reason: string, extra: Record<string, unknown> = {}): Reply {
  return { status, body: { error: { root_cause: [{ type, reason }], type, reason, ...extra }, status } };
}

function glob(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split("*")
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
}

export class SnapshotApi {
  readonly repositories = new Map<string, Repository>();
  readonly snapshots = new Map<string, SnapshotInfo[]>();
  readonly policies = new Map<string, SlmPolicy>();
  /** Verifications run on the "nodes" (by PUT with changed settings or by _verify), and how each ended. */
  readonly verifications: { repository: string; ok: boolean }[] = [];

  constructor(
    private store: SnapshotStore | undefined,
    private keystore: Record<string, string>,
    /** Data streams and their backing indices, for what a snapshot of `indices` patterns holds. */
    private readonly dataStreams: () => Map<string, string[]>,
    private readonly clock: () => Date,
  ) {}

  /** What the nodes' keystore holds now (a node restart with another Secret). */
  setKeystore(keystore: Record<string, string>): void {
    this.keystore = keystore;
  }

  /** The store's own side: a rotated key makes the keystore's wrong. */
  setStore(store: SnapshotStore | undefined): void {
    this.store = store;
  }

  route(method: string, parts: string[], body: () => Record<string, unknown>): Reply | undefined {
    const read = method === "GET";
    if (parts[0] === "_snapshot") {
      const [, repo, action] = parts;
      if (repo === undefined && read) return { status: 200, body: Object.fromEntries(this.repositories) };
      if (repo !== undefined && action === undefined) {
        if (method === "PUT" || method === "POST") return this.putRepository(repo, body());
        if (read) {
          const r = this.repositories.get(repo);
          return r ? { status: 200, body: { [repo]: r } } : this.missingRepository(repo);
        }
      }
      if (repo !== undefined && action === "_verify" && method === "POST") {
        if (!this.repositories.has(repo)) return this.missingRepository(repo);
        const failure = this.verify(repo);
        return failure ?? { status: 200, body: { nodes: { standin0: { name: "elasticsearch-master-0" } } } };
      }
      if (repo !== undefined && (action === "_all" || action === "*") && parts.length === 3 && read) {
        if (!this.repositories.has(repo)) return this.missingRepository(repo);
        const list = this.snapshots.get(repo) ?? [];
        return { status: 200, body: { snapshots: list, total: list.length, remaining: 0 } };
      }
    }
    if (parts[0] === "_slm") {
      if (parts[1] === "stats" && parts.length === 2 && read) return { status: 200, body: this.stats() };
      if (parts[1] === "status" && parts.length === 2 && read) {
        return { status: 200, body: { operation_mode: "RUNNING" } };
      }
      if (parts[1] === "policy" && parts[2] !== undefined) {
        const id = parts[2];
        if (parts.length === 3 && method === "PUT") return this.putPolicy(id, body());
        if (parts.length === 3 && read) return this.getPolicy(id);
        if (parts.length === 3 && method === "DELETE") {
          if (!this.policies.delete(id)) {
            return esError(404, "resource_not_found_exception", `snapshot lifecycle policy not found: ${id}`);
          }
          return { status: 200, body: { acknowledged: true } };
        }
        if (parts.length === 4 && parts[3] === "_execute" && (method === "POST" || method === "PUT")) {
          return this.execute(id);
        }
      }
    }
    return undefined;
  }

  private missingRepository(repo: string): Reply {
    return esError(404, "repository_missing_exception", `[${repo}] missing`);
  }

  private putRepository(name: string, body: Record<string, unknown>): Reply {
    const type = body.type as string;
    const settings = (body.settings ?? {}) as Record<string, string>;
    if (!SECURE_SETTINGS[type as SnapshotStore["type"]]) {
      return esError(500, "repository_exception", `[${name}] repository type [${type}] does not exist`);
    }
    const before = this.repositories.get(name);
    const changed =
      !before || before.type !== type || JSON.stringify(before.settings) !== JSON.stringify(settings);
    if (!changed) return { status: 200, body: { acknowledged: true } };
    this.repositories.set(name, { type, settings });
    if (!this.snapshots.has(name)) this.snapshots.set(name, []);
    return this.verify(name) ?? { status: 200, body: { acknowledged: true } };
  }

  /** Why the store refuses the repository's client, or undefined when it takes it. */
  private refusal(repo: Repository): { type: string; reason: string } | undefined {
    const store = this.store;
    const type = repo.type as SnapshotStore["type"];
    const bucket = repo.settings[type === "azure" ? "container" : "bucket"] ?? "";
    if (!store || store.type !== type) {
      return { type: "sdk_client_exception", reason: "Unable to execute HTTP request: no such host" };
    }
    const client = repo.settings.client ?? "default";
    const wrong = SECURE_SETTINGS[type].some(
      (s) => this.keystore[`${type}.client.${client}.${s}`] !== store.accepts[s],
    );
    if (wrong) return STORE_REFUSALS[type];
    if (!store.buckets.includes(bucket)) {
      return { type: "no_such_bucket_exception", reason: `The specified bucket does not exist: ${bucket}` };
    }
    return undefined;
  }

  private verify(name: string): Reply | undefined {
    const repo = this.repositories.get(name) as Repository;
    const refused = this.refusal(repo);
    this.verifications.push({ repository: name, ok: refused === undefined });
    if (!refused) return undefined;
    const basePath = repo.settings.base_path ?? "";
    const reason = `[${name}] path ${basePath ? `[${basePath}]` : ""} is not accessible on master node`;
    return esError(500, "repository_verification_exception", reason, {
      caused_by: {
        type: "i_o_exception",
        reason: `Unable to upload object [${basePath ? `${basePath}/` : ""}tests-${randomBytes(8).toString("hex")}/master.dat] using a single upload`,
        caused_by: refused,
      },
    });
  }

  private putPolicy(id: string, body: Record<string, unknown>): Reply {
    const policy = body as unknown as SlmPolicy["policy"];
    if (!this.repositories.has(policy.repository)) {
      return esError(400, "illegal_argument_exception", `no such repository [${policy.repository}]`);
    }
    const old = this.policies.get(id);
    this.policies.set(id, {
      version: (old?.version ?? 0) + 1,
      modifiedMillis: this.clock().getTime(),
      policy,
      lastSuccess: old?.lastSuccess,
      lastFailure: old?.lastFailure,
      stats: old?.stats ?? { taken: 0, failed: 0 },
    });
    return { status: 200, body: { acknowledged: true } };
  }

  private getPolicy(id: string): Reply {
    const p = this.policies.get(id);
    if (!p) {
      return esError(
        404,
        "resource_not_found_exception",
        this.policies.size === 0
          ? `snapshot lifecycle policy or policies [${id}] not found, no policies are configured`
          : `snapshot lifecycle policy or policies [${id}] not found`,
      );
    }
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      status: 200,
      body: {
        [id]: {
          version: p.version,
          modified_date: iso(p.modifiedMillis),
          modified_date_millis: p.modifiedMillis,
          policy: p.policy,
          ...(p.lastSuccess
            ? { last_success: { ...p.lastSuccess, time_string: iso(p.lastSuccess.time) } }
            : {}),
          ...(p.lastFailure
            ? { last_failure: { ...p.lastFailure, time_string: iso(p.lastFailure.time) } }
            : {}),
          next_execution_millis: this.clock().getTime() + 3_600_000,
          stats: {
            policy: id,
            snapshots_taken: p.stats.taken,
            snapshots_failed: p.stats.failed,
            snapshots_deleted: 0,
            snapshot_deletion_failures: 0,
          },
        },
      },
    };
  }

  /** The policy's `name` with its date math (`<prefix-{now/d}>`) resolved, plus a random id. */
  private snapshotName(name: string): string {
    const now = this.clock();
    const day = `${now.getUTCFullYear()}.${String(now.getUTCMonth() + 1).padStart(2, "0")}.${String(now.getUTCDate()).padStart(2, "0")}`;
    const resolved = name.replace(/^<(.*)>$/, "$1").replace(/\{now\/d\}/g, day);
    return `${resolved}-${randomBytes(16).toString("base64url").toLowerCase()}`;
  }

  private execute(id: string): Reply {
    const p = this.policies.get(id);
    if (!p) {
      return esError(
        404,
        "resource_not_found_exception",
        `snapshot lifecycle policy or policies [${id}] not found`,
      );
    }
    const name = this.snapshotName(p.policy.name);
    const repo = this.repositories.get(p.policy.repository);
    const now = this.clock().getTime();
    const refused = repo ? this.refusal(repo) : { type: "repository_missing_exception", reason: "missing" };
    if (refused) {
      p.stats.failed++;
      p.lastFailure = { snapshot_name: name, time: now, details: JSON.stringify(refused) };
      return { status: 200, body: { snapshot_name: name } };
    }
    const patterns = (p.policy.config?.indices ?? ["*"]).map(glob);
    const streams = [...this.dataStreams().entries()].filter(([s]) => patterns.some((re) => re.test(s)));
    const indices = streams.flatMap(([, backing]) => backing);
    const info: SnapshotInfo = {
      snapshot: name,
      uuid: randomBytes(16).toString("base64url"),
      repository: p.policy.repository,
      state: "SUCCESS",
      indices,
      data_streams: streams.map(([s]) => s),
      include_global_state: p.policy.config?.include_global_state ?? true,
      feature_states: (p.policy.config?.feature_states ?? []).map((f) => ({ feature_name: f, indices: [] })),
      metadata: { policy: id },
      start_time_in_millis: now,
      end_time_in_millis: now,
      failures: [],
      shards: { total: indices.length, failed: 0, successful: indices.length },
    };
    (this.snapshots.get(p.policy.repository) as SnapshotInfo[]).push(info);
    p.stats.taken++;
    p.lastSuccess = { snapshot_name: name, start_time: now, time: now };
    return { status: 200, body: { snapshot_name: name } };
  }

  private stats(): Record<string, unknown> {
    const all = [...this.policies.entries()];
    const sum = (f: (p: SlmPolicy) => number) => all.reduce((n, [, p]) => n + f(p), 0);
    return {
      retention_runs: 0,
      retention_failed: 0,
      retention_timed_out: 0,
      retention_deletion_time: "0s",
      retention_deletion_time_millis: 0,
      total_snapshots_taken: sum((p) => p.stats.taken),
      total_snapshots_failed: sum((p) => p.stats.failed),
      total_snapshots_deleted: 0,
      total_snapshot_deletion_failures: 0,
      policy_stats: all.map(([policy, p]) => ({
        policy,
        snapshots_taken: p.stats.taken,
        snapshots_failed: p.stats.failed,
        snapshots_deleted: 0,
        snapshot_deletion_failures: 0,
      })),
    };
  }
}
