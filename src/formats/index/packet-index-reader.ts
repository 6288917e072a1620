import { ipv4Text, formatIpv6 } from '../../packet/ip-text.js';
import { boundedInflate, Cursor, IndexFormatError, parseContainerHeader } from './avro-binary.js';
import {
  ADDRESSES_KEY,
  type DecodedIndex,
  IndexColumns,
  type IndexSummary,
  SUMMARY_KEY,
} from './packet-index-format.js';
import { bufferSource, IndexV2 } from './v2/reader.js';

/**
 * Decoding whole index files into columns (typed arrays, no object or bigint per entry): v1 (one Avro
 * record per packet, 9 zigzag varints) directly, v2 (inverted) by reading every column chunk and
 * inverting every posting list. The query engine reads v2 piece by piece (./v2/reader.ts) instead;
 * this whole-file form serves v1 queries, pcap-reindex, tests and tools.
 */

/** The most bytes one v1 entry can take: 9 varints of at most 10 bytes. */
const MAX_V1_ENTRY_BYTES = 90;

export function readIndexColumns(file: Buffer): DecodedIndex {
  const header = parseContainerHeader(file);
  if (!header) throw new IndexFormatError('index ends inside its header');
  if (IndexV2.isV2(header.meta)) throw new IndexFormatError('a v2 index: use decodeIndex');
  const { meta, sync } = header;
  const c = new Cursor(file, header.dataStart);
  const codec = meta.get('avro.codec') ? Buffer.from(meta.get('avro.codec')!).toString('utf8') : 'null';
  if (codec !== 'null' && codec !== 'deflate') throw new IndexFormatError(`unsupported index codec ${codec}`);
  const summaryBytes = meta.get(SUMMARY_KEY);
  const addressBytes = meta.get(ADDRESSES_KEY);
  if (!summaryBytes || !addressBytes) throw new IndexFormatError('index file has no pcapline.summary metadata');
  const summary = JSON.parse(Buffer.from(summaryBytes).toString('utf8')) as IndexSummary;
  const addresses = JSON.parse(Buffer.from(addressBytes).toString('utf8')) as string[];
  if (!Number.isSafeInteger(summary.count) || summary.count < 0 || summary.count > file.length)
    throw new IndexFormatError(`implausible packet count ${summary.count}`);
  const columns = new IndexColumns(summary.count);
  const tsWords = new Uint32Array(columns.ts.buffer, columns.ts.byteOffset, columns.ts.length * 2);
  let i = 0;
  while (c.pos < file.length) {
    const count = c.long();
    const size = c.long();
    if (count < 0 || size < 0 || c.pos + size + 16 > file.length)
      throw new IndexFormatError('index truncated inside a block');
    const raw = file.subarray(c.pos, c.pos + size);
    c.pos += size;
    if (!file.subarray(c.pos, c.pos + 16).equals(sync)) throw new IndexFormatError('index block has a bad sync marker');
    c.pos += 16;
    if (i + count > summary.count)
      throw new IndexFormatError(`index holds more entries than its summary says (${summary.count})`);
    // A block of `count` entries cannot inflate beyond count × 90 bytes: a crafted one fails here.
    const block = new Cursor(codec === 'deflate' ? boundedInflate(raw, count * MAX_V1_ENTRY_BYTES) : raw);
    for (let k = 0; k < count; k++, i++) {
      block.longInto(tsWords, i);
      columns.pos[i] = block.long();
      columns.len[i] = block.long();
      columns.protocol[i] = block.long();
      columns.src[i] = block.long();
      columns.dst[i] = block.long();
      columns.srcPort[i] = block.long();
      columns.dstPort[i] = block.long();
      columns.vlan[i] = block.long();
    }
  }
  columns.count = i;
  if (i !== summary.count)
    throw new IndexFormatError(`index holds ${i} entries but its summary says ${summary.count} (torn index)`);
  return { summary, addresses, columns };
}

const addressText = (b: Uint8Array): string | null =>
  b.length === 4 ? ipv4Text(b, 0) : b.length === 16 ? formatIpv6(b, 0) : null;

/** Every packet of a v2 index as columns (postings inverted back into per-packet fields). */
export async function decodeIndexV2(index: IndexV2): Promise<DecodedIndex> {
  const n = index.count;
  const columns = new IndexColumns(n);
  columns.count = n;
  if (n) {
    const span = await index.columns(0, index.chunks.length);
    for (let i = 0; i < n; i++) {
      columns.ts[i] = index.minTsNs + BigInt(span.tsOffset[i]);
      columns.pos[i] = span.pos[i];
      columns.len[i] = span.len[i];
    }
  }
  const addresses: string[] = [];
  const ids = new Map<string, number>();
  const targets: Record<string, Int16Array | Int32Array | undefined> = {
    src: columns.src,
    dst: columns.dst,
    srcPort: columns.srcPort,
    dstPort: columns.dstPort,
    protocol: columns.protocol,
    vlan: columns.vlan,
  };
  for (const field of index.directory.fields) {
    const target = targets[field.name];
    if (!target) continue;
    target.fill(-1);
    const entries = await index.terms(field);
    const ordinals = await index.postings(field, entries, false);
    let at = 0;
    for (const e of entries) {
      let value: number;
      if (field.kind === 'int') value = e.term as number;
      else {
        const text = addressText(e.term as Uint8Array);
        if (text === null) value = -1;
        else {
          value = ids.get(text) ?? addresses.length;
          if (value === addresses.length) {
            ids.set(text, value);
            addresses.push(text);
          }
        }
      }
      for (const end = at + e.count; at < end; at++) target[ordinals[at]] = value;
    }
  }
  return { summary: index.summary, addresses, columns };
}

/** Reads a whole index file (either version) into columns. */
export async function decodeIndex(file: Buffer): Promise<DecodedIndex> {
  const header = parseContainerHeader(file);
  if (header && IndexV2.isV2(header.meta)) return decodeIndexV2(await IndexV2.open(bufferSource(file), file));
  return readIndexColumns(file);
}
