/**
 * A scripted HTTP/2 server peer over net for the client conformance suite. It checks the client's
 * preface and first SETTINGS, answers with its own SETTINGS, ACKs the client's, and otherwise does
 * only what a case tells it. Everything the client sends is recorded, so a case can assert the
 * client's reaction on the wire: GOAWAY and its code, RST_STREAM codes, ACKs, WINDOW_UPDATEs, close.
 * Nothing here goes through node:http2: the peer must be able to send what no server library would.
 */
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import {
  data,
  Flag,
  FrameType,
  headers,
  ping,
  PREFACE,
  type ReceivedFrame,
  responseBlock,
  SettingId,
  settings,
  splitFrames,
  windowUpdate,
} from "../helpers/h2-frames.js";

/** How long a peer wait lasts before it fails the case (every wait is bounded). */
export const WAIT_MS = 3000;

const DEFAULT_WINDOW = 65_535;
const FRAME_NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"];

/** What the client did about a fault: the first GOAWAY or RST_STREAM it sent, or its close. */
export interface Reaction {
  readonly kind: "goaway" | "rst" | "closed";
  /** Error code of the GOAWAY or RST_STREAM. */
  readonly code?: number;
  /** Stream of the RST_STREAM; last-stream-id of the GOAWAY. */
  readonly streamId?: number;
}

interface Waiter {
  /** Re-evaluates the awaited condition; true once it settled. */
  run(): boolean;
}

/** One accepted client connection. */
export class PeerConn {
  /** Every frame the client sent after the preface, in order. */
  readonly frames: ReceivedFrame[] = [];
  /** Whether the first 24 bytes were the client preface (undefined until they arrived). */
  prefaceOk: boolean | undefined;
  /** Type of the first frame after the preface. */
  firstFrameType: number | undefined;
  /** The client's first SETTINGS, by identifier. */
  clientSettings: Map<number, number> | undefined;
  /** The client's GOAWAY, if it sent one. */
  goaway: { lastStreamId: number; code: number } | undefined;
  /** RST_STREAM codes the client sent, by stream. */
  readonly rsts = new Map<number, number>();
  /** SETTINGS ACKs the client sent. */
  settingsAcks = 0;
  closed = false;
  /** Flow-control violations by the client: DATA beyond what this peer had granted when it arrived. */
  readonly overruns: string[] = [];
  /** DATA bytes the client sent, by stream (0 = whole connection). */
  readonly received = new Map<number, number>();
  /** Streams whose DATA carried END_STREAM. */
  readonly endedStreams = new Set<number>();
  /** Requests that arrived and that `respond` has not answered yet. */
  readonly unanswered = new Set<number>();
  /** Most unanswered requests at once, counted from the client's first SETTINGS ACK (it knows our limits). */
  peakUnanswered = 0;

  private buf: Buffer = Buffer.alloc(0);
  private readonly seenStreams = new Set<number>();
  private readonly waiters = new Set<Waiter>();
  private requestCursor = 0;
  /** What this peer allowed the client to send: connection total and per-stream increments. */
  private grantedConn = DEFAULT_WINDOW;
  private readonly grantedStream = new Map<number, number>();
  private ourInitialWindow: number;
  /** What the client allows this peer to send (its SETTINGS and WINDOW_UPDATEs minus DATA sent). */
  private sendConn = DEFAULT_WINDOW;
  private readonly sendStream = new Map<number, number>();
  private clientInitialWindow = DEFAULT_WINDOW;
  private pingSeq = 0;

