/**
 * Live capture without a native module: tcpdump (or Wireshark's dumpcap) captures and writes a
 * classic pcap stream to a pipe, which we read like any capture. The capture tool runs in its own
 * process group, so a terminal's Ctrl-C reaches only us and we decide how it stops: a SIGTERM makes
 * it flush what it captured and exit, and we keep reading until the pipe closes, so every packet it
 * wrote is published.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import { PcaplineError } from '../lib/errors.js';

export type CaptureTool = 'tcpdump' | 'dumpcap';

export interface CaptureOptions {
  interface: string;
  /** A BPF expression (tcpdump syntax), compiled by the capture tool. */
  filter?: string;
  /** Bytes kept per packet (default 262144, as tcpdump). */
  snaplen?: number;
  /** The tool exits by itself after this many packets. */
  maxPackets?: number;
  /** Ask for nanosecond time stamps (tcpdump only; dumpcap stays at µs). */
  nanos?: boolean;
  /** Deliver packets as they arrive instead of in kernel-buffered blocks (lower latency, more CPU). */
  immediate?: boolean;
  /** Kernel capture buffer, KiB. */
  bufferKiB?: number;
  /** Leave the interface out of promiscuous mode. */
  noPromiscuous?: boolean;
  /** Default: tcpdump when it is on the PATH, else dumpcap. */
  tool?: CaptureTool;
}

/** What the tool reported when it stopped (counters it prints on exit; null when it printed none). */
export interface CaptureExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  captured: number | null;
  receivedByFilter: number | null;
  droppedByKernel: number | null;
  /** Its last lines on stderr (its error message when it failed). */
  stderrTail: string[];
}

/** The capture tool cannot run as asked (missing tool, bad interface or filter, no permission): exit 2. */
export class CaptureError extends PcaplineError {
  constructor(message: string) {
    super('PCAPLINE_CAPTURE', message, { exitCode: 2 });
  }
}

/** The command line for a capture tool writing classic pcap to stdout. */
export function captureCommand(o: CaptureOptions, tool: CaptureTool): { command: string; args: string[] } {
  if (tool === 'tcpdump') {
    const args = ['-i', o.interface, '-w', '-', '-U', '-n', '-s', String(o.snaplen ?? 262144)];
    if (o.maxPackets !== undefined) args.push('-c', String(o.maxPackets));
    if (o.nanos) args.push('--time-stamp-precision=nano');
    if (o.immediate) args.push('--immediate-mode');
    if (o.bufferKiB !== undefined) args.push('-B', String(o.bufferKiB));
    if (o.noPromiscuous) args.push('-p');
    if (o.filter) args.push('--', o.filter);
    return { command: 'tcpdump', args };
  }
  // -P: classic pcap (dumpcap writes pcapng by default); -q: no packet counter on stderr.
  const args = ['-i', o.interface, '-w', '-', '-P', '-q', '-s', String(o.snaplen ?? 262144)];
  if (o.maxPackets !== undefined) args.push('-c', String(o.maxPackets));
  if (o.bufferKiB !== undefined) args.push('-B', String(Math.max(1, Math.ceil(o.bufferKiB / 1024))));
  if (o.noPromiscuous) args.push('-p');
  if (o.filter) args.push('-f', o.filter);
  return { command: 'dumpcap', args };
}

/** tcpdump when installed, else dumpcap; null when neither is on the PATH. */
export function findCaptureTool(path = process.env.PATH ?? ''): CaptureTool | null {
  for (const tool of ['tcpdump', 'dumpcap'] as const) {
    for (const dir of [...path.split(delimiter), '/usr/sbin', '/usr/bin', '/sbin']) {
      if (!dir) continue;
      try {
        accessSync(join(dir, tool), constants.X_OK);
        return tool;
      } catch {}
    }
  }
  return null;
}

/**
 * The counters tcpdump ("12 packets captured", "12 packets received by filter", "0 packets dropped
 * by kernel") or dumpcap ("Packets captured: 12", "Packets received/dropped on interface 'lo': 12/0")
 * print when they stop.
 */
