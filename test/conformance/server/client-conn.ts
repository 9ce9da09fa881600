/**
 * A scripted HTTP/2 client connection over net for the server conformance suite: the counterpart of
 * ../peer.ts. It writes whatever a case scripts (the preface, frames no client library would send),
 * parses every frame the server sends back, decodes the server's header blocks, keeps both sides'
 * flow-control windows, and offers bounded waits on what the server did: a frame on a stream, a
 * GOAWAY or RST_STREAM and its code, the close. Nothing here goes through node:http2.
 */
import * as net from "node:net";
import {
  data,
  Flag,
  FrameType,
  headers,
  ping,
  PREFACE,
  type ReceivedFrame,
  SettingId,
  settings,
  splitFrames,
  windowUpdate,
} from "../../helpers/h2-frames.js";
import { withTimeout } from "../../helpers/util.js";
import { type Fields, RequestEncoder, ResponseDecoder } from "./hpack-codec.js";

/** How long one wait lasts before it fails the case (every wait is bounded). */
export const WAIT_MS = 3000;

const DEFAULT_WINDOW = 65_535;
const DEFAULT_MAX_FRAME = 16_384;
const FRAME_NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"];

/** One stream's response as received. */
export interface StreamResponse {
  /** Decoded header blocks in order: informational, final, then trailers. */
  readonly blocks: Array<Array<[string, string]>>;
  /** DATA payload bytes (padding excluded). */
  readonly chunks: Buffer[];
  /** Whether a frame with END_STREAM arrived. */
  ended: boolean;
}

export interface ConnectOptions {
  /** Send the preface and SETTINGS (default true); false leaves the socket silent for the case to write. */
  readonly preface?: boolean;
  /** The SETTINGS in our preface. */
  readonly settings?: ReadonlyArray<readonly [number, number]>;
  /** ACK the server's SETTINGS (default true). */
  readonly ackSettings?: boolean;
  /** Re-open the server's windows after each DATA (default true); flow-control cases turn it off. */
  readonly autoWindow?: boolean;
}

interface Waiter {
  run(): boolean;
}

/** One client connection to the server under test. */
export class ClientConn {
  /** Every frame the server sent, in order. */
  readonly frames: ReceivedFrame[] = [];
  /** The server's first SETTINGS, by identifier (undefined until it came). */
  serverSettings: Map<number, number> | undefined;
  /** Type of the server's first frame. */
  firstFrameType: number | undefined;
  /** SETTINGS ACKs the server sent. */
  settingsAcks = 0;
  /** The server's first GOAWAY. */
  goaway: { lastStreamId: number; code: number; debug: string } | undefined;
  /** The server's RST_STREAM codes, by stream. */
  readonly rsts = new Map<number, number>();
  /** Responses by stream. */
  readonly responses = new Map<number, StreamResponse>();
  /** Flow-control or frame-size violations by the server, described. */
  readonly violations: string[] = [];
  /** Header blocks of the server that failed to decode. */
  readonly hpackErrors: string[] = [];
  closed = false;

  private buf: Buffer = Buffer.alloc(0);
  private readonly waiters = new Set<Waiter>();
  private readonly encoder = new RequestEncoder();
  private readonly decoder = new ResponseDecoder();
  /** Header block being reassembled from HEADERS + CONTINUATION. */
  private pendingBlock: { streamId: number; parts: Buffer[]; endStream: boolean } | undefined;
  private pingSeq = 0;
  /** What we allow the server to send: our SETTINGS_INITIAL_WINDOW_SIZE, our grants, minus its DATA. */
  private ourInitialWindow = DEFAULT_WINDOW;
  private recvConn = DEFAULT_WINDOW;
  private readonly recvStream = new Map<number, number>();
  private ourMaxFrame = DEFAULT_MAX_FRAME;
  /** What the server allows us to send. */
  private serverInitialWindow = DEFAULT_WINDOW;
  private sendConn = DEFAULT_WINDOW;
  private readonly sendStream = new Map<number, number>();

