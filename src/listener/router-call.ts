/**
 * The router filter's work for one request: route, pick a host, open an upstream stream, move bytes
 * both ways with backpressure, retry when the policy says so, and answer locally when it must.
 *
 * Every attempt ends in endAttempt() and the request in complete(): those two are the only places
 * that settle active counts, host counters and timers, whatever path the request took (success,
 * error, reset, cancel, timeout, retry).
 *
 * Upstream stream events are dispatched through shared functions that find the call on the stream
 * (no closures per attempt), and events from an abandoned attempt are ignored by identity. Our own
 * HTTP/2 streams (both halves) skip listeners altogether: they call the RouterCall as their sink.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
import type { Socket } from "node:net";
import type { RouteAction } from "../config/model.js";
import { applyHeaderOps } from "../router/header-mutation.js";
import { backoffMs, parseGrpcStatus, retryableOutcome, type AttemptOutcome } from "../router/retry-policy.js";
import { RESET_OUTCOME, CONNECT_FAILURE_OUTCOME, REFUSED_STREAM_OUTCOME, PER_TRY_TIMEOUT_OUTCOME } from "../router/retry-policy.js";
import type { MatchedRoute } from "../router/route-table.js";
import { effectiveTimeoutMs, formatGrpcTimeout, parseGrpcTimeout } from "../router/timeouts.js";
import { countStatusClass } from "../upstream/cluster-stats.js";
import type { Cluster } from "../upstream/cluster.js";
import type { Host } from "../upstream/host.js";
import { AttemptResult, responseResult } from "../outlier/result.js";
import type { PoolFailure, PoolWaiter, UpstreamStream } from "../upstream/upstream-pool.js";
import type { FilterRequest } from "../filters/http-filter.js";
import type { ConnectionManager } from "./connection-manager.js";
import { grpcStatusOf } from "../telemetry/request-record.js";
import type { RequestTrace } from "../telemetry/telemetry.js";
import { H1Downstream, H2Downstream, type Downstream } from "./downstream.js";
import { RawH2ServerStream, type RawH2ServerStreamSink } from "./raw-h2/raw-h2-server-stream.js";
import { RawH2Stream, type RawH2StreamSink } from "../upstream/raw-h2/raw-h2-stream.js";
import { Grpc, ResponseFlag } from "./response-flags.js";
import { peerIdentity, type PeerIdentity } from "../security/peer-identity.js";
import { nodeCrypto } from "../common/lazy-require.js";

const NGHTTP2_NO_ERROR = 0;
const NGHTTP2_INTERNAL_ERROR = 2;
const NGHTTP2_REFUSED_STREAM = 7;
const NGHTTP2_CANCEL = 8;
const END_STREAM = 0x1;

/** Bytes of request body kept for replay by retries (Envoy's per-request buffer default is 1 MiB). */
export const RETRY_BUFFER_LIMIT = 1024 * 1024;

/** Refused streams (never processed by the peer) are replayed this many times outside the retry budget. */
const MAX_TRANSPARENT_REPLAYS = 3;
const UF_DETAIL = "upstream connect error or disconnect/reset before headers. reset reason: connection failure";
/** Envoy appends the transport failure reason when the upstream TLS handshake or verification failed. */
const UF_TLS_DETAIL = `${UF_DETAIL}, transport failure reason: TLS error`;

/** Request headers never forwarded as is (hop-by-hop, or rebuilt per attempt). */
const HOP_BY_HOP_REQUEST = new Set([
  "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "http2-settings", "host", "te",
]);
/** Response headers never forwarded. */
const HOP_BY_HOP_RESPONSE = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

const kCall = Symbol("pilotfish.call");
/** Ends a response that was kept open for trailers the upstream did not send. */
const NO_TRAILERS: OutgoingHttpHeaders = Object.freeze({});
type TaggedStream = UpstreamStream & { [kCall]?: RouterCall | undefined };
/** A downstream object (HTTP/2 stream, HTTP/1.1 request or response) that knows its call. */
type TaggedEmitter = object & { [kCall]?: RouterCall | undefined };

