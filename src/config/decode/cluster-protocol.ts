/**
 * Upstream protocol selection: typed_extension_protocol_options' HttpProtocolOptions, or the
 * deprecated Cluster.http2_protocol_options (field 14) that Envoy users still write. Default HTTP/1.1.
 */
import type { Cluster } from "../../gen/envoy/config/cluster/v3/cluster.js";
import { HttpProtocolOptions } from "../../gen/envoy/extensions/upstreams/http/v3/http_protocol_options.js";
import type { UpstreamProtocol } from "../model.js";
import { at, type Errors, show, unsupportedValue } from "./field-errors.js";
import {
  checkHttp1Options,
  DEFAULT_IDLE_TIMEOUT_MS,
  decodeCommonHttpOptions,
  decodeHttp2Options,
  type UpstreamHttp2,
} from "./http-protocol.js";
import { TYPE_URLS, unpack, UPSTREAM_HTTP_OPTIONS_KEY } from "./typed-config.js";

export interface UpstreamProtocolConfig {
  protocol: UpstreamProtocol;
  http2: UpstreamHttp2;
  idleTimeoutMs: number;
}

export function decodeUpstreamProtocol(c: Cluster, path: string, errors: Errors): UpstreamProtocolConfig {
  const topts = at(path, "typed_extension_protocol_options");
  let options: HttpProtocolOptions | undefined;
  for (const [key, any] of Object.entries(c.typedExtensionProtocolOptions)) {
    const p = `${topts}["${key}"]`;
    if (key !== UPSTREAM_HTTP_OPTIONS_KEY) {
      errors.add(p, unsupportedValue(key, [UPSTREAM_HTTP_OPTIONS_KEY]));
    } else if (any.typeUrl !== TYPE_URLS.upstreamHttpProtocolOptions) {
      errors.add(at(p, "@type"), `${show(any.typeUrl)} does not match the key; expected ${TYPE_URLS.upstreamHttpProtocolOptions}`);
    } else {
      options = unpack(HttpProtocolOptions, any.value, p, errors);
    }
  }
  const optionsPath = `${topts}["${UPSTREAM_HTTP_OPTIONS_KEY}"]`;
  if (c.http2ProtocolOptions !== undefined) {
    if (options !== undefined) {
      errors.add(at(path, "http2_protocol_options"), `cannot be combined with typed_extension_protocol_options ${show(UPSTREAM_HTTP_OPTIONS_KEY)}`);
    }
    return {
      protocol: "http2",
      http2: decodeHttp2Options(c.http2ProtocolOptions, at(path, "http2_protocol_options"), errors, "upstream"),
      idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
    };
  }
  if (options === undefined) {
    return { protocol: "http1", http2: decodeHttp2Options(undefined, "", errors, "upstream"), idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS };
  }
  const common = decodeCommonHttpOptions(options.commonHttpProtocolOptions, at(optionsPath, "common_http_protocol_options"), errors, "upstream");
  const upo = options.upstreamProtocolOptions;
  switch (upo?.$case) {
    case undefined:
      errors.add(optionsPath, "one of explicit_http_config, use_downstream_protocol_config is required");
      return { protocol: "http1", http2: decodeHttp2Options(undefined, "", errors, "upstream"), idleTimeoutMs: common.idleTimeoutMs };
    case "explicitHttpConfig": {
      const p = at(optionsPath, "explicit_http_config");
      const pc = upo.value.protocolConfig;
      if (pc?.$case === "http2ProtocolOptions") {
        return { protocol: "http2", http2: decodeHttp2Options(pc.value, at(p, "http2_protocol_options"), errors, "upstream"), idleTimeoutMs: common.idleTimeoutMs };
      }
      if (pc === undefined) errors.add(p, "one of http_protocol_options, http2_protocol_options is required");
      else checkHttp1Options(pc.value, at(p, "http_protocol_options"), errors);
      return { protocol: "http1", http2: decodeHttp2Options(undefined, "", errors, "upstream"), idleTimeoutMs: common.idleTimeoutMs };
    }
    case "useDownstreamProtocolConfig": {
      const p = at(optionsPath, "use_downstream_protocol_config");
      checkHttp1Options(upo.value.httpProtocolOptions, at(p, "http_protocol_options"), errors);
      return {
        protocol: "downstream",
        http2: decodeHttp2Options(upo.value.http2ProtocolOptions, at(p, "http2_protocol_options"), errors, "upstream"),
        idleTimeoutMs: common.idleTimeoutMs,
      };
    }
  }
}
