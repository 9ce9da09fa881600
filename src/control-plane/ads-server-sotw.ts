/**
 * One state-of-the-world ADS stream (StreamAggregatedResources).
 *
 * Per type URL the stream tracks the subscription, the last nonce sent and whether that response is
 * still unanswered. Rules (xds_protocol.rst, Envoy PR #14841, go-control-plane#962):
 * - a request carrying the last nonce is an ACK, or a NACK when error_detail is present; a request
 *   with an older nonce is stale and ignored entirely;
 * - a response goes out only when the client has answered the previous one of that type and what this
 *   stream would receive (subscription + resource versions) differs from what it was last sent;
 * - content the node NACKed is never sent to it again, on this stream or a later one, until the content
 *   changes; the exception is a client that announces no state at all (empty version_info on its first
 *   request: a restarted process), which would otherwise wait forever for any config;
 * - LDS/CDS carry every subscribed resource (all of them for a wildcard); RDS/EDS only the names asked
 *   for; several changed types go out in make-before-break order (CDS, EDS, LDS, RDS).
 */
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { DiscoveryRequest, DiscoveryResponse } from "../gen/envoy/service/discovery/v3/discovery.js";
import { PUSH_ORDER, TYPE_SHORT, type TypeUrl } from "../xds/type-urls.js";
import { failStream, isServedType, isWildcardType, onStreamFinished, type StreamContext } from "./ads-server-context.js";
import type { StreamRecord } from "./node-registry.js";
import type { Snapshot, SnapshotEntry } from "./snapshot.js";
import type { SnapshotWatch } from "./snapshot-cache.js";

/** Per-type state of one SotW stream. */
interface SotwTypeState {
  /** Explicitly subscribed names. */
  names: Set<string>;
  /** Subscribed to everything ("*", or the legacy empty list before any name was sent). */
  wildcard: boolean;
  /** Whether the client ever sent a non-empty resource_names (ends the legacy empty = wildcard rule). */
  everNamed: boolean;
  /** Nonce of the last response sent; undefined before the first. */
  nonce: string | undefined;
  /** A response was sent and neither ACKed nor NACKed yet. */
  awaiting: boolean;
  /** What the last response held (subscription + versions), to send only on change. */
  sentKey: string | undefined;
  /** version_info of the last response. */
  sentVersion: string;
  /** changedAt of the snapshot behind the last response, when it carried a mesh change. */
  sentChangeAt: number | undefined;
  /** The client's first request of this type carried a version_info (it holds some config). */
  clientHasState: boolean;
}

export class SotwStream {
  private record: StreamRecord | undefined;
  private watch: SnapshotWatch | undefined;
  private snapshot: Snapshot | undefined;
  private readonly types = new Map<TypeUrl, SotwTypeState>();
  private readonly openedAt = performance.now();
  private nonceCounter = 0;
  private closed = false;

  constructor(
    private readonly ctx: StreamContext,
    private readonly call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>,
  ) {
    call.on("data", (req: DiscoveryRequest) => this.onRequest(req));
    onStreamFinished(call, () => this.close());
  }

  private onRequest(req: DiscoveryRequest): void {
    if (this.closed) return;
    if (this.record === undefined) {
      if (req.node === undefined || req.node.id === "") {
        failStream(this.call, "the first DiscoveryRequest of a stream must carry node.id");
        return;
      }
      this.record = this.ctx.registry.open("sotw", req.node);
      this.ctx.log.info(
        { stream: this.record.streamId, node: req.node.id, cluster: req.node.cluster, user_agent: req.node.userAgentName },
        "ads stream opened",
      );
      this.watch = this.ctx.cache.watch(this.record.node, (s) => this.onSnapshot(s));
      this.snapshot = this.watch.snapshot;
    }
    const typeUrl = req.typeUrl;
    if (!isServedType(typeUrl)) {
      this.ctx.log.debug({ stream: this.record.streamId, type_url: typeUrl }, "request for an unserved type ignored");
      return;
    }
    let state = this.types.get(typeUrl);
    const first = state === undefined;
    if (state === undefined) {
      state = {
        names: new Set(),
        wildcard: false,
        everNamed: false,
        nonce: undefined,
        awaiting: false,
        sentKey: undefined,
        sentVersion: "",
        sentChangeAt: undefined,
        clientHasState: req.versionInfo !== "",
      };
      this.types.set(typeUrl, state);
    } else if (req.responseNonce !== state.nonce) {
      // Stale: the client has not seen our latest response yet and will answer it separately.
      return;
    } else if (state.awaiting) {
      this.onAnswer(typeUrl, state, req);
    }
    this.updateSubscription(typeUrl, state, req.resourceNames);
    this.maybeSend(typeUrl, state, first);
  }

