/**
 * The sidecar's ADS client: one gRPC stream to the discovery server carrying LDS and CDS by wildcard
 * and RDS and EDS by the names in use, state of the world (GRPC) or incremental (DELTA_GRPC).
 *
 * Per type it keeps the last accepted version, the nonce of the last response and the decoded
 * resources. Valid resources of a response are applied even when others in it are invalid (as
 * Envoy's CDS and gRPC do); the invalid ones are NACKed with every error, naming resource and field,
 * and keep their last good value. When the stream breaks, everything stays in force and the client
 * reconnects, to the next endpoint of the xDS cluster (replicas; see server-rotation.ts for when it
 * waits the jittered backoff, 0.5 s to 30 s), re-subscribing every type with its last accepted
 * version(s), so the server (any replica: versions are content hashes) can skip what the client
 * already has. A response identical to what is held changes nothing: no rebuild, no config_reload.
 */
import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../common/logger.js";
import { systemClock, type Clock, type Random } from "../common/clock.js";
import type { NodeInfo } from "../config/model.js";
import { AggregatedDiscoveryServiceClient } from "../gen/envoy/service/discovery/v3/ads.js";
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from "../gen/envoy/service/discovery/v3/discovery.js";
import type { Any } from "../gen/google/protobuf/any.js";
import type { Node } from "../gen/envoy/config/core/v3/base.js";
import type { StatsStore, Counter, Gauge } from "../stats/stats-store.js";
import { Backoff } from "./backoff.js";
import { ServerRotation } from "./server-rotation.js";
import { decodeResource, type ResourceValues } from "./resource-types.js";
import { PUSH_ORDER, TYPE_SHORT, TypeUrl } from "./type-urls.js";

/** Receives applied changes, one call per response. */
export interface AdsHandler {
  /** Resources added or changed (`changed`) and removed (`removed`) for one type. */
  onUpdate<U extends TypeUrl>(typeUrl: U, changed: ReadonlyMap<string, ResourceValues[U]>, removed: readonly string[]): void;
  /** A response of this type was processed (applied in whole or in part), changed or not. */
  onResponse?(typeUrl: TypeUrl): void;
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
  /** Envoy's `config_reload`: accepted responses that changed something (not identical re-sends). */
  reload: Counter;
}

/** Where and how to reach the discovery server. */
export interface AdsClientOptions {
  /** The discovery server endpoints (`host:port`, the xDS cluster's hosts in order); read at each (re)connect. */
  readonly targets: () => readonly string[];
  readonly node: NodeInfo;
  readonly log: Logger;
  readonly stats: StatsStore;
  readonly random: Random;
  /** Time for the stream's uptime (default: the system clock). */
  readonly clock?: Clock;
  /** Incremental xDS (DeltaAggregatedResources) instead of state of the world. */
  readonly delta: boolean;
  /** The bound admin address (`host:port`), sent as node.metadata `pilotfish.admin`; absent without admin. */
  readonly adminAddress?: string;
}

type Stream = grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> | grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

/** One resource of a response, whatever the variant. */
interface Incoming {
  readonly any: Any;
  /** Per-resource version (delta), else the response's version_info. */
  readonly version: string;
}

const WILDCARD_TYPES: ReadonlySet<TypeUrl> = new Set([TypeUrl.LISTENER, TypeUrl.CLUSTER]);

