/**
 * Metron's PDML JSON (metron-rest-client model/pcap: Pdml, Packet, Proto, Field): tshark's
 * `-T pdml` XML mapped attribute for attribute, absent attributes and empty child lists as null,
 * exactly as the Alerts UI reads it.
 */
export interface PdmlField {
  name: string | null;
  pos: string | null;
  showname: string | null;
  size: string | null;
  value: string | null;
  show: string | null;
  unmaskedvalue: string | null;
  hide: string | null;
  fields: PdmlField[] | null;
  protos: PdmlProto[] | null;
}

export interface PdmlProto {
  name: string | null;
  pos: string | null;
  showname: string | null;
  size: string | null;
  hide: string | null;
  fields: PdmlField[] | null;
}

export interface PdmlPacket {
  protos: PdmlProto[];
}

export interface Pdml {
  version: string | null;
  creator: string | null;
  time: string | null;
  captureFile: string | null;
  packets: PdmlPacket[];
}

export const newField = (attrs: Record<string, string | undefined>): PdmlField => ({
  name: attrs.name ?? null,
  pos: attrs.pos ?? null,
  showname: attrs.showname ?? null,
  size: attrs.size ?? null,
  value: attrs.value ?? null,
  show: attrs.show ?? null,
  unmaskedvalue: attrs.unmaskedvalue ?? null,
  hide: attrs.hide ?? null,
  fields: null,
  protos: null,
});

export const newProto = (attrs: Record<string, string | undefined>): PdmlProto => ({
  name: attrs.name ?? null,
  pos: attrs.pos ?? null,
  showname: attrs.showname ?? null,
  size: attrs.size ?? null,
  hide: attrs.hide ?? null,
  fields: null,
});