// Downstream events, dispatched like the upstream ones: one shared function per event, the call
// found on the emitter, so that a request allocates no listener closures.
function onDsData(this: TaggedEmitter, chunk: Buffer): void {
  this[kCall]?.onReqData(chunk);
}
function onDsEnd(this: TaggedEmitter): void {
  this[kCall]?.onReqEnd();
}
function onDsClose(this: TaggedEmitter): void {
  this[kCall]?.onDownstreamClose();
}
function onDsWantTrailers(this: TaggedEmitter): void {
  this[kCall]?.onWantTrailers();
}
function onUpDrain(this: TaggedStream): void {
  this[kCall]?.resumeReq();
}
// Timer and immediate callbacks get the call as their argument instead of a bound closure.
function fireTimeout(call: RouterCall): void {
  call.onTimeout();
}
function firePerTryTimeout(call: RouterCall): void {
  call.onPerTryTimeout();
}
function forwardReqEndSoon(call: RouterCall): void {
  call.forwardReqEndSoon();
}
function forwardReqEnd(call: RouterCall): void {
  call.forwardReqEnd();
}

/**
 * Routes the downstream's close (and, on HTTP/2, 'wantTrailers') to `call` through shared listeners.
 * `closer` is the object whose 'close' means the downstream went away (the HTTP/2 stream, or the
 * HTTP/1.1 response).
 */
export function attachDownstream(call: RouterCall, closer: NodeJS.EventEmitter, wantsTrailers: boolean): void {
  (closer as TaggedEmitter)[kCall] = call;
  closer.on("close", onDsClose);
  if (wantsTrailers) closer.on("wantTrailers", onDsWantTrailers);
}

function onUpResponse(this: TaggedStream, headers: IncomingHttpHeaders, flags: number): void {
  this[kCall]?.onUpResponse(this, headers, flags);
}
function onUpData(this: TaggedStream, chunk: Buffer): void {
  this[kCall]?.onUpData(this, chunk);
}
function onUpTrailers(this: TaggedStream, trailers: IncomingHttpHeaders): void {
  this[kCall]?.onUpTrailers(this, trailers);
}
function onUpEnd(this: TaggedStream): void {
  this[kCall]?.onUpEnd(this);
}
function onUpClose(this: TaggedStream): void {
  this[kCall]?.onUpClose(this);
}
function ignoreError(): void {
  // Stream errors are handled through 'close' (rstCode) so that each attempt settles once.
}

/** Percent-encodes a grpc-message as the gRPC spec asks. */
export function encodeGrpcMessage(msg: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(msg) ? msg : encodeURIComponent(msg);
}

/** One request through the router. */
export class RouterCall implements PoolWaiter, FilterRequest, RawH2StreamSink, RawH2ServerStreamSink {
  /** Response flag, for stats and the access log. */
  flag: ResponseFlag | "" = "";
  private route: MatchedRoute | undefined;
  private action: RouteAction | undefined;
  private cluster: Cluster | undefined;
  private upHeaders: OutgoingHttpHeaders = {};
  private up: TaggedStream | null = null;
  private host: Host | null = null;
  /** The first attempt's host; `tried` (every attempt's host, in order) is allocated when a second attempt starts. */
  private firstTried: Host | null = null;
  private tried: Host[] | undefined;
  private retriesLeft = 0;
  private transparentReplays = 0;
  private waitingForPool = false;
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private bodySentThisAttempt = 0;
  private replayable: boolean;
  private reqEnded: boolean;
  private deadlineAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private perTryTimer: NodeJS.Timeout | undefined;
  private responseStarted = false;
  private wantTrailers = false;
  private trailers: OutgoingHttpHeaders | undefined;
  private done = false;
  private status = 0;
  /** grpc-status of the upstream's response headers (trailers-only responses), for outlier detection. */
  private upGrpcStatus: string | string[] | undefined;
  /** Telemetry (only with tracing or an access log): the request's spans, arrival times, grpc-status seen, bytes sent. */
  readonly trace: RequestTrace | undefined;
  startTimeMs = 0;
  startPerfMs = 0;
  private grpcStatusSeen: string | string[] | number | undefined;
  private respBytes = 0;
  private peer: string | undefined;
  private peerId: PeerIdentity | undefined;
  /** performance.now() when the current attempt started (cluster upstream_rq_time). */
  private attemptStartedAt = 0;
  /** Coarse time of the last body activity either way, for the HCM's stream idle sweep. */
  activeAt = 0;
  /** The idle sweep's list links (StreamIdleSweep owns them). */
  idlePrev: RouterCall | null = null;
  idleNext: RouterCall | null = null;

  constructor(
    private readonly cm: ConnectionManager,
    private readonly ds: Downstream,
    private readonly reqHeaders: IncomingHttpHeaders,
    readonly isGrpc: boolean,
    endStream: boolean,
  ) {
    this.reqEnded = endStream;
    this.replayable = true;
    const t = cm.telemetry;
    if (t !== undefined) {
      this.startTimeMs = Date.now();
      this.startPerfMs = performance.now();
      // Read now: a closed HTTP/2 stream no longer knows its session.
      this.peer = downstreamAddress(ds);
      this.peerId = peerIdentity(downstreamSocket(ds));
      this.trace = t.tracer?.start(reqHeaders, isGrpc, this.peer, this.peerId?.principal);
    }
  }