export class AdsClient {
  readonly state = new Map<TypeUrl, TypeState>();
  private client: AggregatedDiscoveryServiceClient | undefined;
  /** The endpoint `client` dials. */
  private clientTarget: string | undefined;
  private readonly rotation: ServerRotation;
  private readonly clock: Clock;
  private readonly typeStats = new Map<TypeUrl, TypeStats>();
  private readonly connected: Gauge;
  private call: Stream | undefined;
  private nodeSent = false;
  /** When the current stream was established (response headers or a response), if it was. */
  private establishedAt: number | undefined;
  /** A plain (ref'd) timer, unlike Clock's: a sidecar waiting for its first config must not exit. */
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly opts: AdsClientOptions,
    private readonly handler: AdsHandler,
    /** Types to subscribe to by wildcard from the start (LDS and/or CDS). */
    wildcardTypes: readonly TypeUrl[],
  ) {
    this.clock = opts.clock ?? systemClock;
    this.rotation = new ServerRotation(opts.targets, new Backoff(500, 30_000, opts.random));
    this.connected = opts.stats.gauge("control_plane.connected_state");
    for (const t of PUSH_ORDER) {
      const p = `xds.${TYPE_SHORT[t]}.`;
      this.typeStats.set(t, {
        attempt: opts.stats.counter(p + "update_attempt"),
        success: opts.stats.counter(p + "update_success"),
        rejected: opts.stats.counter(p + "update_rejected"),
        reload: opts.stats.counter(p + "config_reload"),
      });
    }
    for (const t of wildcardTypes) this.typeState(t).names = undefined;
  }

  /** Opens the stream to the first endpoint. */
  start(): void {
    const target = this.rotation.first();
    if (target !== undefined) this.openStream(target);
    else this.retry(undefined, "the xDS cluster has no endpoint");
  }

  /** Closes the stream for good. */
  close(): void {
    this.closed = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.call?.cancel();
    this.client?.close();
  }

  /** The discovery server endpoint of the current (or last) stream. */
  get server(): string | undefined {
    return this.rotation.current;
  }

  /** Sets the names subscribed for RDS or EDS; sends a request when the set changed. */
  setSubscription(typeUrl: TypeUrl, names: ReadonlySet<string>): void {
    const st = this.typeState(typeUrl);
    const prev = st.names ?? new Set<string>();
    if (st.names !== undefined && prev.size === names.size && [...names].every((n) => prev.has(n))) return;
    const added = [...names].filter((n) => !prev.has(n));
    const dropped = [...prev].filter((n) => !names.has(n));
    st.names = new Set(names);
    // Names no longer wanted are forgotten, so that a later subscription gets them afresh.
    for (const n of dropped) st.resources.delete(n);
    if (this.call === undefined) return;
    if (this.opts.delta) this.sendDelta(typeUrl, { subscribe: added, unsubscribe: dropped });
    else this.send(typeUrl, st.version, st.nonce, undefined);
  }

  private typeState(t: TypeUrl): TypeState {
    let st = this.state.get(t);
    if (st === undefined) {
      st = { names: new Set(), version: "", nonce: "", resources: new Map(), lastError: undefined, requested: false };
      this.state.set(t, st);
    }
    return st;
  }

  /** The grpc-js client for `target`; a client for another endpoint is closed (one channel at a time). */
  private clientFor(target: string): AggregatedDiscoveryServiceClient {
    if (this.client !== undefined && this.clientTarget === target) return this.client;
    this.client?.close();
    this.clientTarget = target;
    this.client = new AggregatedDiscoveryServiceClient(target, grpc.credentials.createInsecure(), {
      "grpc.keepalive_time_ms": 30_000,
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
    });
    return this.client;
  }

  private openStream(target: string): void {
    if (this.closed) return;
    const delta = this.opts.delta;
    const client = this.clientFor(target);
    const call: Stream = delta ? client.deltaAggregatedResources() : client.streamAggregatedResources();
    this.call = call;
    this.nodeSent = false;
    this.establishedAt = undefined;
    for (const st of this.state.values()) st.requested = false;
    this.opts.log.info({ server: target, delta }, "xDS stream opening");
    // Response headers mean the server took the stream, even if it has nothing to send yet (it may
    // hold nothing newer than the versions we presented).
    call.on("metadata", () => {
      if (this.call === call) this.markEstablished();
    });
    if (delta) call.on("data", (resp: DeltaDiscoveryResponse) => this.onDeltaResponse(resp));
    else call.on("data", (resp: DiscoveryResponse) => this.onResponse(resp));
    call.on("error", (err: grpc.ServiceError) => this.onStreamEnd(call, err.details || err.message));
    call.on("end", () => this.onStreamEnd(call, "stream ended"));
    // Re-subscribe every type with its last accepted version(s), and no nonce: it is a new stream.
    for (const t of PUSH_ORDER) {
      const st = this.state.get(t);
      if (st === undefined || (st.names !== undefined && st.names.size === 0)) continue;
      if (!delta) this.send(t, st.version, "", undefined);
      else {
        const initial: Record<string, string> = {};
        for (const [name, r] of st.resources) initial[name] = r.version;
        this.sendDelta(t, { subscribe: st.names === undefined ? [] : [...st.names].sort(), initial });
      }
    }
  }

  private markEstablished(): void {
    this.establishedAt ??= this.clock.now();
    this.connected.value = 1;
  }

  private onStreamEnd(call: Stream, reason: string): void {
    if (this.call !== call) return;
    this.call = undefined;
    this.connected.value = 0;
    if (this.closed) return;
    const upFor = this.establishedAt === undefined ? undefined : this.clock.now() - this.establishedAt;
    this.retry(upFor, reason);
  }

  /** Schedules the next attempt (the next endpoint; at once or after the backoff). */
  private retry(upForMs: number | undefined, reason: string): void {
    const from = this.rotation.current;
    const next = this.rotation.next(upForMs);
    if (next === undefined) {
      // No endpoint at all (e.g. a DNS cluster that resolved to nothing): look again later.
      const delay = 5_000;
      this.opts.log.error({ reason, retry_in_ms: delay }, "xDS cluster has no endpoint; keeping the last good config");
      this.reconnectTimer = setTimeout(() => this.start(), delay);
      return;
    }
    this.opts.log.warn(
      { reason, server: from, up_for_ms: upForMs === undefined ? null : Math.round(upForMs), next_server: next.target, retry_in_ms: next.delayMs },
      "xDS stream closed; keeping the last good config",
    );
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.openStream(next.target);
    }, next.delayMs);
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
    (call as grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>).write(req);
  }

  private sendDelta(
    typeUrl: TypeUrl,
    m: { subscribe?: string[]; unsubscribe?: string[]; initial?: Record<string, string>; nonce?: string; error?: string },
  ): void {
    const call = this.call;
    if (call === undefined) return;
    this.typeState(typeUrl).requested = true;
    const req: DeltaDiscoveryRequest = {
      node: this.nodeSent ? undefined : this.nodeMessage(),
      typeUrl,
      resourceNamesSubscribe: m.subscribe ?? [],
      resourceNamesUnsubscribe: m.unsubscribe ?? [],
      initialResourceVersions: m.initial ?? {},
      responseNonce: m.nonce ?? "",
      errorDetail: m.error === undefined ? undefined : { code: 3, message: m.error, details: [] },
    };
    this.nodeSent = true;
    (call as grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>).write(req);
  }

  private onDeltaResponse(resp: DeltaDiscoveryResponse): void {
    const items: Incoming[] = [];
    for (const r of resp.resources) if (r.resource !== undefined) items.push({ any: r.resource, version: r.version });
    this.apply(resp.typeUrl, resp.systemVersionInfo, resp.nonce, items, resp.removedResources);
  }

  private onResponse(resp: DiscoveryResponse): void {
    const items = resp.resources.map((any) => ({ any, version: resp.versionInfo }));
    this.apply(resp.typeUrl, resp.versionInfo, resp.nonce, items, undefined);
  }

  /**
   * Decodes and applies one response, then ACKs or NACKs it. `removed` lists the names the server
   * removed (delta); undefined means state of the world, where LDS and CDS resources a response does
   * not name are gone (RDS and EDS ones go when no longer referenced, through setSubscription).
   */
  private apply(typeUrlText: string, versionInfo: string, nonce: string, items: readonly Incoming[], removedNames: readonly string[] | undefined): void {
    this.markEstablished();
    this.rotation.healthy();
    const typeUrl = typeUrlText as TypeUrl;
    const stats = this.typeStats.get(typeUrl);
    if (stats === undefined) {
      this.opts.log.warn({ type_url: typeUrlText }, "xDS response for a type we did not ask for; ignored");
      return;
    }
    stats.attempt.inc();
    const st = this.typeState(typeUrl);
    st.nonce = nonce;
    const errors: string[] = [];
    const seen = new Set<string>();
    const changed = new Map<string, ResourceValues[typeof typeUrl]>();
    const now = new Date();
    items.forEach(({ any, version }, i) => {
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
      st.resources.set(d.name, { value: d.value, hash, version, updatedAt: now });
      changed.set(d.name, d.value);
    });
    const removed: string[] = [];
    if (removedNames !== undefined) {
      for (const name of removedNames) if (st.resources.delete(name)) removed.push(name);
    } else if (WILDCARD_TYPES.has(typeUrl)) {
      for (const name of st.resources.keys()) if (!seen.has(name)) removed.push(name);
      for (const name of removed) st.resources.delete(name);
    }
    if (changed.size > 0 || removed.length > 0) {
      stats.reload.inc();
      this.handler.onUpdate(typeUrl, changed, removed);
    }
    this.handler.onResponse?.(typeUrl);
    const delta = this.opts.delta;
    if (errors.length === 0) {
      st.version = versionInfo;
      st.lastError = undefined;
      stats.success.inc();
      if (delta) this.sendDelta(typeUrl, { nonce });
      else this.send(typeUrl, st.version, nonce, undefined);
    } else {
      const message = errors.join("; ");
      st.lastError = { message, at: now, version: versionInfo };
      stats.rejected.inc();
      this.opts.log.warn({ type: TYPE_SHORT[typeUrl], version: versionInfo, error: message }, "xDS update rejected (NACK)");
      if (delta) this.sendDelta(typeUrl, { nonce, error: message });
      else this.send(typeUrl, st.version, nonce, message);
    }
  }

  private nodeMessage(): Node {
    const n = this.opts.node;
    return {
      id: n.id,
      cluster: n.cluster,
      // `pilotfish.admin`: where the discovery server's dashboard reads this sidecar's /clusters (the
      // bootstrap's own node.metadata value, if any, wins: e.g. a pod IP when admin binds 0.0.0.0).
      metadata: { ...(this.opts.adminAddress !== undefined ? { "pilotfish.admin": this.opts.adminAddress } : {}), ...n.metadata },
      locality: { region: n.locality.region, zone: n.locality.zone, subZone: n.locality.subZone },
      userAgentName: "pilotfish",
      userAgentVersion: "0.1.0",
      clientFeatures: [],
    };
  }
}
