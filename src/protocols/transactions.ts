/**
 * Requests waiting for their response, keyed by what pairs them (DNS: addresses, ports and id;
 * ICMP: addresses, id and sequence), with Packetbeat's bounds: a timeout in packet time
 * (transaction_timeout, 10 s) and a size cap (65,536 entries). What leaves without a response —
 * timed out, evicted, or still waiting at the end of input — goes to `onUnmatched`, so it is
 * reported as an unmatched request instead of vanishing.
 */
interface Entry<V> {
  value: V;
  tsNs: bigint;
}

export class TransactionTable<V> {
  private readonly map = new Map<string, Entry<V>>();

  constructor(
    private readonly timeoutNs: bigint,
    private readonly onUnmatched: (value: V) => void,
    private readonly maxEntries = 65_536,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** Stores a request. A request already waiting under the same key is reported unmatched (a retry or an id reuse). */
  put(key: string, value: V, tsNs: bigint): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.onUnmatched(old.value);
    } else if (this.map.size >= this.maxEntries) {
      const oldest = this.map.entries().next();
      if (!oldest.done) {
        this.map.delete(oldest.value[0]);
        this.onUnmatched(oldest.value[1].value);
      }
    }
    this.map.set(key, { value, tsNs });
  }

  /** Removes and returns the request waiting under `key`. */
  take(key: string): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    this.map.delete(key);
    return e.value;
  }

  /** Reports requests older than the timeout (insertion order is arrival order). */
  expire(nowNs: bigint): void {
    for (const [key, e] of this.map) {
      if (nowNs - e.tsNs < this.timeoutNs) break;
      this.map.delete(key);
      this.onUnmatched(e.value);
    }
  }

  flush(): void {
    const all = [...this.map.values()];
    this.map.clear();
    for (const e of all) this.onUnmatched(e.value);
  }
}
