/**
 * Classic libpcap files: a streaming reader (µs or ns magic, either byte order) and a writer that
 * emits little-endian µs files like Metron's query output (global header once, then a 16-byte
 * header and the frame per packet). pcapng is recognised only to be refused clearly.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { ByteQueue, type ByteSource } from '../byte-queue.js';
import {
  MAGIC_PCAPNG,
  PCAP_GLOBAL_HEADER_LENGTH,
  PCAP_PACKET_HEADER_LENGTH,
  pcapGlobalHeader,
  pcapMagicAt,
  readU16,
  readU32,
  writePcapPacketHeader,
  writePcapPacketHeaderNs,
} from './pcap-record.js';
import { PcaplineError } from '../../lib/errors.js';

export interface PcapFileHeader {
  littleEndian: boolean;
  nanos: boolean;
  versionMajor: number;
  versionMinor: number;
  snaplen: number;
  linkType: number;
}

export interface PcapPacket {
  /** 0-based packet number in the file. */
  index: number;
  /** File offset of the packet's 16-byte header. */
  position: number;
  tsNs: bigint;
  inclLen: number;
  origLen: number;
  linkType: number;
  /** The captured frame (incl_len bytes), a view into the read chunk when possible. */
  data: Buffer;
}

export type PcapFileErrorCode =
  | 'bad-magic'
  | 'pcapng'
  | 'truncated-header'
  | 'bad-version'
  | 'bad-packet-length'
  | 'bad-timestamp';

/** A file that is not a pcap file we can read, or is damaged: `reason` says how; exit 2. */
export class PcapFileError extends PcaplineError {
  constructor(
    readonly reason: PcapFileErrorCode,
    message: string,
    readonly position: number,
  ) {
    super('PCAPLINE_PCAP_FILE', message, { exitCode: 2 });
  }
}

export interface PcapReadSummary {
  packets: number;
  /** True when the file ends inside a packet (a capture still being written, or cut short). */
  torn: boolean;
  tornBytes: number;
  /** Offset just past the last complete packet. */
  validEnd: number;
}

export interface PcapFileReaderOptions {
  /** Largest incl_len accepted before the file is declared corrupt (default 16 MiB). */
  maxPacketLength?: number;
}

/** Parses a 24-byte pcap global header; throws PcapFileError for anything that is not one. */
export function parsePcapFileHeader(b: Uint8Array): PcapFileHeader {
  if (b.length < PCAP_GLOBAL_HEADER_LENGTH)
    throw new PcapFileError('truncated-header', 'file shorter than a pcap global header', 0);
  const magic = pcapMagicAt(b, 0);
  if (magic === null) {
    if (readU32(b, 0, false) === MAGIC_PCAPNG)
      throw new PcapFileError(
        'pcapng',
        'pcapng files are not supported; convert with: editcap -F pcap in.pcapng out.pcap',
        0,
      );
    throw new PcapFileError('bad-magic', 'not a pcap file (unknown magic)', 0);
  }
  const le = magic.littleEndian;
  const versionMajor = readU16(b, 4, le);
  if (versionMajor !== 2) throw new PcapFileError('bad-version', `pcap version ${versionMajor}, expected 2`, 4);
  return {
    littleEndian: le,
    nanos: magic.nanos,
    versionMajor,
    versionMinor: readU16(b, 6, le),
    snaplen: readU32(b, 16, le),
    // The upper bits may carry FCS flags (pcap LINKTYPE_ field layout); the link type is the low 16.
    linkType: readU32(b, 20, le) & 0xffff,
  };
}

export class PcapFileReader implements AsyncIterable<PcapPacket> {
  private readonly q: ByteQueue;
  private readonly max: number;
  private hdr: PcapFileHeader | null = null;
  private started = false;
  readonly summary: PcapReadSummary = { packets: 0, torn: false, tornBytes: 0, validEnd: 0 };

