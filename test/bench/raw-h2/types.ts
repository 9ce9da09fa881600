/** Public types of the raw HTTP/2 client and its per-stream record. */

export class RawH2Error extends Error {
  constructor(
    message: string,
    /** HTTP/2 error code (RST_STREAM or GOAWAY), or -1 for a socket failure. */
    readonly code: number,
    /** True when the server never processed the stream (GOAWAY above its id, REFUSED_STREAM). */
    readonly retryable = false,
  ) {
    super(message);
  }
}

export type ResponseCallback = (
  err: RawH2Error | null,
  status: number,
  headers: Record<string, string>,
  body: Buffer,
  trailers: Record<string, string> | null,
  ctx: unknown,
) => void;

export interface RawH2Options {
  host?: string;
  port: number;
  /** Our receive window per stream and (as a target) for the connection; default 65 535. */
  windowSize?: number;
}

export const EMPTY = Buffer.alloc(0);
export const NO_HEADERS: Record<string, string> = Object.freeze({});

export class Stream {
  id = 0;
  cb: ResponseCallback | null = null;
  ctx: unknown = null;
  reqHeaders: Record<string, string> | null = null;
  body: Buffer = EMPTY;
  sent = 0;
  sendWindow = 0;
  recvWindow = 0;
  recvUnacked = 0;
  status = 0;
  headers: Record<string, string> = NO_HEADERS;
  trailers: Record<string, string> | null = null;
  chunks: Buffer[] = [];
  bodyLen = 0;
  blocked = false;
}
