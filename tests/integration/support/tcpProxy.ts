/**
 * A TCP proxy on 127.0.0.1 in front of the aggregator, able to freeze the connections it carries: they stay
 * open, and nothing more passes in either direction, as when a peer vanishes without a reset (a node that
 * loses power, a load balancer that drops an idle backend). New connections pass as usual.
 */
import * as net from "node:net";

/** Pipes two sockets both ways; when either ends or fails, both are destroyed, then `onEnd` runs. */
function splice(client: net.Socket, upstream: net.Socket, onEnd: () => void = () => undefined): void {
  client.pipe(upstream);
  upstream.pipe(client);
  const end = () => {
    onEnd();
    client.destroy();
    upstream.destroy();
  };
  for (const s of [client, upstream]) {
    s.on("error", end);
    s.on("close", end);
  }
}

/** Listens on a free port of 127.0.0.1; resolves with it. */
function listenLocal(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
}

export class FreezingProxy {
  private server: net.Server | undefined;
  private readonly live = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private readonly frozen: net.Socket[] = [];

  /** Listens on a free port of 127.0.0.1, forwarding to `targetPort` there; resolves with its own port. */
  start(targetPort: number): Promise<number> {
    const server = net.createServer((client) => {
      const upstream = net.connect(targetPort, "127.0.0.1");
      const pair = { client, upstream };
      this.live.add(pair);
      splice(client, upstream, () => this.live.delete(pair));
    });
    this.server = server;
    return listenLocal(server);
  }

  /** Freezes every connection open now: kept open, silent both ways, until `stop()`. Returns how many. */
  freeze(): number {
    const pairs = [...this.live];
    for (const { client, upstream } of pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
      client.removeAllListeners("close");
      client.removeAllListeners("error");
      client.on("error", () => undefined);
      // The aggregator's side goes; the agent's side stays open and hears nothing more.
      upstream.removeAllListeners();
      upstream.on("error", () => undefined);
      upstream.destroy();
      this.frozen.push(client);
    }
    for (const p of pairs) this.live.delete(p);
    return pairs.length;
  }

  stop(): Promise<void> {
    for (const socket of this.frozen) socket.destroy();
    for (const { client, upstream } of this.live) {
      client.destroy();
      upstream.destroy();
    }
    const server = this.server;
    this.server = undefined;
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

/**
 * A TCP proxy on 127.0.0.1 that sends each new connection to the next of several aggregators, as a
 * Service does with new connections: what spreads agents over replicas is how often they reconnect.
 */
export class RoundRobinProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Connections accepted so far. */
  connections = 0;

  start(targetPorts: number[]): Promise<number> {
    const server = net.createServer((client) => {
      const upstream = net.connect(targetPorts[this.connections++ % targetPorts.length], "127.0.0.1");
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
      }
      splice(client, upstream);
    });
    this.server = server;
    return listenLocal(server);
  }

  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}
