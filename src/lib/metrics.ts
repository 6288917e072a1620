import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The ingest's counters; exported as Prometheus text and summarised in the periodic stats line. */
export class IngestMetrics {
  recordsIn = 0;
  packetsWritten = 0;
  bytesWritten = 0;
  filesSealed = 0;
  storageRetries = 0;
  readonly badRecords = new Map<string, number>();
  consumerLag = 0n;
  /** Offsets consumed into open files but not yet durable and committed. */
  commitLag = 0;

  bad(reason: string): void {
    this.badRecords.set(reason, (this.badRecords.get(reason) ?? 0) + 1);
  }

  get badTotal(): number {
    let n = 0;
    for (const v of this.badRecords.values()) n += v;
    return n;
  }

  prometheus(): string {
    const lines = [
      '# HELP pcap_records_in_total Kafka records consumed.',
      '# TYPE pcap_records_in_total counter',
      `pcap_records_in_total ${this.recordsIn}`,
      '# HELP pcap_packets_written_total Packets written to data files.',
      '# TYPE pcap_packets_written_total counter',
      `pcap_packets_written_total ${this.packetsWritten}`,
      '# HELP pcap_bytes_written_total Bytes of finished data files.',
      '# TYPE pcap_bytes_written_total counter',
      `pcap_bytes_written_total ${this.bytesWritten}`,
      '# HELP pcap_files_sealed_total Data files sealed and published.',
      '# TYPE pcap_files_sealed_total counter',
      `pcap_files_sealed_total ${this.filesSealed}`,
      '# HELP pcap_storage_retries_total Storage or broker operations retried after a failure.',
      '# TYPE pcap_storage_retries_total counter',
      `pcap_storage_retries_total ${this.storageRetries}`,
      '# HELP pcap_bad_records_total Malformed records, by reason.',
      '# TYPE pcap_bad_records_total counter',
      ...[...this.badRecords].map(([reason, n]) => `pcap_bad_records_total{reason="${reason}"} ${n}`),
      '# HELP pcap_consumer_lag Records in the topic not yet committed by the group.',
      '# TYPE pcap_consumer_lag gauge',
      `pcap_consumer_lag ${this.consumerLag}`,
      '# HELP pcap_commit_lag Records consumed into open files, not yet durable and committed.',
      '# TYPE pcap_commit_lag gauge',
      `pcap_commit_lag ${this.commitLag}`,
    ];
    return `${lines.join('\n')}\n`;
  }

  statsLine(): string {
    const bad = [...this.badRecords].map(([r, n]) => `${r}=${n}`).join(',') || '0';
    return `records_in=${this.recordsIn} packets_written=${this.packetsWritten} bytes_written=${this.bytesWritten} files_sealed=${this.filesSealed} bad=${bad} consumer_lag=${this.consumerLag} commit_lag=${this.commitLag}`;
  }
}

/** Serves /metrics on 127.0.0.1:<port>; resolves with the bound port (port 0 picks one). */
export async function serveMetrics(metrics: IngestMetrics, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics.prometheus());
    } else {
      res.writeHead(404).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}
