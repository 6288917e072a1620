/**
 * What compiled expressions evaluate against: one reusable context per filter, refilled per
 * packet (no allocation), holding the decoded fields and the frame's place in its buffer.
 */

export type Value = string | number | boolean | null | Buffer | Value[];

/** The packet fields expressions read; PacketFields qualifies, and so does an index-entry view. */
export interface Fields {
  readonly tsNs: bigint;
  readonly protocol: number;
  readonly srcAddr: string | null;
  readonly dstAddr: string | null;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly vlan: number;
  readonly length: number;
}

export interface Ctx {
  p: Fields;
  frame: Buffer;
  start: number;
  end: number;
}

/** A compiled expression node. */
export type Ev = (c: Ctx) => Value;
