import { INDEX_DIR, indexFileName } from '../formats/index/packet-index-format.js';

import type { OutputLayout } from '../config/topology-config.js';

export type { OutputLayout };

/**
 * Where the sink keeps things under the output directory `out`. `kafka.pcap.out.layout` picks where
 * finished files go: flat (every data file directly under `out`, Metron's layout), or daily/hourly
 * (`out/YYYY/MM/DD[/HH]/`, by the UTC time of the file's first packet, each bucket with its own
 * `_index/`): HDFS refuses more than 1,048,576 entries per directory by default
 * (dfs.namenode.fs-limits.max-directory-items), which one flat directory reaches within days at a
 * file a second per partition. Recursive listings (Hadoop's, pcap-query's) see the same files. Only finished data files are
 * visible to a Metron-style listing (which skips names starting with '.' or '_'):
 *   <out>[/<bucket>]/pcap_<topic>_<firstTsNs>_<partition>_<id>             finished data files
 *   <out>[/<bucket>]/_index/<dataFile>.<minTsNs>-<maxTsNs>.avro             their indexes
 *   <out>/_inprogress/<topic>/<partition>/<firstOffset>-<id>-<nonce>.seq    files being written (+ .idx)
 *   <out>/_state/<topic>/<partition>/<firstOffset, 20 digits>.json          seal markers (the ledger)
 *   <out>/_state/<topic>/<partition>/epoch-<20 digits>                      writer epochs (fencing)
 */
export class SinkLayout {
  constructor(
    readonly out: string,
    readonly mode: OutputLayout = 'flat',
  ) {}

  /** The directory a file whose first packet is at `firstTsNs` goes to. */
  bucketDir(firstTsNs: bigint): string {
    if (this.mode === 'flat') return this.out;
    const ms = firstTsNs / 1_000_000n;
    // Times beyond what Date can show (the scheme refuses them anyway) fall back to the flat layout.
    const d = new Date(ms > 8_640_000_000_000_000n ? Number.NaN : Number(ms));
    if (Number.isNaN(d.getTime())) return this.out;
    const p2 = (n: number) => String(n).padStart(2, '0');
    const day = `${this.out}/${d.getUTCFullYear()}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())}`;
    return this.mode === 'daily' ? day : `${day}/${p2(d.getUTCHours())}`;
  }

  dataFile(name: string, firstTsNs: bigint): string {
    return `${this.bucketDir(firstTsNs)}/${name}`;
  }
  indexDir(firstTsNs: bigint): string {
    return `${this.bucketDir(firstTsNs)}/${INDEX_DIR}`;
  }
  indexFile(dataName: string, firstTsNs: bigint, minTsNs: bigint, maxTsNs: bigint): string {
    return `${this.indexDir(firstTsNs)}/${indexFileName(dataName, minTsNs, maxTsNs)}`;
  }
  inProgressDir(topic: string, partition: number): string {
    return `${this.out}/_inprogress/${topic}/${partition}`;
  }
  /** The in-progress data file; its index is written beside it (`.idx`) until the file is published. */
  inProgressFile(topic: string, partition: number, firstOffset: bigint, instanceId: string, nonce: string): string {
    return `${this.inProgressDir(topic, partition)}/${firstOffset}-${instanceId}-${nonce}.seq`;
  }
  stateDir(topic: string, partition: number): string {
    return `${this.out}/_state/${topic}/${partition}`;
  }
  marker(topic: string, partition: number, firstOffset: bigint): string {
    return `${this.stateDir(topic, partition)}/${firstOffset.toString().padStart(20, '0')}.json`;
  }
  epoch(topic: string, partition: number, epoch: bigint): string {
    return `${this.stateDir(topic, partition)}/epoch-${epoch.toString().padStart(20, '0')}`;
  }
}
