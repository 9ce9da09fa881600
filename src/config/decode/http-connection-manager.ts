/**
 * HttpConnectionManager decoding: the one network filter a Pilotfish listener runs. Defaults are Envoy's
 * (stream idle 5 min, drain 5 s, connection idle 1 h, 60 KiB / 100 request headers).
 */
import { Router } from "../../gen/envoy/extensions/filters/http/router/v3/router.js";
import {
  type HttpConnectionManager,
  HttpConnectionManager_CodecType as CodecType,
  type HttpFilter,
} from "../../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { FileAccessLog } from "../../gen/envoy/extensions/access_loggers/file/v3/file.js";
import type { AccessLog } from "../../gen/envoy/config/accesslog/v3/accesslog.js";
import type { AccessLogConfig, HttpConnectionManagerConfig, HttpFilterConfig, RouteConfig, TracingConfig } from "../model.js";
import { boundedUint, durationMs, percent } from "./common.js";
import { at, type Errors, idx, notSupported, show, unsupportedValue } from "./field-errors.js";
import { checkHttp1Options, decodeCommonHttpOptions, decodeHttp2Options } from "./http-protocol.js";
import { decodePolicyFilter, HTTP_FILTER_TYPES } from "./policy-filters.js";
import { decodeRouteConfiguration } from "./route.js";
import { ROUTER_FILTER_NAME, TYPE_URLS, unpack } from "./typed-config.js";

export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_REQUEST_HEADERS_KB = 60;

export function decodeHttpConnectionManager(
  hcm: HttpConnectionManager,
  path: string,
  errors: Errors,
): HttpConnectionManagerConfig {
  if (hcm.statPrefix === "") errors.add(at(path, "stat_prefix"), "required");
  // AUTO is what we do (HTTP/1.1 or h2c prior knowledge, ALPN under TLS); forcing one is not implemented.
  if (hcm.codecType !== CodecType.AUTO) {
    errors.add(at(path, "codec_type"), unsupportedValue(CodecType[hcm.codecType] ?? hcm.codecType, ["AUTO"]));
  }
  const common = decodeCommonHttpOptions(hcm.commonHttpProtocolOptions, at(path, "common_http_protocol_options"), errors, "downstream");
  checkHttp1Options(hcm.httpProtocolOptions, at(path, "http_protocol_options"), errors);
  const http2 = decodeHttp2Options(hcm.http2ProtocolOptions, at(path, "http2_protocol_options"), errors, "downstream");
  const config: HttpConnectionManagerConfig = {
    statPrefix: hcm.statPrefix,
    routeConfig: decodeRouteSpecifier(hcm, path, errors),
    ...(hcm.routeSpecifier?.$case === "rds" ? { rdsName: hcm.routeSpecifier.value.routeConfigName } : {}),
    httpFilters: decodeHttpFilters(hcm.httpFilters, at(path, "http_filters"), errors),
    streamIdleTimeoutMs: durationMs(hcm.streamIdleTimeout, DEFAULT_STREAM_IDLE_TIMEOUT_MS),
    requestTimeoutMs: durationMs(hcm.requestTimeout, 0),
    idleTimeoutMs: common.idleTimeoutMs,
    maxStreamDurationMs: common.maxStreamDurationMs,
    drainTimeoutMs: durationMs(hcm.drainTimeout, DEFAULT_DRAIN_TIMEOUT_MS),
    generateRequestId: hcm.generateRequestId ?? true,
    http2: {
      maxConcurrentStreams: http2.maxConcurrentStreams,
      initialStreamWindowSize: http2.initialStreamWindowSize,
      initialConnectionWindowSize: http2.initialConnectionWindowSize,
    },
    maxHeadersCount: common.maxHeadersCount,
    // Envoy's range for this field is 1..8192 KiB.
    maxRequestHeadersKb: boundedUint(hcm.maxRequestHeadersKb, at(path, "max_request_headers_kb"), errors, DEFAULT_MAX_REQUEST_HEADERS_KB, 1, 8192),
  };
  const tracing = decodeTracing(hcm, at(path, "tracing"), errors);
  const accessLogs = decodeAccessLogs(hcm.accessLog, at(path, "access_log"), errors);
  return {
    ...config,
    ...(tracing === undefined ? {} : { tracing }),
    ...(accessLogs.length === 0 ? {} : { accessLogs }),
  };
}

function decodeRouteSpecifier(hcm: HttpConnectionManager, path: string, errors: Errors): RouteConfig {
  const empty: RouteConfig = {
    name: "",
    virtualHosts: [],
    headers: { requestToAdd: [], requestToRemove: [], responseToAdd: [], responseToRemove: [] },
  };
  switch (hcm.routeSpecifier?.$case) {
    case "routeConfig":
      return decodeRouteConfiguration(hcm.routeSpecifier.value, at(path, "route_config"), errors);
    case "rds": {
      const rds = hcm.routeSpecifier.value;
      if (rds.routeConfigName === "") errors.add(at(path, "rds.route_config_name"), "required");
      const src = rds.configSource?.configSourceSpecifier?.$case;
      if (src !== "ads") errors.add(at(path, "rds.config_source"), `must be {ads: {}} (routes come over ADS); got ${show(src ?? "nothing")}`);
      return { ...empty, name: rds.routeConfigName };
    }
    case undefined:
      errors.add(at(path, "route_config"), "required");
      return empty;
  }
}