  /** Records an ACK or NACK of the response whose nonce the request carries. */
  private onAnswer(typeUrl: TypeUrl, state: SotwTypeState, req: DiscoveryRequest): void {
    const record = this.record!;
    const status = this.ctx.registry.typeStatus(record, typeUrl);
    state.awaiting = false;
    if (req.errorDetail !== undefined) {
      const memory = this.ctx.registry.nackMemory(record.node.id).sotw;
      // error_detail, not the version, decides (Envoy PR #14841): grpc-js sends the new version in a
      // NACK whenever part of the response was valid.
      status.lastNack = { version: state.sentVersion, error: req.errorDetail.message, time: new Date().toISOString() };
      if (state.sentKey !== undefined) memory.set(typeUrl, state.sentKey);
      this.ctx.metrics.nacked(typeUrl);
      this.ctx.log.warn(
        { stream: record.streamId, node: record.node.id, type: TYPE_SHORT[typeUrl], version: state.sentVersion, error: req.errorDetail.message },
        "config NACKed; it will not be re-sent to this node until it changes",
      );
      return;
    }
    status.versionAcked = req.versionInfo;
    const memory = this.ctx.registry.peekNackMemory(record.node.id)?.sotw;
    if (memory !== undefined && memory.get(typeUrl) === state.sentKey) memory.delete(typeUrl);
    const latency = state.sentChangeAt !== undefined ? performance.now() - state.sentChangeAt : undefined;
    state.sentChangeAt = undefined;
    this.ctx.metrics.acked(typeUrl, latency);
  }

  private updateSubscription(typeUrl: TypeUrl, state: SotwTypeState, names: readonly string[]): void {
    const explicit = names.filter((n) => n !== "*");
    state.wildcard = names.includes("*") || (names.length === 0 && !state.everNamed && isWildcardType(typeUrl));
    if (names.length > 0) state.everNamed = true;
    state.names = new Set(explicit);
  }

  private onSnapshot(snapshot: Snapshot): void {
    if (this.closed) return;
    this.snapshot = snapshot;
    for (const typeUrl of PUSH_ORDER) {
      const state = this.types.get(typeUrl);
      if (state !== undefined) this.maybeSend(typeUrl, state, false);
    }
  }

  /** What this stream should hold of a type right now. */
  private select(typeUrl: TypeUrl, state: SotwTypeState): SnapshotEntry[] {
    const entries = this.snapshot!.types.get(typeUrl)!.entries;
    if (state.wildcard) return [...entries.values()];
    const out: SnapshotEntry[] = [];
    for (const name of [...state.names].sort()) {
      const e = entries.get(name);
      if (e !== undefined) out.push(e);
    }
    return out;
  }

  private maybeSend(typeUrl: TypeUrl, state: SotwTypeState, first: boolean): void {
    if (state.awaiting) return; // answered when the ACK/NACK of the outstanding response arrives
    const record = this.record!;
    const selected = this.select(typeUrl, state);
    // The key includes the subscription so that a new name is answered even when it does not exist
    // (for LDS/CDS an absent name in a response is how the client learns it does not exist).
    const h = createHash("sha256").update(state.wildcard ? "*" : [...state.names].sort().join("\0"));
    for (const e of selected) h.update("\n").update(e.name).update("\0").update(e.version);
    const key = h.digest("hex");
    if (!first && key === state.sentKey) return;
    const nacked = this.ctx.registry.peekNackMemory(record.node.id)?.sotw.get(typeUrl);
    if (key === nacked && (!first || state.clientHasState)) {
      state.sentKey = key;
      this.ctx.log.info({ stream: record.streamId, node: record.node.id, type: TYPE_SHORT[typeUrl] }, "withholding config this node NACKed");
      return;
    }
    const snapshot = this.snapshot!;
    const version = snapshot.types.get(typeUrl)!.version;
    const nonce = String(++this.nonceCounter);
    const response: DiscoveryResponse = {
      versionInfo: version,
      resources: selected.map((e) => e.resource),
      canary: false,
      typeUrl,
      nonce,
      controlPlane: { identifier: this.ctx.controlPlaneId },
    };
    state.nonce = nonce;
    state.awaiting = true;
    state.sentKey = key;
    state.sentVersion = version;
    // Latency is measured for mesh changes only, not for a node's initial fetch.
    state.sentChangeAt = snapshot.changedAt >= this.openedAt ? snapshot.changedAt : undefined;
    this.ctx.registry.typeStatus(record, typeUrl).versionSent = version;
    this.ctx.metrics.pushed(typeUrl);
    this.call.write(response);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch?.release();
    if (this.record !== undefined) {
      this.ctx.registry.close(this.record);
      this.ctx.log.info({ stream: this.record.streamId, node: this.record.node.id }, "ads stream closed");
    }
  }
}
