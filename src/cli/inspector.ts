/**
 * pcap-inspector -i <file> [-n N] [--json]
 *
 * Prints one Metron-format line per record (metron-compat §5.2) of a packet file: our SequenceFiles,
 * Metron's (including the IntWritable-keyed sample) or a plain pcap file, told apart by their
 * magic. `-i` is a local path, a file:// URL or a webhdfs://host:port/path URL. `--json` prints
 * one JSON object per packet with every decoded field instead. Exit 0 on success, 2 with one line
 * on stderr for bad arguments or unreadable input (PCAPLINE_DEBUG=1 adds the stack trace).
 */
import { createReadStream } from 'node:fs';
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import yargs from 'yargs';
import { oneLine, UsageError } from '../lib/errors.js';
import { isStorageError } from '../storage/errors.js';
import { describeLocation, LOCAL_STORE, parseStorageUri, type StorageLocation } from '../storage/uri.js';
import { isMainModule, printable, runCli } from './run.js';
import { peekSource, type ByteSource } from '../formats/byte-queue.js';
import { decodeFrame, decodePcapValue } from '../packet/decode.js';
import { formatInspectorLine, formatMalformedLine, packetFieldsToJson } from '../packet/metron-line.js';
import { createPacketFields, type PacketFields } from '../packet/packet-fields.js';
import { PcapFileReader } from '../formats/pcap/pcap-file.js';
import { MAGIC_PCAPNG, pcapMagicAt, readU32 } from '../formats/pcap/pcap-record.js';
import { SequenceFileReader } from '../formats/sequencefile/reader.js';

const NAME = 'pcap-inspector';
const USAGE = `usage: ${NAME} -i <file> [-n N] [--json]
  -i, --input <file>        SequenceFile or pcap file: webhdfs://host:port/path, file:///path, or a plain path
                            on $PCAPLINE_STORE (else local disk)
  -n, --num_packets <N>     number of records to print (default: all)
      --json                one JSON object per packet with every decoded field
  -h, --help                this help`;

interface Args {
  input: string;
  limit: number;
  json: boolean;
}

function parseArgs(argv: string[]): Args | 'help' {
  let failure: string | null = null;
  const a = yargs(argv)
    .parserConfiguration({
      'short-option-groups': false,
      'camel-case-expansion': false,
      'duplicate-arguments-array': false,
    })
    .option('i', { alias: 'input', type: 'string' })
    .option('n', { alias: 'num_packets', type: 'string' })
    .option('json', { type: 'boolean', default: false })
    .option('h', { alias: 'help', type: 'boolean', default: false })
    .strict()
    .help(false)
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      failure = err?.message ?? msg;
    })
    .parseSync();
  if (failure !== null) throw new UsageError(`${failure} (try --help)`);
  if (a.h) return 'help';
  if (a._.length > 0) throw new UsageError(`unexpected argument '${String(a._[0])}' (try --help)`);
  const input = a.i;
  if (typeof input !== 'string' || input === '')
    throw new UsageError('missing -i <file>: the SequenceFile or pcap file to read');
  let limit = Number.POSITIVE_INFINITY;
  if (a.n !== undefined) {
    if (!/^\d+$/.test(String(a.n))) throw new UsageError(`-n must be a non-negative integer, got '${String(a.n)}'`);
    limit = Number(a.n);
  }
  return { input, limit, json: a.json === true };
}

/**
 * Opens the input as a byte stream; `close` releases any storage connection. `-i` follows the
 * rule of every tool (storage/uri.ts): a URI names its store, a plain path is on $PCAPLINE_STORE,
 * else local.
 */
async function openInput(input: string): Promise<{ stream: Readable; close: () => Promise<void> }> {
  let loc: StorageLocation;
  try {
    loc = parseStorageUri(input);
  } catch (err) {
    if (isStorageError(err)) throw new UsageError(`-i: ${err.message}`);
    throw err;
  }
  const where = describeLocation(loc);
  if (loc.root !== LOCAL_STORE) {
    // Loaded only for remote inputs: local files need none of the HTTP machinery.
    const { openStorage } = await import('../storage/open.js');
    const storage = openStorage(loc.root);
    try {
      const stream = await storage.read(loc.path);
      return { stream, close: () => storage.close() };
    } catch (err) {
      await storage.close().catch(() => undefined);
      throw new UsageError(`cannot read ${where}: ${(err as Error).message}`);
    }
  }
  const path = loc.path;
  let st: Stats;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT' ? `no such file: ${where}` : `cannot read ${where}: ${(err as Error).message}`,
    );
  }
  if (st.isDirectory()) throw new UsageError(`${where} is a directory; give one data file`);
  return { stream: createReadStream(path, { highWaterMark: 256 * 1024 }), close: async () => undefined };
}

