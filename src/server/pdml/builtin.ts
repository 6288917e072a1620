/**
 * PDML without tshark: our own decoder's layers (link, VLAN, IPv4/IPv6, TCP/UDP/ICMP, payload) in
 * the same Metron JSON shape, with tshark's field names (ip.src, tcp.srcport, ...) and positions
 * relative to the frame, so the web page and Metron's Alerts UI read either the same way.
 */
import { createReadStream } from 'node:fs';
import { PcapFileReader } from '../../formats/pcap/pcap-file.js';
import { decodeFrame, LINKTYPE_ETHERNET, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from '../../packet/decode.js';
import { createPacketFields, type PacketFields } from '../../packet/packet-fields.js';
import { newField, newProto, type Pdml, type PdmlField, type PdmlProto } from './types.js';

const hex = (b: Uint8Array, at: number, n: number): string =>
  Buffer.from(b.buffer, b.byteOffset + at, n).toString('hex');
const mac = (b: Uint8Array, at: number): string =>
  Array.from(b.subarray(at, at + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** tshark's absolute time, e.g. `Mar 17, 2016 18:44:29.373968000 UTC`. */
export function tsharkTime(tsNs: bigint): string {
  const d = new Date(Number(tsNs / 1_000_000n));
  const p = (n: number) => String(n).padStart(2, '0');
  const frac = String(tsNs % 1_000_000_000n).padStart(9, '0');
  return `${MONTHS[d.getUTCMonth()]} ${p(d.getUTCDate())}, ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${frac} UTC`;
}

const epoch = (tsNs: bigint): string => `${tsNs / 1_000_000_000n}.${String(tsNs % 1_000_000_000n).padStart(9, '0')}`;

function field(
  name: string,
  showname: string,
  pos: number,
  size: number,
  show: string,
  value: string | null,
): PdmlField {
  return newField({ name, showname, pos: String(pos), size: String(size), show, value: value ?? undefined });
}

function proto(name: string, showname: string, pos: number, size: number, fields: PdmlField[]): PdmlProto {
  const p = newProto({ name, showname, pos: String(pos), size: String(size) });
  p.fields = fields.length ? fields : null;
  return p;
}

const PROTO_NAMES: Record<number, string> = {
  [PROTO_TCP]: 'tcp',
  [PROTO_UDP]: 'udp',
  [PROTO_ICMP]: 'icmp',
  [PROTO_ICMPV6]: 'icmpv6',
};

/** The layers of one frame (`data` is the captured frame), numbered `num` from 1. */
export function packetProtos(
  num: number,
  tsNs: bigint,
  data: Uint8Array,
  origLen: number,
  linkType: number,
  f: PacketFields,
): PdmlProto[] {
  decodeFrame(data, 0, data.length, linkType, f);
  const len = data.length;
  const protos: PdmlProto[] = [];
  const stack: string[] = [];
  protos.push(
    proto('geninfo', 'General information', 0, len, [
      field('num', 'Number', 0, len, String(num), num.toString(16)),
      field('len', 'Frame Length', 0, len, String(origLen), origLen.toString(16)),
      field('caplen', 'Captured Length', 0, len, String(len), len.toString(16)),
      field('timestamp', 'Captured Time', 0, len, tsharkTime(tsNs), epoch(tsNs)),
    ]),
  );
  const frame = proto(
    'frame',
    `Frame ${num}: ${origLen} bytes on wire (${origLen * 8} bits), ${len} bytes captured (${len * 8} bits)`,
    0,
    len,
    [
      field('frame.time_epoch', `Epoch Time: ${epoch(tsNs)} seconds`, 0, 0, epoch(tsNs), null),
      field('frame.len', `Frame Length: ${origLen} bytes`, 0, 0, String(origLen), null),
      field('frame.cap_len', `Capture Length: ${len} bytes`, 0, 0, String(len), null),
    ],
  );
  protos.push(frame);
  if (linkType === LINKTYPE_ETHERNET && len >= 14) {
    stack.push('eth');
    protos.push(
      proto('eth', `Ethernet II, Src: ${mac(data, 6)}, Dst: ${mac(data, 0)}`, 0, 14, [
        field('eth.dst', `Destination: ${mac(data, 0)}`, 0, 6, mac(data, 0), hex(data, 0, 6)),
        field('eth.src', `Source: ${mac(data, 6)}`, 6, 6, mac(data, 6), hex(data, 6, 6)),
        field('eth.type', `Type: 0x${hex(data, 12, 2)}`, 12, 2, `0x${hex(data, 12, 2)}`, hex(data, 12, 2)),
      ]),
    );
  }
  if (f.vlan >= 0) {
    stack.push('vlan');
    protos.push(
      proto('vlan', `802.1Q Virtual LAN, ID: ${f.vlan}`, 14, 4, [
        field('vlan.id', `ID: ${f.vlan}`, 14, 2, String(f.vlan), null),
      ]),
    );
  }
  const l3 = f.l3Offset;
  if (f.ipVersion === 4 && l3 >= 0) {
    stack.push('ip');
    const hl = (data[l3] & 0x0f) * 4;
    protos.push(
      proto('ip', `Internet Protocol Version 4, Src: ${f.srcAddr}, Dst: ${f.dstAddr}`, l3, hl, [
        field('ip.version', 'Version: 4', l3, 1, '4', null),
        field('ip.hdr_len', `Header Length: ${hl} bytes`, l3, 1, String(hl), null),
        field('ip.ttl', `Time to Live: ${data[l3 + 8]}`, l3 + 8, 1, String(data[l3 + 8]), hex(data, l3 + 8, 1)),
        field(
          'ip.proto',
          `Protocol: ${PROTO_NAMES[f.protocol]?.toUpperCase() ?? f.protocol} (${f.protocol})`,
          l3 + 9,
          1,
          String(f.protocol),
          hex(data, l3 + 9, 1),
        ),
        field('ip.src', `Source Address: ${f.srcAddr}`, l3 + 12, 4, f.srcAddr ?? '', hex(data, l3 + 12, 4)),
        field('ip.dst', `Destination Address: ${f.dstAddr}`, l3 + 16, 4, f.dstAddr ?? '', hex(data, l3 + 16, 4)),
      ]),
    );
  } else if (f.ipVersion === 6 && l3 >= 0) {
    stack.push('ipv6');
    protos.push(
      proto('ipv6', `Internet Protocol Version 6, Src: ${f.srcAddr}, Dst: ${f.dstAddr}`, l3, 40, [
        field('ipv6.nxt', `Next Header: ${f.protocol}`, l3 + 6, 1, String(f.protocol), hex(data, l3 + 6, 1)),
        field('ipv6.hlim', `Hop Limit: ${data[l3 + 7]}`, l3 + 7, 1, String(data[l3 + 7]), hex(data, l3 + 7, 1)),
        field('ipv6.src', `Source Address: ${f.srcAddr}`, l3 + 8, 16, f.srcAddr ?? '', hex(data, l3 + 8, 16)),
        field('ipv6.dst', `Destination Address: ${f.dstAddr}`, l3 + 24, 16, f.dstAddr ?? '', hex(data, l3 + 24, 16)),
      ]),
    );
  }
  const l4 = f.l4Offset;
  if (l4 >= 0 && (f.protocol === PROTO_TCP || f.protocol === PROTO_UDP)) {
    const tcp = f.protocol === PROTO_TCP;
    const name = tcp ? 'tcp' : 'udp';
    stack.push(name);
    const size = tcp ? (data[l4 + 12] >> 4) * 4 : 8;
    const fields = [
      field(`${name}.srcport`, `Source Port: ${f.srcPort}`, l4, 2, String(f.srcPort), hex(data, l4, 2)),
      field(`${name}.dstport`, `Destination Port: ${f.dstPort}`, l4 + 2, 2, String(f.dstPort), hex(data, l4 + 2, 2)),
    ];
    if (tcp && f.tcpFlags >= 0) {
      const flags = `0x${f.tcpFlags.toString(16).padStart(3, '0')}`;
      fields.push(field('tcp.flags', `Flags: ${flags}`, l4 + 13, 1, flags, hex(data, l4 + 13, 1)));
    }
    protos.push(
      proto(
        name,
        `${tcp ? 'Transmission Control Protocol' : 'User Datagram Protocol'}, Src Port: ${f.srcPort}, Dst Port: ${f.dstPort}`,
        l4,
        size,
        fields,
      ),
    );
  } else if (l4 >= 0 && (f.protocol === PROTO_ICMP || f.protocol === PROTO_ICMPV6)) {
    const name = PROTO_NAMES[f.protocol];
    stack.push(name);
    protos.push(
      proto(
        name,
        f.protocol === PROTO_ICMP ? 'Internet Control Message Protocol' : 'Internet Control Message Protocol v6',
        l4,
        4,
        [
          field(`${name}.type`, `Type: ${f.icmpType}`, l4, 1, String(f.icmpType), hex(data, l4, 1)),
          field(`${name}.code`, `Code: ${f.icmpCode}`, l4 + 1, 1, String(f.icmpCode), hex(data, l4 + 1, 1)),
        ],
      ),
    );
  }
  if (f.payloadOffset >= 0 && f.payloadLength > 0) {
    const n = Math.min(f.payloadLength, len - f.payloadOffset);
    stack.push('data');
    protos.push(
      proto('data', `Data (${n} bytes)`, f.payloadOffset, n, [
        field('data.len', `Length: ${n}`, f.payloadOffset, 0, String(n), null),
      ]),
    );
  }
  if (f.error) frame.fields!.push(field('_ws.malformed', `[Malformed Packet: ${f.error}]`, 0, 0, f.error, null));
  frame.fields!.push(field('frame.protocols', `Protocols in frame: ${stack.join(':')}`, 0, 0, stack.join(':'), null));
  return protos;
}

/** PDML for the first `maxPackets` packets of a pcap file, from our decoder. */
export async function builtinPdml(file: string, maxPackets: number): Promise<Pdml> {
  const reader = new PcapFileReader(createReadStream(file));
  const fields = createPacketFields();
  const pdml: Pdml = {
    version: '0',
    creator: 'pcapline',
    time: new Date().toUTCString(),
    captureFile: '',
    packets: [],
  };
  for await (const p of reader) {
    if (pdml.packets.length >= maxPackets) break;
    pdml.packets.push({ protos: packetProtos(p.index + 1, p.tsNs, p.data, p.origLen, p.linkType, fields) });
  }
  return pdml;
}