  // ------------------------------------------------------------------------------------------ RequestRecord (telemetry)

  get requestHeaders(): IncomingHttpHeaders {
    return this.reqHeaders;
  }
  get responseStatus(): number {
    return this.status;
  }
  get grpcStatus(): number | undefined {
    return this.isGrpc ? grpcStatusOf(this.trailers?.["grpc-status"] ?? this.grpcStatusSeen) : undefined;
  }
  get bytesReceived(): number {
    return this.bodyBytes;
  }
  get bytesSent(): number {
    return this.respBytes;
  }
  get upstreamCluster(): string | undefined {
    return this.cluster?.name;
  }
  get upstreamHost(): string | undefined {
    return (this.host ?? this.tried?.[this.tried.length - 1] ?? this.firstTried)?.key;
  }
  get retryCount(): number {
    return this.tried === undefined ? 0 : this.tried.length - 1;
  }
  get requestId(): string | undefined {
    const id = this.upHeaders["x-request-id"] ?? this.reqHeaders["x-request-id"];
    return typeof id === "string" ? id : undefined;
  }
  get downstreamAddress(): string | undefined {
    return this.peer;
  }
  get protocol(): string {
    return downstreamProtocol(this.ds);
  }
  /** FilterRequest: the downstream connection's socket. */
  get downstreamSocket(): Socket | undefined {
    return downstreamSocket(this.ds);
  }
  get downstreamPeerUriSan(): string | undefined {
    const id = this.peerId;
    return id === undefined || id.uriSans.length === 0 ? undefined : id.uriSans.join(",");
  }

  /** Routes the request and starts the first attempt. */
  start(): void {
    const cm = this.cm;
    const h = this.reqHeaders;
    const path = (h[":path"]) ?? "/";
    const authority = (h[":authority"]) ?? (h.host) ?? "";
    const ds = this.ds;
    if (ds instanceof RawH2ServerStream) {
      ds.sink = this;
    } else {
      const body = ds.body;
      (body as TaggedEmitter)[kCall] = this;
      body.on("data", onDsData);
      body.on("end", onDsEnd);
    }

    const route = cm.routeTable.match(authority, path, h);
    // Filters before the router see the selected route (for typed_per_filter_config), as in Envoy.
    const filters = cm.filters;
    for (let i = 0; i < filters.length; i++) {
      const reply = filters[i].onRequest(this, route);
      if (reply !== undefined) return this.localReply(reply.httpStatus, reply.grpcStatus, reply.flag, reply.message);
    }
    if (route === undefined) {
      cm.stats.noRoute.inc();
      return this.localReply(404, Grpc.UNIMPLEMENTED, ResponseFlag.NR, "no route");
    }
    this.route = route;
    const action = route.action;
    if (action.kind === "direct") {
      cm.stats.directResponse.inc();
      this.flag = ResponseFlag.DR;
      this.respondDirect(action.status, action.body);
      return;
    }
    this.action = action;
    const clusterName = route.pickCluster(cm.random);
    const cluster = cm.clusters.get(clusterName);
    if (cluster === undefined) {
      return this.localReply(503, Grpc.UNAVAILABLE, ResponseFlag.NC, `cluster not found: ${clusterName}`);
    }
    if (this.isGrpc && cluster.config.protocol === "http1") {
      return this.localReply(500, Grpc.INTERNAL, "", `cluster '${clusterName}' speaks HTTP/1.1 and cannot carry gRPC`);
    }
    if (cluster.activeRequests >= cluster.config.circuitBreakers.maxRequests) {
      cluster.stats.rqPendingOverflow.inc();
      return this.localReply(503, Grpc.UNAVAILABLE, ResponseFlag.UO, "upstream overflow");
    }
    this.cluster = cluster;
    cluster.activeRequests++;
    cluster.stats.rqActive.value++;
    cluster.stats.rqTotal.inc();

    const policy = route.retryPolicy;
    this.retriesLeft = policy?.numRetries ?? 0;
    const grpcTimeout = this.isGrpc ? parseGrpcTimeout(h["grpc-timeout"] as string | undefined) : undefined;
    const timeout = effectiveTimeoutMs(action, this.isGrpc, grpcTimeout, cm.config.maxStreamDurationMs);
    if (timeout > 0) {
      this.deadlineAt = performance.now() + timeout;
      this.timer = setTimeout(fireTimeout, timeout, this);
    }
    this.upHeaders = this.buildUpstreamHeaders(path, authority);
    this.attempt();
  }

