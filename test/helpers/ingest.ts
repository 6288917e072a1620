import kafkajs from 'kafkajs';
import { openStorage, parseStorageUri } from '../../src/storage/index.js';
import type { Storage } from '../../src/storage/types.js';
import { readSequenceFile } from '../../src/formats/sequencefile/index.js';
import { parsePcapFileName } from '../../src/formats/file-name.js';
import { INDEX_DIR, parseIndexFileName, type DecodedIndex } from '../../src/formats/index/packet-index-format.js';
import { decodeIndex } from '../../src/formats/index/packet-index-reader.js';

const { Kafka, logLevel } = kafkajs;

/** An Ethernet/IPv4/UDP frame whose payload carries `id` (so stored packets can be traced to records). */
export function udpFrame(id: string, srcPort = 40000, dstPort = 53, size = 0): Buffer {
  const payload = Buffer.alloc(Math.max(Buffer.byteLength(id), size - 42));
  payload.write(id);
  const frame = Buffer.alloc(14 + 20 + 8 + payload.length);
  Buffer.from('0a0000000001', 'hex').copy(frame, 0);
  Buffer.from('0a0000000002', 'hex').copy(frame, 6);
  frame.writeUInt16BE(0x0800, 12);
  frame[14] = 0x45;
  frame.writeUInt16BE(20 + 8 + payload.length, 16);
  frame[22] = 64;
  frame[23] = 17;
  Buffer.from([10, 1, 0, 1]).copy(frame, 26);
  Buffer.from([10, 2, 0, 2]).copy(frame, 30);
  frame.writeUInt16BE(srcPort, 34);
  frame.writeUInt16BE(dstPort, 36);
  frame.writeUInt16BE(8 + payload.length, 38);
  payload.copy(frame, 42);
  return frame;
}

export const tsKey = (ts: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(ts);
  return b;
};

export function kafkaClient(brokers: string) {
  return new Kafka({ clientId: 'pcapline-test', brokers: [brokers], logLevel: logLevel.NOTHING });
}

export async function createTopic(brokers: string, topic: string, partitions: number): Promise<void> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  await admin.disconnect();
}

export interface TestRecord {
  partition: number;
  key: Buffer | null;
  value: Buffer | null;
}

/** Produces records in order, in batches, waiting for every batch to be acknowledged. */
export async function produce(brokers: string, topic: string, records: TestRecord[], batch = 2000): Promise<void> {
  const producer = kafkaClient(brokers).producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  for (let i = 0; i < records.length; i += batch) {
    await producer.send({
      topic,
      acks: -1,
      messages: records.slice(i, i + batch).map((r) => ({ partition: r.partition, key: r.key, value: r.value })),
    });
  }
  await producer.disconnect();
}

export async function committedOffsets(brokers: string, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  const [res] = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  return new Map(res.partitions.map((p) => [p.partition, BigInt(p.offset)]));
}

export interface StoredFile {
  name: string;
  path: string;
  partition: number;
  records: { position: number; length: number; tsNs: bigint; value: Buffer }[];
  index: DecodedIndex | null;
}

/**
 * Reads every finished data file under `out`, recursively (the hourly/daily layouts put them in
 * sub-directories; names starting with '_' or '.' are skipped as Hadoop does), with its index from
 * the `_index` directory beside it.
 */
export async function readStore(out: string): Promise<StoredFile[]> {
  const { root, path } = parseStorageUri(out);
  const storage: Storage = openStorage(root);
  const files: StoredFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    const indexes = new Map<string, string>();
    try {
      // v1 indexes sit in _index, v2 indexes in its hour buckets.
      for await (const e of storage.list(`${dir}/${INDEX_DIR}`)) {
        if (e.type === 'directory') {
          for await (const b of storage.list(e.path)) {
            const parsed = parseIndexFileName(b.name);
            if (parsed) indexes.set(parsed.dataFile, b.path);
          }
          continue;
        }
        const parsed = parseIndexFileName(e.name);
        if (parsed && !indexes.has(parsed.dataFile)) indexes.set(parsed.dataFile, e.path);
      }
    } catch {
      /* no index dir */
    }
    const subdirs: string[] = [];
    for await (const e of storage.list(dir)) {
      if (e.name.startsWith('_') || e.name.startsWith('.')) continue;
      if (e.type === 'directory') {
        subdirs.push(e.path);
        continue;
      }
      const parsed = parsePcapFileName(e.name);
      const records: StoredFile['records'] = [];
      const reader = readSequenceFile(await storage.read(e.path), { onTorn: 'error' });
      for await (const r of reader)
        records.push({ position: r.position, length: r.length, tsNs: r.tsNs!, value: Buffer.from(r.value) });
      const indexPath = indexes.get(e.name);
      files.push({
        name: e.name,
        path: e.path,
        partition: parsed?.partition ?? -1,
        records,
        index: indexPath ? await decodeIndex(await storage.readBuffer(indexPath)) : null,
      });
    }
    for (const d of subdirs) await walk(d);
  };
  try {
    await walk(path);
    return files;
  } finally {
    await storage.close();
  }
}
