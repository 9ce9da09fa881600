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
/** A writer's buffer larger than this after a turn is dropped rather than kept for the next. */
const MAX_KEPT_BUFFER = 1024 * 1024;

/**
 * Frames of one event-loop turn accumulate here and leave as a single socket write, so 100 responses
 * read in one chunk cost one write(2) for the 100 requests they trigger, not 100. Large DATA payloads
 * that the writer may keep are not copied in: they stay referenced between the copied bytes and leave
 * in the same corked write (writev). The turn's bytes go to the socket as views of `buf`, not copies:
 * when the socket took them at once (the kernel had room, the usual case), `buf` is reused next turn;
 * when it queued them, `buf` stays the socket's and a new one is allocated (release()).
 */
export class FrameWriter {
  buf: Buffer;
  /** End of the bytes written into `buf`. */
  len = 0;
  /** Start of the bytes in `buf` not yet moved to `parts` (the bytes before it are queued there as a view). */
  private segStart = 0;
  /** Set once a payload was taken by reference: the turn's output, in order, before `buf`'s bytes. */
  private parts: Buffer[] | null = null;
  private partsBytes = 0;
  /**
   * Changes whenever bytes already written stop being where they were (the turn was taken, or `buf`
   * was replaced): a frame header recorded at an epoch may be amended while the epoch is unchanged.
   */
  epoch = 0;

  /**
   * `initial` bytes to start with; the buffer doubles as a turn needs. A server holds one writer per
   * client connection, mostly idle, so it starts small there.
   */
  constructor(private readonly initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Everything queued this turn, copied or referenced. */
  get size(): number {
    return this.len - this.segStart + this.partsBytes;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    // Bytes before segStart are already views in `parts`: only the rest moves to the new buffer.
    const used = this.len - this.segStart;
    let size = this.buf.length * 2;
    while (size < used + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.epoch++;
    this.buf.copy(next, 0, this.segStart, this.len);
    this.buf = next;
    this.len = used;
    this.segStart = 0;
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
   * payloads that are body chunks or socket reads of node's, never a reused buffer).
   */
  ref(src: Buffer, start: number, end: number): void {
    const parts = (this.parts ??= []);
    if (this.len > this.segStart) {
      parts.push(this.buf.subarray(this.segStart, this.len));
      this.partsBytes += this.len - this.segStart;
      this.segStart = this.len;
    }
    parts.push(start === 0 && end === src.length ? src : src.subarray(start, end));
    this.partsBytes += end - start;
  }

  /**
   * Sets END_STREAM on the DATA frame whose header was written at `pos` (recorded at `epoch`); false
   * when that frame is no longer this turn's bytes in `buf`, and the caller sends an empty one instead.
   */
  endStreamAt(pos: number, epoch: number): boolean {
    if (epoch !== this.epoch) return false;
    this.buf[pos + 4] |= Flag.END_STREAM;
    return true;
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

  /**
   * The turn's output as one buffer, or as several (referenced payloads) to write corked: views of
   * `buf`, valid until release(), which the caller owes right after handing them to the socket.
   */
  take(): Buffer | Buffer[] {
    const parts = this.parts;
    let out: Buffer | Buffer[];
    if (parts === null) {
      out = this.buf.subarray(0, this.len);
    } else {
      if (this.len > this.segStart) parts.push(this.buf.subarray(this.segStart, this.len));
      out = parts;
    }
    this.len = 0;
    this.segStart = 0;
    this.parts = null;
    this.partsBytes = 0;
    this.epoch++;
    return out;
  }

  /**
   * After the socket write of what take() returned: `kept` says the socket still holds some of it
   * (queued, not yet in the kernel), so `buf` is its now and the next turn writes into a new one.
   */
  release(kept: boolean): void {
    // Don't keep a buffer that one large turn grew to megabytes either.
    if (kept || this.buf.length > MAX_KEPT_BUFFER) this.buf = Buffer.allocUnsafe(this.initial);
  }

  /** Drops everything queued (the connection is gone). */
  clear(): void {
    this.epoch++;
    this.len = 0;
    this.segStart = 0;
    this.parts = null;
    this.partsBytes = 0;
  }
}
