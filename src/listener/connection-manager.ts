/**
 * HttpConnectionManager: turns downstream HTTP/2 streams and HTTP/1.1 requests into RouterCalls
 * against the current route table, and keeps the listener's `http.<stat_prefix>.*` stats.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { Random } from "../common/clock.js";
import type { HttpConnectionManagerConfig } from "../config/model.js";
import { RouteTable } from "../router/route-table.js";
import { isGrpcContentType } from "../router/route-match.js";
import type { Counter, Gauge, StatsStore } from "../stats/stats-store.js";
import { finishRequest, processTelemetry, type HcmTelemetry } from "../telemetry/telemetry.js";
import type { ClusterManager } from "../upstream/cluster-manager.js";
import { buildHttpFilters } from "../filters/filter-chain.js";
import type { HttpFilter } from "../filters/http-filter.js";
import { H1Downstream, H2Downstream } from "./downstream.js";
import { attachDownstream, RouterCall } from "./router-call.js";
import { StreamIdleSweep } from "./stream-idle-sweep.js";
import type { RawH2ServerStream } from "./raw-h2/raw-h2-server-stream.js";

const END_STREAM = 0x1;
const NGHTTP2_CANCEL = 8;

/** `http.<stat_prefix>.*` stats. */
export interface HcmStats {
  rqTotal: Counter;
  rq1xx: Counter;
  rq2xx: Counter;
  rq3xx: Counter;
  rq4xx: Counter;
  rq5xx: Counter;
  rqActive: Gauge;
  noRoute: Counter;
  directResponse: Counter;
  rxReset: Counter;
  idleTimeout: Counter;
  cxTotal: Counter;
  cxActive: Gauge;
  cxHttp1Total: Counter;
  cxHttp2Total: Counter;
}

function hcmStats(store: StatsStore, prefix: string): HcmStats {
  const p = `http.${prefix}.`;
  const c = (s: string): Counter => store.counter(p + s);
  return {
    rqTotal: c("downstream_rq_total"),
    rq1xx: c("downstream_rq_1xx"),
    rq2xx: c("downstream_rq_2xx"),
    rq3xx: c("downstream_rq_3xx"),
    rq4xx: c("downstream_rq_4xx"),
    rq5xx: c("downstream_rq_5xx"),
    rqActive: store.gauge(p + "downstream_rq_active"),
    noRoute: c("no_route"),
    directResponse: c("rq_direct_response"),
    rxReset: c("downstream_rq_rx_reset"),
    idleTimeout: c("downstream_rq_idle_timeout"),
    cxTotal: c("downstream_cx_total"),
    cxActive: store.gauge(p + "downstream_cx_active"),
    cxHttp1Total: c("downstream_cx_http1_total"),
    cxHttp2Total: c("downstream_cx_http2_total"),
  };
}

/** One listener's connection manager. */
export class ConnectionManager {
  readonly stats: HcmStats;
  /** The route table in force; replaced whole when routes change. */
  routeTable: RouteTable;
  private readonly flagCounters = new Map<string, Counter>();
  /** Tracing and access log of this connection manager; undefined when its config asks for neither. */
  readonly telemetry: HcmTelemetry | undefined;
  /** HTTP filters run before the router (RBAC, local rate limit), in config order. */
  readonly filters: readonly HttpFilter[];
  /** stream_idle_timeout for HTTP/2 streams: one coarse sweep instead of a timer per stream. */
  readonly idleSweep: StreamIdleSweep<RouterCall>;

  constructor(
    readonly config: HttpConnectionManagerConfig,
    readonly clusters: ClusterManager,
    readonly random: Random,
    private readonly store: StatsStore,
    /** Whether the listener terminates TLS (sets x-forwarded-proto). */
    readonly tls: boolean,
  ) {
    this.stats = hcmStats(store, config.statPrefix);
    this.routeTable = new RouteTable(config.routeConfig);
    this.filters = buildHttpFilters(config.httpFilters, store, config.statPrefix, random);
    this.telemetry = processTelemetry()?.forHcm(config);
    this.idleSweep = new StreamIdleSweep<RouterCall>(config.streamIdleTimeoutMs, (call) => {
      this.stats.idleTimeout.inc();
      call.resetDownstream(NGHTTP2_CANCEL);
    });
  }

  /** A new HTTP/2 stream. */
  onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number): void {
    this.stats.rqTotal.inc();
    this.stats.rqActive.value++;
    const ds = new H2Downstream(stream);
    const call = new RouterCall(this, ds, headers, isGrpcContentType(headers["content-type"]), (flags & END_STREAM) !== 0);
    attachDownstream(call, stream, true);
    stream.on("error", ignore);
    this.idleSweep.track(call);
    call.start();
  }

  /** A new stream of our own HTTP/2 server: the stream is its own Downstream. */
  onRawStream(stream: RawH2ServerStream, headers: IncomingHttpHeaders, flags: number): void {
    this.stats.rqTotal.inc();
    this.stats.rqActive.value++;
    // The stream calls `call` directly for all its events (RouterCall.start sets it as the sink).
    const call = new RouterCall(this, stream, headers, isGrpcContentType(headers["content-type"]), (flags & END_STREAM) !== 0);
    this.idleSweep.track(call);
    call.start();
  }

  /** A new HTTP/1.1 request: given HTTP/2 pseudo-headers and routed like any other. */
  onHttp1Request(req: IncomingMessage, res: ServerResponse): void {
    this.stats.rqTotal.inc();
    this.stats.rqActive.value++;
    const headers: IncomingHttpHeaders = {
      ":method": req.method ?? "GET",
      ":path": req.url ?? "/",
      ":scheme": this.tls ? "https" : "http",
      ":authority": req.headers.host ?? "",
    };
    for (const k in req.headers) headers[k] = req.headers[k];
    const bodyless =
      req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined;
    const call = new RouterCall(this, new H1Downstream(req, res), headers, false, bodyless);
    attachDownstream(call, res, false);
    req.on("error", ignore);
    call.start();
  }

  /** Counts a response status sent downstream. */
  countResponse(status: number): void {
    const s = this.stats;
    if (status < 200) s.rq1xx.inc();
    else if (status < 300) s.rq2xx.inc();
    else if (status < 400) s.rq3xx.inc();
    else if (status < 500) s.rq4xx.inc();
    else s.rq5xx.inc();
  }

  /** Called once per request when it settles: counts its response flag, if any. */
  onRequestDone(call: RouterCall): void {
    this.stats.rqActive.value--;
    this.idleSweep.untrack(call);
    const flag = call.flag;
    if (flag !== "") {
      let c = this.flagCounters.get(flag);
      if (c === undefined) {
        c = this.store.counter(`http.${this.config.statPrefix}.response_flag.${flag}`);
        this.flagCounters.set(flag, c);
      }
      c.inc();
    }
    if (this.telemetry !== undefined) finishRequest(this.telemetry, call.trace, call);
  }
}

function ignore(): void {
  // Stream errors surface through 'close'.
}