  private constructor(
    readonly sock: net.Socket,
    private readonly ackSettings: boolean,
    private readonly autoWindow: boolean,
  ) {
    sock.on("data", (b: Buffer) => this.onData(b));
    sock.on("error", () => undefined);
    sock.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Connects to 127.0.0.1:`port` and, unless told otherwise, sends the preface and our SETTINGS. */
  static async connect(port: number, opts: ConnectOptions = {}): Promise<ClientConn> {
    const sock = net.connect({ host: "127.0.0.1", port, noDelay: true });
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        sock.once("connect", resolve);
        sock.once("error", reject);
      }),
      WAIT_MS,
      `connect to 127.0.0.1:${port}`,
    );
    const c = new ClientConn(sock, opts.ackSettings ?? true, opts.autoWindow ?? true);
    if (opts.preface ?? true) c.sendSettingsPreface(opts.settings ?? []);
    return c;
  }

  /** Sends the preface and a SETTINGS frame, noting our own window and frame size. */
  sendSettingsPreface(pairs: ReadonlyArray<readonly [number, number]>): void {
    this.noteOurSettings(pairs);
    this.send(PREFACE, settings(pairs));
  }

  /** Sends a later SETTINGS frame of ours, noting what changes for the server's sending (§6.9.2). */
  sendSettings(pairs: ReadonlyArray<readonly [number, number]>): void {
    this.noteOurSettings(pairs);
    this.send(settings(pairs));
  }

  /** Writes raw bytes (nothing is checked: that is the point). */
  send(...bufs: Buffer[]): void {
    if (!this.sock.destroyed) this.sock.write(bufs.length === 1 ? bufs[0] : Buffer.concat(bufs));
  }

  /** Waits for the server's SETTINGS and its ACK of ours: both sides now know each other's limits. */
  async handshake(ms = WAIT_MS): Promise<void> {
    await this.until(() => (this.serverSettings !== undefined && this.settingsAcks >= 1 ? true : undefined), "server SETTINGS and SETTINGS ACK", ms);
  }

  /** Resolves with `check()`'s first defined value, re-checked on every frame and on close. */
  until<T>(check: () => T | undefined, label: string, ms = WAIT_MS): Promise<T> {
    const first = check();
    if (first !== undefined) return Promise.resolve(first);
    return new Promise<T>((resolve, reject) => {
      const w: Waiter = {
        run: () => {
          const v = check();
          if (v === undefined) return false;
          clearTimeout(timer);
          resolve(v);
          return true;
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`client: no ${label} within ${ms} ms; the server sent ${this.describe()}${this.closed ? ", then closed" : ""}`));
      }, ms);
      this.waiters.add(w);
    });
  }

  /** The first frame of `type` (on `streamId` if given) that satisfies `pred`. */
  frame(type: number, streamId?: number, pred: (f: ReceivedFrame) => boolean = () => true, ms = WAIT_MS): Promise<ReceivedFrame> {
    const label = `${FRAME_NAMES[type] ?? `type ${type}`}${streamId === undefined ? "" : ` on stream ${streamId}`}`;
    return this.until(() => this.frames.find((f) => f.type === type && (streamId === undefined || f.streamId === streamId) && pred(f)), label, ms);
  }

  /** Resolves once the server closed the TCP connection. */
  waitClosed(ms = WAIT_MS): Promise<true> {
    return this.until(() => (this.closed ? true : undefined), "TCP close", ms);
  }

  /**
   * A PING round trip: once its ACK is back, the server has processed everything sent before it
   * (frames are handled in order), so a fault it tolerated did not make it react.
   */
  async barrier(ms = WAIT_MS): Promise<void> {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(0x5e7e0000, 0);
    payload.writeUInt32BE(++this.pingSeq, 4);
    this.send(ping(payload));
    await this.until(() => this.frames.find((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0 && f.payload.equals(payload)), "PING ACK", ms);
  }

  /** A header block for `fields`, HPACK-coded against this connection's dynamic table. */
  block(fields: Fields): Buffer {
    return this.encoder.encode(fields);
  }

  /** Sends a complete request: HEADERS (END_STREAM when `body` is absent), then `body` in one DATA. */
  request(streamId: number, fields: Fields, body?: Buffer): void {
    const block = this.block(fields);
    if (body === undefined) {
      this.send(headers(streamId, block, { endStream: true }));
      return;
    }
    this.send(headers(streamId, block), this.dataFrame(streamId, body, true));
  }

  /** One DATA frame, counted against the server's windows (the case decides whether it fits). */
  dataFrame(streamId: number, body: Buffer, endStream = false): Buffer {
    this.sendConn -= body.length;
    this.sendStream.set(streamId, this.sendWindow(streamId) - body.length);
    return data(streamId, body, endStream);
  }

  /** How much DATA the server currently allows on `streamId` (its stream window only). */
  sendWindow(streamId: number): number {
    return this.sendStream.get(streamId) ?? this.serverInitialWindow;
  }

  /** How much DATA the server currently allows on the connection. */
  get connSendWindow(): number {
    return this.sendConn;
  }

  /** Sends `body` on `streamId` within the server's windows and frame size, waiting for its WINDOW_UPDATEs. */
  async sendBody(streamId: number, body: Buffer, endStream = true, ms = WAIT_MS): Promise<void> {
    const maxFrame = this.serverSettings?.get(SettingId.MAX_FRAME_SIZE) ?? DEFAULT_MAX_FRAME;
    let off = 0;
    while (off < body.length) {
      const room = await this.until(() => {
        const r = Math.min(this.sendWindow(streamId), this.sendConn, maxFrame, body.length - off);
        return r > 0 ? r : undefined;
      }, `WINDOW_UPDATE for stream ${streamId} (sent ${off} of ${body.length} bytes)`, ms);
      const chunk = body.subarray(off, off + room);
      off += room;
      this.send(this.dataFrame(streamId, chunk, endStream && off === body.length));
    }
  }

  /** Grants the server `increment` more bytes on `streamId` (0: the connection) and records it. */
  grant(streamId: number, increment: number): void {
    if (streamId === 0) this.recvConn += increment;
    else this.recvStream.set(streamId, this.recvWindow(streamId) + increment);
    this.send(windowUpdate(streamId, increment));
  }

  /** The response on `streamId`, once it ended (END_STREAM) within `ms`. */
  async response(streamId: number, ms = WAIT_MS): Promise<StreamResponse> {
    return this.until(() => {
      const r = this.responses.get(streamId);
      return r?.ended === true ? r : undefined;
    }, `complete response on stream ${streamId}`, ms);
  }

  /** DATA bytes received on `streamId`. */
  received(streamId: number): number {
    return this.responses.get(streamId)?.chunks.reduce((n, c) => n + c.length, 0) ?? 0;
  }

  /** One-line list of the server's frames, for failure messages. */
  describe(): string {
    const parts = this.frames.map((f) => {
      const name = FRAME_NAMES[f.type] ?? `type${f.type}`;
      let detail = `s${f.streamId}`;
      if (f.type === FrameType.GOAWAY && f.payload.length >= 8) detail += ` code=${f.payload.readUInt32BE(4)}`;
      if (f.type === FrameType.RST_STREAM && f.payload.length >= 4) detail += ` code=${f.payload.readUInt32BE(0)}`;
      if (f.type === FrameType.DATA) detail += ` ${f.payload.length}B`;
      if ((f.type === FrameType.SETTINGS || f.type === FrameType.PING) && (f.flags & Flag.ACK) !== 0) detail += " ACK";
      if ((f.type === FrameType.DATA || f.type === FrameType.HEADERS) && (f.flags & Flag.END_STREAM) !== 0) detail += " ES";
      return `${name}(${detail})`;
    });
    const s = parts.length === 0 ? "nothing" : parts.slice(0, 30).join(" ") + (parts.length > 30 ? ` … (${parts.length})` : "");
    return this.goaway?.debug ? `${s} [GOAWAY debug: ${this.goaway.debug}]` : s;
  }

  destroy(): void {
    this.sock.destroy();
  }

  private recvWindow(streamId: number): number {
    return this.recvStream.get(streamId) ?? this.ourInitialWindow;
  }

  private noteOurSettings(pairs: ReadonlyArray<readonly [number, number]>): void {
    for (const [id, v] of pairs) {
      if (id === SettingId.INITIAL_WINDOW_SIZE) {
        // §6.9.2: a new initial window shifts every open stream's window by the difference.
        const delta = v - this.ourInitialWindow;
        for (const [s, w] of this.recvStream) this.recvStream.set(s, w + delta);
        this.ourInitialWindow = v;
      } else if (id === SettingId.MAX_FRAME_SIZE) {
        this.ourMaxFrame = v;
      } else if (id === SettingId.HEADER_TABLE_SIZE) {
        this.decoder.setLimit(v);
      }
    }
  }

  private onData(b: Buffer): void {
    this.buf = this.buf.length === 0 ? b : Buffer.concat([this.buf, b]);
    const { frames, rest } = splitFrames(this.buf);
    this.buf = rest.length === 0 ? Buffer.alloc(0) : Buffer.from(rest);
    for (const f of frames) this.onFrame(f);
    this.wake();
  }

  private onFrame(f: ReceivedFrame): void {
    this.firstFrameType ??= f.type;
    this.frames.push(f);
    if (f.payload.length > this.ourMaxFrame) this.violations.push(`${FRAME_NAMES[f.type] ?? f.type} of ${f.payload.length} B > our SETTINGS_MAX_FRAME_SIZE ${this.ourMaxFrame}`);
    switch (f.type) {
      case FrameType.SETTINGS:
        if ((f.flags & Flag.ACK) !== 0) this.settingsAcks++;
        else this.onServerSettings(f.payload);
        break;
      case FrameType.GOAWAY:
        if (f.payload.length >= 8) {
          this.goaway ??= { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4), debug: f.payload.subarray(8).toString("latin1") };
        }
        break;
      case FrameType.RST_STREAM:
        if (f.payload.length >= 4) this.rsts.set(f.streamId, f.payload.readUInt32BE(0));
        break;
      case FrameType.WINDOW_UPDATE:
        if (f.payload.length === 4) {
          const inc = f.payload.readUInt32BE(0) & 0x7fffffff;
          if (f.streamId === 0) this.sendConn += inc;
          else this.sendStream.set(f.streamId, this.sendWindow(f.streamId) + inc);
        }
        break;
      case FrameType.HEADERS:
        this.onHeaders(f);
        break;
      case FrameType.CONTINUATION:
        if (this.pendingBlock?.streamId === f.streamId) {
          this.pendingBlock.parts.push(f.payload);
          if ((f.flags & Flag.END_HEADERS) !== 0) this.finishBlock();
        }
        break;
      case FrameType.DATA:
        this.onServerData(f);
        break;
    }
  }

  private onServerSettings(payload: Buffer): void {
    const values = new Map<number, number>();
    for (let i = 0; i + 6 <= payload.length; i += 6) values.set(payload.readUInt16BE(i), payload.readUInt32BE(i + 2));
    this.serverSettings ??= values;
    const iws = values.get(SettingId.INITIAL_WINDOW_SIZE);
    if (iws !== undefined) {
      const delta = iws - this.serverInitialWindow;
      for (const [id, w] of this.sendStream) this.sendStream.set(id, w + delta);
      this.serverInitialWindow = iws;
    }
    if (this.ackSettings) this.send(settings([], true));
  }

  private onHeaders(f: ReceivedFrame): void {
    let p = f.payload;
    if ((f.flags & Flag.PADDED) !== 0 && p.length > 0) p = p.subarray(1, p.length - p[0]);
    if ((f.flags & Flag.PRIORITY) !== 0) p = p.subarray(5);
    this.pendingBlock = { streamId: f.streamId, parts: [p], endStream: (f.flags & Flag.END_STREAM) !== 0 };
    if ((f.flags & Flag.END_HEADERS) !== 0) this.finishBlock();
  }

  private finishBlock(): void {
    const b = this.pendingBlock!;
    this.pendingBlock = undefined;
    const fields = this.decoder.decode(Buffer.concat(b.parts));
    if (fields instanceof Error) {
      this.hpackErrors.push(`stream ${b.streamId}: ${fields.message}`);
      return;
    }
    const r = this.stream(b.streamId);
    r.blocks.push(fields);
    if (b.endStream) r.ended = true;
  }

  private onServerData(f: ReceivedFrame): void {
    let p = f.payload;
    const n = f.payload.length;
    if ((f.flags & Flag.PADDED) !== 0 && p.length > 0) p = p.subarray(1, p.length - p[0]);
    const r = this.stream(f.streamId);
    r.chunks.push(Buffer.from(p));
    if ((f.flags & Flag.END_STREAM) !== 0) r.ended = true;
    // §6.9.1: the whole frame, padding included, counts against both windows.
    this.recvConn -= n;
    const w = this.recvWindow(f.streamId) - n;
    this.recvStream.set(f.streamId, w);
    if (this.recvConn < 0) this.violations.push(`connection window overrun by ${-this.recvConn} B (DATA on stream ${f.streamId})`);
    if (w < 0) this.violations.push(`stream ${f.streamId} window overrun by ${-w} B`);
    if (this.autoWindow && n > 0) {
      this.grant(0, n);
      if ((f.flags & Flag.END_STREAM) === 0) this.grant(f.streamId, n);
    }
  }

  private stream(id: number): StreamResponse {
    let r = this.responses.get(id);
    if (r === undefined) {
      r = { blocks: [], chunks: [], ended: false };
      this.responses.set(id, r);
    }
    return r;
  }

  private wake(): void {
    for (const w of [...this.waiters]) if (w.run()) this.waiters.delete(w);
  }
}
