/**
 * The part every event shares, with Packetbeat's ECS names (`@timestamp`, `event.*`,
 * `source/destination/client/server.*`, `network.*`, `related.ip`), plus what Packetbeat cannot
 * give: `pcapline.packets`, the way back to the bytes (time range, first and last packet's record,
 * and the `pcap-query` arguments that fetch the conversation's packets from the store).
 *
 * Times come from the packets (Packetbeat stamps wall-clock time when replaying a capture,
 * elastic/beats#3565, #30728), with nanosecond precision.
 */
import { CommunityIdCache } from '../flows/community-id.js';
import type { AppEvent, FlowTuple, PacketRef } from '../types.js';

/** A transaction's endpoints and extent: `tuple` is oriented client → server. */
export interface EventEnds {
  tuple: FlowTuple;
  startNs: bigint;
  endNs: bigint;
  firstRef: PacketRef;
  lastRef: PacketRef;
  /** Bytes sent by the client (source) and the server (destination); omitted when unknown. */
  clientBytes?: number;
  serverBytes?: number;
}

const communityIds = new CommunityIdCache();

let cachedSecond = -1n;
let cachedPrefix = '';

/** Nanoseconds since the epoch → RFC 3339 UTC with nine fraction digits. */
export function isoNs(ns: bigint): string {
  const second = ns / 1_000_000_000n;
  if (second !== cachedSecond) {
    // events come in time order, so the date part is formatted once per second of packet time
    cachedSecond = second;
    cachedPrefix = new Date(Number(second) * 1000).toISOString().slice(0, 20); // YYYY-MM-DDTHH:MM:SS.
  }
  return `${cachedPrefix}${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

export function refJson(r: PacketRef): Record<string, number> {
  return r.partition >= 0
    ? { index: r.index, partition: r.partition, offset: r.position }
    : { index: r.index, position: r.position };
}

const PROTO_ARG: Record<FlowTuple['transport'], string> = {
  tcp: 'tcp',
  udp: 'udp',
  icmp: 'icmp',
  'ipv6-icmp': 'icmpv6',
};

/** `pcap-query` arguments selecting the packets of this conversation in the event's time range (both directions). */
export function pcapQueryArgs(t: FlowTuple, startNs: bigint, endNs: bigint): string {
  const startMs = startNs / 1_000_000n;
  const endMs = (endNs + 999_999n) / 1_000_000n;
  const ports = t.transport === 'tcp' || t.transport === 'udp' ? ` -sp ${t.srcPort} -dp ${t.dstPort}` : '';
  return `fixed -sa ${t.srcIp} -da ${t.dstIp}${ports} -p ${PROTO_ARG[t.transport]} -ir -st ${startMs} -et ${endMs}`;
}

export function communityIdOf(t: FlowTuple): string | null {
  return communityIds.get(t);
}

/**
 * The shared fields of one event. `type` is the protocol name (Packetbeat's `type`), `status`
 * OK or Error. Protocol fields are added by the caller to the returned object.
 */
export function baseEvent(type: string, ends: EventEnds, status: 'OK' | 'Error'): AppEvent {
  const t = ends.tuple;
  const icmp = t.transport === 'icmp' || t.transport === 'ipv6-icmp';
  const source: Record<string, unknown> = { ip: t.srcIp };
  const destination: Record<string, unknown> = { ip: t.dstIp };
  if (!icmp) {
    source.port = t.srcPort;
    destination.port = t.dstPort;
  }
  if (ends.clientBytes !== undefined) source.bytes = ends.clientBytes;
  if (ends.serverBytes !== undefined) destination.bytes = ends.serverBytes;
  const network: Record<string, unknown> = {
    type: t.ipVersion === 4 ? 'ipv4' : 'ipv6',
    transport: t.transport,
    protocol: type,
  };
  const cid = communityIdOf(t);
  if (cid !== null) network.community_id = cid;
  if (ends.clientBytes !== undefined || ends.serverBytes !== undefined)
    network.bytes = (ends.clientBytes ?? 0) + (ends.serverBytes ?? 0);
  const start = isoNs(ends.startNs);
  const end = ends.endNs === ends.startNs ? start : isoNs(ends.endNs);
  return {
    '@timestamp': start,
    type,
    status,
    event: {
      kind: 'event',
      category: ['network'],
      type: ['connection', 'protocol'],
      dataset: type,
      start,
      end,
      duration: Number(ends.endNs - ends.startNs),
    },
    source,
    destination,
    client: { ...source },
    server: { ...destination },
    network,
    related: { ip: t.srcIp === t.dstIp ? [t.srcIp] : [t.srcIp, t.dstIp] },
    pcapline: {
      packets: {
        start,
        end,
        first: refJson(ends.firstRef),
        last: refJson(ends.lastRef),
        query: pcapQueryArgs(t, ends.startNs, ends.endNs),
      },
    },
  };
}

/** Adds a note (Packetbeat's `notes`: "Unmatched request", "Packet loss while capturing the request", ...). */
export function addNote(event: AppEvent, note: string): void {
  const notes = (event.notes as string[] | undefined) ?? [];
  if (!notes.includes(note)) notes.push(note);
  event.notes = notes;
}
