/**
 * Feeds a pcap stream (a file, stdin, `pcap-query ... -o -`) through an analyzer, packet by
 * packet in file order, each packet referenced by its number and byte offset in the file.
 */
import type { ByteSource } from '../../formats/byte-queue.js';
import { readPcapFile, type PcapReadSummary } from '../../formats/pcap/pcap-file.js';
import { Analyzer, type AnalyzerOptions } from '../analyzer.js';
import type { AnalyzerStats } from '../stats.js';
import type { Reporter } from '../types.js';

export interface AnalyzeResult {
  stats: AnalyzerStats;
  read: PcapReadSummary;
  /** Highest bytes held by the analyzer's buffers at once. */
  peakBufferedBytes: number;
}

/**
 * Analyzes a whole pcap stream and flushes at its end. `report` gets each event as it completes;
 * `onBatch` (awaited every `batchPackets` packets) lets a caller apply backpressure.
 */
export async function analyzePcap(
  source: ByteSource,
  report: Reporter,
  options: AnalyzerOptions = {},
  onBatch?: () => Promise<void>,
  batchPackets = 4096,
): Promise<AnalyzeResult> {
  const analyzer = new Analyzer(report, options);
  const reader = readPcapFile(source);
  let n = 0;
  for await (const p of reader) {
    analyzer.packet(p.data, 0, p.data.length, p.linkType, p.tsNs, {
      index: p.index,
      position: p.position,
      partition: -1,
    });
    if (onBatch && ++n % batchPackets === 0) await onBatch();
  }
  analyzer.finish();
  if (onBatch) await onBatch();
  return { stats: analyzer.stats, read: reader.summary, peakBufferedBytes: analyzer.memory.peak };
}
