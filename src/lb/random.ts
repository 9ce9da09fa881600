/** Uniform random choice, retried a few times to avoid excluded hosts. */
import type { Random } from "../common/clock.js";
import type { Host } from "../upstream/host.js";
import { isExcluded, type Picker } from "./load-balancer.js";

export class RandomPicker implements Picker {
  constructor(
    private readonly hosts: readonly Host[],
    private readonly random: Random,
  ) {}

  pick(exclude: readonly Host[] | undefined): Host | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    let h = this.hosts[Math.floor(this.random.next() * n)];
    for (let i = 0; i < n && isExcluded(h, exclude); i++) h = this.hosts[(Math.floor(this.random.next() * n) + i) % n]!;
    return h;
  }
}
