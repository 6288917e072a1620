/**
 * The output half of pcap-tail: Kafka records in, one valid libpcap stream out. Records are
 * decoded by the same schemes the topology uses (FROM_KEY at any granularity, FROM_VALUE),
 * merged in time order by the reorder buffer, and written as complete pcap records only, so the
 * stream stays readable whatever ends it (the end of the input, --max-packets, a signal, or the
 * reader going away). A record that cannot be a packet is counted and skipped, never written.
 */
import type { Writable } from 'node:stream';
import { PcapFileWriter } from '../../formats/pcap/pcap-file.js';
import { LINKTYPE_ETHERNET, pcapMagicAt, readU32 } from '../../formats/pcap/pcap-record.js';
import type { RejectReason, Scheme } from '../../scheme/index.js';
import type { ReorderBuffer, TailPacket } from './reorder-buffer.js';

/** The snaplen we declare; libpcap readers refuse records larger than this for Ethernet. */
export const TAIL_SNAPLEN = 262_144;

export type MalformedReason = RejectReason | 'frame-too-large' | 'not-ethernet';

export interface TailWriterOptions {
  out: Writable;
  scheme: Scheme;
  reorder: ReorderBuffer;
  nanos: boolean;
  /** Stop after writing this many packets. */
  maxPackets?: number;
  /** Called for every skipped record (the caller rate-limits its warnings). */
  onMalformed?: (reason: MalformedReason, detail: string, partition: number, offset: bigint) => void;
}

export class TailWriter {
  private readonly writer: PcapFileWriter;
  private readonly limit: number;
  /** Records accepted into the reorder buffer. */
  accepted = 0;
  /** Packets written. */
  written = 0;
  readonly malformed = new Map<MalformedReason, number>();
  /** The reader went away (EPIPE): nothing more can be written. */
  closed = false;
  private failure: Error | null = null;

  constructor(private readonly o: TailWriterOptions) {
    this.writer = new PcapFileWriter(o.out, { linkType: LINKTYPE_ETHERNET, snaplen: TAIL_SNAPLEN, nanos: o.nanos });
    this.limit = o.maxPackets && o.maxPackets > 0 ? o.maxPackets : Number.POSITIVE_INFINITY;
    o.out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') this.closed = true;
      else this.failure ??= err;
    });
  }

  /** --max-packets reached. */
  get full(): boolean {
    return this.written >= this.limit;
  }

  get malformedTotal(): number {
    let n = 0;
    for (const v of this.malformed.values()) n += v;
    return n;
  }

  /** Decodes one record into the reorder buffer, or counts it as malformed. */
  accept(
    partition: number,
    offset: bigint,
    key: Buffer | null | undefined,
    value: Buffer | null | undefined,
    nowMs: number,
  ): void {
    const r = this.o.scheme(key, value);
    if (!r.ok) {
      this.skip(r.reason, r.detail, partition, offset);
      return;
    }
    if (r.linkType !== LINKTYPE_ETHERNET) {
      this.skip('not-ethernet', `link type ${r.linkType}; the stream is Ethernet`, partition, offset);
      return;
    }
    if (r.frameLength > TAIL_SNAPLEN) {
      this.skip('frame-too-large', `${r.frameLength} bytes > ${TAIL_SNAPLEN}`, partition, offset);
      return;
    }
    const frame = r.data.subarray(r.frameOffset, r.frameOffset + r.frameLength);
    let origLen = r.frameLength;
    if (r.kind === 'pcap') {
      // FROM_VALUE carries the original length in its packet header (a snaplen-cut capture).
      const magic = pcapMagicAt(r.data, 0);
      if (magic) origLen = Math.max(origLen, readU32(r.data, r.frameOffset - 4, magic.littleEndian));
    }
    this.o.reorder.push({ tsNs: r.tsNs, partition, offset, frame, origLen, arrivedMs: nowMs });
    this.accepted++;
  }

  /** Writes what the reorder buffer releases now, then hands it to the stream. */
  async writeReleased(nowMs: number, wallLatenessMs: number | null): Promise<void> {
    await this.write(this.o.reorder.release(nowMs, wallLatenessMs, this.limit - this.written));
  }

  /** Writes everything still buffered (up to the limit). */
  async writeAll(): Promise<void> {
    await this.write(this.o.reorder.drain(this.limit - this.written));
  }

  /** Hands the batched bytes (at first: the global header) to the stream, so a viewer sees them now. */
  async flush(): Promise<void> {
    if (this.closed) return;
    await this.guard(() => this.writer.flush());
  }

  /** Flushes; ends the stream too when it is a file (`endStream`). */
  async end(endStream: boolean): Promise<void> {
    if (this.closed) return;
    await this.guard(() => this.writer.end({ endStream }));
  }

  private async write(packets: readonly TailPacket[]): Promise<void> {
    for (const p of packets) {
      if (this.closed) return;
      await this.guard(() => this.writer.writePacket(p.tsNs, p.frame, p.origLen));
      this.written++;
    }
    await this.flush();
  }

  private async guard(fn: () => Promise<void>): Promise<void> {
    if (this.failure) throw this.failure;
    try {
      await fn();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') this.closed = true;
      else throw err;
    }
    if (this.failure) throw this.failure;
  }

  private skip(reason: MalformedReason, detail: string, partition: number, offset: bigint): void {
    this.malformed.set(reason, (this.malformed.get(reason) ?? 0) + 1);
    this.o.onMalformed?.(reason, detail, partition, offset);
  }
}