/** Buffered line output that respects backpressure and stops quietly when the reader goes away (| head). */
class LineOut {
  private buf = '';
  closed = false;
  constructor(private readonly out: Writable) {
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.closed = true;
    });
  }
  async line(s: string): Promise<void> {
    this.buf += `${s}\n`;
    if (this.buf.length >= 64 * 1024) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.buf.length === 0 || this.closed) return;
    const chunk = this.buf;
    this.buf = '';
    if (!this.out.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.out.off('drain', done);
          this.out.off('error', done);
          this.out.off('close', done);
          resolve();
        };
        this.out.on('drain', done);
        this.out.on('error', done);
        this.out.on('close', done);
      });
    }
  }
}

type Render = (f: PacketFields, recordNumber: number, position: number, tsNs: bigint | null) => string;

function renderer(json: boolean): Render {
  if (json) {
    return (f, n, position) => JSON.stringify({ record: n, position, ...packetFieldsToJson(f) });
  }
  // Metron prints an error line when a record cannot be decoded at all; a non-IP frame that
  // decoded fine (ARP, say) is just "TS: ...".
  return (f, n, _position, tsNs) =>
    f.error !== null && f.ipVersion === 0 ? formatMalformedLine(n, tsNs, f.error) : formatInspectorLine(f);
}

async function inspectSequenceFile(
  source: ByteSource,
  args: Args,
  out: LineOut,
  warn: (s: string) => void,
): Promise<void> {
  const reader = new SequenceFileReader(source);
  const header = await reader.header();
  const render = renderer(args.json);
  const f = createPacketFields();
  let n = 0;
  for await (const rec of reader) {
    if (n >= args.limit || out.closed) break;
    n++;
    decodePcapValue(rec.value, f);
    // Metron's inspector takes TS from the LongWritable key (ns precise); IntWritable keys are
    // record numbers, so the pcap header's time (already in f) stands.
    if (header.keyType === 'long' && rec.tsNs !== null) f.tsNs = rec.tsNs;
    await out.line(render(f, n, rec.position, rec.tsNs));
  }
  await reader.close();
  if (reader.summary.torn) {
    warn(
      `note: the file ends inside a record (${reader.summary.tornBytes} bytes after offset ${reader.summary.validEnd}); is it still being written?`,
    );
  }
}

async function inspectPcapFile(source: ByteSource, args: Args, out: LineOut, warn: (s: string) => void): Promise<void> {
  const reader = new PcapFileReader(source);
  const render = renderer(args.json);
  const f = createPacketFields();
  let n = 0;
  for await (const p of reader) {
    if (n >= args.limit || out.closed) break;
    n++;
    decodeFrame(p.data, 0, p.data.length, p.linkType, f);
    f.tsNs = p.tsNs;
    f.origLength = p.origLen;
    await out.line(render(f, n, p.position, p.tsNs));
  }
  await reader.close();
  if (reader.summary.torn)
    warn(
      `note: the capture ends inside a packet (${reader.summary.tornBytes} bytes after offset ${reader.summary.validEnd})`,
    );
}

/** Runs the inspector; resolves to the exit status. Never throws. */
export async function main(
  argv: string[],
  stdout: Writable = process.stdout,
  stderr: Writable = process.stderr,
): Promise<number> {
  const say = (s: string): void => {
    stderr.write(`${NAME}: ${printable(oneLine(s))}\n`);
  };
  let close: (() => Promise<void>) | null = null;
  try {
    const args = parseArgs(argv);
    if (args === 'help') {
      stdout.write(`${USAGE}\n`);
      return 0;
    }
    const input = await openInput(args.input);
    close = input.close;
    const { head, source } = await peekSource(input.stream, 4);
    const out = new LineOut(stdout);
    if (head.length === 4 && head[0] === 0x53 && head[1] === 0x45 && head[2] === 0x51) {
      await inspectSequenceFile(source, args, out, say);
    } else if (head.length === 4 && pcapMagicAt(head, 0) !== null) {
      await inspectPcapFile(source, args, out, say);
    } else {
      input.stream.destroy();
      if (head.length === 4 && readU32(head, 0, false) === MAGIC_PCAPNG) {
        throw new UsageError(`${args.input} is a pcapng file; convert it first: editcap -F pcap in.pcapng out.pcap`);
      }
      throw new UsageError(
        `${args.input} is neither a SequenceFile nor a pcap file${head.length < 4 ? ' (too short)' : ''}`,
      );
    }
    await out.flush();
    return 0;
  } catch (err) {
    const e = err as Error;
    say(e instanceof UsageError ? e.message : `cannot read input: ${e.message}`);
    if (process.env.PCAPLINE_DEBUG && !(e instanceof UsageError)) stderr.write(`${e.stack ?? ''}\n`);
    return 2;
  } finally {
    if (close) await close().catch(() => undefined);
  }
}

if (isMainModule(import.meta.url)) runCli(NAME, (argv: string[]) => main(argv));
