/**
 * Who is on the other end of a TLS connection: the verified client certificate's subject alternative
 * names, with the SPIFFE-style URI SAN as the workload identity (Istio and Linkerd name workloads
 * `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`). Read once per connection and cached on the socket, so
 * the request path (RBAC, access log, spans) pays for it only on a connection's first request.
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";

/** A downstream peer's identity, from a certificate the listener verified. */
export interface PeerIdentity {
  /** The first `spiffe://` URI SAN, else the first URI SAN; undefined when the certificate has none. */
  readonly principal: string | undefined;
  /** Every URI SAN, in certificate order. */
  readonly uriSans: readonly string[];
  /** Every DNS SAN, in certificate order. */
  readonly dnsSans: readonly string[];
  /** The subject as an RFC 2253-like string (`CN=...,O=...`), empty when absent. */
  readonly subject: string;
}

const cache = new WeakMap<Socket, PeerIdentity | null>();

/**
 * The verified peer identity of a downstream socket, or undefined for cleartext connections and
 * for TLS connections without an authorized client certificate.
 */
export function peerIdentity(socket: Socket | null | undefined): PeerIdentity | undefined {
  if (!isTlsSocket(socket)) return undefined;
  const hit = cache.get(socket);
  if (hit !== undefined) return hit ?? undefined;
  const id = socket.authorized ? fromCertificate(socket) : null;
  cache.set(socket, id);
  return id ?? undefined;
}

/**
 * Whether a socket is a TLSSocket, without loading node:tls for an `instanceof` (lazy-require.ts):
 * `encrypted` is true on every TLSSocket and absent on plain sockets.
 */
export function isTlsSocket(socket: Socket | null | undefined): socket is TLSSocket {
  return (socket as Partial<TLSSocket> | null | undefined)?.encrypted === true;
}

function fromCertificate(socket: TLSSocket): PeerIdentity | null {
  const cert = socket.getPeerCertificate(false);
  // An empty object is what node returns when the peer sent no certificate.
  if (!cert || Object.keys(cert).length === 0) return null;
  const { uriSans, dnsSans } = parseSubjectAltName(cert.subjectaltname ?? "");
  const subject = cert.subject
    ? Object.entries(cert.subject)
        .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("+") : String(v)}`)
        .join(",")
    : "";
  const principal = uriSans.find((u) => u.startsWith("spiffe://")) ?? uriSans[0];
  return Object.freeze({ principal, uriSans: Object.freeze(uriSans), dnsSans: Object.freeze(dnsSans), subject });
}

/** Splits node's `subjectaltname` string (`DNS:a, URI:spiffe://x, IP Address:1.2.3.4`). */
export function parseSubjectAltName(san: string): { uriSans: string[]; dnsSans: string[] } {
  const uriSans: string[] = [];
  const dnsSans: string[] = [];
  for (const part of san.split(", ")) {
    if (part.startsWith("URI:")) uriSans.push(part.slice(4));
    else if (part.startsWith("DNS:")) dnsSans.push(part.slice(4));
  }
  return { uriSans, dnsSans };
}
