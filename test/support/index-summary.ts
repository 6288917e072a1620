/** The summary a sink gives the index of a data file, for indexes tests build from an IndexBuilder. */
import type { IndexBuilder } from '../../src/formats/index/packet-index.js';
import type { IndexSummary } from '../../src/formats/index/packet-index-format.js';

/** What `b` holds, as one partition's file `pcap_t_1_0_x` of `dataLength` bytes from offset 0. */
export function summaryOf(b: IndexBuilder, dataLength: number): IndexSummary {
  return {
    version: 2,
    dataFile: 'pcap_t_1_0_x',
    topic: 't',
    partition: 0,
    firstOffset: '0',
    lastOffset: String(b.count - 1),
    minTsNs: b.minTsNs.toString(),
    maxTsNs: b.maxTsNs.toString(),
    count: b.count,
    dataLength,
  };
}
