/** HTTP/2 wire constants (RFC 9113) and a small growable write buffer for frames. */

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export const FRAME_HEADER = 9;

export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 1,
  ENABLE_PUSH: 2,
  MAX_CONCURRENT_STREAMS: 3,
  INITIAL_WINDOW_SIZE: 4,
  MAX_FRAME_SIZE: 5,
  MAX_HEADER_LIST_SIZE: 6,
} as const;

export const ErrorCode = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  SETTINGS_TIMEOUT: 4,
  STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7,
  CANCEL: 8,
  COMPRESSION_ERROR: 9,
  ENHANCE_YOUR_CALM: 11,
} as const;

export const DEFAULT_WINDOW = 65_535;
export const MAX_WINDOW = 0x7fff_ffff;
export const DEFAULT_MAX_FRAME = 16_384;
/** Stream ids are 31 bits; client streams are odd. */
export const MAX_STREAM_ID = 0x7fff_ffff;

/**
 * Frames of one event-loop turn accumulate here and leave as a single socket write, so 100 responses
 * read in one chunk cost one write(2) for the 100 requests they trigger, not 100. Large DATA payloads
 * are not copied in: they are kept by reference between the copied bytes and leave in the same
 * corked write (writev), so a bulk transfer costs no copy of its bytes in JavaScript.
 */
export class FrameWriter {
  buf: Buffer;
  /** Bytes in `buf` not yet taken. */
  len = 0;
  /** Set once a payload was taken by reference: the turn's output, in order, before `buf`'s bytes. */
  private parts: Buffer[] | null = null;
  private partsBytes = 0;

  /**
   * `initial` bytes to start with; the buffer doubles as a turn needs. A server holds one writer per
   * client connection, mostly idle, so it starts small there.
   */
  constructor(private readonly initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Everything queued this turn, copied or referenced. */
  get size(): number {
    return this.len + this.partsBytes;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  header(length: number, type: number, flags: number, streamId: number): void {
    this.ensure(FRAME_HEADER + length);
    const b = this.buf;
    let p = this.len;
    b[p++] = (length >>> 16) & 0xff;
    b[p++] = (length >>> 8) & 0xff;
    b[p++] = length & 0xff;
    b[p++] = type;
    b[p++] = flags;
    b.writeUInt32BE(streamId >>> 0, p);
    this.len = p + 4;
  }

  bytes(src: Buffer, start: number, end: number): void {
    this.ensure(end - start);
    src.copy(this.buf, this.len, start, end);
    this.len += end - start;
  }

  /**
   * Queues `src[start, end)` by reference (the caller must not change those bytes afterwards: DATA
   * payloads are socket reads or body chunks, never reused).
   */
  ref(src: Buffer, start: number, end: number): void {
    const parts = (this.parts ??= []);
    if (this.len > 0) {
      parts.push(this.copyOut());
      this.partsBytes += parts[parts.length - 1].length;
    }
    parts.push(start === 0 && end === src.length ? src : src.subarray(start, end));
    this.partsBytes += end - start;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
  }

  /** The turn's output as one buffer, or as several (referenced payloads) to write corked. */
  take(): Buffer | Buffer[] {
    const parts = this.parts;
    if (parts === null) return this.copyOut();
    if (this.len > 0) parts.push(this.copyOut());
    this.parts = null;
    this.partsBytes = 0;
    return parts;
  }

  /** Drops everything queued (the connection is gone). */
  clear(): void {
    this.len = 0;
    this.parts = null;
    this.partsBytes = 0;
  }

  /** A copy, because the socket may still hold the chunk when the next turn reuses `buf`. */
  private copyOut(): Buffer {
    const out = Buffer.allocUnsafe(this.len);
    this.buf.copy(out, 0, 0, this.len);
    this.len = 0;
    // Don't keep a buffer that one large upload grew to megabytes.
    if (this.buf.length > 1024 * 1024) this.buf = Buffer.allocUnsafe(this.initial);
    return out;
  }
}
