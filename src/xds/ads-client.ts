/**
 * The sidecar's ADS client (state of the world): one gRPC stream to the discovery server carrying
 * LDS and CDS by wildcard and RDS and EDS by the names in use.
 *
 * Per type it keeps the last accepted version, the nonce of the last response and the decoded
 * resources. Valid resources of a response are applied even when others in it are invalid (as
 * Envoy's CDS and gRPC do); the invalid ones are NACKed with every error, naming resource and field,
 * and keep their last good value. When the stream breaks, everything stays in force and the client
 * reconnects with jittered exponential backoff (0.5 s to 30 s), re-subscribing every type with its
 * last accepted version, so the server can skip what the client already has.
 */
import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../common/logger.js";
import type { Random } from "../common/clock.js";
import type { NodeInfo } from "../config/model.js";
import { AggregatedDiscoveryServiceClient } from "../gen/envoy/service/discovery/v3/ads.js";
import type { DiscoveryRequest, DiscoveryResponse } from "../gen/envoy/service/discovery/v3/discovery.js";
import type { Node } from "../gen/envoy/config/core/v3/base.js";
import type { StatsStore, Counter, Gauge } from "../stats/stats-store.js";
import { Backoff } from "./backoff.js";
import { decodeResource, type ResourceValues } from "./resource-types.js";
import { PUSH_ORDER, TYPE_SHORT, TypeUrl } from "./type-urls.js";

/** Receives applied changes, one call per response. */
export interface AdsHandler {
  /** Resources added or changed (`changed`) and removed (`removed`) for one type. */
  onUpdate<U extends TypeUrl>(typeUrl: U, changed: ReadonlyMap<string, ResourceValues[U]>, removed: readonly string[]): void;
}

/** Per-type state, also shown by /config_dump. */
export interface TypeState {
  /** Subscribed names; undefined means wildcard. */
  names: Set<string> | undefined;
  /** Last accepted version_info. */
  version: string;
  /** Nonce of the last response received. */
  nonce: string;
  /** Accepted resources by name: value, content hash, version and time of last update. */
  resources: Map<string, { value: unknown; hash: string; version: string; updatedAt: Date }>;
  /** The last NACK's error, if the last response for this type was rejected. */
  lastError: { message: string; at: Date; version: string } | undefined;
  /** Whether a request for this type was sent on the current stream. */
  requested: boolean;
}

interface TypeStats {
  attempt: Counter;
  success: Counter;
  rejected: Counter;
}

/** Where and how to reach the discovery server. */
export interface AdsClientOptions {
  /** `host:port` of the discovery server. */
  readonly target: string;
  readonly node: NodeInfo;
  readonly log: Logger;
  readonly stats: StatsStore;
  readonly random: Random;
}

const WILDCARD_TYPES: ReadonlySet<TypeUrl> = new Set([TypeUrl.LISTENER, TypeUrl.CLUSTER]);

