import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { PcapFileWriter } from '../../formats/pcap/pcap-file.js';
import { PCAP_PACKET_HEADER_LENGTH } from '../../formats/pcap/pcap-record.js';
import { QueryError } from '../errors.js';
import type { MatchedPacket } from './engine.js';
import { pageFileName, PageSplitter, parsePageFileName } from './pages.js';

export interface OutputLimits {
  maxPackets?: number;
  /** Bytes of packet data (headers + captured bytes) written, summed over all output. */
  maxBytes?: number;
}

export interface OutputResult {
  packets: number;
  bytes: number;
  files: string[];
  /** True when a limit cut the result short. */
  truncated: boolean;
  /** Stream output: packets left out because their link type differs from the stream's. */
  otherLinkTypes: number;
}

const withinLimits = (limits: OutputLimits, packets: number, bytes: number, next: MatchedPacket): boolean =>
  (limits.maxPackets === undefined || packets < limits.maxPackets) &&
  (limits.maxBytes === undefined || bytes + PCAP_PACKET_HEADER_LENGTH + next.frameLength <= limits.maxBytes);

const frameOf = (p: MatchedPacket): Buffer => p.value.subarray(p.frameOffset, p.frameOffset + p.frameLength);

/** Longest file name (bytes) on Linux filesystems: NAME_MAX. */
export const MAX_FILE_NAME_BYTES = 255;

/**
 * The page names `-pre` gives, checked before anything is read: the longest (the in-progress
 * `.pcap-data-<prefix>+NNNNN.pcap.part`) must fit in one directory entry.
 */
export function checkPrefix(prefix: string): void {
  const longest = Buffer.byteLength(`.${pageFileName(prefix, 99_999)}.part`);
  if (longest > MAX_FILE_NAME_BYTES) {
    throw new QueryError(
      `the prefix is too long: page names would be ${longest} bytes, over the ${MAX_FILE_NAME_BYTES}-byte limit of a file name`,
      { option: '-pre' },
    );
  }
}

/**
 * Creates the `-o` directory (and its parents) before the query runs, so a name that is taken by
 * a file, or a directory that cannot be made, is one line about -o (exit 2), not an errno after
 * minutes of reading. Returns how many earlier pages were deleted.
 */
export async function prepareOutputDir(dir: string, prefix?: string, clean = false): Promise<number> {
  try {
    await makeDirs(dir);
  } catch (err) {
    throw outputError(err, dir);
  }
  // Given the run's prefix: earlier pages with it are refused, or deleted with --clean.
  return prefix === undefined ? 0 : clearEarlierPages(dir, prefix, clean);
}

/**
 * Makes sure pages of this run cannot mix with an earlier run's: existing `pcap-data-<prefix>+*`
 * pages (and unfinished `.part` files) in `dir` are refused with a QueryError (exit 2), or deleted
 * when `clean` is set. Returns how many were deleted.
 */
async function clearEarlierPages(dir: string, prefix: string, clean: boolean): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const ours = names.filter((n) => {
    const page = parsePageFileName(n.startsWith('.') && n.endsWith('.part') ? n.slice(1, -'.part'.length) : n);
    return page !== null && page.prefix === prefix;
  });
  if (!ours.length) return 0;
  if (!clean)
    throw new QueryError(
      `${dir} already holds ${ours.length} page${ours.length === 1 ? '' : 's'} named pcap-data-${prefix}+NNNN.pcap (an earlier run?); choose another -pre, or add --clean to delete them first`,
      { option: '-pre' },
    );
  for (const n of ours) await unlink(join(dir, n));
  return ours.length;
}

/**
 * mkdir -p, one level at a time: Node 20's `mkdir(…, { recursive: true })` never returns where
 * the filesystem refuses new entries (`-o /proc/x` spins forever), and reports a file in the way
 * only as EEXIST.
 */
async function makeDirs(dir: string): Promise<void> {
  const target = resolve(dir);
  let at = '/';
  for (const part of target.split('/').filter((p) => p !== '')) {
    at = join(at, part);
    try {
      await mkdir(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!(await stat(at)).isDirectory()) {
        throw Object.assign(new Error(`${at} is not a directory`), { code: at === target ? 'EEXIST' : 'ENOTDIR' });
      }
    }
  }
}

