/**
 * Receive half of our HTTP/2 connections (client and server): DATA against the connection window
 * (credited on receipt) and each stream's window (credited as its consumer takes the body), padding,
 * and the content-length count. What differs between the halves (which open streams may carry DATA,
 * what an id with no open stream means, what the peer's END_STREAM does) is left to three small hooks.
 *
 * It sits on top of the send half because both need the stream table and streamError() it owns.
 */
import { DEFAULT_WINDOW, ErrorCode, Flag, FrameType } from "./frames.js";
import { SendFlowConnection, type SendStream } from "./send-flow.js";

/** The receive-side state of one stream, kept on the stream object itself (no side tables). */
export interface ReceiveStream {
  /** Stream id on the wire. */
  readonly id: number;
  /** Closed (reset, finished, or its connection died): no frame for it may leave any more. */
  readonly destroyed: boolean;
  /** What the peer may still send on this stream before we credit more. */
  recvWindow: number;
  /** Bytes the consumer has taken and we have not yet credited. */
  recvUnacked: number;
  /** content-length of the body, -1 when absent or not checkable. */
  contentLength: number;
  /** Body bytes received so far, padding excluded. */
  received: number;
  /** END_STREAM received. */
  remoteEnded: boolean;
  /** One DATA payload, to the consumer or held for it. */
  deliver(chunk: Buffer): void;
}

export abstract class ReceiveFlowConnection<S extends SendStream & ReceiveStream> extends SendFlowConnection<S> {
  /** Our SETTINGS_INITIAL_WINDOW_SIZE: each new stream's receive window. */
  protected readonly streamWindow: number;
  /** Our connection receive window, announced by raiseConnectionWindow(). */
  protected readonly connWindow: number;
  /** Connection-window bytes received and not yet credited back. */
  private connRecvUnacked = 0;

  constructor(streamWindow: number, connectionWindow: number, writerBytes?: number) {
    super(writerBytes);
    this.streamWindow = streamWindow;
    // The protocol starts every connection window at 65 535; it can only be raised.
    this.connWindow = Math.max(connectionWindow, DEFAULT_WINDOW);
  }

  /** True when `s` may not carry DATA now, for a reason of this half; the hook has reset it. */
  protected abstract refusesData(s: S): boolean;
  /** A DATA or HEADERS frame for an id with no open stream. */
  protected abstract onFrameForGoneStream(id: number, what: string): void;
  /** END_STREAM from the peer on `s`, its body complete as far as DATA is concerned. */
  protected abstract endRemote(s: S): void;

  /** WINDOW_UPDATE from 65 535 to our connection window, to follow our first SETTINGS. */
  protected raiseConnectionWindow(): void {
    if (this.connWindow > DEFAULT_WINDOW) {
      this.out.header(4, FrameType.WINDOW_UPDATE, 0, 0);
      this.out.u32(this.connWindow - DEFAULT_WINDOW);
    }
  }

  /** The consumer took `n` bytes of `s`: credit the peer once half a stream window is owed. */
  consumed(s: ReceiveStream, n: number): void {
    // Nothing more comes after the peer's END_STREAM, and nothing may follow our RST_STREAM (§5.1).
    if (s.remoteEnded || s.destroyed) return;
    s.recvUnacked += n;
    if (s.recvUnacked >= this.streamWindow >>> 1) {
      this.out.header(4, FrameType.WINDOW_UPDATE, 0, s.id);
      this.out.u32(s.recvUnacked);
      s.recvWindow += s.recvUnacked;
      s.recvUnacked = 0;
      this.scheduleFlush();
    }
  }

  protected onDataFrame(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) return this.connError(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0");
    const flowLen = end - start;
    // The whole frame (padding included) counts against the connection window even when the stream
    // is gone, or the peer's view of the window drifts from ours. The connection window is credited
    // on receipt: per-stream windows bound what a paused consumer makes us hold.
    this.connRecvUnacked += flowLen;
    if (this.connRecvUnacked > this.connWindow) return this.connError(ErrorCode.FLOW_CONTROL_ERROR, "connection window exceeded");
    if (this.connRecvUnacked >= this.connWindow >>> 1) {
      this.out.header(4, FrameType.WINDOW_UPDATE, 0, 0);
      this.out.u32(this.connRecvUnacked);
      this.connRecvUnacked = 0;
      this.scheduleFlush();
    }
    const s = this.streams.get(id);
    if (s === undefined) return this.onFrameForGoneStream(id, "DATA");
    if (this.refusesData(s)) return;
    s.recvWindow -= flowLen;
    if (s.recvWindow < 0) return this.streamError(s, ErrorCode.FLOW_CONTROL_ERROR, "stream window exceeded");
    let b = start;
    let e = end;
    if ((flags & Flag.PADDED) !== 0) {
      if (b >= e) return this.connError(ErrorCode.FRAME_SIZE_ERROR, "padded DATA without a pad length");
      e -= buf[b++];
      if (b > e) return this.connError(ErrorCode.PROTOCOL_ERROR, "DATA padding exceeds payload");
    }
    const n = e - b;
    const endStream = (flags & Flag.END_STREAM) !== 0;
    // Padding never reaches the consumer, so it is credited now.
    if (flowLen > n && !endStream) this.consumed(s, flowLen - n);
    if (n > 0) {
      s.received += n;
      if (s.contentLength >= 0 && s.received > s.contentLength) return this.streamError(s, ErrorCode.PROTOCOL_ERROR, "DATA beyond content-length");
      s.deliver(buf.subarray(b, e));
      if (s.destroyed) return;
    }
    if (endStream) this.endRemote(s);
  }
}
