import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IngestMetrics, serveMetrics } from '../../src/lib/metrics.js';
import { RateLimiter } from '../../src/lib/log.js';

test('metrics are served as Prometheus text on 127.0.0.1', async () => {
  const m = new IngestMetrics();
  m.recordsIn = 12;
  m.packetsWritten = 10;
  m.bad('missing-key');
  m.bad('missing-key');
  m.bad('empty-value');
  const { server, port } = await serveMetrics(m, 0);
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^pcap_records_in_total 12$/m);
    assert.match(text, /^pcap_packets_written_total 10$/m);
    assert.match(text, /^pcap_bad_records_total\{reason="missing-key"\} 2$/m);
    assert.match(text, /^pcap_bad_records_total\{reason="empty-value"\} 1$/m);
    assert.match(text, /# TYPE pcap_consumer_lag gauge/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
    assert.equal(m.badTotal, 3);
    assert.match(m.statsLine(), /bad=missing-key=2,empty-value=1/);
  } finally {
    server.close();
  }
});

test('the rate limiter lets a fixed number through per interval and counts the rest', () => {
  const r = new RateLimiter(2, 1000);
  assert.deepEqual([r.allow(0), r.allow(10), r.allow(20), r.allow(999)], [true, true, false, false]);
  assert.equal(r.suppressed, 2);
  assert.equal(r.allow(1000), true);
});
