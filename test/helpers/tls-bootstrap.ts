/** Envoy TLS transport sockets for test bootstraps (DownstreamTlsContext / UpstreamTlsContext). */
import type { IssuedCert } from "./pki.js";

const DOWNSTREAM = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
const UPSTREAM = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

type Obj = Record<string, unknown>;

/** A typed SAN matcher: `{ san_type: "URI", matcher: { exact: "spiffe://..." } }`. */
export function sanMatcher(sanType: "URI" | "DNS", matcher: Obj): Obj {
  return { san_type: sanType, matcher };
}

function certEntry(c: { certPath: string; keyPath: string }): Obj {
  return { certificate_chain: { filename: c.certPath }, private_key: { filename: c.keyPath } };
}

/** A listener transport_socket terminating TLS with `cert`, verifying clients against `caPath`. */
export function downstreamTls(
  cert: Pick<IssuedCert, "certPath" | "keyPath">,
  opts: { caPath?: string; requireClientCertificate?: boolean; sans?: Obj[] } = {},
): Obj {
  const vc: Obj = {};
  if (opts.caPath !== undefined) vc.trusted_ca = { filename: opts.caPath };
  if (opts.sans !== undefined) vc.match_typed_subject_alt_names = opts.sans;
  const ctx: Obj = { tls_certificates: [certEntry(cert)], alpn_protocols: ["h2", "http/1.1"] };
  if (Object.keys(vc).length > 0) ctx.validation_context = vc;
  const typed: Obj = { "@type": DOWNSTREAM, common_tls_context: ctx };
  if (opts.requireClientCertificate !== undefined) typed.require_client_certificate = opts.requireClientCertificate;
  return { name: "envoy.transport_sockets.tls", typed_config: typed };
}

/** A cluster transport_socket originating TLS (client cert optional). */
export function upstreamTls(opts: { caPath?: string; client?: Pick<IssuedCert, "certPath" | "keyPath">; sans?: Obj[]; sni?: string }): Obj {
  const ctx: Obj = {};
  if (opts.client !== undefined) ctx.tls_certificates = [certEntry(opts.client)];
  const vc: Obj = {};
  if (opts.caPath !== undefined) vc.trusted_ca = { filename: opts.caPath };
  if (opts.sans !== undefined) vc.match_typed_subject_alt_names = opts.sans;
  if (Object.keys(vc).length > 0) ctx.validation_context = vc;
  const typed: Obj = { "@type": UPSTREAM, common_tls_context: ctx };
  if (opts.sni !== undefined) typed.sni = opts.sni;
  return { name: "envoy.transport_sockets.tls", typed_config: typed };
}

/** The static listeners and clusters of a bootstrapObject document, to attach transport sockets to. */
export function staticParts(doc: Obj): { listeners: Obj[]; clusters: Obj[]; hcm(i: number): Obj } {
  const sr = doc.static_resources as { listeners: Obj[]; clusters: Obj[] };
  return {
    listeners: sr.listeners,
    clusters: sr.clusters,
    hcm: (i) => ((sr.listeners[i].filter_chains as Obj[])[0].filters as Array<{ typed_config: Obj }>)[0].typed_config,
  };
}

/** Sets the listener's (only) filter chain transport socket. */
export function setListenerTls(listener: Obj, ts: Obj): void {
  (listener.filter_chains as Obj[])[0].transport_socket = ts;
}
