/**
 * A Kibana stand-in: a real HTTPS server with the slice of Kibana's HTTP API that the setup Job
 * uses, and Kibana's rules for it, as read from Kibana's sources (see the README's Kibana section). It
 * reports the default version but keeps 8.5's rules where they are stricter than 8.19's (the oldest
 * supported release), so the Job is held to what every supported Kibana accepts:
 * - before Kibana is ready, every route answers 503 "Kibana server is not ready yet";
 * - every route needs basic auth of a known user (401 otherwise);
 * - a request that changes something needs a `kbn-xsrf` header (400 otherwise);
 * - each route needs a feature privilege, granted to the user by application privileges
 *   (`feature_<feature>.all`), 403 otherwise;
 * - request bodies are validated like Kibana's schemas: unknown keys and missing `title` are 400;
 * - a data view's name (its pattern unless given) is unique (400 "Duplicate data view"), and so is a
 *   saved object's id (409);
 * - creating a data view while no default is set makes it the default, which needs advanced settings;
 * - the update route takes no `name` (8.5; it came in 8.6) and refuses an empty change set;
 * - errors of the data views routes other than 404 are answered 400 (Kibana's handleErrors).
 */
import type * as https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { CertPair } from "./certs";
import { DEFAULT_STACK_VERSION } from "../../../lib/stackVersion";
import { listenTls, stopServer } from "./https";

export interface KibanaUser {
  password: string;
  /** Kibana application privileges in the default space, e.g. `feature_discover.all`. */
  privileges: string[];
}

export interface SavedObject {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  references: { name: string; type: string; id: string }[];
}

export interface KibanaRequest {
  method: string;
  path: string;
  user: string;
  status: number;
}

