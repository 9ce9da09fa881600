/**
 * What a SotW and a delta ADS stream do alike: identify the node from the first request, watch its
 * snapshot, filter unserved types, number nonces, record what was sent, ACKed and NACKed (registry
 * status for /nodes, metrics, logs), and release everything when the stream ends. The protocol
 * differences (what is sent, how an answer is matched to a response, what a NACK is remembered as) stay
 * in ads-server-sotw.ts and delta-stream.ts.
 */
import { performance } from "node:perf_hooks";
import { Metadata, type ServerDuplexStream } from "@grpc/grpc-js";
import type { Node } from "../gen/envoy/config/core/v3/base.js";
import { PUSH_ORDER, TYPE_SHORT, type TypeUrl } from "../xds/type-urls.js";
import { failStream, isServedType, onStreamFinished, type StreamContext } from "./ads-server-context.js";
import type { StreamKind, StreamRecord } from "./node-registry.js";
import type { Snapshot } from "./snapshot.js";
import type { SnapshotWatch } from "./snapshot-cache.js";
import type { PushSpan } from "../telemetry/push-tracer.js";

/** The fields of a SotW or delta request the session reads. */
interface AdsRequest {
  readonly node?: Node | undefined;
  readonly typeUrl: string;
}

/** Wording that differs between the two kinds of stream (logs and the first-request error). */
const WORDING: Record<StreamKind, { request: string; stream: string; nacked: string }> = {
  sotw: {
    request: "DiscoveryRequest",
    stream: "ads stream",
    nacked: "config NACKed; it will not be re-sent to this node until it changes",
  },
  delta: {
    request: "DeltaDiscoveryRequest",
    stream: "delta ads stream",
    nacked: "delta config NACKed; those resource versions will not be re-sent to this node",
  },
};

export class AdsStreamSession<Req extends AdsRequest, Res> {
  /** The registry entry, once the first request named the node. */
  private recordValue: StreamRecord | undefined;
  private watch: SnapshotWatch | undefined;
  private snapshotValue: Snapshot | undefined;
  private readonly openedAt = performance.now();
  private nonceCounter = 0;
  private closed = false;
  /** Pushes waiting for their ACK or NACK, when pushes are traced. */
  private readonly pushSpans = new Map<TypeUrl, PushSpan>();

  /**
   * @param onRequest a request of a served type, after the node is known
   * @param onSnapshotType for every type in make-before-break order when the node's snapshot changed
   */
  constructor(
    readonly ctx: StreamContext,
    private readonly call: ServerDuplexStream<Req, Res>,
    private readonly kind: StreamKind,
    onRequest: (typeUrl: TypeUrl, req: Req) => void,
    private readonly onSnapshotType: (typeUrl: TypeUrl) => void,
  ) {
    // Response headers now rather than with the first response: a client reconnecting with versions
    // this server would not change may get no response for a long time, and headers tell it the
    // stream is up (connected_state, and whether a later break deserves an immediate reconnect).
    call.sendMetadata(new Metadata());
    call.on("data", (req: Req) => {
      const typeUrl = this.accept(req);
      if (typeUrl !== undefined) onRequest(typeUrl, req);
    });
    onStreamFinished(call, () => this.close());
  }

  /** The stream's registry entry (valid once a request was accepted). */
  get record(): StreamRecord {
    return this.recordValue!;
  }

  /** The node's current snapshot (valid once a request was accepted). */
  get snapshot(): Snapshot {
    return this.snapshotValue!;
  }

