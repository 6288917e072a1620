/**
 * The TCP layer under the plugins (Packetbeat's `protos/tcp/tcp.go`, plus what it lacks): a table
 * of connections, each with two reassembled streams feeding its plugin's parse / receivedFin /
 * gapInStream, and expiry on packet time.
 *
 * Memory is bounded in two tiers so a SYN flood cannot push out real traffic: a connection that
 * has only exchanged handshake packets lives in a small half-open table (who is the client, the
 * initial sequence numbers), evicted oldest-first when full; it becomes a full connection with
 * streams and plugin state only when payload flows. The full table is capped too, evicting the
 * least recently active connection (its plugin is told, as for a timeout).
 */
import type { Dispatch } from '../registry.js';
import type { ByteBudget } from '../memory.js';
import type { AnalyzerStats } from '../stats.js';
import type { Direction, FlowTuple, Packet, PacketRef, ProtocolPlugin, TcpConnection } from '../types.js';
import { DEFAULT_STREAM_LIMITS, type StreamLimits, type StreamReceiver, TcpStream } from './tcp-stream.js';

export interface TcpTrackerOptions {
  maxConnections?: number;
  maxHalfOpen?: number;
  /** Idle time after which a connection is expired, unless its plugin says otherwise (packet time). */
  idleTimeoutNs?: bigint;
  stream?: Partial<StreamLimits>;
}

const FIN = 1;
const SYN = 2;
const RST = 4;
const ACK = 16;

/** Where the analyzer hands a decoded TCP segment. Offsets index into `buf`. */
export interface TcpSegment {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  ipVersion: 4 | 6;
  seq: number;
  flags: number;
  payload: Uint8Array;
  tsNs: bigint;
  ref: PacketRef;
}

interface HalfOpen {
  clientIp: string;
  clientPort: number;
  clientIsn: number;
  serverIsn: number;
  tsNs: bigint;
}

/** How many payload-carrying segments per direction the content sniffers may look at before giving up. */
const SNIFF_ATTEMPTS = 2;

class Connection implements TcpConnection {
  readonly bytes: [number, number] = [0, 0];
  readonly packets: [number, number] = [0, 0];
  lastTsNs: bigint;
  /** When the connection last moved to the end of the table (approximate LRU order). */
  orderTsNs: bigint;
  plugin: ProtocolPlugin | null = null;
  state: unknown = undefined;
  /** True once no plugin will take it (ports and content matched nothing, or its plugin dropped it). */
  ignored = false;
  lastSniffSwapped = false;
  sniffTries: [number, number] = [0, 0];
  readonly streams: [TcpStream, TcpStream];
  readonly tuples: [FlowTuple, FlowTuple];
  /** True after swapRoles: stream i (by creation) now carries direction 1 - i. */
  private flipped = false;

  constructor(
    readonly id: number,
    readonly key: string,
    readonly ipVersion: 4 | 6,
    public clientIp: string,
    public clientPort: number,
    public serverIp: string,
    public serverPort: number,
    readonly firstTsNs: bigint,
    private readonly tracker: TcpTracker,
    limits: StreamLimits,
    budget: ByteBudget,
    stats: AnalyzerStats,
  ) {
    this.lastTsNs = firstTsNs;
    this.orderTsNs = firstTsNs;
    const receiver = (i: Direction): StreamReceiver => ({
      data: (p, ts, ref) => this.tracker.deliver(this, this.dirOf(i), p, ts, ref),
      gap: (n) => this.tracker.gap(this, this.dirOf(i), n),
      fin: () => this.tracker.fin(this, this.dirOf(i)),
    });
    this.streams = [
      new TcpStream(receiver(0), limits, budget, stats),
      new TcpStream(receiver(1), limits, budget, stats),
    ];
    this.tuples = [this.tuple(0), this.tuple(1)];
  }

  /** The other side is the client after all (a sniffer recognised a server's payload where we guessed a client). */
  private dirOf(i: Direction): Direction {
    return this.flipped ? ((1 - i) as Direction) : i;
  }

  swapRoles(): void {
    this.flipped = !this.flipped;
    [this.clientIp, this.serverIp] = [this.serverIp, this.clientIp];
    [this.clientPort, this.serverPort] = [this.serverPort, this.clientPort];
    this.streams.reverse();
    this.bytes.reverse();
    this.packets.reverse();
    this.sniffTries.reverse();
    this.tuples[0] = this.tuple(0);
    this.tuples[1] = this.tuple(1);
  }

  private tuple(dir: Direction): FlowTuple {
    const c2s = dir === 0;
    return {
      ipVersion: this.ipVersion,
      transport: 'tcp',
      srcIp: c2s ? this.clientIp : this.serverIp,
      dstIp: c2s ? this.serverIp : this.clientIp,
      srcPort: c2s ? this.clientPort : this.serverPort,
      dstPort: c2s ? this.serverPort : this.clientPort,
    };
  }
}

export class TcpTracker {
  private readonly conns = new Map<string, Connection>();
  private readonly halfOpen = new Map<string, HalfOpen>();
  private readonly maxConnections: number;
  private readonly maxHalfOpen: number;
  private readonly idleTimeoutNs: bigint;
  private readonly limits: StreamLimits;
  private nextId = 1;
  private minTimeoutCache: bigint | null = null;