const DATA_VIEW_KEYS = new Set([
  "id",
  "name",
  "title",
  "timeFieldName",
  "sourceFilters",
  "fields",
  "allowNoIndex",
]);

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class KibanaStandin {
  readonly requests: KibanaRequest[] = [];
  /** Saved objects by `<type>/<id>`. */
  readonly objects = new Map<string, SavedObject>();
  /** The `defaultIndex` setting: the default data view's id. */
  defaultDataView: string | undefined;
  /** Epoch ms before which Kibana is "starting". */
  readyAt = 0;
  private server: https.Server | undefined;

  constructor(
    private readonly tls: CertPair,
    private readonly users: Record<string, KibanaUser>,
  ) {}

  async start(): Promise<number> {
    const { server, port } = await listenTls(this.tls, (req, res) => void this.handle(req, res));
    this.server = server;
    return port;
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    return stopServer(server);
  }

  /** Requests that changed or tried to change something. */
  writes(): KibanaRequest[] {
    return this.requests.filter((r) => r.method !== "GET");
  }

  dataViews(): SavedObject[] {
    return [...this.objects.values()].filter((o) => o.type === "index-pattern");
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "https://kibana");
    const method = req.method ?? "GET";
    const record: KibanaRequest = { method, path: url.pathname, user: "", status: 0 };
    this.requests.push(record);
    const send = (status: number, body: unknown) => {
      record.status = status;
      const text = typeof body === "string" ? body : JSON.stringify(body);
      res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/json" });
      res.end(text);
    };
    if (Date.now() < this.readyAt) {
      send(503, "Kibana server is not ready yet");
      return;
    }
    try {
      const user = this.authenticate(req.headers.authorization);
      record.user = user.name;
      if (method !== "GET" && req.headers["kbn-xsrf"] === undefined) {
        throw new HttpError(400, "Request must contain a kbn-xsrf header.");
      }
      let body: unknown;
      if (chunks.length > 0) {
        if (!String(req.headers["content-type"]).startsWith("application/json")) {
          throw new HttpError(415, "Unsupported Media Type");
        }
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      }
      const [status, answer] = this.route(method, url, body, user.privileges);
      send(status, answer);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 400;
      send(status, { statusCode: status, message: (err as Error).message });
    }
  }

  private authenticate(header: string | undefined): { name: string; privileges: string[] } {
    const match = /^Basic (.+)$/.exec(header ?? "");
    const [name, ...rest] = match ? Buffer.from(match[1], "base64").toString("utf8").split(":") : [""];
    const user = this.users[name];
    if (!user || user.password !== rest.join(":")) {
      throw new HttpError(401, "[security_exception]: unable to authenticate user");
    }
    return { name, privileges: user.privileges };
  }

  private route(method: string, url: URL, body: unknown, privileges: string[]): [number, unknown] {
    const need = (feature: string) => {
      if (!privileges.includes(`feature_${feature}.all`)) {
        throw new HttpError(403, `Forbidden: needs the ${feature} feature privilege`);
      }
    };
    const p = url.pathname;
    let m: RegExpExecArray | null;
    if (method === "GET" && p === "/api/status") {
      return [
        200,
        {
          name: "kibana",
          version: { number: DEFAULT_STACK_VERSION },
          status: { overall: { level: "available" } },
        },
      ];
    }
    if (method === "GET" && p === "/api/saved_objects/_find") {
      const type = url.searchParams.get("type");
      need(type === "search" ? "discover" : "indexPatterns");
      const fields = url.searchParams.getAll("fields");
      const found = [...this.objects.values()]
        .filter((o) => o.type === type)
        .map((o) => ({
          ...o,
          attributes: fields.length
            ? Object.fromEntries(Object.entries(o.attributes).filter(([k]) => fields.includes(k)))
            : o.attributes,
        }));
      return [
        200,
        {
          page: 1,
          per_page: Number(url.searchParams.get("per_page") ?? 20),
          total: found.length,
          saved_objects: found,
        },
      ];
    }
    if ((m = /^\/api\/saved_objects\/(index-pattern|search)\/([^/]+)$/.exec(p))) {
      const [type, id] = [m[1], decodeURIComponent(m[2])];
      need(type === "search" ? "discover" : "indexPatterns");
      const existing = this.objects.get(`${type}/${id}`);
      if (method === "GET") {
        return existing
          ? [200, existing]
          : [404, { statusCode: 404, message: `Saved object [${type}/${id}] not found` }];
      }
      if (method === "POST") {
        if (existing && url.searchParams.get("overwrite") !== "true") {
          throw new HttpError(409, `Saved object [${type}/${id}] conflict`);
        }
        const b = object(body, "request body", new Set(["attributes", "references"]));
        const o: SavedObject = {
          type,
          id,
          attributes: object(b.attributes, "attributes"),
          references: (b.references ?? []) as SavedObject["references"],
        };
        this.objects.set(`${type}/${id}`, o);
        return [200, o];
      }
    }
    if (p.startsWith("/api/data_views/")) {
      try {
        return this.dataViewsRoute(method, p, body, privileges, need);
      } catch (err) {
        // Kibana's handleErrors: a 404 stays a 404, any other error is a 400 with its message.
        if (err instanceof HttpError && err.status !== 404) throw new HttpError(400, err.message);
        throw err;
      }
    }
    throw new HttpError(404, `Not Found: ${method} ${p}`);
  }

  private dataViewsRoute(
    method: string,
    p: string,
    body: unknown,
    privileges: string[],
    need: (feature: string) => void,
  ): [number, unknown] {
    let m: RegExpExecArray | null;
    if (method === "POST" && p === "/api/data_views/data_view") {
      need("indexPatterns");
      const b = object(body, "request body", new Set(["data_view", "override", "refresh_fields"]));
      const spec = object(b.data_view, "data_view", DATA_VIEW_KEYS);
      if (typeof spec.title !== "string")
        throw new HttpError(400, "[request body.data_view.title]: expected value of type [string]");
      const id = typeof spec.id === "string" ? spec.id : `generated-${this.objects.size}`;
      const name = typeof spec.name === "string" ? spec.name : spec.title;
      const dupe = this.dataViews().find((v) => v.attributes.name === name);
      if (dupe) {
        if (b.override !== true) throw new HttpError(400, `Duplicate data view: ${name}`);
        this.objects.delete(`index-pattern/${dupe.id}`);
      }
      if (this.objects.has(`index-pattern/${id}`))
        throw new HttpError(400, `Saved object [index-pattern/${id}] conflict`);
      const attributes = { title: spec.title, name, timeFieldName: spec.timeFieldName };
      this.objects.set(`index-pattern/${id}`, { type: "index-pattern", id, attributes, references: [] });
      // Kibana makes the first view the default (setDefault without force), writing a setting.
      if (!this.defaultDataView) {
        if (!privileges.includes("feature_advancedSettings.all"))
          throw new HttpError(400, "Unable to update config");
        this.defaultDataView = id;
      }
      return [200, { data_view: { id, ...attributes } }];
    }
    if ((m = /^\/api\/data_views\/data_view\/([^/]+)$/.exec(p)) && method === "POST") {
      need("indexPatterns");
      const id = decodeURIComponent(m[1]);
      const existing = this.objects.get(`index-pattern/${id}`);
      if (!existing) throw new HttpError(404, `Saved object [index-pattern/${id}] not found`);
      const b = object(body, "request body", new Set(["data_view", "refresh_fields"]));
      const spec = object(
        b.data_view,
        "data_view",
        new Set(["title", "timeFieldName", "sourceFilters", "allowNoIndex"]),
      );
      if (Object.keys(spec).length === 0) throw new HttpError(400, "Index pattern change set is empty.");
      existing.attributes = { ...existing.attributes, ...spec };
      return [200, { data_view: { id, ...existing.attributes } }];
    }
    if (p === "/api/data_views/default") {
      if (method === "GET") return [200, { data_view_id: this.defaultDataView ?? "" }];
      if (method === "POST") {
        need("advancedSettings");
        const b = object(body, "request body", new Set(["data_view_id", "force"]));
        if (b.force === true || !this.defaultDataView) this.defaultDataView = String(b.data_view_id);
        return [200, { acknowledged: true }];
      }
    }
    throw new HttpError(404, `Not Found: ${method} ${p}`);
  }
}

/** An object with only `allowed` keys (Kibana's schemas refuse unknown ones). */
function object(v: unknown, what: string, allowed?: Set<string>): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new HttpError(400, `[${what}]: expected an object`);
  }
  for (const key of Object.keys(v)) {
    if (allowed && !allowed.has(key))
      throw new HttpError(400, `[${what}.${key}]: definition for this key is missing`);
  }
  return v as Record<string, unknown>;
}
