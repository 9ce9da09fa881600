/** Downstream TLS: a listener filter chain's transport_socket holding a DownstreamTlsContext. */
import type { TransportSocket } from "../../gen/envoy/config/core/v3/base.js";
import { DownstreamTlsContext } from "../../gen/envoy/extensions/transport_sockets/tls/v3/tls.js";
import type { DownstreamTlsConfig } from "../model.js";
import { dataSourceFile } from "./common.js";
import { at, type Errors, idx, unsupportedValue } from "./field-errors.js";
import { decodeSanMatchers } from "./san-matchers.js";
import { TYPE_URLS, unpack } from "./typed-config.js";

const ALPN = ["h2", "http/1.1"];

export function decodeDownstreamTls(ts: TransportSocket, path: string, errors: Errors): DownstreamTlsConfig | undefined {
  const any = ts.typedConfig;
  if (any === undefined) {
    errors.add(at(path, "typed_config"), "required");
    return undefined;
  }
  if (any.typeUrl !== TYPE_URLS.downstreamTlsContext) {
    errors.add(at(path, "typed_config.@type"), unsupportedValue(any.typeUrl, [TYPE_URLS.downstreamTlsContext]));
    return undefined;
  }
  const p = at(path, "typed_config");
  const tls = unpack(DownstreamTlsContext, any.value, p, errors);
  if (tls === undefined) return undefined;
  const ctx = tls.commonTlsContext;
  if (ctx === undefined) {
    errors.add(at(p, "common_tls_context"), "required");
    return undefined;
  }
  const cp = at(p, "common_tls_context");
  if (ctx.tlsCertificates.length !== 1) {
    errors.add(at(cp, "tls_certificates"), `exactly one certificate is required, got ${ctx.tlsCertificates.length}`);
  }
  const cert = ctx.tlsCertificates[0];
  const certPath = idx(at(cp, "tls_certificates"), 0);
  const certificateChainFile = cert ? dataSourceFile(cert.certificateChain, at(certPath, "certificate_chain"), errors) : "";
  const privateKeyFile = cert ? dataSourceFile(cert.privateKey, at(certPath, "private_key"), errors) : "";
  let trustedCaFile: string | undefined;
  const vc = ctx.validationContextType?.value;
  if (vc?.trustedCa !== undefined) {
    trustedCaFile = dataSourceFile(vc.trustedCa, at(cp, "validation_context.trusted_ca"), errors);
  }
  const sanMatchers = decodeSanMatchers(vc, at(cp, "validation_context"), errors);
  if (sanMatchers.length > 0 && trustedCaFile === undefined) {
    errors.add(at(cp, "validation_context.trusted_ca"), "required when subject alt name matchers are set");
  }
  const requireClientCertificate = tls.requireClientCertificate ?? false;
  if (requireClientCertificate && trustedCaFile === undefined) {
    errors.add(at(p, "require_client_certificate"), "requires common_tls_context.validation_context.trusted_ca");
  }
  ctx.alpnProtocols.forEach((proto, i) => {
    if (!ALPN.includes(proto)) errors.add(idx(at(cp, "alpn_protocols"), i), unsupportedValue(proto, ALPN));
  });
  return {
    certificateChainFile,
    privateKeyFile,
    trustedCaFile,
    requireClientCertificate,
    alpnProtocols: ctx.alpnProtocols.length > 0 ? ctx.alpnProtocols : ALPN,
    ...(sanMatchers.length > 0 ? { sanMatchers } : {}),
  };
}
