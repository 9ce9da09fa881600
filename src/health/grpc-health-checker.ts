/**
 * gRPC health checking: `grpc.health.v1.Health/Check` with the configured service name, over a
 * @grpc/grpc-js channel per host (kept between checks when reuse_connection is on, as Envoy does).
 * The two messages are tiny, so they are encoded by hand: HealthCheckRequest {string service = 1},
 * HealthCheckResponse {ServingStatus status = 1} where SERVING = 1.
 */
import type { UpstreamTls } from "../upstream/upstream-tls.js";
import type * as grpc from "@grpc/grpc-js";
import { grpcJs } from "../common/lazy-require.js";
import type { Host } from "../upstream/host.js";
import type { CheckVerdict, ProtocolChecker } from "./checker.js";

const CHECK_PATH = "/grpc.health.v1.Health/Check";
const SERVING = 1;

/** HealthCheckRequest bytes for `service`. */
export function encodeHealthCheckRequest(service: string): Buffer {
  if (service === "") return Buffer.alloc(0);
  const body = Buffer.from(service, "utf8");
  const len: number[] = [];
  let n = body.length;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([0x0a, ...len]), body]);
}

/** ServingStatus of a HealthCheckResponse (0 UNKNOWN when absent or malformed). */
export function decodeServingStatus(buf: Buffer): number {
  let i = 0;
  while (i < buf.length) {
    const tag = buf[i++];
    const wire = tag & 7;
    let v = 0;
    let shift = 0;
    if (wire === 0) {
      for (;;) {
        if (i >= buf.length) return 0;
        const b = buf[i++];
        v += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      if (tag >>> 3 === 1) return v;
    } else if (wire === 2) {
      let len = 0;
      for (;;) {
        if (i >= buf.length) return 0;
        const b = buf[i++];
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      i += len;
    } else {
      return 0;
    }
  }
  return 0;
}

export class GrpcHealthChecker implements ProtocolChecker {
  private readonly clients = new Map<Host, grpc.Client>();
  private readonly request: Buffer;

  constructor(
    service: string,
    private readonly authority: string,
    private readonly metadata: ReadonlyArray<{ name: string; value: string }>,
    private readonly reuseConnection: boolean,
    /** Reconnect backoff cap: a recovering host must not wait out grpc-js's default two minutes. */
    private readonly maxBackoffMs: number,
    /** The cluster's TLS origination: checks go over TLS too, and new material means new channels. */
    private readonly tls?: UpstreamTls,
  ) {
    this.request = encodeHealthCheckRequest(service);
    this.unsubscribe = tls?.onChange(() => this.dropChannels());
  }

  private readonly unsubscribe: (() => void) | undefined;

  check(host: Host, timeoutMs: number): Promise<CheckVerdict> {
    const client = this.client(host);
    const md = new (grpcJs().Metadata)();
    for (const h of this.metadata) md.add(h.name, h.value);
    return new Promise<CheckVerdict>((resolve) => {
      client.makeUnaryRequest<Buffer, Buffer>(
        CHECK_PATH,
        (b) => b,
        (b) => b,
        this.request,
        md,
        { deadline: Date.now() + timeoutMs },
        (err, res) => {
          if (!this.reuseConnection) this.release(host);
          if (err !== null) {
            // The server answered with a status (e.g. NOT_FOUND for an unknown service): an explicit
            // failure. UNAVAILABLE and DEADLINE_EXCEEDED are what an unreachable host looks like.
            const network = err.code === grpcJs().status.UNAVAILABLE || err.code === grpcJs().status.DEADLINE_EXCEEDED || err.code === grpcJs().status.CANCELLED;
            resolve(network ? "network" : "active");
            return;
          }
          resolve(res !== undefined && decodeServingStatus(res) === SERVING ? "healthy" : "active");
        },
      );
    });
  }

  private client(host: Host): grpc.Client {
    let c = this.clients.get(host);
    if (c === undefined) {
      const creds = this.tls === undefined ? grpcJs().credentials.createInsecure() : (this.tls.grpcCredentials() ?? grpcJs().credentials.createInsecure());
      c = new (grpcJs().Client)(host.key, creds, {
        "grpc.default_authority": this.authority,
        "grpc.initial_reconnect_backoff_ms": Math.min(1000, this.maxBackoffMs),
        "grpc.max_reconnect_backoff_ms": this.maxBackoffMs,
        // One channel per host: never share a subchannel with other checkers or clients.
        "grpc.use_local_subchannel_pool": 1,
        // The cluster's SNI, as its requests send it.
        ...(this.tls !== undefined && this.tls.config.sni !== "" ? { "grpc.ssl_target_name_override": this.tls.config.sni } : {}),
      });
      this.clients.set(host, c);
    }
    return c;
  }

  release(host: Host): void {
    this.clients.get(host)?.close();
    this.clients.delete(host);
  }

  close(): void {
    this.unsubscribe?.();
    this.dropChannels();
  }

  private dropChannels(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
