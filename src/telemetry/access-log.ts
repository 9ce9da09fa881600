/**
 * The access log: one JSON line per request, Envoy-like field names, written through pino to an
 * asynchronous, buffered destination (a file, stdout or stderr). Nothing here runs for a connection
 * manager without `access_log`.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import type { AccessLogConfig } from "../config/model.js";
import type { RequestRecord } from "./request-record.js";

/** Bytes buffered before a write; lines wait at most FLUSH_INTERVAL_MS. */
const MIN_LENGTH = 4096;
const FLUSH_INTERVAL_MS = 1000;

/** One sink shared by every connection manager that names it. */
export class AccessLogSink {
  private readonly logger: Logger;
  private readonly timer: NodeJS.Timeout;

  constructor(readonly dest: DestinationStream & { flushSync?(): void; end?(): void; flush?(cb?: (err?: Error) => void): void }) {
    this.logger = pino(
      {
        base: undefined,
        timestamp: false,
        messageKey: "message",
        // Every line starts with "log":"access" (in place of pino's level): on stdout it tells access
        // lines from the process log.
        formatters: { level: () => ({ log: "access" }) },
      },
      dest,
    );
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS).unref();
  }

  /** Writes one request's line. */
  write(r: RequestRecord, traceId: string | undefined): void {
    const h = r.requestHeaders;
    this.logger.info({
      start_time: new Date(r.startTimeMs).toISOString(),
      method: h[":method"],
      path: h[":path"],
      protocol: r.protocol,
      authority: h[":authority"] ?? h.host,
      response_code: r.responseStatus,
      grpc_status: r.grpcStatus ?? null,
      response_flags: r.flag === "" ? "-" : r.flag,
      bytes_received: r.bytesReceived,
      bytes_sent: r.bytesSent,
      duration_ms: Math.round((performance.now() - r.startPerfMs) * 1000) / 1000,
      upstream_host: r.upstreamHost ?? null,
      upstream_cluster: r.upstreamCluster ?? null,
      upstream_retries: r.retryCount,
      downstream_remote_address: r.downstreamAddress ?? null,
      user_agent: h["user-agent"] ?? null,
      x_request_id: r.requestId ?? null,
      trace_id: traceId ?? null,
    });
  }

  /** Hands buffered lines to the OS. */
  flush(): void {
    try {
      this.dest.flush?.();
    } catch {
      // not ready yet (file still opening): the next flush writes it
    }
  }

  /** Flushes synchronously and closes (process exit). */
  close(): void {
    clearInterval(this.timer);
    try {
      this.dest.flushSync?.();
    } catch {
      // not open yet: nothing was written
    }
  }
}

/** Opens the destination for one `access_log` entry. */
export function openSink(cfg: AccessLogConfig): AccessLogSink {
  const s = cfg.sink;
  const dest = pino.destination({
    dest: s.kind === "file" ? s.path : s.kind === "stdout" ? 1 : 2,
    sync: false,
    // Shared stdio keeps small writes so lines from the process log and this one do not interleave mid-line.
    minLength: s.kind === "file" ? MIN_LENGTH : 0,
    mkdir: s.kind === "file",
  });
  return new AccessLogSink(dest);
}

/** The loggers of one connection manager. */
export class AccessLogger {
  constructor(private readonly sinks: readonly AccessLogSink[]) {}

  log(r: RequestRecord, traceId: string | undefined): void {
    for (const s of this.sinks) s.write(r, traceId);
  }
}
