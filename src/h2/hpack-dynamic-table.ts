/**
 * HPACK's dynamic table (RFC 7541 §2.3.2, §4): a FIFO of fields bounded by size in octets, newest at
 * index 62. Both ends cap it at 4096 octets, and every entry costs at least 32, so it never holds more
 * than 128 entries: a fixed ring of 128 slots, no allocation per insert.
 */
import { STATIC_COUNT } from "./hpack-static-table.js";

/** The largest table either end uses: our SETTINGS_HEADER_TABLE_SIZE and the encoder's cap. */
export const MAX_TABLE_SIZE = 4096;
const SLOTS = 128;
const MASK = SLOTS - 1;

export class DynamicTable {
  protected readonly names = new Array<string>(SLOTS).fill("");
  protected readonly values = new Array<string>(SLOTS).fill("");
  private readonly sizes = new Int32Array(SLOTS);
  /** The slot the next entry goes into. */
  protected head = 0;
  /** Entries held. */
  count = 0;
  /** Octets held, as §4.1 counts them: name + value + 32 per entry. */
  size = 0;
  /** The bound in octets, at most MAX_TABLE_SIZE. */
  maxSize = MAX_TABLE_SIZE;

  /** The slot of HPACK index `index` (62 = newest), or -1 when the table holds no such entry. */
  slot(index: number): number {
    const i = index - STATIC_COUNT - 1;
    return i < this.count ? (this.head - 1 - i) & MASK : -1;
  }

  name(slot: number): string {
    return this.names[slot];
  }

  value(slot: number): string {
    return this.values[slot];
  }

  /**
   * Inserts a field (lengths are octets: the strings are latin1), evicting the oldest entries to make
   * room. An entry larger than the whole table empties it and is not kept (§4.4).
   */
  add(name: string, value: string): void {
    const entrySize = name.length + value.length + 32;
    if (entrySize > this.maxSize) {
      while (this.count > 0) this.evictOldest();
      return;
    }
    while (this.size + entrySize > this.maxSize) this.evictOldest();
    const slot = this.head;
    this.names[slot] = name;
    this.values[slot] = value;
    this.sizes[slot] = entrySize;
    this.head = (slot + 1) & MASK;
    this.count++;
    this.size += entrySize;
    this.inserted(slot);
  }

  /** Applies a new bound (a size update), evicting down to it. */
  resize(maxSize: number): void {
    this.maxSize = maxSize;
    while (this.size > maxSize) this.evictOldest();
  }

  /** Hook for the encoder's reverse index: `slot` now holds the newest entry. */
  protected inserted(_slot: number): void {}

  /** Hook for the encoder's reverse index: `slot` is about to be dropped. */
  protected evicting(_slot: number): void {}

  private evictOldest(): void {
    const slot = (this.head - this.count) & MASK;
    this.evicting(slot);
    this.size -= this.sizes[slot];
    this.count--;
    // Dropped so that a long-gone header value is not kept alive by the ring.
    this.names[slot] = "";
    this.values[slot] = "";
  }
}

/** One name's entries in the encoder's table: the newest one's sequence number, and per value the newest. */
interface NameEntries {
  /** Sequence number of the newest entry with this name. */
  latest: number;
  /** Value → sequence number of its newest entry. */
  readonly values: Map<string, number>;
}

/**
 * The encoder's table, with a reverse index kept in step on every insert and eviction so a lookup is
 * two Map gets, whatever the table holds. Entries are numbered by insertion (sequence numbers); the
 * HPACK index of sequence s is 62 + (newest - s).
 */
export class EncoderTable extends DynamicTable {
  private readonly seqs = new Float64Array(SLOTS);
  private inserts = 0;
  private readonly byName = new Map<string, NameEntries>();

  /** The index of an entry holding exactly name and value, or 0. */
  find(name: string, value: string): number {
    const e = this.byName.get(name);
    if (e === undefined) return 0;
    const seq = e.values.get(value);
    return seq === undefined ? 0 : STATIC_COUNT + 1 + this.inserts - seq;
  }

  /** The index of the newest entry with this name, or 0. */
  findName(name: string): number {
    const e = this.byName.get(name);
    return e === undefined ? 0 : STATIC_COUNT + 1 + this.inserts - e.latest;
  }

  protected override inserted(slot: number): void {
    const seq = ++this.inserts;
    this.seqs[slot] = seq;
    const name = this.names[slot];
    const e = this.byName.get(name);
    if (e === undefined) this.byName.set(name, { latest: seq, values: new Map([[this.values[slot], seq]]) });
    else {
      e.latest = seq;
      e.values.set(this.values[slot], seq);
    }
  }

  protected override evicting(slot: number): void {
    const seq = this.seqs[slot];
    const name = this.names[slot];
    const e = this.byName.get(name);
    if (e === undefined) return;
    // Eviction is oldest first: if this was the name's newest entry, it was its last one.
    if (e.latest === seq) this.byName.delete(name);
    else if (e.values.get(this.values[slot]) === seq) e.values.delete(this.values[slot]);
  }
}
