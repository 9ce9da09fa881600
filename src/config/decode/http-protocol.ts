/**
 * core.v3 HTTP protocol options shared by the connection manager (downstream) and clusters (upstream).
 *
 * Window defaults deviate from Envoy's 256 MiB on purpose: Node buffers a whole window per stream in
 * memory, so we default to 1 MiB per stream / 2 MiB per connection and cap explicit values at
 * 16 MiB / 24 MiB (docs/configuration.md says so).
 */
import type {
  Http1ProtocolOptions,
  Http2ProtocolOptions,
  HttpProtocolOptions,
} from "../../gen/envoy/config/core/v3/protocol.js";
import { HttpProtocolOptions_HeadersWithUnderscoresAction as UnderscoresAction } from "../../gen/envoy/config/core/v3/protocol.js";
import { boundedUint, durationMs } from "./common.js";
import { at, type Errors, notSupported, unsupportedValue } from "./field-errors.js";

export const MIB = 1024 * 1024;
export const DEFAULT_MAX_CONCURRENT_STREAMS = 1024;
export const DEFAULT_STREAM_WINDOW = 1 * MIB;
export const DEFAULT_CONNECTION_WINDOW = 2 * MIB;
export const MAX_STREAM_WINDOW = 16 * MIB;
export const MAX_CONNECTION_WINDOW = 24 * MIB;
const H2_MAX = 2 ** 31 - 1;
/** gRPC's default keepalive ack timeout, used when keepalive is not configured. */
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 20_000;

/** Mutable while decoding; structurally the model's ClusterConfig["http2"] (Http2Limits plus keepalive). */
export interface UpstreamHttp2 {
  maxConcurrentStreams: number;
  initialStreamWindowSize: number;
  initialConnectionWindowSize: number;
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
}

/** Http2ProtocolOptions → limits, with keepalive (meaningful upstream; rejected downstream). */
export function decodeHttp2Options(
  o: Http2ProtocolOptions | undefined,
  path: string,
  errors: Errors,
  side: "downstream" | "upstream",
): UpstreamHttp2 {
  const limits: UpstreamHttp2 = {
    maxConcurrentStreams: DEFAULT_MAX_CONCURRENT_STREAMS,
    initialStreamWindowSize: DEFAULT_STREAM_WINDOW,
    initialConnectionWindowSize: DEFAULT_CONNECTION_WINDOW,
    keepaliveIntervalMs: 0,
    keepaliveTimeoutMs: DEFAULT_KEEPALIVE_TIMEOUT_MS,
  };
  if (o === undefined) return limits;
  const p = (f: string) => at(path, f);
  limits.maxConcurrentStreams = boundedUint(o.maxConcurrentStreams, p("max_concurrent_streams"), errors, DEFAULT_MAX_CONCURRENT_STREAMS, 1, H2_MAX);
  const sw = boundedUint(o.initialStreamWindowSize, p("initial_stream_window_size"), errors, DEFAULT_STREAM_WINDOW, 65535, H2_MAX);
  const cw = boundedUint(o.initialConnectionWindowSize, p("initial_connection_window_size"), errors, DEFAULT_CONNECTION_WINDOW, 65535, H2_MAX);
  limits.initialStreamWindowSize = Math.min(sw, MAX_STREAM_WINDOW);
  limits.initialConnectionWindowSize = Math.min(cw, MAX_CONNECTION_WINDOW);
  if (o.hpackTableSize !== undefined) errors.add(p("hpack_table_size"), notSupported());
  if (o.allowConnect) errors.add(p("allow_connect"), notSupported());
  if (o.allowMetadata) errors.add(p("allow_metadata"), notSupported());
  if (o.maxOutboundFrames !== undefined) errors.add(p("max_outbound_frames"), notSupported());
  if (o.maxOutboundControlFrames !== undefined) errors.add(p("max_outbound_control_frames"), notSupported());
  const ka = o.connectionKeepalive;
  if (ka !== undefined) {
    const kp = p("connection_keepalive");
    if (side === "downstream") {
      errors.add(kp, notSupported("connection_keepalive on the downstream side"));
    } else {
      limits.keepaliveIntervalMs = durationMs(ka.interval, 0);
      if (ka.timeout === undefined) errors.add(at(kp, "timeout"), "required");
      limits.keepaliveTimeoutMs = durationMs(ka.timeout, DEFAULT_KEEPALIVE_TIMEOUT_MS);
      if (ka.timeout !== undefined && limits.keepaliveTimeoutMs < 1) errors.add(at(kp, "timeout"), "must be at least 1ms");
      if (ka.intervalJitter !== undefined) errors.add(at(kp, "interval_jitter"), notSupported());
      if (ka.connectionIdleInterval !== undefined) errors.add(at(kp, "connection_idle_interval"), notSupported());
    }
  }
  return limits;
}

/** Http1ProtocolOptions: we speak HTTP/1.1 with Node's defaults; any tuning is unsupported. */
export function checkHttp1Options(o: Http1ProtocolOptions | undefined, path: string, errors: Errors): void {
  if (o === undefined) return;
  if (o.allowAbsoluteUrl !== undefined) errors.add(at(path, "allow_absolute_url"), notSupported());
  if (o.acceptHttp10) errors.add(at(path, "accept_http_10"), notSupported());
  if (o.defaultHostForHttp10 !== "") errors.add(at(path, "default_host_for_http_10"), notSupported());
  if (o.enableTrailers) errors.add(at(path, "enable_trailers"), notSupported());
}

export interface CommonHttpOptions {
  idleTimeoutMs: number;
  maxHeadersCount: number;
  maxStreamDurationMs: number;
}

/** Envoy: idle_timeout 1 h, max_headers_count 100, no max_stream_duration. */
export const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;
export const DEFAULT_MAX_HEADERS_COUNT = 100;

/** core.v3.HttpProtocolOptions; `upstream` rejects the fields only the connection manager honours. */
export function decodeCommonHttpOptions(
  o: HttpProtocolOptions | undefined,
  path: string,
  errors: Errors,
  side: "downstream" | "upstream",
): CommonHttpOptions {
  const out: CommonHttpOptions = {
    idleTimeoutMs: durationMs(o?.idleTimeout, DEFAULT_IDLE_TIMEOUT_MS),
    maxHeadersCount: DEFAULT_MAX_HEADERS_COUNT,
    maxStreamDurationMs: 0,
  };
  if (o === undefined) return out;
  if (side === "downstream") {
    out.maxHeadersCount = boundedUint(o.maxHeadersCount, at(path, "max_headers_count"), errors, DEFAULT_MAX_HEADERS_COUNT, 1);
    out.maxStreamDurationMs = durationMs(o.maxStreamDuration, 0);
  } else {
    if (o.maxHeadersCount !== undefined) errors.add(at(path, "max_headers_count"), notSupported("upstream max_headers_count"));
    if (o.maxStreamDuration !== undefined) errors.add(at(path, "max_stream_duration"), notSupported("upstream max_stream_duration (use the route's)"));
  }
  if (o.maxConnectionDuration !== undefined) errors.add(at(path, "max_connection_duration"), notSupported());
  if (o.maxRequestsPerConnection !== undefined) errors.add(at(path, "max_requests_per_connection"), notSupported());
  if (o.headersWithUnderscoresAction !== UnderscoresAction.ALLOW) {
    errors.add(
      at(path, "headers_with_underscores_action"),
      unsupportedValue(UnderscoresAction[o.headersWithUnderscoresAction] ?? o.headersWithUnderscoresAction, ["ALLOW"]),
    );
  }
  return out;
}