  // ------------------------------------------------------------------------------------------ attempts

  private attempt(): void {
    const cluster = this.cluster!;
    const first = this.firstTried;
    const host = cluster.pick(this.tried ?? (first === null ? undefined : (this.tried = [first])));
    if (host === undefined) {
      cluster.stats.noHealthyHost.inc();
      return this.fail(503, Grpc.UNAVAILABLE, ResponseFlag.UH, "no healthy upstream");
    }
    this.host = host;
    host.activeRequests++;
    host.stats.rqTotal++;
    this.bodySentThisAttempt = 0;
    const hdrs = this.upHeaders;
    if (this.action!.hostRewrite.kind === "endpoint") hdrs[":authority"] = host.hostname ?? host.key;
    if (this.deadlineAt > 0 && this.isGrpc) {
      hdrs["grpc-timeout"] = formatGrpcTimeout(Math.max(1, this.deadlineAt - performance.now()));
    }
    this.trace?.startAttempt(hdrs, cluster.name, host.address.address, host.address.port);
    this.attemptStartedAt = performance.now();
    const perTry = this.route!.retryPolicy?.perTryTimeoutMs ?? 0;
    if (perTry > 0) this.perTryTimer = setTimeout(firePerTryTimeout, perTry, this);
    this.waitingForPool = true;
    if (!this.reqEnded || this.body.length > 0) this.ds.body.pause();
    host.pool.request(hdrs, this.reqEnded && this.body.length === 0, this);
  }

  /** PoolWaiter: a stream is open for the current attempt. */
  onPoolReady(stream: UpstreamStream): void {
    this.waitingForPool = false;
    if (this.done) {
      stream.close(NGHTTP2_CANCEL);
      return;
    }
    const up = stream as TaggedStream;
    this.up = up;
    // The tag also serves 'drain' (an event on every kind of stream; it only fires under backpressure).
    up[kCall] = this;
    if (up instanceof RawH2Stream) {
      up.sink = this;
    } else {
      up.on("response", onUpResponse);
      up.on("data", onUpData);
      up.on("trailers", onUpTrailers);
      up.on("end", onUpEnd);
      up.on("close", onUpClose);
      up.on("error", ignoreError);
    }
    const chunks = this.body;
    for (let i = 0; i < chunks.length; i++) {
      up.write(chunks[i]);
      this.bodySentThisAttempt += chunks[i].length;
    }
    if (!this.replayable) this.body = [];
    if (this.reqEnded) {
      if (chunks.length > 0) up.end();
    } else {
      this.ds.body.resume();
    }
  }

  /** PoolWaiter: no stream will come. */
  onPoolFailure(reason: PoolFailure): void {
    this.waitingForPool = false;
    if (this.done) return;
    if (reason === "overflow") {
      this.cluster!.stats.rqPendingOverflow.inc();
      this.endAttempt(false);
      return this.fail(503, Grpc.UNAVAILABLE, ResponseFlag.UO, "upstream pending overflow");
    }
    this.endAttempt(false, reason === "closed" ? AttemptResult.NONE : AttemptResult.LOCAL_CONNECT_FAILED);
    // A pool closed under us (its host just left the cluster) never saw the request: pick again.
    if (this.maybeRetry(reason === "closed" ? REFUSED_STREAM_OUTCOME : CONNECT_FAILURE_OUTCOME)) return;
    this.fail(503, Grpc.UNAVAILABLE, ResponseFlag.UF, reason === "tls-failure" ? UF_TLS_DETAIL : UF_DETAIL);
  }

  /** Settles the current attempt: host count, counters, per-try timer; detaches the stream. */
  private endAttempt(success: boolean, result: AttemptResult = AttemptResult.NONE): void {
    const host = this.host;
    if (host === null) return;
    host.recordResult(result);
    this.trace?.endAttempt(success, this.done ? this : undefined);
    this.host = null;
    host.activeRequests--;
    if (success) host.stats.rqSuccess++;
    else host.stats.rqError++;
    if (this.perTryTimer !== undefined) {
      clearTimeout(this.perTryTimer);
      this.perTryTimer = undefined;
    }
    if (this.waitingForPool) {
      host.pool.cancel(this);
      this.waitingForPool = false;
    }
    const up = this.up;
    if (up !== null) {
      up[kCall] = undefined;
      if (up instanceof RawH2Stream) up.sink = null;
      this.up = null;
    }
    if (this.tried !== undefined) this.tried.push(host);
    else this.firstTried = host;
  }