  /** Identifies the node on the first request; returns the type URL of a request to handle. */
  private accept(req: Req): TypeUrl | undefined {
    if (this.closed) return undefined;
    if (this.recordValue === undefined) {
      const wording = WORDING[this.kind];
      if (req.node === undefined || req.node.id === "") {
        failStream(this.call, `the first ${wording.request} of a stream must carry node.id`);
        return undefined;
      }
      this.recordValue = this.ctx.registry.open(this.kind, req.node);
      this.ctx.log.info(
        { stream: this.recordValue.streamId, node: req.node.id, cluster: req.node.cluster, user_agent: req.node.userAgentName },
        `${wording.stream} opened`,
      );
      this.watch = this.ctx.cache.watch(this.recordValue.node, (s) => this.onSnapshot(s));
      this.snapshotValue = this.watch.snapshot;
    }
    const typeUrl = req.typeUrl;
    if (!isServedType(typeUrl)) {
      this.ctx.log.debug({ stream: this.recordValue.streamId, type_url: typeUrl }, "request for an unserved type ignored");
      return undefined;
    }
    return typeUrl;
  }

  private onSnapshot(snapshot: Snapshot): void {
    if (this.closed) return;
    this.snapshotValue = snapshot;
    for (const typeUrl of PUSH_ORDER) this.onSnapshotType(typeUrl);
  }

  /** A fresh nonce for a response of this stream. */
  nextNonce(): string {
    return String(++this.nonceCounter);
  }

  /** The start of the push-latency measurement for a response built from `snapshot`: mesh changes only, not the initial fetch. */
  changeAt(snapshot: Snapshot): number | undefined {
    return snapshot.changedAt >= this.openedAt ? snapshot.changedAt : undefined;
  }

  /** Records and writes a response carrying `version` (version_info / system_version_info). */
  send(typeUrl: TypeUrl, version: string, response: Res): void {
    this.ctx.registry.typeStatus(this.record, typeUrl).versionSent = version;
    const tracer = this.ctx.pushTracer;
    if (tracer !== undefined) {
      this.pushSpans.get(typeUrl)?.end("superseded");
      const node = this.record.node;
      this.pushSpans.set(typeUrl, tracer.start({ nodeId: node.id, nodeCluster: node.cluster, stream: this.kind }, typeUrl, version));
    }
    this.ctx.metrics.pushed(typeUrl);
    this.call.write(response);
  }

  /**
   * Records that the client already holds `version` (it presented it on a new stream and nothing
   * newer is due), as /nodes shows an ACK; no push happened, so no metrics or spans.
   */
  holds(typeUrl: TypeUrl, version: string): void {
    this.ctx.registry.typeStatus(this.record, typeUrl).versionAcked = version;
  }

  /** Records an ACK: `version` is what /nodes shows as ACKed; `changeAt` from the acknowledged response. */
  acked(typeUrl: TypeUrl, version: string, changeAt: number | undefined): void {
    this.ctx.registry.typeStatus(this.record, typeUrl).versionAcked = version;
    this.pushSpans.get(typeUrl)?.end("ack");
    this.pushSpans.delete(typeUrl);
    this.ctx.metrics.acked(typeUrl, changeAt !== undefined ? performance.now() - changeAt : undefined);
  }

  /** Records a NACK of the response that carried `version` (the caller remembers what was rejected). */
  nacked(typeUrl: TypeUrl, version: string, error: string): void {
    const record = this.record;
    this.pushSpans.get(typeUrl)?.end("nack", error);
    this.pushSpans.delete(typeUrl);
    this.ctx.registry.typeStatus(record, typeUrl).lastNack = { version, error, time: new Date().toISOString() };
    this.ctx.metrics.nacked(typeUrl);
    this.ctx.log.warn(
      { stream: record.streamId, node: record.node.id, type: TYPE_SHORT[typeUrl], version, error },
      WORDING[this.kind].nacked,
    );
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const span of this.pushSpans.values()) span.end("closed");
    this.pushSpans.clear();
    this.watch?.release();
    if (this.recordValue !== undefined) {
      this.ctx.registry.close(this.recordValue);
      this.ctx.log.info({ stream: this.recordValue.streamId, node: this.recordValue.node.id }, `${WORDING[this.kind].stream} closed`);
    }
  }
}