/** Envoy still resolves the router by name when typed_config is omitted. */
function isRouterFilter(f: HttpFilter): boolean {
  const url = f.typedConfig?.typeUrl;
  return url === TYPE_URLS.router || (url === undefined && f.name === ROUTER_FILTER_NAME);
}

/** http_filters: RBAC and local rate limit, then the router, last. An empty list means "router only". */
function decodeHttpFilters(filters: readonly HttpFilter[], path: string, errors: Errors): HttpFilterConfig[] {
  if (filters.length === 0) return [{ name: ROUTER_FILTER_NAME, kind: "router" }];
  const out: HttpFilterConfig[] = [];
  const lastIndex = filters.length - 1;
  filters.forEach((f, i) => {
    const p = idx(path, i);
    if (f.name === "") errors.add(at(p, "name"), "required");
    if (f.disabled) errors.add(at(p, "disabled"), notSupported());
    if (isRouterFilter(f)) {
      const router = f.typedConfig && unpack(Router, f.typedConfig.value, at(p, "typed_config"), errors);
      if (router) checkRouterOptions(router, at(p, "typed_config"), errors);
      if (i !== lastIndex) errors.add(p, "the router must be the last HTTP filter");
      out.push({ name: f.name, kind: "router" });
      return;
    }
    if (f.name !== "" && out.some((o) => o.name === f.name)) errors.add(at(p, "name"), `duplicate HTTP filter name ${show(f.name)}`);
    const policy = decodePolicyFilter(f, p, errors);
    if (policy !== undefined) {
      out.push(policy);
      return;
    }
    // gRPC's xDS clients skip optional filters they lack; we do the same.
    if (f.isOptional) return;
    const url = f.typedConfig?.typeUrl;
    if (url === undefined) errors.add(at(p, "typed_config"), `required for filter ${show(f.name)}`);
    else if (!HTTP_FILTER_TYPES.includes(url)) errors.add(at(p, "typed_config.@type"), unsupportedValue(url, HTTP_FILTER_TYPES));
  });
  if (!isRouterFilter(filters[lastIndex])) {
    errors.add(idx(path, lastIndex), `the last HTTP filter must be the router (${TYPE_URLS.router})`);
  }
  return out;
}

function checkRouterOptions(r: Router, path: string, errors: Errors): void {
  if (r.dynamicStats !== undefined) errors.add(at(path, "dynamic_stats"), notSupported());
  if (r.startChildSpan) errors.add(at(path, "start_child_span"), notSupported());
  if (r.suppressEnvoyHeaders) errors.add(at(path, "suppress_envoy_headers"), notSupported());
}

function decodeTracing(hcm: HttpConnectionManager, path: string, errors: Errors): TracingConfig | undefined {
  const t = hcm.tracing;
  if (t === undefined) return undefined;
  if (t.verbose) errors.add(at(path, "verbose"), notSupported());
  return {
    clientSamplingPercent: percent(t.clientSampling, at(path, "client_sampling"), errors, 100),
    randomSamplingPercent: percent(t.randomSampling, at(path, "random_sampling"), errors, 100),
    overallSamplingPercent: percent(t.overallSampling, at(path, "overall_sampling"), errors, 100),
    ...(t.spawnUpstreamSpan === undefined ? {} : { spawnUpstreamSpan: t.spawnUpstreamSpan }),
  };
}

/** Envoy's file and stdout/stderr access loggers; Pilotfish writes its own JSON line format. */
function decodeAccessLogs(logs: readonly AccessLog[], path: string, errors: Errors): AccessLogConfig[] {
  const out: AccessLogConfig[] = [];
  logs.forEach((log, i) => {
    const p = idx(path, i);
    const tc = log.typedConfig;
    if (tc === undefined) {
      errors.add(at(p, "typed_config"), "required");
      return;
    }
    switch (tc.typeUrl) {
      case TYPE_URLS.fileAccessLog: {
        const f = unpack(FileAccessLog, tc.value, at(p, "typed_config"), errors);
        if (f === undefined) return;
        if (f.path === "") {
          errors.add(at(at(p, "typed_config"), "path"), "required");
          return;
        }
        out.push({ name: log.name, sink: f.path === "/dev/stdout" ? { kind: "stdout" } : { kind: "file", path: f.path } });
        return;
      }
      case TYPE_URLS.stdoutAccessLog:
        out.push({ name: log.name, sink: { kind: "stdout" } });
        return;
      case TYPE_URLS.stderrAccessLog:
        out.push({ name: log.name, sink: { kind: "stderr" } });
        return;
      default:
        errors.add(
          at(at(p, "typed_config"), "@type"),
          unsupportedValue(tc.typeUrl, [TYPE_URLS.fileAccessLog, TYPE_URLS.stdoutAccessLog, TYPE_URLS.stderrAccessLog]),
        );
    }
  });
  return out;
}