  /** Starts another attempt when the policy, the budget and the body allow; true if it did. */
  private maybeRetry(outcome: AttemptOutcome): boolean {
    const kind = this.retryKind(outcome);
    if (kind === undefined) return false;
    this.startRetry(kind);
    return true;
  }

  /**
   * Whether another attempt may follow `outcome`, and how: a refused stream (never processed by the
   * peer) is replayed transparently a few times; anything else follows the route's retry policy.
   */
  private retryKind(outcome: AttemptOutcome): "transparent" | "policy" | undefined {
    const canReplay = this.replayable || this.bodySentThisAttempt === 0;
    if (!canReplay || this.ds.closed) return undefined;
    if (outcome === REFUSED_STREAM_OUTCOME && this.transparentReplays < MAX_TRANSPARENT_REPLAYS) return "transparent";
    const policy = this.route!.retryPolicy;
    if (policy === undefined || !retryableOutcome(policy, outcome)) return undefined;
    const cluster = this.cluster!;
    if (this.retriesLeft <= 0) {
      cluster.stats.rqRetryLimitExceeded.inc();
      this.flag = ResponseFlag.URX;
      return undefined;
    }
    if (cluster.activeRetries >= cluster.config.circuitBreakers.maxRetries) return undefined;
    return "policy";
  }

  private startRetry(kind: "transparent" | "policy"): void {
    if (kind === "transparent") {
      this.transparentReplays++;
      this.attempt();
      return;
    }
    const cluster = this.cluster!;
    const policy = this.route!.retryPolicy!;
    this.retriesLeft--;
    cluster.stats.rqRetry.inc();
    cluster.activeRetries++;
    const attemptNo = policy.numRetries - this.retriesLeft;
    const delay = backoffMs(attemptNo, policy.backoffBaseMs, policy.backoffMaxMs, this.cm.random);
    setTimeout(() => {
      cluster.activeRetries--;
      if (!this.done) this.attempt();
    }, delay);
  }

  // ------------------------------------------------------------------------------------------ request body

  /** Downstream body bytes. */
  onReqData(chunk: Buffer): void {
    // A raw stream keeps its sink after complete() (for 'wantTrailers'); what it delivers then is dropped.
    if (this.done) return;
    this.bodyBytes += chunk.length;
    this.activeAt = this.cm.idleSweep.now;
    const up = this.up;
    if (up !== null) {
      this.bodySentThisAttempt += chunk.length;
      if (this.replayable) this.body.push(chunk);
      if (!up.write(chunk)) {
        this.ds.body.pause();
        up.once("drain", onUpDrain);
      }
    } else {
      this.body.push(chunk);
      this.ds.body.pause();
    }
    if (this.replayable && this.bodyBytes > RETRY_BUFFER_LIMIT) {
      this.replayable = false;
      // Chunks already sent need not be kept; unsent ones (no stream yet) must stay.
      if (up !== null) this.body = [];
    }
  }

  /** The upstream stream drained: take more request body. */
  resumeReq(): void {
    if (!this.done) this.ds.body.resume();
  }

  /** Downstream request body finished. */
  onReqEnd(): void {
    if (this.reqEnded) return;
    this.reqEnded = true;
    // Our HTTP/2 server reports a reset before anything that follows it: the end is final.
    if (this.ds.endIsFinal) return this.forwardReqEnd();
    // node ends a reset stream's readable side before it reports the reset, which its native side
    // defers to a later loop iteration: wait two turns so that a client's cancel reaches the upstream
    // as RST_STREAM, never as END_STREAM.
    setImmediate(forwardReqEndSoon, this);
  }

  /** First loop turn after the request body's end. */
  forwardReqEndSoon(): void {
    if (!this.done) setImmediate(forwardReqEnd, this);
  }

  /** Second loop turn after the request body's end: a reset has surfaced by now, if there was one. */
  forwardReqEnd(): void {
    if (this.done) return;
    if (this.ds.aborted) this.onDownstreamClose();
    else this.up?.end();
  }

  // ------------------------------------------------------------------------------------------ response