export function parseCaptureStats(
  lines: readonly string[],
): Pick<CaptureExit, 'captured' | 'receivedByFilter' | 'droppedByKernel'> {
  const out = { captured: null, receivedByFilter: null, droppedByKernel: null } as Pick<
    CaptureExit,
    'captured' | 'receivedByFilter' | 'droppedByKernel'
  >;
  for (const line of lines) {
    let m = /^(\d+) packets? captured/.exec(line);
    if (m) out.captured = Number(m[1]);
    m = /^(\d+) packets? received by filter/.exec(line);
    if (m) out.receivedByFilter = Number(m[1]);
    m = /^(\d+) packets? dropped by kernel/.exec(line);
    if (m) out.droppedByKernel = Number(m[1]);
    m = /^Packets captured: (\d+)/.exec(line);
    if (m) out.captured = Number(m[1]);
    m = /^Packets received\/dropped on interface .*: (\d+)\/(\d+)/.exec(line);
    if (m) {
      out.receivedByFilter = Number(m[1]);
      out.droppedByKernel = Number(m[2]);
    }
  }
  return out;
}

const STDERR_LINES_KEPT = 20;

/** A running capture tool: its pcap stream, a way to stop it, and how it ended. */
export class LiveCapture {
  readonly stdout: Readable;
  readonly tool: CaptureTool;
  /** Settles when the tool has exited (never rejects; a failed start is reported by `exited`). */
  readonly exited: Promise<CaptureExit>;
  private readonly child: ChildProcess;
  private stderrTail: string[] = [];
  private stopping = false;

  constructor(o: CaptureOptions) {
    const tool = o.tool ?? findCaptureTool();
    if (tool === null)
      throw new CaptureError('neither tcpdump nor dumpcap is installed; install one, or pipe a capture into -i -');
    this.tool = tool;
    const { command, args } = captureCommand(o, tool);
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.stdout = this.child.stdout!;
    // It runs in its own process group: make sure it does not outlive us, whatever way we exit.
    const killOnExit = (): void => void this.child.kill('SIGKILL');
    process.once('exit', killOnExit);
    let partial = '';
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) this.keep(l);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err: NodeJS.ErrnoException) => {
        process.off('exit', killOnExit);
        this.keep(err.code === 'ENOENT' ? `${command} not found` : `${command}: ${err.message}`);
        resolve(this.exit(null, null));
      });
      this.child.once('close', (code, signal) => {
        process.off('exit', killOnExit);
        if (partial) this.keep(partial);
        resolve(this.exit(code, signal));
      });
    });
  }

  /** Asks the tool to stop (it flushes and exits; its stream then ends). A second call kills it. */
  stop(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const signal = this.stopping ? 'SIGKILL' : 'SIGTERM';
    this.stopping = true;
    try {
      this.child.kill(signal);
    } catch {}
  }

  /** The error to report when the tool ended before writing a pcap header. */
  failure(exit: CaptureExit): CaptureError {
    // The tool's own error line ("tcpdump: ...", "dumpcap: ...") says why; usage text after it does not.
    const lines = exit.stderrTail.filter((l) => !/^(listening on|Capturing on|File:)/.test(l));
    const why = lines.find((l) => /^(tcpdump|dumpcap): /.test(l)) ?? lines.at(-1);
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
    return new CaptureError(why ? `${this.tool}: ${why.replace(/^(tcpdump|dumpcap): /, '')}` : `${this.tool} ${how}`);
  }

  private keep(line: string): void {
    const l = line.trim();
    if (!l) return;
    this.stderrTail.push(l);
    if (this.stderrTail.length > STDERR_LINES_KEPT) this.stderrTail.shift();
  }

  private exit(code: number | null, signal: NodeJS.Signals | null): CaptureExit {
    return { code, signal, ...parseCaptureStats(this.stderrTail), stderrTail: this.stderrTail };
  }
}
