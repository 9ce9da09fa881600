/**
 * The access log: one JSON line per request, Envoy-like field names, written through pino to an
 * asynchronous, buffered destination (a file, stdout or stderr). Nothing here runs for a connection
 * manager without `access_log`.
 */
import { mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
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
  /** Set after a write error: lines are dropped from then on. */
  dead = false;

  constructor(readonly dest: DestinationStream & { flushSync?(): void; destroy?(): void; flush?(cb?: (err?: Error) => void): void }) {
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
    if (this.dead) return;
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
      downstream_peer_uri_san: r.downstreamPeerUriSan ?? null,
      user_agent: h["user-agent"] ?? null,
      x_request_id: r.requestId ?? null,
      trace_id: traceId ?? null,
    });
  }

  /** Stops writing (after a write error). */
  kill(): void {
    this.dead = true;
    clearInterval(this.timer);
    try {
      this.dest.destroy?.();
    } catch {
      // already closed
    }
  }

  /** Hands buffered lines to the OS. */
  flush(): void {
    if (this.dead) return;
    try {
      this.dest.flush?.();
    } catch {
      // not ready yet (file still opening): the next flush writes it
    }
  }

  /** Flushes synchronously and closes (process exit). */
  close(): void {
    clearInterval(this.timer);
    if (this.dead) return;
    try {
      this.dest.flushSync?.();
    } catch {
      // not open yet: nothing was written
    }
  }
}

/**
 * Opens the destination for one `access_log` entry; undefined (said once on stderr) when the file
 * cannot be opened. The file is opened here, synchronously, so that a bad path is known at once and
 * never becomes an asynchronous error in the writer; a later write error (disk full) stops that sink.
 */
export function openSink(cfg: AccessLogConfig): AccessLogSink | undefined {
  const s = cfg.sink;
  let fd: number;
  if (s.kind === "file") {
    try {
      mkdirSync(dirname(s.path), { recursive: true });
      fd = openSync(s.path, "a");
    } catch (err) {
      process.stderr.write(`pilotfish: access log ${s.path} disabled: ${(err as Error).message}\n`);
      return undefined;
    }
  } else {
    fd = s.kind === "stdout" ? 1 : 2;
  }
  const dest = pino.destination({
    dest: fd,
    sync: false,
    // Shared stdio keeps small writes so lines from the process log and this one do not interleave mid-line.
    minLength: s.kind === "file" ? MIN_LENGTH : 0,
  });
  const sink = new AccessLogSink(dest);
  (dest as unknown as NodeJS.EventEmitter).on("error", (err: Error) => {
    if (sink.dead) return;
    process.stderr.write(`pilotfish: access log ${s.kind === "file" ? s.path : s.kind} stopped: ${err.message}\n`);
    sink.kill();
  });
  return sink;
}

/** The loggers of one connection manager. */
export class AccessLogger {
  constructor(private readonly sinks: readonly AccessLogSink[]) {}

  log(r: RequestRecord, traceId: string | undefined): void {
    for (const s of this.sinks) s.write(r, traceId);
  }
}
