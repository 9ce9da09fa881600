/** Round robin over the hosts, skipping excluded ones when possible. */
import type { Host } from "../upstream/host.js";
import { isExcluded, type Picker } from "./load-balancer.js";

export class RoundRobinPicker implements Picker {
  private next = 0;
  constructor(private readonly hosts: readonly Host[]) {}

  pick(exclude: readonly Host[] | undefined): Host | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    for (let i = 0; i < n; i++) {
      const h = this.hosts[this.next++ % n];
      if (!isExcluded(h, exclude)) return h;
    }
    return this.hosts[this.next++ % n];
  }
}
