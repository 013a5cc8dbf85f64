/**
 * What the Kibana setup Job creates, so that Kibana opens ready to use: a data view per registered cluster,
 * one for all clusters (the default) and one for the unregistered stream, and a saved Discover search.
 * The objects are data (`objects.json`); one script, the same for every stack, makes Kibana match them.
 */

import { dataStreamName, SHARED_STREAM, type IndexLayout } from "../capacity";
import { RECORD_FIELDS, UNREGISTERED_CLUSTER } from "../records";

export const KIBANA_SETUP_FILES = { objects: "objects.json", script: "setup.js" } as const;

/** The time field of every data view. */
export const TIME_FIELD = "@timestamp";

/**
 * A data view as the Job sends it to Kibana 8.5. No `name`: Kibana names a view by its pattern when none is
 * given, and 8.5's update route refuses the key (it came in 8.6), so a view a user renamed stays renamed.
 */
export interface DataView {
  /** Saved-object id: fixed, so a rerun finds the view it made. */
  id: string;
  /** The index pattern: a data stream, or every stream of the prefix. Also the view's name. */
  title: string;
  timeFieldName: typeof TIME_FIELD;
}

export interface SavedSearch {
  id: string;
  attributes: Record<string, unknown>;
  references: { name: string; type: "index-pattern"; id: string }[];
}

export interface KibanaObjects {
  /** In creation order: the all-clusters view first, so it is Kibana's default if none is set yet. */
  dataViews: DataView[];
  /** Set as the default only while no default is set: a user's choice is kept. */
  defaultDataView: string;
  /** "Logs by cluster", then one search per registered cluster: the view of a cluster, whatever the layout. */
  savedSearches: SavedSearch[];
  /** Named in error messages: where the setup user's password and privileges come from. */
  setupUser: { name: string; role: string; secret: string };
}

/** The id of the all-clusters view. Cluster views are `efk-view-cluster-<name>`, so no cluster name collides. */
export const ALL_CLUSTERS_VIEW = "efk-view-all-clusters";

export function clusterViewId(cluster: string): string {
  return `efk-view-cluster-${cluster}`;
}

export const LOGS_BY_CLUSTER_SEARCH = "efk-search-logs-by-cluster";

/** The id of a cluster's saved search: its logs, in whichever stream they are. */
export function clusterSearchId(cluster: string): string {
  return `efk-search-cluster-${cluster}`;
}

/** The Discover columns of "Logs by cluster": cluster, namespace, pod, container and the message. */
export const LOGS_BY_CLUSTER_COLUMNS = [
  RECORD_FIELDS.cluster,
  "kubernetes.namespace_name",
  "kubernetes.pod_name",
  "kubernetes.container_name",
  RECORD_FIELDS.log,
];

function dataView(id: string, pattern: string): DataView {
  return { id, title: pattern, timeFieldName: TIME_FIELD };
}

/**
 * The objects for `clusters` (the registered ones: the central cluster and its edges). A cluster that is
 * no longer registered has no view here; the script never deletes one, so its view stays while its data does.
 */
const INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index";

/** A Discover search on the all-clusters view, newest first, with `query` (KQL). */
function search(id: string, title: string, description: string, query: string): SavedSearch {
  return {
    id,
    attributes: {
      title,
      description,
      columns: LOGS_BY_CLUSTER_COLUMNS,
      sort: [[TIME_FIELD, "desc"]],
      kibanaSavedObjectMeta: {
        searchSourceJSON: JSON.stringify({
          query: { query, language: "kuery" },
          filter: [],
          indexRefName: INDEX_REF,
        }),
      },
    },
    references: [{ name: INDEX_REF, type: "index-pattern", id: ALL_CLUSTERS_VIEW }],
  };
}

/**
 * The objects for `clusters` (the registered ones: the central cluster and its edges) and the data
 * streams of `layout`. A data view per stream that exists (with `shared`: the shared stream and the
 * dedicated ones; with `per-cluster`: each cluster's and the unregistered one), and a saved search per
 * cluster, which finds its logs by their `cluster` field in any layout. A cluster that is no longer
 * registered has no objects here; the script never deletes one, so its view stays while its data does.
 */
