/**
 * Throughput of the byte-level core (not a test): `npm run bench:core`.
 *   encode  = scheme (FROM_KEY) + SequenceFile appendFrame into a byte-counting sink
 *   ingest  = what the topology does per record (RecordEncoder: scheme, append into an OpenFile's
 *             chunk buffer, decode, index entry), storage stubbed out: the ingest hot path
 *   decode  = decodePcapValue of stored values (the query filter's hot path)
 *   read    = streaming SequenceFile reader over 64 KiB chunks + decode (a query scanning a file)
 *   filter  = decode + a compiled query expression / a byteseek pattern per packet (the query's per-packet cost)
 * for 64-byte and 1500-byte frames from the synthetic generator (IPv4/IPv6/VLAN/TCP/UDP/ICMP mix).
 */
import { decodePcapValue } from '../src/packet/decode.js';
import { createPacketFields } from '../src/packet/packet-fields.js';
import { metronPcapValue } from '../src/formats/pcap/pcap-record.js';
import { SequenceFileReader, SequenceFileWriter } from '../src/formats/sequencefile/index.js';
import { SyntheticCapture } from '../test/support/synthetic.js';
import { createScheme } from '../src/scheme/index.js';
import { compileByteseek } from '../src/query/filter/byteseek/index.js';
import { compileQuery } from '../src/query/filter/expr/compile.js';
import { RecordEncoder } from '../src/sink/record-encoder.js';
import { OpenFile } from '../src/sink/open-file.js';
import { SinkLayout } from '../src/sink/layout.js';
import type { Storage } from '../src/storage/types.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1.5);

