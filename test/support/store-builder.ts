/**
 * Writes small stores on the local filesystem the way the sink lays them out (SequenceFile data
 * files, index v1 or v2 beside them, optionally a catalog), without Kafka: for unit tests of the
 * query engine, the catalog and pcap-reindex, and for benchmarks that need many files quickly.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  INDEX_DIR,
  indexFileName,
  indexLeafName,
  type IndexSummary,
} from '../../src/formats/index/packet-index-format.js';
import type { BloomFilter } from '../../src/formats/index/bloom.js';
import { IndexBuilder } from '../../src/formats/index/packet-index.js';
import { formatPcapFileName } from '../../src/formats/file-name.js';
import { SequenceFileWriter } from '../../src/formats/sequencefile/writer.js';
import { decodeFrame } from '../../src/packet/decode.js';
import { createPacketFields } from '../../src/packet/packet-fields.js';

export interface StorePacket {
  tsNs: bigint;
  frame: Buffer;
}

export interface WrittenFile {
  name: string;
  dataPath: string;
  indexPath: string | null;
  count: number;
  bytes: number;
  indexBytes: number;
  minTsNs: bigint;
  maxTsNs: bigint;
  /** The v2 index's sketches as the writer made them (null for v1 or no index). */
  sketches: Map<string, BloomFilter> | null;
}

async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of gen) parts.push(c);
  return Buffer.concat(parts);
}

/** Writes one data file (and its index) under `dir` (a local directory, the store root). */
export async function writeStoreFile(
  dir: string,
  packets: readonly StorePacket[],
  o: { topic?: string; partition?: number; id?: string; index?: 'v1' | 'v2' | 'none'; firstOffset?: number } = {},
): Promise<WrittenFile> {
  const topic = o.topic ?? 't';
  const partition = o.partition ?? 0;
  const chunks: Buffer[] = [];
  const writer = new SequenceFileWriter({ write: (c: Buffer) => void chunks.push(Buffer.from(c)) });
  const builder = new IndexBuilder();
  const f = createPacketFields();
  for (const p of packets) {
    const pos = writer.appendFrame(p.tsNs, p.frame);
    decodeFrame(p.frame, 0, p.frame.length, 1, f);
    builder.add(p.tsNs, pos, writer.position - pos, f.protocol, f.srcAddr, f.dstAddr, f.srcPort, f.dstPort, f.vlan);
  }
  const data = Buffer.concat(chunks);
  const name = formatPcapFileName(topic, packets[0].tsNs, partition, o.id ?? 'test');
  const dataPath = join(dir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(dataPath, data);
  const first = o.firstOffset ?? 0;
  const summary: IndexSummary = {
    version: 2,
    dataFile: name,
    topic,
    partition,
    firstOffset: String(first),
    lastOffset: String(first + packets.length - 1),
    minTsNs: builder.minTsNs.toString(),
    maxTsNs: builder.maxTsNs.toString(),
    count: builder.count,
    dataLength: data.length,
  };
  const kind = o.index ?? 'v2';
  if (kind === 'none')
    return {
      name,
      dataPath,
      indexPath: null,
      count: packets.length,
      bytes: data.length,
      indexBytes: 0,
      minTsNs: builder.minTsNs,
      maxTsNs: builder.maxTsNs,
      sketches: null,
    };
  const bytes = await collect(kind === 'v2' ? builder.encode(summary) : builder.encodeV1(summary));
  const indexPath =
    kind === 'v2'
      ? join(dir, INDEX_DIR, indexFileName(name, builder.minTsNs, builder.maxTsNs))
      : join(dir, INDEX_DIR, indexLeafName(name, builder.minTsNs, builder.maxTsNs));
  mkdirSync(dirname(indexPath), { recursive: true });
  writeFileSync(indexPath, bytes);
  return {
    name,
    dataPath,
    indexPath,
    count: packets.length,
    bytes: data.length,
    indexBytes: bytes.length,
    minTsNs: builder.minTsNs,
    maxTsNs: builder.maxTsNs,
    sketches: kind === 'v2' ? builder.sketches : null,
  };
}
