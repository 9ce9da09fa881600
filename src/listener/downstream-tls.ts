/**
 * TLS termination for a listener (DownstreamTlsContext): the server's certificate material is
 * watched and swapped in with `setSecureContext` (new handshakes use it, open connections keep
 * theirs); a presented client certificate must chain to trusted_ca and, when the validation context
 * has SAN matchers, match one of them, as Envoy's default validator does. A client without a
 * certificate is refused only with require_client_certificate. Outcomes land in
 * `listener.<name>.ssl.*`.
 */
import type * as tls from "node:tls";
import type { DownstreamTlsConfig } from "../config/model.js";
import { compileSanCheck, parseSans, type SanCheck } from "../security/san-match.js";
import { TlsMaterial, type TlsMaterialVersion } from "../security/tls-material.js";
import type { TlsStats } from "../security/tls-stats.js";
import { createLogger, type Logger } from "../common/logger.js";

let log: Logger | undefined;
const logger = (): Logger => (log ??= createLogger("pilotfish-tls"));

/** A listener's TLS side. */
export class DownstreamTls {
  private readonly material: TlsMaterial;
  private readonly sanCheck: SanCheck | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly config: DownstreamTlsConfig,
    private readonly stats: TlsStats,
  ) {
    this.material = TlsMaterial.acquire({ cert: config.certificateChainFile, key: config.privateKeyFile, ca: config.trustedCaFile }, true);
    const m = config.sanMatchers ?? [];
    this.sanCheck = m.length > 0 ? compileSanCheck(m) : undefined;
  }

  /** Options for tls.createServer. */
  serverOptions(): tls.TlsOptions {
    const c = this.config;
    const verify = c.trustedCaFile !== undefined;
    return {
      ...contextOptions(this.material.current!),
      // With a CA, ask for a certificate even when not required: one that is presented must verify.
      requestCert: verify,
      rejectUnauthorized: c.requireClientCertificate,
      ALPNProtocols: [...c.alpnProtocols],
    };
  }

  /** Swaps new material into `server` as it arrives. */
  attach(server: tls.Server): void {
    this.unsubscribe = this.material.onChange((v) => server.setSecureContext(contextOptions(v)));
  }

  /**
   * Whether a handshaken connection may stay: a presented certificate verified and its SANs
   * matched. Counts the handshake or the failure.
   */
  admit(sock: tls.TLSSocket): boolean {
    if (this.config.trustedCaFile === undefined) {
      this.stats.handshake.inc();
      return true;
    }
    if (!sock.authorized) {
      const cert = sock.getPeerCertificate(false);
      const presented = cert !== null && Object.keys(cert).length > 0;
      if (presented) {
        this.stats.failVerifyError.inc();
        return false;
      }
      // No certificate and none required (rejectUnauthorized would have refused it otherwise).
      if (this.config.requireClientCertificate) {
        this.stats.failVerifyNoCert.inc();
        return false;
      }
      this.stats.handshake.inc();
      return true;
    }
    if (this.sanCheck !== undefined && !this.sanCheck(parseSans(sock.getPeerCertificate(false).subjectaltname))) {
      this.stats.failVerifySan.inc();
      return false;
    }
    this.stats.handshake.inc();
    return true;
  }

  /** Counts a handshake node refused (no or untrusted client certificate with rejectUnauthorized). */
  onTlsClientError(err: NodeJS.ErrnoException): void {
    const msg = `${err.code ?? ""} ${err.message}`;
    if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED/i.test(msg)) this.stats.failVerifyNoCert.inc();
    else if (/CERTIFICATE_VERIFY_FAILED|UNKNOWN_CA|unable to get|self.signed|certificate/i.test(msg)) this.stats.failVerifyError.inc();
    else this.stats.connectionError.inc();
  }

  /**
   * A listener update changed the TLS context: new handshakes use `next` (certificate, CA, client
   * certificate requirement, SAN matchers); open connections keep theirs. Unreadable new files keep
   * this context (logged) and return it.
   */
  replace(next: DownstreamTlsConfig, server: tls.Server): DownstreamTls {
    let fresh: DownstreamTls;
    try {
      fresh = new DownstreamTls(next, this.stats);
    } catch (err) {
      logger().error({ err: (err as Error).message }, "listener TLS update cannot be applied; keeping the previous TLS context");
      return this;
    }
    const opts = fresh.serverOptions();
    server.setSecureContext(opts);
    // Read by node for every new connection (tls.Server keeps them as properties).
    const s = server as tls.Server & { requestCert: boolean; rejectUnauthorized: boolean };
    s.requestCert = opts.requestCert === true;
    s.rejectUnauthorized = opts.rejectUnauthorized === true;
    fresh.attach(server);
    this.release();
    return fresh;
  }

  /** Stops following the files. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.unsubscribe?.();
    this.material.release();
  }

  private released = false;
}

function contextOptions(v: TlsMaterialVersion): tls.SecureContextOptions {
  return { cert: v.cert, key: v.key, ca: v.ca };
}
