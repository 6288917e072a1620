/**
 * PDML through tshark, as Metron's pcap_to_pdml.sh did (`tshark -T pdml` over the page), streamed
 * through a SAX parser into Metron's JSON shape: the XML is never held whole, the number of packets
 * and the bytes read are capped, and tshark is killed at a deadline.
 */
import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { PcaplineError } from '../../lib/errors.js';
import { newField, newProto, type Pdml, type PdmlField, type PdmlProto } from './types.js';

export class PdmlError extends PcaplineError {
  constructor(message: string) {
    super('PCAPLINE_PDML', message);
  }
}

export interface TsharkOptions {
  tshark: string;
  maxPackets: number;
  timeoutMs: number;
  /** Largest PDML accepted (bytes of XML). */
  maxBytes?: number;
}

/** Runs tshark on a pcap file and maps its PDML. */
export function tsharkPdml(file: string, o: TsharkOptions): Promise<Pdml> {
  const maxBytes = o.maxBytes ?? 256 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    // -n: no name lookups (slow, and they would reach DNS servers from the server).
    const child = spawn(o.tshark, ['-n', '-r', file, '-c', String(o.maxPackets), '-T', 'pdml'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const parser = new PdmlBuilder();
    let bytes = 0;
    let stderr = '';
    let failed: Error | null = null;
    const fail = (err: Error) => {
      if (failed) return;
      failed = err;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => fail(new PdmlError(`tshark took longer than ${o.timeoutMs} ms`)), o.timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (failed) return;
      bytes += chunk.length;
      if (bytes > maxBytes) return fail(new PdmlError(`tshark's PDML is larger than ${maxBytes} bytes`));
      try {
        parser.write(chunk);
      } catch (err) {
        fail(new PdmlError(`unreadable PDML from tshark: ${(err as Error).message}`));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (stderr.length < 4096) stderr += s;
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new PdmlError(`cannot run ${o.tshark}: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (failed) return reject(failed);
      if (code !== 0) {
        const why = stderr
          .split('\n')
          .filter((l) => l.trim() && !/^Running as user/.test(l))
          .join(' ');
        return reject(new PdmlError(`tshark exited with status ${code}: ${why}`));
      }
      try {
        const pdml = parser.finish();
        // tshark names the file it read: the client needs only the page's name, not the server's path.
        pdml.captureFile = pdml.captureFile === null ? null : basename(pdml.captureFile);
        resolve(pdml);
      } catch (err) {
        reject(new PdmlError(`unreadable PDML from tshark: ${(err as Error).message}`));
      }
    });
  });
}

/** SAX events → Metron's objects. Exported for tests that feed it PDML text. */
export class PdmlBuilder {
  private readonly sax = new SaxesParser({ position: false });
  private readonly pdml: Pdml = { version: null, creator: null, time: null, captureFile: null, packets: [] };
  /** Open proto/field elements, innermost last. */
  private readonly stack: (PdmlProto | PdmlField)[] = [];
  private packet: PdmlProto[] | null = null;
  private error: Error | null = null;

  constructor() {
    this.sax.on('opentag', (tag) => this.open(tag as SaxesTagPlain));
    this.sax.on('closetag', (tag) => this.close(tag as SaxesTagPlain));
    this.sax.on('error', (err) => {
      this.error ??= err;
    });
  }

  write(chunk: string): void {
    this.sax.write(chunk);
    if (this.error) throw this.error;
  }

  finish(): Pdml {
    this.sax.close();
    if (this.error) throw this.error;
    return this.pdml;
  }

  private open(tag: SaxesTagPlain): void {
    const a = tag.attributes as Record<string, string>;
    switch (tag.name) {
      case 'pdml':
        this.pdml.version = a.version ?? null;
        this.pdml.creator = a.creator ?? null;
        this.pdml.time = a.time ?? null;
        this.pdml.captureFile = a.capture_file ?? null;
        return;
      case 'packet':
        this.packet = [];
        this.pdml.packets.push({ protos: this.packet });
        return;
      case 'proto': {
        const proto = newProto(a);
        const parent = this.stack[this.stack.length - 1];
        if (parent && 'value' in parent) {
          parent.protos ??= [];
          parent.protos.push(proto);
        } else this.packet?.push(proto);
        this.stack.push(proto);
        return;
      }
      case 'field': {
        const field = newField(a);
        const parent = this.stack[this.stack.length - 1];
        if (parent) {
          parent.fields ??= [];
          parent.fields.push(field);
        }
        this.stack.push(field);
        return;
      }
    }
  }

  private close(tag: SaxesTagPlain): void {
    if (tag.name === 'proto' || tag.name === 'field') this.stack.pop();
    else if (tag.name === 'packet') {
      this.packet = null;
      this.stack.length = 0;
    }
  }
}