  constructor(
    readonly sock: net.Socket,
    ourSettings: ReadonlyArray<readonly [number, number]>,
  ) {
    this.ourInitialWindow = ourSettings.find(([id]) => id === SettingId.INITIAL_WINDOW_SIZE)?.[1] ?? DEFAULT_WINDOW;
    sock.setNoDelay(true);
    sock.on("data", (b: Buffer) => this.onData(b, ourSettings));
    sock.on("error", () => undefined);
    sock.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Writes raw bytes (nothing is checked: that is the point). */
  send(...bufs: Buffer[]): void {
    if (!this.sock.destroyed) this.sock.write(bufs.length === 1 ? bufs[0] : Buffer.concat(bufs));
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
        reject(new Error(`peer: no ${label} within ${ms} ms; the client sent ${this.describe()}${this.closed ? ", then closed" : ""}`));
      }, ms);
      this.waiters.add(w);
    });
  }

  /** Stream id of the next request whose header block is complete. */
  async nextRequest(ms = WAIT_MS): Promise<number> {
    const f = await this.until(() => {
      for (let i = this.requestCursor; i < this.frames.length; i++) {
        const fr = this.frames[i];
        const endsBlock = (fr.type === FrameType.HEADERS || fr.type === FrameType.CONTINUATION) && (fr.flags & Flag.END_HEADERS) !== 0;
        if (endsBlock) {
          this.requestCursor = i + 1;
          return fr;
        }
      }
      return undefined;
    }, "request HEADERS", ms);
    return f.streamId;
  }

  /** The client's first GOAWAY or RST_STREAM, or its close without either. */
  reaction(ms = WAIT_MS): Promise<Reaction> {
    return this.until<Reaction>(() => {
      for (const f of this.frames) {
        if (f.type === FrameType.GOAWAY && f.payload.length >= 8) {
          return { kind: "goaway", code: f.payload.readUInt32BE(4), streamId: f.payload.readUInt32BE(0) & 0x7fffffff };
        }
        if (f.type === FrameType.RST_STREAM && f.payload.length >= 4) return { kind: "rst", code: f.payload.readUInt32BE(0), streamId: f.streamId };
      }
      return this.closed ? { kind: "closed" } : undefined;
    }, "GOAWAY, RST_STREAM or close", ms);
  }

  /** Resolves once the client closed the TCP connection. */
  waitClosed(ms = WAIT_MS): Promise<true> {
    return this.until(() => (this.closed ? true : undefined), "TCP close", ms);
  }

  /**
   * A PING round trip: once its ACK is back, the client has processed everything sent before it
   * (frames are handled in order), so a fault it tolerated did not make it react.
   */
  async barrier(ms = WAIT_MS): Promise<void> {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(0xc0ffee00, 0);
    payload.writeUInt32BE(++this.pingSeq, 4);
    this.send(ping(payload));
    await this.until(() => this.frames.find((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0 && f.payload.equals(payload)), "PING ACK", ms);
  }

  /** Resolves once the client has ACKed `n` of this peer's SETTINGS frames. */
  settingsAcked(n = 1, ms = WAIT_MS): Promise<true> {
    return this.until(() => (this.settingsAcks >= n ? true : undefined), `SETTINGS ACK #${n}`, ms);
  }

  /** A complete response: HEADERS (`:status`, `extra`), then `body` as one DATA with END_STREAM. */
  respond(streamId: number, status = 200, body = "ok", extra: ReadonlyArray<readonly [string, string]> = []): void {
    this.unanswered.delete(streamId);
    const block = responseBlock(status, extra);
    if (body === "") {
      this.send(headers(streamId, block, { endStream: true }));
      return;
    }
    this.send(headers(streamId, block), this.dataFrame(streamId, Buffer.from(body), true));
  }

  /** One DATA frame, counted against the client's windows (it must fit them to be legal). */
  dataFrame(streamId: number, body: Buffer, endStream = false): Buffer {
    this.sendConn -= body.length;
    this.sendStream.set(streamId, this.sendWindow(streamId) - body.length);
    return data(streamId, body, endStream);
  }

  /** How much DATA the client currently allows on `streamId` (stream window, not the connection's). */
  sendWindow(streamId: number): number {
    return this.sendStream.get(streamId) ?? this.clientInitialWindow;
  }

  /** How much DATA the client currently allows on the connection. */
  get connSendWindow(): number {
    return this.sendConn;
  }

  /** Sends `size` bytes of body on `streamId` within the client's windows, waiting for its WINDOW_UPDATEs. */
  async sendBody(streamId: number, size: number, maxFrame = 16_384, ms = WAIT_MS): Promise<void> {
    let left = size;
    while (left > 0) {
      const room = await this.until(() => {
        const r = Math.min(this.sendWindow(streamId), this.sendConn, maxFrame, left);
        return r > 0 ? r : undefined;
      }, `WINDOW_UPDATE for stream ${streamId}`, ms);
      left -= room;
      this.send(this.dataFrame(streamId, Buffer.alloc(room, 0x61), left === 0));
    }
  }

  /** Sends WINDOW_UPDATE(s) and records the grant. */
  grant(streamId: number, increment: number): void {
    if (streamId === 0) this.grantedConn += increment;
    else this.grantedStream.set(streamId, (this.grantedStream.get(streamId) ?? 0) + increment);
    this.send(windowUpdate(streamId, increment));
  }

  /** Sends SETTINGS_INITIAL_WINDOW_SIZE = `value`; it changes every stream's grant (§6.9.2). */
  setInitialWindow(value: number): void {
    this.ourInitialWindow = value;
    this.send(settings([[SettingId.INITIAL_WINDOW_SIZE, value]]));
  }

  /** One-line list of the client's frames, for failure messages. */
  describe(): string {
    const parts = this.frames.map((f) => {
      const name = FRAME_NAMES[f.type] ?? `type${f.type}`;
      const code = f.type === FrameType.GOAWAY && f.payload.length >= 8 ? `(${f.payload.readUInt32BE(4)})` : f.type === FrameType.RST_STREAM ? `(${f.payload.readUInt32BE(0)})` : "";
      return `${name}${code}#${f.streamId}${f.flags !== 0 ? `/0x${f.flags.toString(16)}` : ""}`;
    });
    return parts.length === 0 ? "nothing" : parts.slice(0, 30).join(" ") + (parts.length > 30 ? ` … (${parts.length})` : "");
  }

  destroy(): void {
    this.sock.destroy();
  }

  private onData(b: Buffer, ourSettings: ReadonlyArray<readonly [number, number]>): void {
    this.buf = this.buf.length === 0 ? b : Buffer.concat([this.buf, b]);
    if (this.prefaceOk === undefined) {
      if (this.buf.length < PREFACE.length) return;
      this.prefaceOk = this.buf.subarray(0, PREFACE.length).equals(PREFACE);
      this.buf = this.buf.subarray(PREFACE.length);
      if (!this.prefaceOk) {
        this.destroy();
        return;
      }
      this.send(settings(ourSettings));
    }
    const { frames, rest } = splitFrames(this.buf);
    // Frames keep views of the read chunk; copy the tail so one short frame does not pin it.
    this.buf = rest.length === 0 ? Buffer.alloc(0) : Buffer.from(rest);
    for (const f of frames) this.onFrame(f);
    this.wake();
  }

  private onFrame(f: ReceivedFrame): void {
    if (this.firstFrameType === undefined) this.firstFrameType = f.type;
    this.frames.push(f);
    switch (f.type) {
      case FrameType.SETTINGS:
        if ((f.flags & Flag.ACK) !== 0) {
          this.settingsAcks++;
          break;
        }
        this.onClientSettings(f.payload);
        break;
      case FrameType.GOAWAY:
        if (f.payload.length >= 8) this.goaway ??= { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4) };
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
      case FrameType.DATA:
        this.onClientData(f);
        break;
      case FrameType.HEADERS:
        if (f.streamId % 2 === 1 && !this.seenStreams.has(f.streamId)) {
          this.seenStreams.add(f.streamId);
          this.unanswered.add(f.streamId);
          if (this.settingsAcks > 0) this.peakUnanswered = Math.max(this.peakUnanswered, this.unanswered.size);
        }
        break;
    }
  }

  private onClientSettings(payload: Buffer): void {
    const values = new Map<number, number>();
    for (let i = 0; i + 6 <= payload.length; i += 6) values.set(payload.readUInt16BE(i), payload.readUInt32BE(i + 2));
    this.clientSettings ??= values;
    const iws = values.get(SettingId.INITIAL_WINDOW_SIZE);
    if (iws !== undefined) {
      // §6.9.2: the change applies to every open stream's window.
      const delta = iws - this.clientInitialWindow;
      for (const [id, w] of this.sendStream) this.sendStream.set(id, w + delta);
      this.clientInitialWindow = iws;
    }
    this.send(settings([], true));
  }

  private onClientData(f: ReceivedFrame): void {
    const n = f.payload.length;
    const onStream = (this.received.get(f.streamId) ?? 0) + n;
    const onConn = (this.received.get(0) ?? 0) + n;
    this.received.set(f.streamId, onStream);
    this.received.set(0, onConn);
    if ((f.flags & Flag.END_STREAM) !== 0) this.endedStreams.add(f.streamId);
    const streamAllowed = this.ourInitialWindow + (this.grantedStream.get(f.streamId) ?? 0);
    if (onStream > streamAllowed) this.overruns.push(`stream ${f.streamId}: ${onStream} bytes, window allowed ${streamAllowed}`);
    if (onConn > this.grantedConn) this.overruns.push(`connection: ${onConn} bytes, window allowed ${this.grantedConn}`);
  }

  private wake(): void {
    for (const w of [...this.waiters]) if (w.run()) this.waiters.delete(w);
  }
}

