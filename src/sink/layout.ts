import { INDEX_DIR, indexFileName } from '../formats/index/packet-index-format.js';

/**
 * Where the sink keeps things under the output directory `out`. Only finished data files are
 * visible to a Metron-style listing (which skips names starting with '.' or '_'):
 *   <out>/pcap_<topic>_<firstTsNs>_<partition>_<id>                      finished data files
 *   <out>/_index/<dataFile>.<minTsNs>-<maxTsNs>.avro                       their indexes
 *   <out>/_inprogress/<topic>/<partition>/<firstOffset>-<id>-<nonce>.seq   files being written
 *   <out>/_state/<topic>/<partition>/<firstOffset, 20 digits>.json          seal markers (the ledger)
 */
export class SinkLayout {
  constructor(readonly out: string) {}

  dataFile(name: string): string {
    return `${this.out}/${name}`;
  }
  indexDir(): string {
    return `${this.out}/${INDEX_DIR}`;
  }
  indexFile(dataName: string, minTsNs: bigint, maxTsNs: bigint): string {
    return `${this.indexDir()}/${indexFileName(dataName, minTsNs, maxTsNs)}`;
  }
  inProgressDir(topic: string, partition: number): string {
    return `${this.out}/_inprogress/${topic}/${partition}`;
  }
  inProgressFile(topic: string, partition: number, firstOffset: bigint, instanceId: string, nonce: string): string {
    return `${this.inProgressDir(topic, partition)}/${firstOffset}-${instanceId}-${nonce}.seq`;
  }
  stateDir(topic: string, partition: number): string {
    return `${this.out}/_state/${topic}/${partition}`;
  }
  marker(topic: string, partition: number, firstOffset: bigint): string {
    return `${this.stateDir(topic, partition)}/${firstOffset.toString().padStart(20, '0')}.json`;
  }
}
