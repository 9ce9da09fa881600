/**
 * The process logger: JSON lines on stdout through pino. Never used on the request path (the access
 * log, when it exists, has its own sink); lifecycle events, config errors and warnings only.
 */
import { pino, type Logger } from "pino";

export type { Logger };

/** Creates the root logger; `PILOTFISH_LOG_LEVEL` overrides the level (default info). */
export function createLogger(name: string): Logger {
  return pino({
    name,
    level: process.env.PILOTFISH_LOG_LEVEL ?? "info",
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