function outputError(err: unknown, dir: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    EEXIST: 'exists and is not a directory',
    ENOENT: 'cannot be created there (the filesystem refuses new entries)',
    ENOTDIR: 'is under a path that is a file, not a directory',
    EACCES: 'cannot be created or written: permission denied',
    EPERM: 'cannot be created or written: operation not permitted',
    EROFS: 'is on a read-only filesystem',
    ENAMETOOLONG: 'is too long a path',
    ELOOP: 'has too many levels of symbolic links',
  };
  if (code === undefined || !(code in why)) return err;
  return new QueryError(`'${dir}' ${why[code]}`, { option: '-o', cause: err });
}

/**
 * Writes time-ordered pages `pcap-data-<prefix>+NNNN.pcap` into `dir`, `recordsPerFile` packets
 * each (Metron's paging). A page of exactly one packet is that record's stored bytes, unchanged, as
 * Metron's finalizer wrote it. Pages are written under a temporary name and renamed when complete,
 * so a page that exists is whole. No packets: no files.
 */
export async function writePages(
  packets: AsyncIterable<MatchedPacket>,
  dir: string,
  prefix: string,
  recordsPerFile: number,
  limits: OutputLimits = {},
): Promise<OutputResult> {
  checkPrefix(prefix);
  await prepareOutputDir(dir);
  const splitter = new PageSplitter(recordsPerFile);
  const result: OutputResult = { packets: 0, bytes: 0, files: [], truncated: false, otherLinkTypes: 0 };
  let writer: PcapFileWriter | null = null;
  let held: MatchedPacket | null = null; // the first packet of a page, until we know the page has more
  let pageLinkType = -1;
  let page = 0;
  const tmpName = (n: number) => join(dir, `.${pageFileName(prefix, n)}.part`);
  const finishPage = async () => {
    if (!page) return;
    const tmp = tmpName(page);
    if (held) {
      await writeWhole(tmp, held.value);
      held = null;
    } else if (writer) {
      await writer.end();
      writer = null;
    }
    const final = join(dir, pageFileName(prefix, page));
    await rename(tmp, final);
    result.files.push(final);
  };
  for await (const p of packets) {
    if (!withinLimits(limits, result.packets, result.bytes, p)) {
      result.truncated = true;
      break;
    }
    // A pcap file has one link type: a packet of another type starts a new page.
    if (page && p.linkType !== pageLinkType) splitter.breakPage();
    const placed = splitter.place(p.tsNs);
    if (placed.startsPage) {
      await finishPage();
      page = placed.page;
      held = p;
      pageLinkType = p.linkType;
    } else {
      if (held) {
        writer = new PcapFileWriter(createWriteStream(tmpName(page)), { linkType: held.linkType });
        await writer.writePacket(held.tsNs, frameOf(held), held.origLength);
        held = null;
      }
      await writer!.writePacket(p.tsNs, frameOf(p), p.origLength);
    }
    result.packets++;
    result.bytes += PCAP_PACKET_HEADER_LENGTH + p.frameLength;
  }
  await finishPage();
  return result;
}

async function writeWhole(path: string, bytes: Buffer): Promise<void> {
  const out = createWriteStream(path);
  await new Promise<void>((resolve, reject) => {
    out.on('error', reject);
    out.end(bytes, () => resolve());
  });
}

/** One pcap stream (e.g. stdout into `tshark -r -`). Ends quietly if the reader goes away (EPIPE). */
export async function writeStream(
  packets: AsyncIterable<MatchedPacket>,
  out: Writable,
  limits: OutputLimits = {},
): Promise<OutputResult> {
  const result: OutputResult = { packets: 0, bytes: 0, files: [], truncated: false, otherLinkTypes: 0 };
  let writer: PcapFileWriter | null = null;
  let linkType = -1;
  let closed = false;
  out.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') closed = true;
  });
  for await (const p of packets) {
    if (closed) break;
    if (!withinLimits(limits, result.packets, result.bytes, p)) {
      result.truncated = true;
      break;
    }
    // One stream has one link type (its first packet's): others would be misread, so they are left
    // out and counted (pages keep them: each page has its own link type).
    if (writer && p.linkType !== linkType) {
      result.otherLinkTypes++;
      continue;
    }
    if (!writer) {
      writer = new PcapFileWriter(out, { linkType: p.linkType });
      linkType = p.linkType;
    }
    await writer.writePacket(p.tsNs, frameOf(p), p.origLength);
    result.packets++;
    result.bytes += PCAP_PACKET_HEADER_LENGTH + p.frameLength;
  }
  // An empty result is still a valid (empty) capture on a pipe, so `tshark -r -` does not fail.
  writer ??= new PcapFileWriter(out);
  if (!closed) await writer.end({ endStream: false });
  return result;
}
