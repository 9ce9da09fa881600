/**
 * A connection's open streams by id: an open-addressing table (linear probing) in one plain array,
 * instead of a JS Map.
 *
 * Why not a Map: every request adds one stream and deletes it, so a Map keeps rehashing into new
 * tables, and V8 links each obsolete table to its successor (for live iterators). Once the connection
 * has lived long enough for its table to be promoted to old space (one quiet second will do), that dead
 * old-space table keeps every later table, and every stream in them, alive through scavenges until the
 * next mark-compact: with a long-lived upstream connection, ~0.9 MB promoted per scavenge and a heap
 * that grew by 50 MB between mark-compacts (docs/performance.md, "The streams table"). Here a deleted
 * stream's slot is cleared on the spot, and a resize drops the old array without linking it anywhere.
 *
 * Ids of one connection's streams share a parity and grow, so `id >>> 1` puts consecutive streams in
 * consecutive slots; collisions come only from streams that stay open while thousands of later ones
 * come and go, and probing handles them.
 */

/** What the table needs of a stream. */
export interface HasStreamId {
  /** The stream's id on the wire; never changes. */
  readonly id: number;
}

const INITIAL_CAPACITY = 16;

export class StreamTable<S extends HasStreamId> {
  private slots: (S | undefined)[];
  private mask: number;
  /** Streams in the table. */
  size = 0;

  constructor() {
    this.slots = new Array<S | undefined>(INITIAL_CAPACITY).fill(undefined);
    this.mask = INITIAL_CAPACITY - 1;
  }

  /** The stream with this id, or undefined. */
  get(id: number): S | undefined {
    const slots = this.slots;
    const mask = this.mask;
    for (let i = (id >>> 1) & mask; ; i = (i + 1) & mask) {
      const s = slots[i];
      if (s === undefined || s.id === id) return s;
    }
  }

  /** Adds a stream; its id must not be in the table. */
  add(s: S): void {
    // At most half full, so probes stay short and a free slot always ends one.
    if ((this.size + 1) * 2 > this.slots.length) this.resize(this.slots.length * 2);
    this.place(this.slots, this.mask, s);
    this.size++;
  }

  /** Removes the stream with this id; false when there was none. */
  delete(id: number): boolean {
    const slots = this.slots;
    const mask = this.mask;
    let i = (id >>> 1) & mask;
    for (;;) {
      const s = slots[i];
      if (s === undefined) return false;
      if (s.id === id) break;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: later members of the probe run move up, so no tombstones are left.
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const s = slots[j];
      if (s === undefined) break;
      const home = (s.id >>> 1) & mask;
      // s may fill the hole unless its home lies cyclically in (hole, j].
      const fits = hole <= j ? home <= hole || home > j : home <= hole && home > j;
      if (fits) {
        slots[hole] = s;
        hole = j;
      }
    }
    slots[hole] = undefined;
    this.size--;
    return true;
  }

  /** The streams, as a new array (the caller may delete while walking it). */
  list(): S[] {
    const out: S[] = [];
    for (const s of this.slots) if (s !== undefined) out.push(s);
    return out;
  }

  private resize(capacity: number): void {
    const old = this.slots;
    const slots = new Array<S | undefined>(capacity).fill(undefined);
    const mask = capacity - 1;
    for (const s of old) if (s !== undefined) this.place(slots, mask, s);
    this.slots = slots;
    this.mask = mask;
  }

  private place(slots: (S | undefined)[], mask: number, s: S): void {
    let i = (s.id >>> 1) & mask;
    while (slots[i] !== undefined) i = (i + 1) & mask;
    slots[i] = s;
  }
}
