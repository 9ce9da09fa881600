/**
 * Test harness for the ADS server: a real grpc-js server on 127.0.0.1:0 fed by a SnapshotCache whose
 * generator the test swaps, and raw ADS clients (the generated grpc-js client) with a response queue.
 */
import { credentials } from "@grpc/grpc-js";
import { pino } from "pino";
import { AdsMetrics } from "../../../src/control-plane/ads-server-metrics.js";
import { AdsServer } from "../../../src/control-plane/ads-server.js";
import { NodeRegistry } from "../../../src/control-plane/node-registry.js";
import { SnapshotCache } from "../../../src/control-plane/snapshot-cache.js";
import type { XdsResources } from "../../../src/control-plane/xds-resources.js";
import { AggregatedDiscoveryServiceClient } from "../../../src/gen/envoy/service/discovery/v3/ads.js";
import type { Node } from "../../../src/gen/envoy/config/core/v3/base.js";
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from "../../../src/gen/envoy/service/discovery/v3/discovery.js";

/** A running server and the knobs a test turns. */
export interface Harness {
  readonly port: number;
  readonly registry: NodeRegistry;
  readonly metrics: AdsMetrics;
  readonly cache: SnapshotCache;
  /** Publishes new resources to every node (a mesh change). */
  publish(resources: XdsResources): void;
  close(): Promise<void>;
}

export async function startHarness(initial: XdsResources): Promise<Harness> {
  const registry = new NodeRegistry();
  const metrics = new AdsMetrics(registry);
  let current = initial;
  const cache = new SnapshotCache(() => current);
  const server = new AdsServer({ cache, registry, metrics, log: pino({ level: "silent" }), controlPlaneId: "test" });
  const port = await server.start("127.0.0.1", 0);
  return {
    port,
    registry,
    metrics,
    cache,
    publish(resources) {
      current = resources;
      cache.setGenerator(() => current);
    },
    close: () => server.stop(100),
  };
}

/** A node as a test client announces itself. */
export function testNode(id: string, userAgent = "pilotfish-test"): Node {
  return { id, cluster: "frontend", userAgentName: userAgent, userAgentVersion: "0", clientFeatures: [] };
}

/** A stream whose responses are queued for the test to take in order. */
export class Queue<T> {
  private readonly items: T[] = [];
  private waiter: ((v: T) => void) | undefined;

  push(v: T): void {
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      w(v);
    } else {
      this.items.push(v);
    }
  }

  /** The next item, or a rejection after timeoutMs. */
  next(timeoutMs = 2000): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
    });
  }

  /** Resolves with the item if one arrives within ms, undefined otherwise. */
  async maybe(ms: number): Promise<T | undefined> {
    try {
      return await this.next(ms);
    } catch {
      return undefined;
    }
  }
}

/** A raw SotW ADS client. */
export class SotwClient {
  readonly responses = new Queue<DiscoveryResponse>();
  private readonly client: AggregatedDiscoveryServiceClient;
  private readonly call;

  constructor(port: number) {
    this.client = new AggregatedDiscoveryServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    this.call = this.client.streamAggregatedResources();
    this.call.on("data", (r: DiscoveryResponse) => this.responses.push(r));
    this.call.on("error", () => undefined);
  }

  send(req: Partial<DiscoveryRequest>): void {
    this.call.write({ versionInfo: "", resourceNames: [], typeUrl: "", responseNonce: "", ...req });
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

/** A raw delta ADS client. */
export class DeltaClient {
  readonly responses = new Queue<DeltaDiscoveryResponse>();
  private readonly client: AggregatedDiscoveryServiceClient;
  private readonly call;

  constructor(port: number) {
    this.client = new AggregatedDiscoveryServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    this.call = this.client.deltaAggregatedResources();
    this.call.on("data", (r: DeltaDiscoveryResponse) => this.responses.push(r));
    this.call.on("error", () => undefined);
  }

  send(req: Partial<DeltaDiscoveryRequest>): void {
    this.call.write({
      typeUrl: "",
      resourceNamesSubscribe: [],
      resourceNamesUnsubscribe: [],
      initialResourceVersions: {},
      responseNonce: "",
      ...req,
    });
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}