  constructor(
    private readonly dispatch: Dispatch,
    private readonly budget: ByteBudget,
    private readonly stats: AnalyzerStats,
    options: TcpTrackerOptions = {},
  ) {
    this.maxConnections = options.maxConnections ?? 100_000;
    this.maxHalfOpen = options.maxHalfOpen ?? 65_536;
    this.idleTimeoutNs = options.idleTimeoutNs ?? 60_000_000_000n;
    this.limits = { ...DEFAULT_STREAM_LIMITS, ...options.stream };
  }

  get connections(): number {
    return this.conns.size;
  }

  get halfOpenConnections(): number {
    return this.halfOpen.size;
  }

  segment(s: TcpSegment): void {
    this.stats.tcpSegments++;
    const forward = s.srcIp < s.dstIp || (s.srcIp === s.dstIp && s.srcPort <= s.dstPort);
    const key = forward
      ? `${s.srcIp} ${s.srcPort} ${s.dstIp} ${s.dstPort}`
      : `${s.dstIp} ${s.dstPort} ${s.srcIp} ${s.srcPort}`;
    let found = this.conns.get(key);
    if (found === undefined) {
      if (s.payload.length === 0) {
        this.handshake(key, s);
        return;
      }
      found = this.open(key, s);
    }
    const conn = found;
    const dir: Direction = s.srcIp === conn.clientIp && s.srcPort === conn.clientPort ? 0 : 1;
    if (s.tsNs > conn.lastTsNs) conn.lastTsNs = s.tsNs;
    if (s.tsNs - conn.orderTsNs > 1_000_000_000n) {
      // Keep the table roughly in order of last activity, so expiry scans only the idle head.
      conn.orderTsNs = s.tsNs;
      this.conns.delete(key);
      this.conns.set(key, conn);
    }
    conn.packets[dir]++;
    const stream = conn.streams[dir];
    if ((s.flags & SYN) !== 0) stream.syn(s.seq);
    if ((s.flags & RST) !== 0) {
      if (s.payload.length > 0) stream.segment(s.seq, s.payload, false, s.tsNs, s.ref);
      this.close(conn);
      return;
    }
    stream.segment((s.flags & SYN) !== 0 ? (s.seq + 1) | 0 : s.seq, s.payload, (s.flags & FIN) !== 0, s.tsNs, s.ref);
    if (conn.streams[0].finished && conn.streams[1].finished) this.close(conn);
  }

  /** Runs timeouts on packet time: idle connections and half-open entries, and stale reorder buffers. */
  tick(nowNs: bigint): void {
    for (const [key, h] of this.halfOpen) {
      if (nowNs - h.tsNs < this.idleTimeoutNs) break;
      this.halfOpen.delete(key);
    }
    for (const conn of this.conns.values()) {
      if (nowNs - conn.orderTsNs < this.minTimeoutNs()) break;
      if (nowNs - conn.lastTsNs >= this.timeoutOf(conn)) {
        this.stats.tcpConnectionsExpired++;
        this.close(conn);
      }
    }
    for (const conn of this.conns.values()) {
      conn.streams[0].expire(nowNs);
      conn.streams[1].expire(nowNs);
    }
  }

  /** End of input: every connection is closed, so plugins report what they hold. */
  flush(): void {
    for (const conn of [...this.conns.values()]) this.close(conn);
    this.halfOpen.clear();
  }

  // ---- called by the streams ----

  deliver(conn: Connection, dir: Direction, payload: Uint8Array, tsNs: bigint, ref: PacketRef): void {
    conn.bytes[dir] += payload.length;
    if (conn.ignored) return;
    if (conn.plugin === null && !this.classify(conn, dir, payload)) return;
    // classify may have swapped the roles: the payload's direction follows its sender.
    const d: Direction = conn.plugin !== null && conn.lastSniffSwapped ? ((1 - dir) as Direction) : dir;
    conn.lastSniffSwapped = false;
    const pkt: Packet = { tsNs, tuple: conn.tuples[d], payload, ref };
    this.call(conn, () => {
      conn.state = conn.plugin?.tcp?.parse(pkt, conn, d, conn.state);
    });
  }

  gap(conn: Connection, dir: Direction, nbytes: number): void {
    if (conn.ignored || conn.plugin === null) return;
    this.call(conn, () => {
      const r = conn.plugin?.tcp?.gapInStream(conn, dir, nbytes, conn.state);
      if (r === undefined) return;
      conn.state = r.state;
      if (r.drop) {
        this.stats.tcpDroppedBecauseOfGaps++;
        conn.plugin?.tcp?.expired?.(conn, conn.state);
        conn.state = undefined;
        conn.ignored = true;
      }
    });
  }

  fin(conn: Connection, dir: Direction): void {
    if (conn.ignored || conn.plugin === null) return;
    this.call(conn, () => {
      conn.state = conn.plugin?.tcp?.receivedFin(conn, dir, conn.state);
    });
  }

