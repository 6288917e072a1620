/**
 * Golden files, as Packetbeat's tests/system/golden: each pcap in test/fixtures/protocols (real
 * clients and servers captured on loopback by scripts/capture-protocol-fixtures.sh) is analyzed and
 * its NDJSON compared with <name>.expected.ndjson, byte for byte (times come from the packets, so
 * the output is deterministic; unlike Packetbeat nothing is stripped). Regenerate after a
 * deliberate change with PCAPLINE_UPDATE_GOLDEN=1 and review the diff.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PROTOCOL_FIXTURES, analyzeFixture, protocolFixtures } from '../helpers/protocols.js';

const update = process.env.PCAPLINE_UPDATE_GOLDEN === '1';

/** What each capture must at least produce, so an empty golden file cannot pass. */
const MIN_EVENTS: Record<string, number> = { dns: 9, http: 7, tls: 4, smtp: 2, sip: 4, icmp: 5 };

describe('protocol golden files', () => {
  for (const name of protocolFixtures()) {
    it(`${name}.pcap → ${name}.expected.ndjson`, async () => {
      const { events, stats } = await analyzeFixture(name);
      const text = events.map((e) => `${JSON.stringify(e)}\n`).join('');
      const file = join(PROTOCOL_FIXTURES, `${name}.expected.ndjson`);
      if (update || !existsSync(file)) writeFileSync(file, text);
      assert.ok(events.length >= (MIN_EVENTS[name] ?? 1), `${name}: ${events.length} events`);
      assert.equal(stats.parseErrors, 0);
      assert.equal(stats.tcpGaps, 0);
      const expected = readFileSync(file, 'utf8').split('\n').filter(Boolean);
      const actual = text.split('\n').filter(Boolean);
      assert.equal(actual.length, expected.length, `${name}: event count`);
      for (let i = 0; i < expected.length; i++)
        assert.deepEqual(JSON.parse(actual[i]), JSON.parse(expected[i]), `${name} event ${i}`);
    });
  }

  it('every protocol has a fixture', () => {
    assert.deepEqual(protocolFixtures(), Object.keys(MIN_EVENTS).sort());
  });
});
