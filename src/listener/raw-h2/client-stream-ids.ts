/**
 * What our HTTP/2 server knows of a client's stream ids once their streams are gone: the highest id
 * used, the ids skipped below it, and the streams we reset lately. That tells a frame for a stream
 * that never opened (a connection error) from one for a closed stream (STREAM_CLOSED), and one the
 * client sent before our RST_STREAM reached it (ignored, §5.4.2). Both lists are bounded, so a client
 * cannot grow them.
 */

/** Ranges of skipped client stream ids remembered. */
const MAX_SKIPPED_RANGES = 16;
/** Streams reset by us that the client may still send frames for (§5.4.2), remembered to ignore those. */
const RECENT_RESETS = 128;

export class ClientStreamIds {
  /** Highest client stream id seen (every lower odd id is closed or open). */
  last = 0;
  /**
   * Client ids never used, below the highest used (§5.1.1: the first use of an id closes the idle ones
   * below it). Real clients count up by two, so this stays empty; kept as (from, to) pairs, the latest
   * few, at no cost per request.
   */
  private readonly skipped: number[] = [];
  private readonly recentResets = new Set<number>();

  /** `id`, above `last`, opens a stream; the ids it jumps over can never be opened. */
  open(id: number): void {
    if (id > this.last + 2) this.noteSkipped(this.last + 2, id - 2);
    this.last = id;
  }

  /** `id` never named a stream and never will: a server's (even), not yet used, or skipped. */
  neverOpened(id: number): boolean {
    return (id & 1) === 0 || id > this.last || this.wasSkipped(id);
  }

  /** Below the highest id used, but jumped over. */
  wasSkipped(id: number): boolean {
    const r = this.skipped;
    for (let i = 0; i < r.length; i += 2) if (id >= r[i] && id <= r[i + 1]) return true;
    return false;
  }

  /** We reset (or refused) stream `id`: frames the client sent before it knew are ignored. */
  noteReset(id: number): void {
    if (this.recentResets.size >= RECENT_RESETS) this.recentResets.clear();
    this.recentResets.add(id);
  }

  /** We reset stream `id` lately. */
  wasReset(id: number): boolean {
    return this.recentResets.has(id);
  }

  private noteSkipped(from: number, to: number): void {
    if (this.skipped.length >= 2 * MAX_SKIPPED_RANGES) this.skipped.splice(0, 2);
    this.skipped.push(from, to);
  }
}