  // ---- internals ----

  private handshake(key: string, s: TcpSegment): void {
    if ((s.flags & SYN) === 0) return; // a bare ACK/FIN/RST of a connection we do not hold
    let h = this.halfOpen.get(key);
    const synAck = (s.flags & ACK) !== 0;
    if (h === undefined) {
      if (this.halfOpen.size >= this.maxHalfOpen) {
        const oldest = this.halfOpen.keys().next();
        if (!oldest.done) this.halfOpen.delete(oldest.value);
        this.stats.tcpHalfOpenEvicted++;
      }
      h = synAck
        ? { clientIp: s.dstIp, clientPort: s.dstPort, clientIsn: -1, serverIsn: s.seq, tsNs: s.tsNs }
        : { clientIp: s.srcIp, clientPort: s.srcPort, clientIsn: s.seq, serverIsn: -1, tsNs: s.tsNs };
      this.halfOpen.set(key, h);
    } else if (synAck) h.serverIsn = s.seq;
    else h.clientIsn = s.seq;
  }

  private open(key: string, s: TcpSegment): Connection {
    const h = this.halfOpen.get(key);
    if (h !== undefined) this.halfOpen.delete(key);
    let clientIsSender: boolean;
    if (h !== undefined) clientIsSender = h.clientIp === s.srcIp && h.clientPort === s.srcPort;
    else {
      // No handshake seen: the side on a protocol's port is the server.
      const toServer = this.dispatch.tcpByPort.get(s.dstPort);
      const fromServer = this.dispatch.tcpByPort.get(s.srcPort);
      clientIsSender = toServer !== undefined || fromServer === undefined;
    }
    if (this.conns.size >= this.maxConnections) this.evictOldest();
    const conn = new Connection(
      this.nextId++,
      key,
      s.ipVersion,
      clientIsSender ? s.srcIp : s.dstIp,
      clientIsSender ? s.srcPort : s.dstPort,
      clientIsSender ? s.dstIp : s.srcIp,
      clientIsSender ? s.dstPort : s.srcPort,
      h?.tsNs ?? s.tsNs,
      this,
      this.limits,
      this.budget,
      this.stats,
    );
    // Packetbeat's decideProtocol looks at the source port then the destination; the server's port decides here.
    conn.plugin = this.dispatch.tcpByPort.get(conn.serverPort) ?? this.dispatch.tcpByPort.get(conn.clientPort) ?? null;
    if (h !== undefined) {
      if (h.clientIsn !== -1) conn.streams[0].syn(h.clientIsn);
      if (h.serverIsn !== -1) conn.streams[1].syn(h.serverIsn);
    }
    this.conns.set(key, conn);
    this.stats.tcpConnections++;
    return conn;
  }

  /** Content dispatch for a connection no port claimed. Returns true when a plugin now owns it. */
  private classify(conn: Connection, dir: Direction, payload: Uint8Array): boolean {
    const hit = this.dispatch.sniffTcp(payload);
    if (hit !== null) {
      conn.plugin = hit.plugin;
      // The sniffer knows which side speaks first in its protocol; trust it unless a SYN told us.
      if (hit.dir !== dir && !conn.streams[0].sawSyn && !conn.streams[1].sawSyn) {
        conn.swapRoles();
        conn.lastSniffSwapped = true;
      }
      return true;
    }
    if (++conn.sniffTries[dir] >= SNIFF_ATTEMPTS && conn.sniffTries[1 - dir] >= SNIFF_ATTEMPTS) {
      conn.ignored = true;
      this.stats.unclassified++;
    }
    return false;
  }

  private call(conn: Connection, fn: () => void): void {
    try {
      fn();
    } catch {
      // A plugin that throws on hostile bytes loses this connection, never the run.
      this.stats.parseErrors++;
      conn.state = undefined;
      conn.ignored = true;
    }
  }

  private close(conn: Connection): void {
    if (!this.conns.delete(conn.key)) return;
    conn.streams[0].close();
    conn.streams[1].close();
    if (conn.plugin !== null && !conn.ignored) {
      this.call(conn, () => conn.plugin?.tcp?.expired?.(conn, conn.state));
    }
    conn.state = undefined;
  }

  private evictOldest(): void {
    const oldest = this.conns.values().next();
    if (oldest.done) return;
    this.stats.tcpConnectionsEvicted++;
    this.close(oldest.value);
  }

  private timeoutOf(conn: Connection): bigint {
    const ms = conn.plugin?.tcp?.connectionTimeoutMs?.() ?? 0;
    return ms > 0 ? BigInt(ms) * 1_000_000n : this.idleTimeoutNs;
  }

  private minTimeoutNs(): bigint {
    if (this.minTimeoutCache !== null) return this.minTimeoutCache;
    let min = this.idleTimeoutNs;
    for (const p of this.dispatch.plugins) {
      const ms = p.tcp?.connectionTimeoutMs?.() ?? 0;
      if (ms > 0 && BigInt(ms) * 1_000_000n < min) min = BigInt(ms) * 1_000_000n;
    }
    this.minTimeoutCache = min;
    return min;
  }
}