  /** Upstream response headers. */
  onUpResponse(up: TaggedStream, headers: IncomingHttpHeaders, flags: number): void {
    const status = Number(headers[":status"]);
    if (this.isGrpc) this.grpcStatusSeen = headers["grpc-status"];
    this.trace?.upstreamResponse(status, grpcStatusOf(headers["grpc-status"]), up.session);
    const policy = this.route!.retryPolicy;
    if (policy !== undefined && !this.responseStarted) {
      const grpcInHeaders = this.isGrpc ? parseGrpcStatus(headers["grpc-status"]) : undefined;
      if (status >= 400 || (grpcInHeaders !== undefined && grpcInHeaders !== 0)) {
        const outcome: AttemptOutcome = { kind: "response", httpStatus: status, grpcStatusInHeaders: grpcInHeaders };
        // Only drop the response once another attempt will surely follow; otherwise it goes through.
        const kind = this.retryKind(outcome);
        if (kind !== undefined) {
          this.endAttempt(false, responseResult(status, headers["grpc-status"]));
          up.close(NGHTTP2_CANCEL);
          this.startRetry(kind);
          return;
        }
      }
    }
    this.responseStarted = true;
    // No attempt follows a started response, so the replay buffer has no further use.
    this.replayable = false;
    if (this.body.length > 0) this.body = [];
    this.status = status;
    this.upGrpcStatus = headers["grpc-status"];
    countStatusClass(this.cluster!.stats, status);
    if (this.ds.closed) return;
    // The codec hands each response a fresh headers object that nothing else keeps: it is forwarded as
    // is, hop-by-hop fields (rare) deleted in place, rather than copied for every response.
    const out = headers as OutgoingHttpHeaders;
    for (const k in headers) if (HOP_BY_HOP_RESPONSE.has(k)) delete out[k];
    const ops = this.route!.headerMutations.response;
    if (ops.length > 0) applyHeaderOps(ops, out);
    const endStream = (flags & END_STREAM) !== 0;
    this.wantTrailers =
      !endStream && this.ds.canTrailers && (this.isGrpc || headers.trailer !== undefined || this.reqHeaders.te === "trailers");
    this.cm.countResponse(status);
    this.ds.respond(out, endStream, this.wantTrailers);
    if (endStream) this.complete(status < 500);
  }

  /** Upstream body bytes. */
  onUpData(up: TaggedStream, chunk: Buffer): void {
    if (this.ds.closed) return;
    this.activeAt = this.cm.idleSweep.now;
    this.respBytes += chunk.length;
    if (!this.ds.write(chunk)) {
      up.pause();
      this.ds.onceDrain(() => up.resume());
    }
  }

  /** Upstream trailers (arrive before 'end'). */
  onUpTrailers(_up: TaggedStream, trailers: IncomingHttpHeaders): void {
    // A fresh object per trailer block, as for the response headers: pseudo-fields deleted in place.
    for (const k in trailers) if (k.charCodeAt(0) === 58) delete trailers[k];
    this.trailers = trailers;
  }

  /** Upstream finished its response. */
  onUpEnd(_up: TaggedStream): void {
    if (this.done || !this.responseStarted) return;
    if (this.isGrpc && this.wantTrailers && this.trailers === undefined) {
      // A gRPC response always ends in trailers; an end without them is a connection that died
      // mid-response (node ends its streams as if cleanly). UNAVAILABLE, as for any upstream reset.
      this.flag = ResponseFlag.UC;
      this.failStarted(Grpc.UNAVAILABLE, "upstream connection closed before the response's trailers");
      this.complete(false);
      return;
    }
    if (!this.ds.closed) this.ds.end();
    this.complete(this.status < 500);
  }

  /**
   * Sent by the downstream when it is ready for trailers (responded with waitForTrailers). An upstream
   * that sent none still gets its response ended cleanly: node:http2's stream.close(NO_ERROR) here never
   * finished when the last write and end() ran in the same tick (the client waited forever).
   */
  onWantTrailers(): void {
    this.ds.sendTrailers(this.trailers ?? NO_TRAILERS);
  }

