/**
 * The ADS gRPC server: serves envoy.service.discovery.v3.AggregatedDiscoveryService (SotW and delta)
 * from a snapshot cache. Stream logic lives in ads-server-sotw.ts and delta-stream.ts; this file only
 * binds, dispatches and shuts down.
 */
import { hostname } from "node:os";
import { Server, ServerCredentials, type ServerDuplexStream } from "@grpc/grpc-js";
import { ErrorCode, PilotfishError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import {
  AggregatedDiscoveryServiceService,
  type AggregatedDiscoveryServiceServer,
} from "../gen/envoy/service/discovery/v3/ads.js";
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from "../gen/envoy/service/discovery/v3/discovery.js";
import type { StreamContext } from "./ads-server-context.js";
import { bodyAwareSerializer, EncodedBodies } from "./ads-server-encoding.js";
import type { AdsMetrics } from "./ads-server-metrics.js";
import { SotwStream } from "./ads-server-sotw.js";
import { DeltaStream } from "./delta-stream.js";
import type { NodeRegistry } from "./node-registry.js";
import type { SnapshotCache } from "./snapshot-cache.js";

/** What the ADS server serves from and records into. */
import type { PushTracer } from "../telemetry/push-tracer.js";

export interface AdsServerOptions {
  /** Node snapshots. */
  readonly cache: SnapshotCache;
  /** Open streams and their ACK/NACK state. */
  readonly registry: NodeRegistry;
  /** Prometheus metrics. */
  readonly metrics: AdsMetrics;
  /** Logger. */
  readonly log: Logger;
  /** DiscoveryResponse.control_plane.identifier; default `pilotfish@<hostname>`. */
  readonly controlPlaneId?: string;
  /** Traces each push (node, type, version) until its ACK or NACK; absent means no tracing. */
  readonly pushTracer?: PushTracer | undefined;
}

/** The generated service, with response serializers that reuse the streams' pre-encoded bodies. */
const SERVICE: typeof AggregatedDiscoveryServiceService = {
  streamAggregatedResources: {
    ...AggregatedDiscoveryServiceService.streamAggregatedResources,
    responseSerialize: bodyAwareSerializer(AggregatedDiscoveryServiceService.streamAggregatedResources.responseSerialize),
  },
  deltaAggregatedResources: {
    ...AggregatedDiscoveryServiceService.deltaAggregatedResources,
    responseSerialize: bodyAwareSerializer(AggregatedDiscoveryServiceService.deltaAggregatedResources.responseSerialize),
  },
};

export class AdsServer {
  private readonly server: Server;
  private readonly ctx: StreamContext;
  private boundPort: number | undefined;

  constructor(options: AdsServerOptions) {
    this.ctx = {
      cache: options.cache,
      registry: options.registry,
      metrics: options.metrics,
      log: options.log,
      controlPlaneId: options.controlPlaneId ?? `pilotfish@${hostname()}`,
      bodies: new EncodedBodies(),
      pushTracer: options.pushTracer,
    };
    // ADS streams live as long as the sidecar; keepalive lets a dead peer be noticed and its state freed.
    this.server = new Server({
      "grpc.keepalive_time_ms": 60_000,
      "grpc.keepalive_timeout_ms": 20_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
    });
    const impl: AggregatedDiscoveryServiceServer = {
      streamAggregatedResources: (call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => {
        new SotwStream(this.ctx, call);
      },
      deltaAggregatedResources: (call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) => {
        new DeltaStream(this.ctx, call);
      },
    };
    this.server.addService(SERVICE, impl);
  }

  /** Binds host:port (port 0 picks one) and resolves with the bound port. */
  async start(host: string, port: number): Promise<number> {
    const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(address, ServerCredentials.createInsecure(), (err, bound) => {
        if (err !== null) {
          reject(new PilotfishError(ErrorCode.LISTEN_FAILED, `xDS server cannot bind ${address}: ${err.message}`, [], { cause: err }));
        } else {
          resolve(bound);
        }
      });
    });
    return this.boundPort;
  }

  /** The bound port (after start). */
  port(): number | undefined {
    return this.boundPort;
  }

  /**
   * Stops serving. ADS streams never finish on their own, so after a short grace for in-flight writes
   * the remaining streams are cancelled; clients reconnect (to another replica) with their versions.
   */
  async stop(graceMs = 1000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
