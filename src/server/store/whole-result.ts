/**
 * A job's whole result as one pcap stream: its pages read in order and re-framed under a single
 * global header (the first page's link type). Pages are re-read rather than concatenated because a
 * one-packet page keeps its stored bytes (their own header, possibly another byte order).
 * The stream pulls page data only as fast as the client reads (Readable.from), and a client that
 * goes away ends the generator, which closes the open page.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { PcapFileReader } from '../../formats/pcap/pcap-file.js';
import { PCAP_PACKET_HEADER_LENGTH, pcapGlobalHeader, writePcapPacketHeader } from '../../formats/pcap/pcap-record.js';

const CHUNK = 256 * 1024;

export function wholeResultStream(pagePaths: readonly string[]): Readable {
  return Readable.from(chunks(pagePaths), { objectMode: false });
}

async function* chunks(pagePaths: readonly string[]): AsyncGenerator<Buffer> {
  let batch = Buffer.allocUnsafe(CHUNK);
  let used = 0;
  let headerDone = false;
  for (const path of pagePaths) {
    const reader = new PcapFileReader(createReadStream(path));
    const h = await reader.header();
    if (!headerDone) {
      yield pcapGlobalHeader(h.linkType, Math.max(h.snaplen, 65535));
      headerDone = true;
    }
    for await (const p of reader) {
      const need = PCAP_PACKET_HEADER_LENGTH + p.data.length;
      if (used + need > batch.length) {
        if (used) yield batch.subarray(0, used);
        batch = Buffer.allocUnsafe(Math.max(CHUNK, need));
        used = 0;
      }
      writePcapPacketHeader(batch, used, p.tsNs, p.data.length, p.origLen);
      batch.set(p.data, used + PCAP_PACKET_HEADER_LENGTH);
      used += need;
    }
  }
  if (used) yield batch.subarray(0, used);
  if (!headerDone) yield pcapGlobalHeader(1, 65535);
}
