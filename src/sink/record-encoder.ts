import {
  createScheme,
  recordLengthOf,
  type Scheme,
  type SchemeRecord,
  type TsGranularity,
  type TsScheme,
  type RejectReason,
} from '../scheme/index.js';
import { decodeFrame } from '../packet/decode.js';
import { createPacketFields } from '../packet/packet-fields.js';
import type { OpenFile } from './open-file.js';

export interface RejectedRecord {
  reason: RejectReason;
  detail: string;
}

/**
 * The per-record hot path of ingest: scheme check, SequenceFile append, index entry. One decoder
 * state object is reused for every record; the frame bytes go to the writer without a copy.
 */
export class RecordEncoder {
  private readonly scheme: Scheme;
  private readonly fields = createPacketFields();
  private current: SchemeRecord | null = null;

  constructor(tsScheme: TsScheme, granularity: TsGranularity) {
    this.scheme = createScheme(tsScheme, granularity);
  }

  /** Runs the scheme; null when the record is good (then `tsNs` and `append` apply to it). */
  check(key: Buffer | null, value: Buffer | null): RejectedRecord | null {
    const r = this.scheme(key, value);
    if (!r.ok) {
      this.current = null;
      return { reason: r.reason, detail: r.detail };
    }
    this.current = r;
    return null;
  }

  get tsNs(): bigint {
    return this.current!.tsNs;
  }

  /** Appends the checked record to the file and records its index entry. */
  append(file: OpenFile): void {
    const rec = this.current!;
    const writer = file.sequenceWriter;
    const pos = rec.kind === 'frame' ? writer.appendFrame(rec.tsNs, rec.data) : writer.appendValue(rec.tsNs, rec.data);
    const f = this.fields;
    decodeFrame(rec.data, rec.frameOffset, rec.frameLength, rec.linkType, f);
    file.index.add(rec.tsNs, pos, recordLengthOf(rec), f.protocol, f.srcAddr, f.dstAddr, f.srcPort, f.dstPort, f.vlan);
    this.current = null;
  }
}