export function kibanaObjects(
  prefix: string,
  clusters: string[],
  layout: { kind: IndexLayout; dedicated: string[] },
  setupUser: KibanaObjects["setupUser"],
): KibanaObjects {
  const streams =
    layout.kind === "shared" ? [SHARED_STREAM, ...layout.dedicated] : [...clusters, UNREGISTERED_CLUSTER];
  const views = [
    dataView(ALL_CLUSTERS_VIEW, `${prefix}-*`),
    ...streams.map((s) => dataView(clusterViewId(s), dataStreamName(prefix, s))),
  ];
  return {
    dataViews: views,
    defaultDataView: ALL_CLUSTERS_VIEW,
    savedSearches: [
      search(
        LOGS_BY_CLUSTER_SEARCH,
        "Logs by cluster",
        "Every cluster's container logs, newest first (efk-pulumi).",
        "",
      ),
      ...clusters.map((c) =>
        search(
          clusterSearchId(c),
          `Logs of ${c}`,
          `The container logs of cluster ${c}, newest first (efk-pulumi).`,
          `${RECORD_FIELDS.cluster}:"${c}"`,
        ),
      ),
    ],
    setupUser,
  };
}

/**
 * The Job's script, run by the Node.js inside the Kibana image (Node 16 in Kibana 8.5: CommonJS, the
 * `https` module). It waits for Kibana, then makes each object exist as described, verifying Kibana's
 * certificate against the CA:
 * - a data view missing by id is created, unless a view of the same pattern exists (made by hand before
 *   this Job existed): that one is used instead; a view of ours whose pattern or time field someone
 *   changed gets them back (and keeps a name a user gave it); one that matches is left alone;
 * - the default data view is set only when none was set before the run;
 * - the saved search is created when missing and otherwise left as a user may have edited it.
 * Nothing is ever deleted, and a rerun changes nothing. Refused credentials fail at once with the user,
 * its role and its Secret named; an unready Kibana is waited for, up to WAIT_SECONDS.
 * Environment: KIBANA_URL, CA_FILE, SETUP_DIR, SETUP_USER, SETUP_PASSWORD, WAIT_SECONDS, POLL_SECONDS.
 */
