/**
 * What a worker primary and its worker processes say to each other over the fork IPC channel.
 * Config is not relayed: every worker reads the same bootstrap and holds its own ADS stream (see
 * docs/performance.md, "Workers"); IPC carries readiness, admin queries and admin actions only.
 */

/** Env var naming a worker's index; its presence makes `pilotfish sidecar` run as a worker. */
export const WORKER_INDEX_ENV = "PILOTFISH_WORKER_INDEX";
/** Env var with the JSON map listener name → port the primary reserved (static listeners on port 0). */
export const WORKER_PORTS_ENV = "PILOTFISH_WORKER_PORTS";

/** Admin questions and actions a primary forwards to its workers. */
export type WorkerQuery =
  | "stats"
  | "clusters"
  | "ready"
  | "config_dump"
  | "healthcheck_fail"
  | "healthcheck_ok"
  | "drain_listeners";

/** Primary → worker: answer `q`, echoing `id`. */
export interface QueryMessage {
  readonly t: "query";
  readonly id: number;
  readonly q: WorkerQuery;
}

/** Worker → primary: the answer to query `id`. */
export interface AnswerMessage {
  readonly t: "answer";
  readonly id: number;
  readonly body: unknown;
}

/** Worker → primary: listeners are bound (name → port). */
export interface WorkerReadyMessage {
  readonly t: "ready";
  readonly listeners: Record<string, number>;
}

/** Anything a worker sends. */
export type FromWorker = AnswerMessage | WorkerReadyMessage;

/** Narrows an IPC message from a worker. */
export function isFromWorker(m: unknown): m is FromWorker {
  return typeof m === "object" && m !== null && ((m as FromWorker).t === "answer" || (m as FromWorker).t === "ready");
}

/** Narrows an IPC message from the primary. */
export function isQuery(m: unknown): m is QueryMessage {
  return typeof m === "object" && m !== null && (m as QueryMessage).t === "query";
}
