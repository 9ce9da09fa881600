/** Upstream TLS: a cluster's transport_socket holding an UpstreamTlsContext. */
import type { TransportSocket } from "../../gen/envoy/config/core/v3/base.js";
import { UpstreamTlsContext } from "../../gen/envoy/extensions/transport_sockets/tls/v3/tls.js";
import type { UpstreamTlsConfig } from "../model.js";
import { dataSourceFile } from "./common.js";
import { at, type Errors, idx, show, unsupportedValue } from "./field-errors.js";
import { decodeSanMatchers } from "./san-matchers.js";
import { TYPE_URLS, unpack } from "./typed-config.js";

const ALPN = ["h2", "http/1.1"];

/** The cluster's UpstreamTlsContext, or undefined when there is no transport socket (or it is invalid). */
export function decodeUpstreamTls(ts: TransportSocket | undefined, path: string, errors: Errors): UpstreamTlsConfig | undefined {
  if (ts === undefined) return undefined;
  const any = ts.typedConfig;
  if (any === undefined) {
    errors.add(at(path, "typed_config"), "required");
    return undefined;
  }
  if (any.typeUrl !== TYPE_URLS.upstreamTlsContext) {
    errors.add(at(path, "typed_config.@type"), unsupportedValue(any.typeUrl, [TYPE_URLS.upstreamTlsContext]));
    return undefined;
  }
  const p = at(path, "typed_config");
  const tls = unpack(UpstreamTlsContext, any.value, p, errors);
  if (tls === undefined) return undefined;
  const ctx = tls.commonTlsContext;
  const cp = at(p, "common_tls_context");
  if ((ctx?.tlsCertificates.length ?? 0) > 1) {
    errors.add(at(cp, "tls_certificates"), `at most one client certificate is supported, got ${ctx?.tlsCertificates.length}`);
  }
  const cert = ctx?.tlsCertificates[0];
  const certPath = idx(at(cp, "tls_certificates"), 0);
  const certificateChainFile = cert ? dataSourceFile(cert.certificateChain, at(certPath, "certificate_chain"), errors) : undefined;
  const privateKeyFile = cert ? dataSourceFile(cert.privateKey, at(certPath, "private_key"), errors) : undefined;
  const vc = ctx?.validationContextType?.value;
  const vp = at(cp, "validation_context");
  const trustedCaFile = vc?.trustedCa !== undefined ? dataSourceFile(vc.trustedCa, at(vp, "trusted_ca"), errors) : undefined;
  const sanMatchers = decodeSanMatchers(vc, vp, errors);
  // Envoy accepts SAN matchers without a CA, but a name on an unverified certificate proves nothing.
  if (sanMatchers.length > 0 && trustedCaFile === undefined) {
    errors.add(at(vp, "trusted_ca"), "required when subject alt name matchers are set (an unverified certificate's names prove nothing)");
  }
  const alpnProtocols = ctx?.alpnProtocols ?? [];
  alpnProtocols.forEach((proto, i) => {
    if (!ALPN.includes(proto)) errors.add(idx(at(cp, "alpn_protocols"), i), unsupportedValue(proto, ALPN));
  });
  if (tls.sni.length > 255) errors.add(at(p, "sni"), `${show(tls.sni.slice(0, 20) + "...")} is longer than 255 characters`);
  return Object.freeze({
    certificateChainFile,
    privateKeyFile,
    trustedCaFile,
    sanMatchers: Object.freeze(sanMatchers),
    sni: tls.sni,
    alpnProtocols: Object.freeze([...alpnProtocols]),
  });
}
