/**
 * An Elasticsearch 8 stand-in for integration tests: a small HTTPS server on 127.0.0.1 that answers what
 * fluent-plugin-elasticsearch 5.4.x (`@type elasticsearch` and `elasticsearch_data_stream`,
 * elasticsearch-ruby 8.x client) and the index-setup script ask:
 *
 * - `GET /` (version 8.x), `GET /_nodes/http` (sniffing, if `reload_connections` is left on)
 * - `GET|PUT /_ilm/policy/<n>`, `GET|PUT /_index_template/<n>`, `GET|PUT /_data_stream/<n>` (404 until PUT)
 * - `POST|PUT /<stream>/_bulk` and `/_bulk` (ndjson action/document pairs, optionally gzip)
 * - `POST /<stream>/_rollover` (unconditional) and `DELETE /<backing index>`: what ILM does, for a test
 *   that simulates days
 * - the snapshot repository and SLM APIs (`_snapshot`, `_slm`): esSnapshots.ts, against a modelled store
 *
 * Every response carries `X-Elastic-Product: Elasticsearch` and `Content-Type: application/json`: the 8.x
 * client refuses a server without the header, and only JSON-parses bodies with a JSON content type.
 * Every request must carry HTTP basic auth with a configured user; otherwise 401 (recorded). A user with
 * `createDocPrefix` holds only create_doc and auto_configure on `<prefix>*`: any other request is 403, and
 * so is any bulk item that is not a `create` into such a name (recorded in `denied`).
 * As in Elasticsearch: a bulk `create` into a name that a data-stream template matches creates the data
 * stream; documents in a data stream need `@timestamp` (400 otherwise); a `create` with an `_id` the
 * target holds already is a 409 (in a data stream: the write index; a rollover starts a new index, whose
 * ids are its own, as in Elasticsearch).
 *
 * The shard limit, as Elasticsearch 8 enforces it (elastic/elasticsearch, server/src/main/java/org/
 * elasticsearch/indices/ShardLimitValidator.java): `validateShardLimit(settings, state)` adds
 * `number_of_shards * (1 + number_of_replicas)` of the new index to the shards of every open index
 * (`getTotalOpenIndexShards`, primaries and replicas, assigned or not) and refuses when that passes
 * `cluster.max_shards_per_node` (default 1000) times the data nodes (`checkShardLimit`), throwing a
 * `ValidationException` (an IllegalArgumentException: 400, type `validation_exception`) whose message is
 * "Validation Failed: 1: " + `errorMessageFrom(result)` + ";" (common/ValidationException.java#getMessage):
 * "this action would add [N] shards, but this cluster currently has [X]/[Y] maximum normal shards open".
 * MetadataCreateIndexService#aggregateIndexSettings runs it on the settings after the templates are
 * applied, for every new index: a data stream's first backing index (MetadataCreateDataStreamService,
 * "initialize_data_stream", also when `_bulk` auto-creates the stream) and a rollover's new write index
 * (MetadataRolloverService#rolloverDataStream, `nextWriteIndexAndGeneration`: `.ds-<name>-<uuuu.MM.dd>-
 * <generation, 6 digits>`, generation + 1; the old index keeps its documents). On `_bulk`,
 * TransportBulkAction fails every item for a name whose auto-create failed
 * (`failRequestsWhenPrerequisiteActionFailed`) with that exception: per item 400 `validation_exception`,
 * the request itself 200. The stand-in counts the backing indices of its data streams (a plain index that
 * receives documents is not modelled as an index), each with the shards and replicas of the template that
 * matched when it was made (replicas default to 1, as `index.number_of_replicas`; the stand-in has no
 * nodes to leave them unassigned). A data stream's write index cannot be deleted
 * (MetadataDeleteIndexService: "index [..] is the write index for data stream [..] and cannot be deleted").
 *
 * State (policies, templates, data streams, documents) survives `stop()`/`start()`, like a real cluster's
 * data; only the connections go.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type * as https from "node:https";
import { gunzipSync } from "node:zlib";
import { DEFAULT_STACK_VERSION } from "../../../lib/stackVersion";
import { SnapshotApi, type SnapshotStore } from "./esSnapshots";
import { listenTls, stopServer } from "./https";

export interface StandinOptions {
  /** PEM server certificate (path) */
  cert: string;
  /** PEM private key (path) */
  key: string;
  /** A superuser. */
  username: string;
  password: string;
  /** More users; one with `createDocPrefix` may only create documents in names with that prefix. */
  users?: Record<string, { password: string; createDocPrefix?: string }>;
  /** Data nodes the shard limit counts (default 1). */
  dataNodes?: number;
  /** `cluster.max_shards_per_node` (default 1000, Elasticsearch's). */
  maxShardsPerNode?: number;
  /** The time of new backing indices (their names' dates) and of rollovers; default the real clock. */
  clock?: () => Date;
  /** The object store snapshot repositories reach (see esSnapshots.ts); none: every repository fails verification. */
  snapshotStore?: SnapshotStore;
  /** The nodes' keystore: setting -> value, as the chart's keystore init container fills it. */
  keystore?: Record<string, string>;
}

