/**
 * A Kubernetes API stand-in for Fluent Bit's kubernetes filter: an HTTPS server on 127.0.0.1 that answers
 * `GET /api/v1/namespaces/<ns>/pods/<pod>` with the pods it was given, and refuses a request whose bearer
 * token is not the service account's (401), as the API server does. It records every request.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type * as https from "node:https";
import { listenTls, stopServer } from "./https";
import type { Pod } from "./nodeLogs";

export class KubeApiStandin {
  readonly requests: { path: string; status: number }[] = [];
  private readonly pods = new Map<string, Pod>();
  private server: https.Server | undefined;

  constructor(private readonly opts: { cert: string; key: string; token: string }) {}

  addPod(pod: Pod): void {
    this.pods.set(`${pod.namespace}/${pod.name}`, pod);
  }

  async start(): Promise<number> {
    const { server, port } = await listenTls(this.opts, (req, res) => this.handle(req, res));
    this.server = server;
    return port;
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    return stopServer(server);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const reply = (status: number, body: unknown) => {
      this.requests.push({ path: req.url ?? "", status });
      const text = JSON.stringify(body);
      res.writeHead(status, {
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(text),
      });
      res.end(text);
    };
    if (req.headers.authorization !== `Bearer ${this.opts.token}`) {
      reply(401, { kind: "Status", status: "Failure", reason: "Unauthorized", code: 401 });
      return;
    }
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/?]+)$/.exec(req.url ?? "");
    const pod = m ? this.pods.get(`${m[1]}/${m[2]}`) : undefined;
    if (req.method !== "GET" || !pod) {
      reply(404, { kind: "Status", status: "Failure", reason: "NotFound", code: 404 });
      return;
    }
    reply(200, {
      kind: "Pod",
      apiVersion: "v1",
      metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid, labels: pod.labels },
      spec: { nodeName: "node-1", containers: [] },
      status: { podIP: "10.1.2.3", containerStatuses: [] },
    });
  }
}