/** Runs `batch` (which processes `perBatch` packets) repeatedly for SECONDS after a warm-up. */
async function measure(perBatch: number, batch: () => void | Promise<void>): Promise<number> {
  const warm = process.hrtime.bigint();
  while (Number(process.hrtime.bigint() - warm) < 3e8) await batch();
  let n = 0;
  const t0 = process.hrtime.bigint();
  let dt = 0;
  do {
    await batch();
    n += perBatch;
    dt = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (dt < SECONDS);
  return n / dt;
}

function frames(size: number, count: number): { keys: Buffer[]; frames: Buffer[]; ts: bigint[] } {
  const g = new SyntheticCapture({ seed: size, minSize: size, maxSize: size, flows: 256 });
  const out = { keys: [] as Buffer[], frames: [] as Buffer[], ts: [] as bigint[] };
  while (out.frames.length < count) {
    const p = g.next();
    if (p.frame.length !== size) continue; // IPv6 + QinQ + extension headers can exceed 64 bytes
    const k = Buffer.alloc(8);
    k.writeBigUInt64BE(p.tsNs / 1000n);
    out.keys.push(k);
    out.frames.push(p.frame);
    out.ts.push(p.tsNs);
  }
  return out;
}

const fmt = (pps: number): string => `${(pps / 1e6).toFixed(2)} M pkt/s`;
const mbps = (pps: number, bytes: number): string => `${((pps * bytes * 8) / 1e9).toFixed(1)} Gbit/s of frames`;

async function main(): Promise<void> {
  const N = 4096;
  const scheme = createScheme('FROM_KEY', 'MICROSECONDS');
  const f = createPacketFields();
  console.log(`node ${process.version}, ${SECONDS}s per figure, ${N} distinct frames per size`);
  for (const size of [64, 1500]) {
    const d = frames(size, N);
    const values = d.frames.map((fr, i) => metronPcapValue(d.ts[i], fr));
    let sinkBytes = 0;
    const sink = {
      write: (c: Buffer): void => {
        sinkBytes += c.length;
      },
    };

    const encode = await measure(N, () => {
      const w = new SequenceFileWriter(sink);
      for (let i = 0; i < N; i++) {
        const r = scheme(d.keys[i], d.frames[i]);
        if (r.ok) w.appendFrame(r.tsNs, r.data);
      }
    });

    // The topology's per-record path; the chunk never reaches storage (flushes are not per-record work).
    const encoder = new RecordEncoder('FROM_KEY', 'MICROSECONDS');
    const layout = new SinkLayout('/bench');
    const noStorage = {
      createWriter: async () => ({ write: async () => {}, close: async () => {}, abort: async () => {} }),
    } as unknown as Storage;
    const ingest = await measure(N, () => {
      const file = new OpenFile(noStorage, layout, 'bench', 0, 0n, d.ts[0], 'bench', 256 << 20, 1);
      for (let i = 0; i < N; i++) if (!encoder.check(d.keys[i], d.frames[i])) encoder.append(file);
    });

    let checksum = 0;
    const decode = await measure(N, () => {
      for (let i = 0; i < N; i++) {
        decodePcapValue(values[i], f);
        checksum += f.dstPort;
      }
    });

    // A whole file in 64 KiB chunks, read and decoded record by record.
    const parts: Buffer[] = [];
    const w = new SequenceFileWriter({ write: (c) => void parts.push(c) });
    for (let i = 0; i < N; i++) w.appendFrame(d.ts[i], d.frames[i]);
    const file = Buffer.concat(parts);
    const chunks: Buffer[] = [];
    for (let i = 0; i < file.length; i += 65536) chunks.push(file.subarray(i, i + 65536));
    const read = await measure(N, async () => {
      for await (const rec of new SequenceFileReader(chunks)) {
        decodePcapValue(rec.value, f);
        checksum += f.srcPort;
      }
    });

    // The per-packet filters a query runs once the frame is decoded.
    const expression = compileQuery(
      "ip_dst_port in [22, 80, 443] and IN_SUBNET(ip_src_addr, '10.0.0.0/8') and protocol == 6",
    );
    const filterExpr = await measure(N, () => {
      for (let i = 0; i < N; i++) {
        decodePcapValue(values[i], f);
        if (expression.test(f, values[i], f.frameOffset, values[i].length)) checksum++;
      }
    });
    const fixedBytes = compileByteseek("'HTTP/1.1'");
    const nfa = compileByteseek("'GET' 20 ('/api'|'/v1') .{0,40} 'HTTP'");
    const filterFixed = await measure(N, () => {
      for (let i = 0; i < N; i++) if (fixedBytes.matches(d.frames[i])) checksum++;
    });
    const filterNfa = await measure(N, () => {
      for (let i = 0; i < N; i++) if (nfa.matches(d.frames[i])) checksum++;
    });

    const both = 1 / (1 / encode + 1 / decode);
    console.log(`${String(size).padStart(4)}-byte frames:`);
    console.log(`  encode (scheme + SequenceFile append)  ${fmt(encode).padStart(16)}  ${mbps(encode, size)}`);
    console.log(`  ingest (RecordEncoder into an OpenFile) ${fmt(ingest).padStart(15)}  ${mbps(ingest, size)}`);
    console.log(`  decode (decodePcapValue)               ${fmt(decode).padStart(16)}  ${mbps(decode, size)}`);
    console.log(`  decode+encode (one core doing both)    ${fmt(both).padStart(16)}`);
    console.log(`  read+decode (streaming reader)         ${fmt(read).padStart(16)}  ${mbps(read, size)}`);
    console.log(`  decode + expression (3 clauses)        ${fmt(filterExpr).padStart(16)}`);
    console.log(
      `  byteseek, plain bytes (indexOf)        ${fmt(filterFixed).padStart(16)}  ${mbps(filterFixed, size)}`,
    );
    console.log(`  byteseek, alternation + repeat (NFA)   ${fmt(filterNfa).padStart(16)}  ${mbps(filterNfa, size)}`);
    if (checksum === 42) console.log(''); // keep the work observable
    void sinkBytes;
  }
}

await main();