  /** Upstream stream closed (normally after 'end', otherwise a reset or a dead connection). */
  onUpClose(up: TaggedStream): void {
    if (this.done || up !== this.up) return;
    let rst = up.rstCode ?? NGHTTP2_INTERNAL_ERROR;
    // node reports streams of a connection that died as CANCEL; that is a dead upstream, not a
    // cancellation the upstream chose, so it must not reach the client as CANCELLED.
    if (rst === NGHTTP2_CANCEL && up.session === undefined) rst = NGHTTP2_INTERNAL_ERROR;
    if (this.responseStarted) {
      if (rst === NGHTTP2_NO_ERROR) {
        // Closed cleanly with the body still buffered: 'end' follows; nothing to settle here.
        return;
      }
      this.flag = rst === NGHTTP2_CANCEL ? ResponseFlag.UR : ResponseFlag.UC;
      this.cluster!.stats.rqRxReset.inc();
      if (rst === NGHTTP2_CANCEL) this.ds.reset(NGHTTP2_CANCEL);
      else this.failStarted(Grpc.UNAVAILABLE, "upstream reset after response started");
      this.endAttempt(false, AttemptResult.LOCAL_RESET);
      this.complete(false);
      return;
    }
    let outcome: AttemptOutcome;
    let flag: ResponseFlag;
    if (up.connectFailed === true) {
      outcome = CONNECT_FAILURE_OUTCOME;
      flag = ResponseFlag.UF;
    } else if (rst === NGHTTP2_REFUSED_STREAM) {
      outcome = REFUSED_STREAM_OUTCOME;
      flag = ResponseFlag.UR;
    } else {
      outcome = RESET_OUTCOME;
      flag = rst === NGHTTP2_CANCEL ? ResponseFlag.UR : ResponseFlag.UC;
      this.cluster!.stats.rqRxReset.inc();
    }
    this.endAttempt(false, up.connectFailed === true ? AttemptResult.LOCAL_CONNECT_FAILED : AttemptResult.LOCAL_RESET);
    if (this.maybeRetry(outcome)) return;
    this.fail(503, Grpc.UNAVAILABLE, flag, "upstream connect error or disconnect/reset before headers");
  }

  // ------------------------------------------------------------------------------------------ timeouts

  /** The route's (or gRPC deadline's) timeout fired. */
  onTimeout(): void {
    this.timer = undefined;
    if (this.done) return;
    this.cluster?.stats.rqTimeout.inc();
    if (this.host !== null) this.host.stats.rqTimeout++;
    this.abandonAttempt(AttemptResult.LOCAL_TIMEOUT);
    this.fail(504, Grpc.DEADLINE_EXCEEDED, ResponseFlag.UT, "upstream request timeout");
  }

  /** The retry policy's per-try timeout fired. */
  onPerTryTimeout(): void {
    this.perTryTimer = undefined;
    if (this.done || this.responseStarted) return;
    this.cluster!.stats.rqPerTryTimeout.inc();
    this.abandonAttempt(AttemptResult.LOCAL_TIMEOUT);
    if (this.maybeRetry(PER_TRY_TIMEOUT_OUTCOME)) return;
    this.fail(504, Grpc.DEADLINE_EXCEEDED, ResponseFlag.UT, "upstream per-try timeout");
  }

  /** Resets the current attempt's stream (if any) and settles it. */
  private abandonAttempt(result: AttemptResult = AttemptResult.NONE): void {
    const up = this.up;
    this.endAttempt(false, result);
    if (up !== null && !up.destroyed) {
      this.cluster!.stats.rqTxReset.inc();
      up.close(NGHTTP2_CANCEL);
    }
  }

  /** Resets the downstream (the stream idle timeout); its 'close' then settles the request. */
  resetDownstream(code: number): void {
    this.ds.reset(code);
  }

  /** The downstream went away (reset or disconnect) before the response completed. */
  onDownstreamClose(): void {
    if (this.done) return;
    this.flag = ResponseFlag.DC;
    this.cm.stats.rxReset.inc();
    if (this.cluster !== undefined) this.abandonAttempt();
    this.complete(false);
  }

  // ------------------------------------------------------------------------------------------ endings

  /** Ends the request with a local answer, or the best signal possible once headers went out. */
  private fail(httpStatus: number, grpcStatus: number, flag: ResponseFlag | "", message: string): void {
    if (this.responseStarted || this.ds.headersSent) {
      this.flag = flag;
      this.failStarted(grpcStatus, message);
      this.complete(false);
      return;
    }
    this.localReply(httpStatus, grpcStatus, flag, message);
  }

  /** After response headers: gRPC gets a status in trailers; anything else a reset. */
  private failStarted(grpcStatus: number, message: string): void {
    if (this.ds.closed) return;
    if (this.isGrpc && this.wantTrailers) {
      this.trailers = { "grpc-status": String(grpcStatus), "grpc-message": encodeGrpcMessage(message) };
      this.ds.end();
    } else {
      this.ds.reset(NGHTTP2_INTERNAL_ERROR);
    }
  }

