/**
 * Listener decoding (a static listener or one LDS resource): exactly one filter chain holding exactly one
 * HttpConnectionManager, optionally behind downstream TLS.
 */
import type { Listener } from "../../gen/envoy/config/listener/v3/listener.js";
import { HttpConnectionManager } from "../../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { DownstreamTlsConfig, HttpConnectionManagerConfig, ListenerConfig } from "../model.js";
import { decodeAddress } from "./common.js";
import { at, type Errors, idx, notSupported, unsupportedValue } from "./field-errors.js";
import { decodeHttpConnectionManager } from "./http-connection-manager.js";
import { decodeDownstreamTls } from "./tls.js";
import { TYPE_URLS, unpack } from "./typed-config.js";

export function decodeListener(l: Listener, path: string, errors: Errors): ListenerConfig {
  if (l.name === "") errors.add(at(path, "name"), "required");
  if (l.statPrefix !== "") errors.add(at(path, "stat_prefix"), notSupported("listener stat_prefix (set the connection manager's)"));
  if (l.apiListener !== undefined) {
    errors.add(at(path, "api_listener"), "is for proxyless gRPC clients; a sidecar listener needs an address and filter_chains");
  }
  const address = decodeAddress(l.address, at(path, "address"), errors, { allowPortZero: true });
  let tls: DownstreamTlsConfig | undefined;
  let hcm: HttpConnectionManagerConfig | undefined;
  if (l.filterChains.length !== 1) {
    errors.add(at(path, "filter_chains"), `exactly one filter chain is supported, got ${l.filterChains.length}`);
  }
  const chain = l.filterChains[0];
  if (chain) {
    const cp = idx(at(path, "filter_chains"), 0);
    if (chain.transportSocket !== undefined) tls = decodeDownstreamTls(chain.transportSocket, at(cp, "transport_socket"), errors);
    if (chain.filters.length !== 1) {
      errors.add(at(cp, "filters"), `exactly one filter (the HttpConnectionManager) is supported, got ${chain.filters.length}`);
    }
    const filter = chain.filters[0];
    if (filter) {
      const fp = idx(at(cp, "filters"), 0);
      const url = filter.typedConfig?.typeUrl;
      if (url === TYPE_URLS.httpConnectionManager) {
        const msg = unpack(HttpConnectionManager, filter.typedConfig!.value, at(fp, "typed_config"), errors);
        if (msg) hcm = decodeHttpConnectionManager(msg, at(fp, "typed_config"), errors);
      } else if (url === undefined) {
        errors.add(at(fp, "typed_config"), "required");
      } else {
        errors.add(at(fp, "typed_config.@type"), unsupportedValue(url, [TYPE_URLS.httpConnectionManager]));
      }
    }
  }
  return { name: l.name, address, tls, hcm: hcm ?? placeholderHcm() };
}

/** Stands in when the filter chain was invalid; the caller discards the result because errors were recorded. */
function placeholderHcm(): HttpConnectionManagerConfig {
  return {
    statPrefix: "",
    routeConfig: { name: "", virtualHosts: [], headers: { requestToAdd: [], requestToRemove: [], responseToAdd: [], responseToRemove: [] } },
    httpFilters: [],
    streamIdleTimeoutMs: 0,
    requestTimeoutMs: 0,
    idleTimeoutMs: 0,
    maxStreamDurationMs: 0,
    drainTimeoutMs: 0,
    generateRequestId: false,
    http2: { maxConcurrentStreams: 0, initialStreamWindowSize: 0, initialConnectionWindowSize: 0 },
    maxHeadersCount: 0,
    maxRequestHeadersKb: 0,
  };
}
