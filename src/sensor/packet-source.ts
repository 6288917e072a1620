/**
 * Where a sensor's packets come from: a pcap file, a pcap stream on stdin (`tcpdump -U -w - | ...`)
 * or a live capture (src/sensor/capture.ts). Each is opened to a checked reader (pcap header read,
 * Ethernet link type) before any broker is contacted, so bad input is reported first (exit 2).
 *
 * Stopping differs by source, so every packet that was captured is still published: a file stops at
 * once; a live capture tool is told to stop and read until its stream ends; stdin is read until the
 * writer closes it (it usually got the same Ctrl-C), or for a short grace period.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { type PcapFileHeader, PcapFileError, type PcapFileReader, readPcapFile } from '../formats/pcap/pcap-file.js';
import { LINKTYPE_ETHERNET } from '../formats/pcap/pcap-record.js';
import { UsageError } from '../lib/errors.js';
import { type CaptureExit, type CaptureOptions, LiveCapture } from './capture.js';

export type SensorInput =
  | { kind: 'file'; path: string }
  | { kind: 'stdin' }
  | { kind: 'live'; capture: CaptureOptions };

/** How long stdin is still read after a stop request, for what the writer flushes as it exits. */
const STDIN_GRACE_MS = 3000;
/** How long a capture tool gets to flush and exit before it is killed. */
const CAPTURE_STOP_MS = 10_000;

export interface OpenedSource {
  reader: PcapFileReader;
  header: PcapFileHeader;
  /** For messages: the file name, "stdin" or "tcpdump on lo". */
  name: string;
  /** True once a stop was requested and the remaining packets must not be read (files only). */
  readonly cut: boolean;
  /** Requests a stop; safe to call repeatedly. */
  stop(): void;
  /** True when a read error after stop() is the expected end (a destroyed stdin). */
  readonly stopping: boolean;
  /** After the reader ended: the capture tool's exit report (live), else null. */
  finish(): Promise<CaptureExit | null>;
}

export async function openSource(input: SensorInput): Promise<OpenedSource> {
  if (input.kind === 'file') return openFile(input.path);
  if (input.kind === 'stdin') return openStream(process.stdin, 'stdin');
  return openLive(input.capture);
}

async function openFile(path: string): Promise<OpenedSource> {
  const stream = createReadStream(path);
  try {
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${(err as Error).message}`,
    );
  }
  const reader = readPcapFile(stream);
  const header = await checkedHeader(reader, path);
  let cut = false;
  return {
    reader,
    header,
    name: path,
    get cut() {
      return cut;
    },
    stopping: false,
    stop: () => {
      cut = true;
    },
    finish: async () => null,
  };
}

async function openStream(stream: Readable, name: string): Promise<OpenedSource> {
  const reader = readPcapFile(stream);
  const header = await checkedHeader(reader, name);
  let stopping = false;
  let grace: NodeJS.Timeout | null = null;
  return {
    reader,
    header,
    name,
    cut: false,
    get stopping() {
      return stopping;
    },
    stop: () => {
      if (stopping) {
        stream.destroy();
        return;
      }
      stopping = true;
      grace = setTimeout(() => stream.destroy(), STDIN_GRACE_MS);
      grace.unref();
    },
    finish: async () => {
      if (grace) clearTimeout(grace);
      return null;
    },
  };
}

async function openLive(o: CaptureOptions): Promise<OpenedSource> {
  const capture = new LiveCapture(o);
  const name = `${capture.tool} on ${o.interface}`;
  const reader = readPcapFile(capture.stdout);
  let header: PcapFileHeader;
  try {
    header = await checkedHeader(reader, name);
  } catch (err) {
    capture.stop();
    const exit = await capture.exited;
    // No header: the tool could not start (bad interface or filter, no permission); say why.
    if (err instanceof PcapFileError) throw capture.failure(exit);
    throw err;
  }
  let killer: NodeJS.Timeout | null = null;
  return {
    reader,
    header,
    name,
    cut: false,
    stopping: false,
    stop: () => {
      capture.stop();
      killer ??= setTimeout(() => capture.stop(), CAPTURE_STOP_MS);
      killer.unref();
    },
    finish: async () => {
      const exit = await capture.exited;
      if (killer) clearTimeout(killer);
      return exit;
    },
  };
}

/** Reads the pcap header and refuses what the sensor record format cannot carry. */
async function checkedHeader(reader: PcapFileReader, name: string): Promise<PcapFileHeader> {
  const header = await reader.header().catch(async (err: unknown) => {
    await reader.close();
    if (err instanceof PcapFileError) throw new PcapFileError(err.reason, `${name}: ${err.message}`, err.position);
    throw err;
  });
  if (header.linkType !== LINKTYPE_ETHERNET) {
    await reader.close();
    throw new UsageError(
      `${name}: link type ${header.linkType}; the sensor format carries Ethernet frames only (FROM_KEY)` +
        (name.endsWith(' on any') ? '; capture on one interface instead of "any"' : ''),
    );
  }
  return header;
}