  constructor(source: ByteSource, options: PcapFileReaderOptions = {}) {
    this.q = new ByteQueue(source);
    this.max = options.maxPacketLength ?? 16 * 1024 * 1024;
  }

  async header(): Promise<PcapFileHeader> {
    if (this.hdr) return this.hdr;
    if (!(await this.q.ensure(PCAP_GLOBAL_HEADER_LENGTH))) {
      if (this.q.available >= 4) parsePcapFileHeader(Buffer.concat([this.q.peek(this.q.available), Buffer.alloc(24)])); // magic errors first
      throw new PcapFileError('truncated-header', 'file shorter than a pcap global header', 0);
    }
    this.hdr = parsePcapFileHeader(this.q.peek(PCAP_GLOBAL_HEADER_LENGTH));
    this.q.skip(PCAP_GLOBAL_HEADER_LENGTH);
    this.summary.validEnd = PCAP_GLOBAL_HEADER_LENGTH;
    return this.hdr;
  }

  [Symbol.asyncIterator](): AsyncIterator<PcapPacket> {
    if (this.started) throw new Error('PcapFileReader can be iterated once');
    this.started = true;
    return this.packets();
  }

  async close(): Promise<void> {
    await this.q.close();
  }

  private async *packets(): AsyncGenerator<PcapPacket> {
    const q = this.q;
    try {
      const h = await this.header();
      const le = h.littleEndian;
      for (let index = 0; ; index++) {
        if (q.available < PCAP_PACKET_HEADER_LENGTH && !(await q.ensure(PCAP_PACKET_HEADER_LENGTH))) {
          if (q.available > 0) this.torn();
          return;
        }
        const ph = q.peek(PCAP_PACKET_HEADER_LENGTH);
        const sec = readU32(ph, 0, le);
        const frac = readU32(ph, 4, le);
        const incl = readU32(ph, 8, le);
        const orig = readU32(ph, 12, le);
        if (incl > this.max) {
          throw new PcapFileError(
            'bad-packet-length',
            `packet ${index} at offset ${q.position}: incl_len ${incl} is not plausible (corrupt file?)`,
            q.position,
          );
        }
        // ts_usec (ts_nsec) counts within one second: 1,000,000 or more is a damaged header, and
        // taking it at face value would shift the packet by seconds (pcap-record.ts refuses it too).
        if (frac >= (h.nanos ? 1_000_000_000 : 1_000_000)) {
          throw new PcapFileError(
            'bad-timestamp',
            `packet ${index} at offset ${q.position}: ts_${h.nanos ? 'nsec' : 'usec'} ${frac} is not below one second (corrupt file?)`,
            q.position,
          );
        }
        const total = PCAP_PACKET_HEADER_LENGTH + incl;
        if (q.available < total && !(await q.ensure(total))) {
          this.torn();
          return;
        }
        const position = q.position;
        q.skip(PCAP_PACKET_HEADER_LENGTH);
        const data = q.take(incl);
        this.summary.packets++;
        this.summary.validEnd = q.position;
        yield {
          index,
          position,
          tsNs: BigInt(sec) * 1_000_000_000n + BigInt(h.nanos ? frac : frac * 1000),
          inclLen: incl,
          origLen: orig,
          linkType: h.linkType,
          data,
        };
      }
    } finally {
      await q.close();
    }
  }

  private torn(): void {
    this.summary.torn = true;
    this.summary.tornBytes = this.q.available;
  }
}

export const readPcapFile = (source: ByteSource, options?: PcapFileReaderOptions): PcapFileReader =>
  new PcapFileReader(source, options);

export interface PcapFileWriterOptions {
  linkType?: number;
  snaplen?: number;
  /** Bytes collected before each write to the stream (default 64 KiB): fewer, larger writes. */
  batchBytes?: number;
  /** Write a nanosecond pcap (ns magic, ns fractions) instead of the default µs one. */
  nanos?: boolean;
}

