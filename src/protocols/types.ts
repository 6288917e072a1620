/**
 * The protocol plugin contract: a TypeScript mirror of Packetbeat's (`protos/registry.go`), with
 * the names kept so its developer tutorials map one to one (docs/protocols.md walks through adding
 * SMTP). A plugin is created once per analyzer run by its definition's `create`, receives
 * reassembled, in-order TCP payload per connection and direction (`parse`, `receivedFin`,
 * `gapInStream`, `expired`) and/or single UDP datagrams (`parseUdp`), keeps its own per-connection
 * state (returned from every TCP call, as Packetbeat's `ProtocolData`), and reports ECS events
 * through `ctx.report`.
 *
 * Two additions over Packetbeat, both about replaying captures correctly: `tick(nowNs)` is the
 * packet clock (transaction timeouts run on packet time, not the wall clock) and `flush()` runs at
 * the end of input so in-flight transactions are reported, not lost.
 */
import type { ByteBudget } from './memory.js';
import type { AnalyzerStats } from './stats.js';

/** 0: from the connection's client (the side that sent the SYN, or the requester); 1: from its server. */
export type Direction = 0 | 1;
export const CLIENT_TO_SERVER: Direction = 0;
export const SERVER_TO_CLIENT: Direction = 1;

export type Transport = 'tcp' | 'udp' | 'icmp' | 'ipv6-icmp';

/** Where a packet came from, so an event can lead back to its bytes. */
export interface PacketRef {
  /** 0-based packet number in the input. */
  index: number;
  /** Byte offset of the packet's record in the input file, or its Kafka offset; -1 when unknown. */
  position: number;
  /** Kafka partition the packet was read from; -1 for files. */
  partition: number;
}

/** Addresses and ports as seen on one packet: `src*` is its sender. */
export interface FlowTuple {
  ipVersion: 4 | 6;
  transport: Transport;
  srcIp: string;
  dstIp: string;
  /** Ports for TCP/UDP; ICMP type and code for ICMP. */
  srcPort: number;
  dstPort: number;
}

/** One unit of payload handed to a plugin. `payload` is a view valid only during the call: copy what you keep. */
export interface Packet {
  tsNs: bigint;
  tuple: FlowTuple;
  payload: Uint8Array;
  ref: PacketRef;
}

/** A TCP connection as plugins see it (Packetbeat's TCPTuple plus what an event needs). */
export interface TcpConnection {
  /** Stable within one run; increases with each new connection. */
  readonly id: number;
  readonly ipVersion: 4 | 6;
  readonly clientIp: string;
  readonly clientPort: number;
  readonly serverIp: string;
  readonly serverPort: number;
  /** Payload bytes seen per direction (after retransmissions were trimmed). */
  readonly bytes: [number, number];
  readonly packets: [number, number];
  readonly firstTsNs: bigint;
  lastTsNs: bigint;
}

export interface GapResult<S> {
  state: S | undefined;
  /** True: the plugin cannot continue after the gap; its state for the connection is discarded. */
  drop: boolean;
}

export interface TcpProtocol<S> {
  parse(pkt: Packet, conn: TcpConnection, dir: Direction, state: S | undefined): S | undefined;
  receivedFin(conn: TcpConnection, dir: Direction, state: S | undefined): S | undefined;
  /** `nbytes` of the stream were never seen (lost in capture or beyond the reorder window). */
  gapInStream(conn: TcpConnection, dir: Direction, nbytes: number, state: S | undefined): GapResult<S>;
  /** Idle time (packet time, ms) after which the connection is expired; <= 0 or absent: the analyzer's default. */
  connectionTimeoutMs?(): number;
  /** The connection ended (both FINs, RST, idle timeout, eviction or end of input): report what is left. */
  expired?(conn: TcpConnection, state: S | undefined): void;
}

export interface UdpProtocol {
  parseUdp(pkt: Packet): void;
}

/** ICMP/ICMPv6 messages: `pkt.payload` is the whole ICMP message (header included); the tuple's ports are type and code. */
export interface IcmpProtocol {
  parseIcmp(pkt: Packet): void;
}

export interface ProtocolPlugin {
  readonly name: string;
  readonly icmp?: IcmpProtocol;
  // biome-ignore lint/suspicious/noExplicitAny: each plugin has its own private state type
  readonly tcp?: TcpProtocol<any>;
  readonly udp?: UdpProtocol;
  /** The packet clock moved to `nowNs`: expire transactions older than the plugin's timeout. */
  tick?(nowNs: bigint): void;
  /** End of input: report every transaction still waiting (as unmatched). */
  flush?(): void;
}

/** A JSON event with ECS field names (nested objects), as Packetbeat publishes them. */
export type AppEvent = Record<string, unknown>;
export type Reporter = (event: AppEvent) => void;

/** Per-protocol settings (Packetbeat's ProtocolCommon). */
export interface ProtocolConfig {
  ports: readonly number[];
  /** Request/response pairing timeout in packet time (Packetbeat's transaction_timeout, default 10 s). */
  transactionTimeoutMs: number;
  /** Include the raw request/response text in events (Packetbeat's send_request / send_response). */
  sendRequest: boolean;
  sendResponse: boolean;
  /** Largest message a plugin buffers before giving up on it (bytes). */
  maxMessageBytes: number;
}

export interface ProtocolContext {
  report: Reporter;
  config: ProtocolConfig;
  /** Shared memory budget for what plugins buffer: reserve before holding bytes, release after. */
  memory: ByteBudget;
  stats: AnalyzerStats;
}

/**
 * What "this payload looks like my protocol" answers: which side sent it, or null. Used on
 * connections and datagrams whose ports match no plugin (Packetbeat is port-only; content
 * dispatch finds DNS on 5353 or TLS on 4433).
 */
export type Sniffer = (payload: Uint8Array) => Direction | null;

export interface ProtocolDefinition {
  readonly name: string;
  readonly defaultPorts: readonly number[];
  readonly transports: readonly ('tcp' | 'udp' | 'icmp')[];
  readonly sniffTcp?: Sniffer;
  readonly sniffUdp?: Sniffer;
  create(ctx: ProtocolContext): ProtocolPlugin;
}