export const SETUP_SCRIPT = `"use strict";
// Creates Kibana's data views and saved search (efk-pulumi). Idempotent; never deletes.
const fs = require("fs");
const https = require("https");
const path = require("path");

function env(name, fallback) {
  const value = process.env[name];
  if (value !== undefined && value !== "") return value;
  if (fallback !== undefined) return fallback;
  throw new Error(name + " is not set");
}

const base = new URL(env("KIBANA_URL"));
const ca = fs.readFileSync(env("CA_FILE"));
const user = env("SETUP_USER");
const auth = "Basic " + Buffer.from(user + ":" + env("SETUP_PASSWORD")).toString("base64");
const waitSeconds = Number(env("WAIT_SECONDS", "600"));
const pollSeconds = Number(env("POLL_SECONDS", "5"));
const objects = JSON.parse(fs.readFileSync(path.join(env("SETUP_DIR"), "${KIBANA_SETUP_FILES.objects}"), "utf8"));

class Fatal extends Error {}

function request(method, pathname, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = { authorization: auth, accept: "application/json", "kbn-xsrf": "efk-pulumi" };
    if (payload) {
      headers["content-type"] = "application/json";
      headers["content-length"] = payload.length;
    }
    const req = https.request(new URL(pathname, base), { method, ca, headers, timeout: 30000 }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try {
          json = JSON.parse(text);
        } catch (e) {
          json = undefined;
        }
        resolve({ status: res.statusCode, text, json });
      });
    });
    req.on("timeout", () => req.destroy(new Error(method + " " + pathname + ": no answer within 30 s")));
    req.on("error", (err) => {
      // A certificate Kibana's CA did not sign, or one for another name, will not heal by waiting.
      if (/CERT|SELF_SIGNED|VERIFY|ALTNAME/.test(String(err.code))) {
        reject(new Fatal("Kibana's certificate failed verification against " + env("CA_FILE") + ": " + err.message));
      } else {
        reject(err);
      }
    });
    if (payload) req.write(payload);
    req.end();
  });
}

function refused(method, pathname, res) {
  const u = objects.setupUser;
  return new Fatal(
    "Kibana refused " + u.name + " (HTTP " + res.status + ") on " + method + " " + pathname + ": " +
      "its password (Secret " + u.secret + ") must match its hash in Elasticsearch's file realm, and " +
      "its role " + u.role + " must be in roles.yml. Kibana said: " + res.text.slice(0, 300),
  );
}

async function call(method, pathname, body, expected) {
  const res = await request(method, pathname, body);
  if (res.status === 401 || res.status === 403) throw refused(method, pathname, res);
  if (!expected.includes(res.status)) {
    throw new Fatal(method + " " + pathname + ": HTTP " + res.status + ": " + res.text.slice(0, 500));
  }
  return res;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForKibana() {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    let why;
    try {
      const res = await request("GET", "/api/status");
      if (res.status === 401 || res.status === 403) throw refused("GET", "/api/status", res);
      const overall = res.json && res.json.status && res.json.status.overall;
      const level = overall ? overall.level : undefined;
      if (res.status === 200 && (level === "available" || level === "degraded")) {
        console.log("Kibana is ready (" + level + ")");
        return;
      }
      why = "HTTP " + res.status + (level ? " " + level : "");
    } catch (err) {
      if (err instanceof Fatal) throw err;
      why = err.message;
    }
    if (Date.now() >= deadline) {
      throw new Fatal("Kibana at " + base.origin + " was not ready within " + waitSeconds + " s (last: " + why + ")");
    }
    console.log("waiting for Kibana: " + why);
    await sleep(pollSeconds * 1000);
  }
}

async function existingViews() {
  const found = await call(
    "GET",
    "/api/saved_objects/_find?type=index-pattern&per_page=10000&fields=title&fields=timeFieldName",
    undefined,
    [200],
  );
  return (found.json && found.json.saved_objects) || [];
}

async function ensureDataView(view, existing) {
  const mine = existing.find((o) => o.id === view.id);
  if (!mine) {
    const byHand = existing.find((o) => o.attributes && o.attributes.title === view.title);
    if (byHand) return { outcome: "adopted", id: byHand.id };
    const res = await request("POST", "/api/data_views/data_view", { data_view: view, override: false });
    if (res.status === 401 || res.status === 403) throw refused("POST", "/api/data_views/data_view", res);
    if (res.status !== 200) {
      throw new Fatal(
        "creating data view " + view.title + " (id " + view.id + "): HTTP " + res.status + ": " +
          res.text.slice(0, 300) + (/duplicate/i.test(res.text)
            ? " (a view of that name but another pattern exists: rename or delete it, then rerun the Job)"
            : ""),
      );
    }
    return { outcome: "created", id: view.id };
  }
  const a = mine.attributes || {};
  const change = {};
  if (a.title !== view.title) change.title = view.title;
  if (a.timeFieldName !== view.timeFieldName) change.timeFieldName = view.timeFieldName;
  if (Object.keys(change).length === 0) return { outcome: "unchanged", id: view.id };
  const at = "/api/data_views/data_view/" + encodeURIComponent(view.id);
  await call("POST", at, { data_view: change, refresh_fields: false }, [200]);
  return { outcome: "updated", id: view.id };
}

async function main() {
  await waitForKibana();
  const tally = { created: 0, updated: 0, unchanged: 0, adopted: 0 };
  // Read before creating anything: Kibana makes the first view it creates the default when none is set,
  // so a default that appears during this run is Kibana's doing, not a user's.
  const before = await call("GET", "/api/data_views/default", undefined, [200]);
  const userDefault = before.json && before.json.data_view_id;
  const existing = await existingViews();
  const ids = {};
  for (const view of objects.dataViews) {
    const { outcome, id } = await ensureDataView(view, existing);
    tally[outcome] += 1;
    ids[view.id] = id;
    console.log("data view " + view.title + " (" + id + "): " + (outcome === "adopted" ? "made by hand, used as is" : outcome));
  }
  const wantedDefault = ids[objects.defaultDataView];
  if (userDefault === wantedDefault) {
    console.log("default data view: " + userDefault + " (unchanged)");
  } else if (userDefault) {
    console.log("default data view: " + userDefault + " kept (chosen by a user)");
  } else {
    await call("POST", "/api/data_views/default", { data_view_id: wantedDefault, force: true }, [200]);
    console.log("default data view: " + wantedDefault + " (set)");
  }
  for (const search of objects.savedSearches) {
    const at = "/api/saved_objects/search/" + encodeURIComponent(search.id);
    const found = await call("GET", at, undefined, [200, 404]);
    if (found.status === 404) {
      const references = search.references.map((r) => Object.assign({}, r, { id: ids[r.id] || r.id }));
      await call("POST", at, { attributes: search.attributes, references }, [200]);
    }
    console.log("saved search " + search.attributes.title + ": " + (found.status === 404 ? "created" : "kept"));
  }
  console.log(
    "data views: " + tally.created + " created, " + tally.updated + " updated, " + tally.unchanged +
      " unchanged, " + tally.adopted + " made by hand",
  );
}

main().catch((err) => {
  console.error("Kibana setup failed: " + (err && err.message ? err.message : err));
  process.exit(1);
});
`;

/** The files of the Job's ConfigMap: no secret among them. */
export function kibanaSetupFiles(objects: KibanaObjects): Record<string, string> {
  return {
    [KIBANA_SETUP_FILES.objects]: JSON.stringify(objects, null, 2),
    [KIBANA_SETUP_FILES.script]: SETUP_SCRIPT,
  };
}
