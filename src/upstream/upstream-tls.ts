/**
 * TLS origination for one cluster (UpstreamTlsContext): every new upstream connection uses the
 * cluster's current certificate material (reloaded from disk; open connections keep theirs), verifies
 * the server chain against trusted_ca and, when SAN matchers are set, the server certificate's SANs
 * by those matchers only (Envoy: the matchers replace hostname verification; without them only the
 * chain is checked; without trusted_ca nothing is). Outcomes land in `cluster.<name>.ssl.*`.
 */
import type * as grpc from "@grpc/grpc-js";
import { grpcJs, nodeTls } from "../common/lazy-require.js";
import * as net from "node:net";
import type * as tls from "node:tls";
import type { UpstreamTlsConfig } from "../config/model.js";
import { compileSanCheck, parseSans, type SanCheck } from "../security/san-match.js";
import { TlsMaterial } from "../security/tls-material.js";
import type { TlsStats } from "../security/tls-stats.js";

/** Error code our SAN check raises (node's own chain errors keep theirs). */
export const SAN_MISMATCH = "PF_TLS_SAN_MISMATCH";

/** Why a TLS connection failed before it was usable; "" while it is fine. */
export type TlsFailure = "" | "verify-san" | "verify-error" | "connection-error";

const failures = new WeakMap<net.Socket, TlsFailure>();
const secured = new WeakSet<net.Socket>();

/** Chain verification errors node reports by OpenSSL code. */
const VERIFY_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** A cluster's TLS connector. */
export class UpstreamTls {
  private readonly material: TlsMaterial;
  private readonly sanCheck: SanCheck | undefined;
  /** tls.connect verification options, built once. */
  private readonly verify: ReturnType<UpstreamTls["verifyOptions"]>;

  constructor(
    readonly config: UpstreamTlsConfig,
    private readonly stats: TlsStats,
  ) {
    this.material = TlsMaterial.acquire({ cert: config.certificateChainFile, key: config.privateKeyFile, ca: config.trustedCaFile });
    this.sanCheck = config.sanMatchers.length > 0 ? compileSanCheck(config.sanMatchers) : undefined;
    this.verify = this.verifyOptions();
  }

  /** Verification as tls.connect options: chain against trusted_ca, SANs by the matchers only. */
  private verifyOptions(): { rejectUnauthorized: boolean; checkServerIdentity: (host: string, cert: tls.PeerCertificate) => Error | undefined } {
    const sanCheck = this.sanCheck;
    return {
      rejectUnauthorized: this.config.trustedCaFile !== undefined,
      checkServerIdentity: (_host, cert) => {
        const sans = cert.subjectaltname ?? "";
        if (sanCheck === undefined || sanCheck(parseSans(sans))) return undefined;
        return Object.assign(new Error(`upstream certificate SANs ${JSON.stringify(sans)} match none of the cluster's subject alt name matchers`), {
          code: SAN_MISMATCH,
        });
      },
    };
  }

  /**
   * grpc-js credentials with the current material and the same verification (gRPC health checks);
   * undefined until material is loaded. Callers re-create channels on `onChange`.
   */
  grpcCredentials(): grpc.ChannelCredentials | undefined {
    const current = this.material.current;
    return current === undefined ? undefined : grpcJs().credentials.createFromSecureContext(current.context, this.verify);
  }

  /** Calls `fn` when new certificate material is in force. */
  onChange(fn: () => void): () => void {
    return this.material.onChange(fn);
  }

  /** Opens a TLS connection; `alpn` is used when the config names none. */
  connect(host: string, port: number, alpn: readonly string[]): tls.TLSSocket {
    const cfg = this.config;
    const current = this.material.current;
    const sock = nodeTls().connect({
      host,
      port,
      secureContext: current?.context,
      // Envoy sends no SNI unless `sni` is set; node would send the host name, so say "" explicitly.
      servername: cfg.sni === "" ? "" : cfg.sni,
      ALPNProtocols: [...(cfg.alpnProtocols.length > 0 ? cfg.alpnProtocols : alpn)],
      ...this.verify,
    });
    sock.setNoDelay(true);
    sock.once("secureConnect", () => {
      secured.add(sock);
      this.stats.handshake.inc();
    });
    sock.once("error", (err: NodeJS.ErrnoException) => {
      if (secured.has(sock)) return;
      const kind = classify(err, sock);
      failures.set(sock, kind);
      if (kind === "verify-san") this.stats.failVerifySan.inc();
      else if (kind === "verify-error") this.stats.failVerifyError.inc();
      else if (kind === "connection-error") this.stats.connectionError.inc();
    });
    // Without usable material (first load failed) nothing goes out unauthenticated.
    if (current === undefined) sock.destroy(Object.assign(new Error("upstream TLS material not loaded"), { code: "ERR_SSL_NO_MATERIAL" }));
    return sock;
  }

  private released = false;

  /** Stops watching the certificate files (the cluster is gone); idempotent (close, then destroy). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.material.release();
  }
}

function classify(err: NodeJS.ErrnoException, sock: net.Socket): TlsFailure {
  if (err.code === SAN_MISMATCH) return "verify-san";
  if (err.code !== undefined && VERIFY_CODES.has(err.code)) return "verify-error";
  // Reached the peer (TCP up) but TLS failed: a handshake error. Refused/unreachable is no TLS matter.
  if (err.code === "ERR_SSL_NO_MATERIAL") return "connection-error";
  if (err.code === "ECONNREFUSED" || err.code === "EHOSTUNREACH" || err.code === "ETIMEDOUT" || sock.connecting) return "";
  return "connection-error";
}

/** How `sock` failed its TLS handshake, if it did ("" when it did not or is cleartext). */
export function tlsFailureOf(sock: net.Socket | undefined): TlsFailure {
  return sock === undefined ? "" : (failures.get(sock) ?? "");
}

/** Whether an error from an HTTP/1.1 request is its connection's TLS handshake failing. */
export function isTlsHandshakeError(err: NodeJS.ErrnoException): boolean {
  return err.code === SAN_MISMATCH || (err.code !== undefined && VERIFY_CODES.has(err.code)) || (err.code?.startsWith("ERR_SSL_") ?? false);
}
