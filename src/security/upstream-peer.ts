/**
 * The upstream peer's workload identity, for CLIENT spans: the first `spiffe://` URI SAN (else the
 * first URI SAN) of the server certificate on a TLS upstream connection. Read once per connection
 * (keyed by the HTTP/2 session or the HTTP/1.1 socket) and only when a span asks.
 */
import type { TLSSocket } from "node:tls";
import { parseSans } from "./san-match.js";

const cache = new WeakMap<object, string | null>();

/** `conn` is an upstream stream's `session` (ClientHttp2Session or socket); undefined for cleartext. */
export function upstreamPeerPrincipal(conn: object | undefined): string | undefined {
  if (conn === undefined) return undefined;
  const hit = cache.get(conn);
  if (hit !== undefined) return hit ?? undefined;
  // An HTTP/2 session exposes its socket (through a proxy that still forwards getPeerCertificate).
  const sock = ("getPeerCertificate" in conn ? conn : (conn as { socket?: object }).socket) as Partial<TLSSocket> | undefined;
  let principal: string | null = null;
  if (typeof sock?.getPeerCertificate === "function" && sock.authorized === true) {
    const uris = parseSans(sock.getPeerCertificate(false).subjectaltname).uri;
    principal = uris.find((u) => u.startsWith("spiffe://")) ?? uris[0] ?? null;
  }
  cache.set(conn, principal);
  return principal ?? undefined;
}