/** A listening peer; every accepted connection becomes a PeerConn with the same SETTINGS. */
export class ScriptedPeer {
  readonly conns: PeerConn[] = [];
  private connCursor = 0;
  private readonly onConn = new Set<() => void>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  /** Listens on 127.0.0.1, port 0; `ourSettings` go into each connection's first SETTINGS. */
  static async start(ourSettings: ReadonlyArray<readonly [number, number]> = []): Promise<ScriptedPeer> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    const peer = new ScriptedPeer(server, (server.address() as AddressInfo).port);
    server.on("connection", (sock: net.Socket) => {
      peer.conns.push(new PeerConn(sock, ourSettings));
      for (const f of [...peer.onConn]) f();
    });
    return peer;
  }

  /** The next connection accepted (in order), once its preface arrived. */
  async nextConn(ms = WAIT_MS): Promise<PeerConn> {
    const c = await new Promise<PeerConn>((resolve, reject) => {
      const check = (): boolean => {
        const next = this.conns[this.connCursor];
        if (next === undefined) return false;
        this.connCursor++;
        clearTimeout(timer);
        this.onConn.delete(f);
        resolve(next);
        return true;
      };
      const f = (): void => void check();
      const timer = setTimeout(() => {
        this.onConn.delete(f);
        reject(new Error(`peer: no connection #${this.connCursor + 1} within ${ms} ms`));
      }, ms);
      if (!check()) this.onConn.add(f);
    });
    await c.until(() => c.prefaceOk ?? (c.closed ? false : undefined), "client preface", ms);
    return c;
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