/** A data stream's backing index, as the stand-in keeps it. */
export interface BackingIndex {
  name: string;
  uuid: string;
  generation: number;
  /** Primaries and replicas, from the template that matched when the index was made. */
  shards: number;
  createdAt: Date;
  /** When a rollover made another index the write index (ILM's `delete` `min_age` counts from here). */
  rolledOverAt?: Date;
}

export interface DataStreamState {
  /** The write index (the newest backing index) and its uuid. */
  backingIndex: string;
  uuid: string;
  generation: number;
  /** Oldest first; the last is the write index. */
  indices: BackingIndex[];
}

/** An index the shard limit kept from being made. */
export interface ShardLimitRefusal {
  action: "create data stream" | "rollover";
  target: string;
  reason: string;
}

export interface RecordedRequest {
  method: string;
  /** URL path without the query string, percent-decoded */
  path: string;
  status: number;
}

/** The version it reports: the one the program deploys by default, which Fluentd checks at start. */
export const ES_VERSION = DEFAULT_STACK_VERSION;

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const STATUS_ERROR_TYPES: Record<number, string> = {
  400: "illegal_argument_exception",
  401: "security_exception",
  403: "security_exception",
  404: "resource_not_found_exception",
  413: "content_too_long_exception",
  429: "es_rejected_execution_exception",
  500: "exception",
  502: "exception",
  503: "unavailable_shards_exception",
  504: "exception",
};

function esError(status: number, type: string, reason: string, extra: Record<string, unknown> = {}): Reply {
  const cause = { type, reason, ...extra };
  return { status, body: { error: { root_cause: [cause], ...cause }, status } };
}

function ack(): Reply {
  return { status: 200, body: { acknowledged: true } };
}

export class EsStandin {
  readonly requests: RecordedRequest[] = [];
  /** requests refused for bad or missing credentials: the path and the user name tried ("" if none) */
  readonly authFailures: { path: string; username: string }[] = [];
  readonly ilmPolicies = new Map<string, unknown>();
  readonly indexTemplates = new Map<string, unknown>();
  /** data streams, created with `PUT /_data_stream/<n>` or by a bulk `create`: name -> backing indices */
  readonly dataStreams = new Map<string, DataStreamState>();
  /** indices the shard limit refused to make: data streams' first indices and rollovers */
  readonly shardLimitRefusals: ShardLimitRefusal[] = [];
  /** Snapshot repositories, snapshots and SLM policies (esSnapshots.ts). */
  readonly snapshotApi: SnapshotApi;

  /** requests and bulk items refused for lack of privilege: the user and what was refused */
  readonly denied: { username: string; what: string }[] = [];
  /** bulk items refused with 409 because their `_id` was there already (a resent chunk) */
  conflicts = 0;

  /** documents by data stream / index name, each with the backing index that holds it */
  private readonly docsByName = new Map<string, { doc: Record<string, unknown>; index: string }[]>();
  /** ids by the index that holds them: a data stream's backing index, or the target name */
  private readonly idsByName = new Map<string, Set<string>>();
  private readonly maxShards: number;
  private readonly clock: () => Date;
  private itemFailure: { status: number; remaining: number } | null = null;
  private rejectDoc: ((doc: Record<string, unknown>) => boolean) | null = null;
  private server: https.Server | undefined;
  private port: number | undefined;
  private bulkFailure: number | null = null;
  private bulkDelayMs = 0;
  private bulkCount = 0;
  private seqNo = 0;