/**
 * Writes a little-endian pcap (µs, or ns with `nanos`) to a Writable, respecting backpressure:
 * `writePacket` resolves once the stream can take more (await it). Packets are copied into a batch
 * buffer, so the caller's frame buffers may be reused as soon as the promise resolves.
 */
export class PcapFileWriter {
  private batch: Buffer;
  private readonly batchSize: number;
  private readonly writeHeader: typeof writePcapPacketHeader;
  private used = 0;
  private count = 0;
  private written = 0;

  constructor(
    private readonly out: Writable,
    options: PcapFileWriterOptions = {},
  ) {
    this.batchSize = Math.max(options.batchBytes ?? 64 * 1024, 1024);
    this.batch = Buffer.allocUnsafe(this.batchSize);
    this.writeHeader = options.nanos ? writePcapPacketHeaderNs : writePcapPacketHeader;
    const g = pcapGlobalHeader(options.linkType ?? 1, options.snaplen ?? 65535, options.nanos ?? false);
    g.copy(this.batch, 0);
    this.used = g.length;
  }

  /** Packets written so far. */
  get packets(): number {
    return this.count;
  }

  /** Bytes of file produced so far (global header included). */
  get bytes(): number {
    return this.written + this.used;
  }

  /**
   * Appends one packet. Time is written as µs (sub-µs digits dropped, as Metron does) unless the
   * writer was made with `nanos`; `origLen` defaults to the captured length.
   */
  async writePacket(tsNs: bigint, frame: Uint8Array, origLen: number = frame.length): Promise<void> {
    const need = PCAP_PACKET_HEADER_LENGTH + frame.length;
    if (this.used + need > this.batch.length) await this.flush();
    if (need > this.batch.length) {
      const h = Buffer.allocUnsafe(PCAP_PACKET_HEADER_LENGTH);
      this.writeHeader(h, 0, tsNs, frame.length, Math.max(origLen, frame.length));
      await this.push(h);
      await this.push(Buffer.from(frame)); // a copy: the stream may hold it after we return
    } else {
      this.writeHeader(this.batch, this.used, tsNs, frame.length, Math.max(origLen, frame.length));
      this.batch.set(frame, this.used + PCAP_PACKET_HEADER_LENGTH);
      this.used += need;
    }
    this.count++;
  }

  /** Writes out what is batched (without ending the stream). */
  async flush(): Promise<void> {
    if (this.used === 0) return;
    // Hand the filled part to the stream and start a fresh batch: the stream may hold the chunk.
    const chunk = this.batch.subarray(0, this.used);
    this.batch = Buffer.allocUnsafe(this.batchSize);
    this.used = 0;
    await this.push(chunk);
  }

  /**
   * Flushes and ends the stream, resolving when it has finished (file closed). With
   * `{ endStream: false }` (e.g. for process.stdout) it only flushes.
   */
  async end(options: { endStream?: boolean } = {}): Promise<void> {
    await this.flush();
    if (options.endStream === false) return;
    const finished = once(this.out, 'finish');
    this.out.end();
    await finished;
  }

  private async push(chunk: Buffer): Promise<void> {
    this.written += chunk.length;
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }
}

/** A whole pcap file in memory (tests and small tools): LE µs, like PcapFileWriter. */
export function encodePcapFile(
  packets: Iterable<{ tsNs: bigint; data: Uint8Array; origLen?: number }>,
  linkType = 1,
  snaplen = 65535,
): Buffer {
  const parts: Buffer[] = [pcapGlobalHeader(linkType, snaplen)];
  for (const p of packets) {
    const h = Buffer.allocUnsafe(PCAP_PACKET_HEADER_LENGTH);
    writePcapPacketHeader(h, 0, p.tsNs, p.data.length, Math.max(p.origLen ?? p.data.length, p.data.length));
    parts.push(h, Buffer.from(p.data.buffer, p.data.byteOffset, p.data.length));
  }
  return Buffer.concat(parts);
}