  /** A local reply; gRPC callers always get grpc-status and grpc-message (Trailers-Only). */
  private localReply(httpStatus: number, grpcStatus: number, flag: ResponseFlag | "", message: string): void {
    this.flag = flag;
    if (!this.ds.closed) {
      if (this.isGrpc) {
        this.status = 200;
        this.grpcStatusSeen = grpcStatus;
        this.cm.countResponse(200);
        this.ds.respond(
          {
            ":status": 200,
            "content-type": "application/grpc",
            "grpc-status": String(grpcStatus),
            "grpc-message": encodeGrpcMessage(message),
          },
          true,
          false,
        );
      } else {
        this.respondDirect(httpStatus, message);
        return;
      }
    }
    this.complete(false);
  }

  private respondDirect(status: number, body: string | undefined): void {
    this.status = status;
    this.cm.countResponse(status);
    if (!this.ds.closed) {
      if (body === undefined || body.length === 0 || this.reqHeaders[":method"] === "HEAD") {
        this.ds.respond({ ":status": status }, true, false);
      } else {
        const buf = Buffer.from(body);
        this.ds.respond({ ":status": status, "content-type": "text/plain", "content-length": buf.length }, false, false);
        this.respBytes = buf.length;
        this.ds.write(buf);
        this.ds.end();
      }
    }
    this.complete(status < 500);
  }

  /** The one place a request is settled. */
  private complete(success: boolean): void {
    if (this.done) return;
    this.done = true;
    // The outlier detector hears the upstream's answer (gRPC status mapped to HTTP), never our own.
    this.endAttempt(
      success,
      this.host !== null && this.responseStarted ? responseResult(this.status, this.trailers?.["grpc-status"] ?? this.upGrpcStatus) : AttemptResult.NONE,
    );
    if (this.timer !== undefined) clearTimeout(this.timer);
    const cluster = this.cluster;
    if (cluster !== undefined) {
      cluster.activeRequests--;
      cluster.stats.rqActive.value--;
      if (this.responseStarted) cluster.stats.rqTime.record(performance.now() - this.attemptStartedAt);
      if (success && this.tried !== undefined && this.tried.length > 1) cluster.stats.rqRetrySuccess.inc();
    }
    // The rest of the request body is read and dropped (the client is credited for it). A raw stream
    // keeps its sink: 'wantTrailers' and 'close' may still come, and onReqData ignores a done call.
    if (!(this.ds instanceof RawH2ServerStream)) {
      this.ds.body.removeListener("data", onDsData);
      this.ds.body.removeListener("end", onDsEnd);
    }
    this.ds.body.resume();
    this.cm.onRequestDone(this);
  }

  // ------------------------------------------------------------------------------------------ headers

  private buildUpstreamHeaders(path: string, authority: string): OutgoingHttpHeaders {
    const src = this.reqHeaders;
    const out: OutgoingHttpHeaders = {};
    for (const k in src) if (!HOP_BY_HOP_REQUEST.has(k)) out[k] = src[k];
    if (src.te === "trailers") out.te = "trailers";
    const action = this.action!;
    out[":path"] = this.route!.rewritePath(path);
    out[":authority"] = action.hostRewrite.kind === "literal" ? action.hostRewrite.value : authority;
    if (out[":scheme"] === undefined) out[":scheme"] = "http";
    if (out[":method"] === undefined) out[":method"] = "GET";
    out["x-forwarded-proto"] = this.cm.tls ? "https" : "http";
    if (this.cm.config.generateRequestId && src["x-request-id"] === undefined) out["x-request-id"] = requestId();
    const ops = this.route!.headerMutations.request;
    if (ops.length > 0) applyHeaderOps(ops, out);
    return out;
  }
}

let randomUuid: (() => string) | undefined;

/** A random UUID for x-request-id; the first one loads node:crypto (lazy-require.ts). */
function requestId(): string {
  return (randomUuid ??= nodeCrypto().randomUUID)();
}

/** The downstream connection, for the peer's certificate identity. */
function downstreamSocket(ds: Downstream): Socket | undefined {
  if (ds instanceof RawH2ServerStream) return ds.conn.socket;
  if (ds instanceof H2Downstream) return ds.stream.session?.socket;
  if (ds instanceof H1Downstream) return ds.req.socket;
  return undefined;
}

/** The downstream peer's IP, for spans and the access log. */
function downstreamAddress(ds: Downstream): string | undefined {
  if (ds instanceof RawH2ServerStream) return ds.conn.socket.remoteAddress;
  if (ds instanceof H2Downstream) return ds.stream.session?.socket?.remoteAddress;
  if (ds instanceof H1Downstream) return ds.req.socket.remoteAddress;
  return undefined;
}

function downstreamProtocol(ds: Downstream): string {
  return ds instanceof H1Downstream ? "HTTP/1.1" : "HTTP/2";
}