  constructor(private readonly opts: StandinOptions) {
    const { dataNodes = 1, maxShardsPerNode = 1000 } = opts;
    for (const [name, n] of Object.entries({ dataNodes, maxShardsPerNode })) {
      if (!Number.isInteger(n) || n < 1)
        throw new Error(`EsStandin: ${name} must be a whole number from 1, not ${n}`);
    }
    this.maxShards = dataNodes * maxShardsPerNode;
    this.clock = opts.clock ?? (() => new Date());
    this.snapshotApi = new SnapshotApi(
      opts.snapshotStore,
      opts.keystore ?? {},
      () => new Map([...this.dataStreams].map(([n, ds]) => [n, ds.indices.map((i) => i.name)])),
      this.clock,
    );
  }

  /**
   * Listens on 127.0.0.1: on `port`, or on a free port chosen by the system. Resolves with the port.
   * After `stop()`, `start(samePort)` brings the "cluster" back with its data.
   */
  async start(port?: number): Promise<number> {
    if (this.server) throw new Error("the stand-in is already running");
    const listening = await listenTls(this.opts, (req, res) => this.handle(req, res), port);
    this.server = listening.server;
    this.port = listening.port;
    return listening.port;
  }

  /** Closes the listener and destroys every open connection (clients see ES go down). */
  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    return stopServer(server);
  }

  /** The port while running (or the last one used). */
  get listeningPort(): number | undefined {
    return this.port;
  }

  /** Documents received for a data stream / index name, in arrival order (a copy). */
  docs(stream: string): Record<string, unknown>[] {
    return (this.docsByName.get(stream) ?? []).map((e) => e.doc);
  }

  /** How many documents a data stream / index name holds, without copying them. */
  count(stream: string): number {
    return this.docsByName.get(stream)?.length ?? 0;
  }

  /** Forgets every document and id, keeping streams, templates and users (the bench's runs, one by one). */
  dropDocuments(): void {
    this.docsByName.clear();
    this.idsByName.clear();
  }

  /** `cluster.max_shards_per_node` times the data nodes: past this, no new index is made. */
  get shardLimit(): number {
    return this.maxShards;
  }

  /** Shards of every open index: the backing indices of every data stream, primaries and replicas. */
  shardsInUse(): number {
    let n = 0;
    for (const ds of this.dataStreams.values()) for (const index of ds.indices) n += index.shards;
    return n;
  }

  /** A data stream's backing indices, oldest first, each with the documents it holds (copies). */
  backingIndices(stream: string): (BackingIndex & { docs: number })[] {
    const entries = this.docsByName.get(stream) ?? [];
    return (this.dataStreams.get(stream)?.indices ?? []).map((index) => ({
      ...index,
      docs: entries.filter((e) => e.index === index.name).length,
    }));
  }

  /** Names of data streams created with PUT and of every target that received documents, sorted. */
  streams(): string[] {
    return [...new Set([...this.dataStreams.keys(), ...this.docsByName.keys()])].sort();
  }

  /**
   * Answers every `_bulk` with this HTTP status (e.g. 429 or 503) and an ES-like error body, until cleared
   * with `null`. Documents of failed requests are not recorded. Other endpoints keep working.
   */
  /** Takes (and answers) each `_bulk` request `ms` later, until set to 0: an Elasticsearch slower than its input. */
  slowBulk(ms: number): void {
    this.bulkDelayMs = ms;
  }

  failBulkWith(status: number | null): void {
    this.bulkFailure = status;
  }

  /** Answer the next `count` bulk items (in requests that otherwise succeed) with `status`, e.g. 429. */
  failItemsWith(status: number, count: number): void {
    this.itemFailure = { status, remaining: count };
  }

  /** Refuse documents for which `predicate` holds with a 400 mapping error, for good. */
  rejectDocuments(predicate: ((doc: Record<string, unknown>) => boolean) | null): void {
    this.rejectDoc = predicate;
  }

  /** Count of `_bulk` requests received, including failed and unauthorized ones. */
  bulkRequests(): number {
    return this.bulkCount;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      // A slow Elasticsearch (slowBulk): a bulk request is taken, and answered, this much later.
      const delay = /\/_bulk(\?|$)/.test(req.url ?? "") ? this.bulkDelayMs : 0;
      setTimeout(() => this.answer(req, res, chunks), delay);
    });
  }

  private answer(req: IncomingMessage, res: ServerResponse, chunks: Buffer[]): void {
    {
      const method = req.method ?? "GET";
      const url = new URL(req.url ?? "/", "https://127.0.0.1");
      let path: string;
      try {
        path = decodeURIComponent(url.pathname);
      } catch {
        path = url.pathname;
      }
      let reply: Reply;
      try {
        let body = Buffer.concat(chunks);
        if (/gzip/i.test(req.headers["content-encoding"] ?? "")) body = gunzipSync(body);
        reply = this.route(method, path, req.headers.authorization, body);
      } catch (e) {
        reply = esError(400, "parse_exception", (e as Error).message);
      }
      this.requests.push({ method, path, status: reply.status });
      const text = method === "HEAD" || reply.body === undefined ? "" : JSON.stringify(reply.body);
      res.writeHead(reply.status, {
        "X-Elastic-Product": "Elasticsearch",
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(text),
        ...reply.headers,
      });
      res.end(text);
    }
  }

  private checkAuth(path: string, authorization: string | undefined): Reply | string {
    let username = "";
    let password: string | undefined;
    const m = /^Basic\s+(\S+)$/i.exec(authorization ?? "");
    if (m) {
      const decoded = Buffer.from(m[1], "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      username = colon < 0 ? decoded : decoded.slice(0, colon);
      password = colon < 0 ? undefined : decoded.slice(colon + 1);
    }
    if (username === this.opts.username && password === this.opts.password) return username;
    const user = this.opts.users?.[username];
    if (user && password === user.password) return username;
    this.authFailures.push({ path, username });
    const reason = m
      ? `unable to authenticate user [${username}] for REST request [${path}]`
      : `missing authentication credentials for REST request [${path}]`;
    const header = { "WWW-Authenticate": 'Basic realm="security", charset="UTF-8"' };
    return { ...esError(401, "security_exception", reason, { header }), headers: header };
  }

  private route(method: string, path: string, authorization: string | undefined, body: Buffer): Reply {
    const parts = path.split("/").filter((p) => p !== "");
    const isBulk = parts[parts.length - 1] === "_bulk" && parts.length <= 2;
    if (isBulk) this.bulkCount++;

    const who = this.checkAuth(path, authorization);
    if (typeof who !== "string") return who;
    const prefix = this.opts.users?.[who]?.createDocPrefix;
    if (prefix !== undefined && !isBulk) {
      this.denied.push({ username: who, what: `${method} ${path}` });
      return esError(
        403,
        "security_exception",
        `action [${method} ${path}] is unauthorized for user [${who}]`,
      );
    }

    const read = method === "GET" || method === "HEAD";
    const json = (): Record<string, unknown> =>
      body.length === 0 ? {} : (JSON.parse(body.toString("utf8")) as Record<string, unknown>);

    if (parts.length === 0 && read) return { status: 200, body: this.rootInfo() };
    if (isBulk && (method === "POST" || method === "PUT")) {
      return this.bulk(parts.length === 2 ? parts[0] : undefined, body, who, prefix);
    }
    if (parts[0] === "_nodes" && parts[1] === "http" && parts.length === 2 && read) {
      return { status: 200, body: this.nodesHttp() };
    }
    if (parts.length === 3 && parts[0] === "_ilm" && parts[1] === "policy") {
      const name = parts[2];
      if (read) {
        const policy = this.ilmPolicies.get(name);
        if (policy === undefined)
          return esError(404, "resource_not_found_exception", `Lifecycle policy not found: ${name}`);
        return {
          status: 200,
          body: { [name]: { version: 1, modified_date: new Date().toISOString(), ...(policy as object) } },
        };
      }
      if (method === "PUT") {
        this.ilmPolicies.set(name, json());
        return ack();
      }
    }
    if (parts.length === 2 && parts[0] === "_index_template") {
      const name = parts[1];
      if (read) {
        const template = this.indexTemplates.get(name);
        if (template === undefined) {
          return esError(404, "resource_not_found_exception", `index template matching [${name}] not found`);
        }
        return { status: 200, body: { index_templates: [{ name, index_template: template }] } };
      }
      if (method === "PUT") {
        this.indexTemplates.set(name, json());
        return ack();
      }
    }
    if (parts[0] === "_data_stream" && parts.length <= 2) {
      const name = parts[1];
      if (read) {
        if (name === undefined || name === "*" || name === "_all") {
          return {
            status: 200,
            body: { data_streams: [...this.dataStreams.keys()].map((n) => this.dsInfo(n)) },
          };
        }
        if (!this.dataStreams.has(name)) {
          return esError(404, "index_not_found_exception", `no such index [${name}]`, {
            "resource.type": "index_or_alias",
            "resource.id": name,
            index: name,
          });
        }
        return { status: 200, body: { data_streams: [this.dsInfo(name)] } };
      }
      if (method === "PUT" && name !== undefined) {
        if (this.dataStreams.has(name)) {
          return esError(400, "resource_already_exists_exception", `data_stream [${name}] already exists`);
        }
        const created = this.createDataStream(name);
        return typeof created === "string" ? esError(400, "validation_exception", created) : ack();
      }
    }
    if (parts.length === 2 && parts[1] === "_rollover" && method === "POST") {
      return this.rollover(parts[0], json());
    }
    if (parts.length === 1 && method === "DELETE" && !parts[0].startsWith("_")) {
      return this.deleteIndex(parts[0]);
    }
    const snapshots = this.snapshotApi.route(method, parts, json);
    if (snapshots) return snapshots;
    return esError(
      400,
      "illegal_argument_exception",
      `no handler found for uri [${path}] and method [${method}]`,
    );
  }

  /**
   * The template a new index named `name` takes: of those whose patterns match, the one of highest
   * priority (Elasticsearch refuses two of one priority whose patterns overlap; nothing is merged).
   */
  private templateFor(name: string): [string, IndexTemplate] | undefined {
    let best: [string, IndexTemplate] | undefined;
    for (const [templateName, t] of this.indexTemplates.entries()) {
      const tpl = t as IndexTemplate;
      const matches = (tpl.index_patterns ?? []).some((p) =>
        new RegExp(`^${p.split("*").map(escapeRegExp).join(".*")}$`).test(name),
      );
      if (matches && (best === undefined || (tpl.priority ?? 0) > (best[1].priority ?? 0))) {
        best = [templateName, tpl];
      }
    }
    return best;
  }

  /** Shards of a new index of `name`: `index.number_of_shards` (default 1) times 1 + its replicas (default 1). */
  private shardsOfNewIndex(name: string): number {
    const settings = this.templateFor(name)?.[1].template?.settings ?? {};
    const setting = (key: string, fallback: number): number => {
      const nested = settings.index as Record<string, unknown> | undefined;
      const value = settings[`index.${key}`] ?? settings[key] ?? nested?.[key];
      return value === undefined ? fallback : Number(value);
    };
    return setting("number_of_shards", 1) * (1 + setting("number_of_replicas", 1));
  }

  /** Elasticsearch's refusal (the ValidationException's message) when `adding` shards pass the limit. */
  private shardLimitError(adding: number): string | undefined {
    const current = this.shardsInUse();
    if (current + adding <= this.maxShards) return undefined;
    return (
      `Validation Failed: 1: this action would add [${adding}] shards, but this cluster currently has ` +
      `[${current}]/[${this.maxShards}] maximum normal shards open;`
    );
  }

  private newBackingIndex(stream: string, generation: number, shards: number): BackingIndex {
    const createdAt = this.clock();
    const day = createdAt.toISOString().slice(0, 10).replace(/-/g, ".");
    return {
      name: `.ds-${stream}-${day}-${String(generation).padStart(6, "0")}`,
      uuid: randomBytes(16).toString("base64url"),
      generation,
      shards,
      createdAt,
    };
  }

  /** Makes the data stream and its first backing index; or, past the shard limit, the refusal's reason. */
  private createDataStream(name: string): DataStreamState | string {
    const shards = this.shardsOfNewIndex(name);
    const refused = this.shardLimitError(shards);
    if (refused !== undefined) {
      this.shardLimitRefusals.push({ action: "create data stream", target: name, reason: refused });
      return refused;
    }
    const first = this.newBackingIndex(name, 1, shards);
    const ds = { backingIndex: first.name, uuid: first.uuid, generation: 1, indices: [first] };
    this.dataStreams.set(name, ds);
    return ds;
  }

  private rollover(name: string, body: Record<string, unknown>): Reply {
    if (Object.keys(body).length > 0) {
      return esError(400, "illegal_argument_exception", "stand-in: rollover conditions are not modelled");
    }
    const ds = this.dataStreams.get(name);
    if (!ds) return esError(400, "illegal_argument_exception", `rollover target [${name}] does not exist`);
    const shards = this.shardsOfNewIndex(name);
    const refused = this.shardLimitError(shards);
    if (refused !== undefined) {
      this.shardLimitRefusals.push({ action: "rollover", target: name, reason: refused });
      return esError(400, "validation_exception", refused);
    }
    const old = ds.indices[ds.indices.length - 1];
    const next = this.newBackingIndex(name, ds.generation + 1, shards);
    old.rolledOverAt = next.createdAt;
    ds.indices.push(next);
    ds.generation = next.generation;
    ds.backingIndex = next.name;
    ds.uuid = next.uuid;
    return {
      status: 200,
      body: {
        acknowledged: true,
        shards_acknowledged: true,
        old_index: old.name,
        new_index: next.name,
        rolled_over: true,
        dry_run: false,
        lazy: false,
        conditions: {},
      },
    };
  }

  /** Deletes a backing index that is not its stream's write index, and its documents. */
  private deleteIndex(index: string): Reply {
    for (const [name, ds] of this.dataStreams.entries()) {
      const i = ds.indices.findIndex((b) => b.name === index);
      if (i < 0) continue;
      if (i === ds.indices.length - 1) {
        return esError(
          400,
          "illegal_argument_exception",
          `index [${index}] is the write index for data stream [${name}] and cannot be deleted`,
        );
      }
      ds.indices.splice(i, 1);
      const docs = this.docsByName.get(name);
      if (docs)
        this.docsByName.set(
          name,
          docs.filter((e) => e.index !== index),
        );
      this.idsByName.delete(index);
      return ack();
    }
    return esError(404, "index_not_found_exception", `no such index [${index}]`, {
      "resource.type": "index_or_alias",
      "resource.id": index,
      index,
    });
  }

  private dsInfo(name: string): Record<string, unknown> {
    const ds = this.dataStreams.get(name);
    const template = this.templateFor(name);
    const settings = template?.[1].template?.settings;
    return {
      name,
      timestamp_field: { name: "@timestamp" },
      indices: (ds?.indices ?? []).map((b) => ({ index_name: b.name, index_uuid: b.uuid })),
      generation: ds?.generation ?? 1,
      status: "GREEN",
      template: template?.[0] ?? "",
      ilm_policy: settings?.["index.lifecycle.name"],
      hidden: false,
      system: false,
      allow_custom_routing: false,
      replicated: false,
    };
  }

  /** Whether a new index of this name would be a data stream: its template (the one it takes) says so. */
  private dataStreamTemplateFor(name: string): boolean {
    return this.templateFor(name)?.[1].data_stream !== undefined;
  }

  private itemError(op: string, target: string, id: string, status: number, type: string, reason: string) {
    return { [op]: { _index: target, _id: id, status, error: { type, reason } } };
  }

  private bulk(pathTarget: string | undefined, body: Buffer, who: string, prefix: string | undefined): Reply {
    if (this.bulkFailure !== null) {
      const status = this.bulkFailure;
      const type = STATUS_ERROR_TYPES[status] ?? "exception";
      return esError(status, type, `stand-in: _bulk answered with ${status} on request`);
    }
    const lines = body
      .toString("utf8")
      .split("\n")
      .filter((l) => l.trim() !== "");
    const items: Record<string, unknown>[] = [];
    let errors = false;
    // Targets whose auto-create the shard limit refused in this request: every item for them fails alike.
    const notCreated = new Map<string, string>();
    for (let i = 0; i < lines.length; i++) {
      const action = JSON.parse(lines[i]) as Record<string, { _index?: string; _id?: string }>;
      const op = Object.keys(action)[0];
      const meta = action[op] ?? {};
      const target = meta._index ?? pathTarget;
      const hasSource = op === "create" || op === "index" || op === "update";
      const doc = hasSource ? (JSON.parse(lines[++i] ?? "null") as unknown) : undefined;
      const id = meta._id ?? randomBytes(10).toString("base64url");
      if (target === undefined) {
        errors = true;
        items.push({
          [op]: {
            status: 400,
            error: { type: "action_request_validation_exception", reason: "index is missing" },
          },
        });
        continue;
      }
      if (prefix !== undefined && (op !== "create" || !target.startsWith(prefix))) {
        errors = true;
        this.denied.push({ username: who, what: `${op} ${target}` });
        items.push(
          this.itemError(
            op,
            target,
            id,
            403,
            "security_exception",
            `action [indices:data/write/bulk[s]] is unauthorized for user [${who}] on indices [${target}]`,
          ),
        );
        continue;
      }
      if (this.itemFailure && this.itemFailure.remaining > 0) {
        this.itemFailure.remaining--;
        errors = true;
        const status = this.itemFailure.status;
        items.push(
          this.itemError(
            op,
            target,
            id,
            status,
            STATUS_ERROR_TYPES[status] ?? "exception",
            `stand-in: item answered with ${status}`,
          ),
        );
        continue;
      }
      if (op === "create" && !this.dataStreams.has(target) && this.dataStreamTemplateFor(target)) {
        const created = notCreated.get(target) ?? this.createDataStream(target);
        if (typeof created === "string") {
          notCreated.set(target, created);
          errors = true;
          items.push(this.itemError(op, target, id, 400, "validation_exception", created));
          continue;
        }
      }
      const ds = this.dataStreams.get(target);
      if (ds && doc !== null && typeof doc === "object" && !("@timestamp" in doc)) {
        errors = true;
        items.push(
          this.itemError(
            op,
            target,
            id,
            400,
            "illegal_argument_exception",
            "data stream timestamp field [@timestamp] is missing",
          ),
        );
        continue;
      }
      if (
        this.rejectDoc &&
        doc !== null &&
        typeof doc === "object" &&
        this.rejectDoc(doc as Record<string, unknown>)
      ) {
        errors = true;
        items.push(
          this.itemError(op, target, id, 400, "mapper_parsing_exception", "stand-in: failed to parse field"),
        );
        continue;
      }
      const scope = ds ? ds.backingIndex : target;
      const ids = this.idsByName.get(scope) ?? new Set<string>();
      if (op === "create" && meta._id !== undefined && ids.has(meta._id)) {
        errors = true;
        this.conflicts++;
        items.push(
          this.itemError(
            op,
            target,
            id,
            409,
            "version_conflict_engine_exception",
            `[${id}]: version conflict, document already exists`,
          ),
        );
        continue;
      }
      if (meta._id !== undefined) {
        ids.add(meta._id);
        this.idsByName.set(scope, ids);
      }
      if (ds && op !== "create") {
        errors = true;
        items.push({
          [op]: {
            _index: target,
            _id: id,
            status: 400,
            error: {
              type: "illegal_argument_exception",
              reason: `only write ops with an op_type of create are allowed in data streams`,
            },
          },
        });
        continue;
      }
      if ((op === "create" || op === "index") && doc !== null && typeof doc === "object") {
        const list = this.docsByName.get(target) ?? [];
        list.push({ doc: doc as Record<string, unknown>, index: scope });
        this.docsByName.set(target, list);
      }
      items.push({
        [op]: {
          _index: ds ? ds.backingIndex : target,
          _id: id,
          _version: 1,
          result: op === "delete" ? "deleted" : "created",
          _shards: { total: 1, successful: 1, failed: 0 },
          _seq_no: this.seqNo++,
          _primary_term: 1,
          status: op === "delete" ? 200 : 201,
        },
      });
    }
    return { status: 200, body: { took: 1, errors, items } };
  }

  private rootInfo(): Record<string, unknown> {
    return {
      name: "es-standin",
      cluster_name: "es-standin",
      cluster_uuid: "c7a1e4b3-standin",
      version: {
        number: ES_VERSION,
        build_flavor: "default",
        build_type: "docker",
        build_hash: "0000000",
        build_date: "2024-08-05T10:05:34.233336849Z",
        build_snapshot: false,
        lucene_version: "9.11.1",
        minimum_wire_compatibility_version: "7.17.0",
        minimum_index_compatibility_version: "7.0.0",
      },
      tagline: "You Know, for Search",
    };
  }

  private nodesHttp(): Record<string, unknown> {
    const address = `127.0.0.1:${this.port ?? 9200}`;
    return {
      _nodes: { total: 1, successful: 1, failed: 0 },
      cluster_name: "es-standin",
      nodes: {
        standin0000000000000: {
          name: "es-standin",
          transport_address: "127.0.0.1:9300",
          host: "127.0.0.1",
          ip: "127.0.0.1",
          version: ES_VERSION,
          roles: ["data", "ingest", "master"],
          http: {
            bound_address: [address],
            publish_address: address,
            max_content_length_in_bytes: 104857600,
          },
        },
      },
    };
  }
}

/** What the stand-in reads of a composable index template. */
interface IndexTemplate {
  index_patterns?: string[];
  priority?: number;
  data_stream?: unknown;
  template?: { settings?: Record<string, unknown> };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
