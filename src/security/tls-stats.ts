/** Envoy's `ssl.*` counters, under a cluster's or a listener's stat prefix. */
import type { Counter, StatsStore } from "../stats/stats-store.js";

/** `<prefix>ssl.*` counters. */
export interface TlsStats {
  /** Completed handshakes (`ssl.handshake`). */
  readonly handshake: Counter;
  /** Handshakes failed for reasons other than verification (`ssl.connection_error`). */
  readonly connectionError: Counter;
  /** Peer certificate chain not trusted, expired, ... (`ssl.fail_verify_error`). */
  readonly failVerifyError: Counter;
  /** Peer certificate trusted but no SAN matched (`ssl.fail_verify_san`). */
  readonly failVerifySan: Counter;
  /** A required peer certificate was not presented (`ssl.fail_verify_no_cert`). */
  readonly failVerifyNoCert: Counter;
}

/** Registers (or finds) the counters; `prefix` ends with a dot (`cluster.foo.`). */
export function tlsStats(store: StatsStore, prefix: string): TlsStats {
  const c = (s: string): Counter => store.counter(`${prefix}ssl.${s}`);
  return {
    handshake: c("handshake"),
    connectionError: c("connection_error"),
    failVerifyError: c("fail_verify_error"),
    failVerifySan: c("fail_verify_san"),
    failVerifyNoCert: c("fail_verify_no_cert"),
  };
}