export class AdsClient {
  readonly state = new Map<TypeUrl, TypeState>();
  private readonly client: AggregatedDiscoveryServiceClient;
  private readonly backoff: Backoff;
  private readonly typeStats = new Map<TypeUrl, TypeStats>();
  private readonly connected: Gauge;
  private call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> | undefined;
  private nodeSent = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly opts: AdsClientOptions,
    private readonly handler: AdsHandler,
    /** Types to subscribe to by wildcard from the start (LDS and/or CDS). */
    wildcardTypes: readonly TypeUrl[],
  ) {
    this.client = new AggregatedDiscoveryServiceClient(opts.target, grpc.credentials.createInsecure(), {
      "grpc.keepalive_time_ms": 30_000,
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
    });
    this.backoff = new Backoff(500, 30_000, opts.random);
    this.connected = opts.stats.gauge("control_plane.connected_state");
    for (const t of PUSH_ORDER) {
      const p = `xds.${TYPE_SHORT[t]}.`;
      this.typeStats.set(t, {
        attempt: opts.stats.counter(p + "update_attempt"),
        success: opts.stats.counter(p + "update_success"),
        rejected: opts.stats.counter(p + "update_rejected"),
      });
    }
    for (const t of wildcardTypes) this.typeState(t).names = undefined;
  }

  /** Opens the stream. */
  start(): void {
    this.openStream();
  }

  /** Closes the stream for good. */
  close(): void {
    this.closed = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.call?.cancel();
    this.client.close();
  }

  /** Sets the names subscribed for RDS or EDS; sends a request when the set changed. */
  setSubscription(typeUrl: TypeUrl, names: ReadonlySet<string>): void {
    const st = this.typeState(typeUrl);
    const prev = st.names;
    if (prev !== undefined && prev.size === names.size && [...names].every((n) => prev.has(n))) return;
    st.names = new Set(names);
    // Names no longer wanted are forgotten, so that a later subscription gets them afresh.
    for (const n of [...st.resources.keys()]) if (!names.has(n)) st.resources.delete(n);
    if (this.call !== undefined) this.send(typeUrl, st.version, st.nonce, undefined);
  }

  private typeState(t: TypeUrl): TypeState {
    let st = this.state.get(t);
    if (st === undefined) {
      st = { names: new Set(), version: "", nonce: "", resources: new Map(), lastError: undefined, requested: false };
      this.state.set(t, st);
    }
    return st;
  }

  private openStream(): void {
    if (this.closed) return;
    const call = this.client.streamAggregatedResources();
    this.call = call;
    this.nodeSent = false;
    for (const st of this.state.values()) st.requested = false;
    call.on("data", (resp: DiscoveryResponse) => this.onResponse(resp));
    call.on("error", (err: grpc.ServiceError) => this.onStreamEnd(call, err.details || err.message));
    call.on("end", () => this.onStreamEnd(call, "stream ended"));
    // Re-subscribe every type with its last accepted version (and no nonce: it is a new stream).
    for (const t of PUSH_ORDER) {
      const st = this.state.get(t);
      if (st !== undefined && (st.names === undefined || st.names.size > 0)) this.send(t, st.version, "", undefined);
    }
  }

  private onStreamEnd(call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>, reason: string): void {
    if (this.call !== call) return;
    this.call = undefined;
    this.connected.value = 0;
    if (this.closed) return;
    const delay = this.backoff.next();
    this.opts.log.warn({ reason, retry_in_ms: delay }, "xDS stream closed; keeping the last good config");
    this.reconnectTimer = setTimeout(() => this.openStream(), delay);
  }

  private send(typeUrl: TypeUrl, version: string, nonce: string, error: string | undefined): void {
    const call = this.call;
    if (call === undefined) return;
    const st = this.typeState(typeUrl);
    st.requested = true;
    const req: DiscoveryRequest = {
      versionInfo: version,
      node: this.nodeSent ? undefined : this.nodeMessage(),
      resourceNames: st.names === undefined ? [] : [...st.names].sort(),
      typeUrl,
      responseNonce: nonce,
      errorDetail: error === undefined ? undefined : { code: 3, message: error, details: [] },
    };
    this.nodeSent = true;
    call.write(req);
  }

  private onResponse(resp: DiscoveryResponse): void {
    this.connected.value = 1;
    this.backoff.reset();
    const typeUrl = resp.typeUrl as TypeUrl;
    const stats = this.typeStats.get(typeUrl);
    if (stats === undefined) {
      this.opts.log.warn({ type_url: resp.typeUrl }, "xDS response for a type we did not ask for; ignored");
      return;
    }
    stats.attempt.inc();
    const st = this.typeState(typeUrl);
    st.nonce = resp.nonce;
    const errors: string[] = [];
    const seen = new Set<string>();
    const changed = new Map<string, ResourceValues[typeof typeUrl]>();
    const now = new Date();
    resp.resources.forEach((any, i) => {
      if (any.typeUrl !== typeUrl) {
        errors.push(`resources[${i}]: type ${any.typeUrl} in a ${typeUrl} response`);
        return;
      }
      const d = decodeResource(typeUrl, any.value, i);
      seen.add(d.name);
      if (!d.ok) {
        for (const e of d.errors) errors.push(`${e.path}: ${e.message}`);
        return;
      }
      if (st.names !== undefined && !st.names.has(d.name)) return; // not subscribed (any longer)
      const hash = createHash("sha1").update(any.value).digest("base64");
      const prev = st.resources.get(d.name);
      if (prev?.hash === hash) return;
      st.resources.set(d.name, { value: d.value, hash, version: resp.versionInfo, updatedAt: now });
      changed.set(d.name, d.value);
    });
    // State of the world: for LDS and CDS, what the response does not name is gone. RDS and EDS
    // resources go when no longer referenced (setSubscription), not when a response omits them.
    const removed: string[] = [];
    if (WILDCARD_TYPES.has(typeUrl)) {
      for (const name of st.resources.keys()) if (!seen.has(name)) removed.push(name);
      for (const name of removed) st.resources.delete(name);
    }
    if (changed.size > 0 || removed.length > 0) this.handler.onUpdate(typeUrl, changed, removed);
    if (errors.length === 0) {
      st.version = resp.versionInfo;
      st.lastError = undefined;
      stats.success.inc();
      this.send(typeUrl, st.version, resp.nonce, undefined);
    } else {
      const message = errors.join("; ");
      st.lastError = { message, at: now, version: resp.versionInfo };
      stats.rejected.inc();
      this.opts.log.warn({ type: TYPE_SHORT[typeUrl], version: resp.versionInfo, error: message }, "xDS update rejected (NACK)");
      this.send(typeUrl, st.version, resp.nonce, message);
    }
  }

  private nodeMessage(): Node {
    const n = this.opts.node;
    return {
      id: n.id,
      cluster: n.cluster,
      metadata: { ...n.metadata },
      locality: { region: n.locality.region, zone: n.locality.zone, subZone: n.locality.subZone },
      userAgentName: "pilotfish",
      userAgentVersion: "0.1.0",
      clientFeatures: [],
    };
  }
}
