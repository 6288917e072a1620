import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyConfig,
  ConfigError,
  defaultConfig,
  defaultInstanceId,
  parseOverrides,
  redactUri,
} from '../../src/config/topology-config.js';
import { createScheme } from '../../src/scheme/index.js';
import { pcapGlobalHeader, writePcapPacketHeader } from '../../src/formats/pcap/pcap-record.js';
import { SinkLayout } from '../../src/sink/layout.js';

const SECRET = 'hunter2-Sup3r';
const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
};

describe('secrets are never printed (finding 10)', () => {
  it('a -D without "=" is not echoed', () => {
    for (const arg of [`kafka.sasl.password:${SECRET}`, `kafka.sasl.password ${SECRET}`, SECRET]) {
      const message = messageOf(() => parseOverrides(['kafka.pcap.numPackets=5', arg]));
      assert.ok(!message.includes(SECRET), message);
      assert.match(message, /-D argument 2|key=value/);
    }
  });
  it('an unknown key that looks like a password key is not echoed', () => {
    const message = messageOf(() => applyConfig(defaultConfig({}), { [`kafka.sasl.password${SECRET}`]: 'x' }));
    assert.ok(!message.includes(SECRET), message);
  });
  it('a known key without a value is named', () => {
    assert.match(
      messageOf(() => parseOverrides(['kafka.sasl.password'])),
      /^kafka\.sasl\.password:/,
    );
  });
  it('URIs lose their password in messages and logs', () => {
    assert.equal(redactUri(`webhdfs://user:${SECRET}@nn:9870/pcap`), 'webhdfs://user:***@nn:9870/pcap');
    assert.equal(redactUri('webhdfs://nn:9870/pcap'), 'webhdfs://nn:9870/pcap');
  });
});

describe('instance ids and layouts', () => {
  it('default instance ids differ between processes with the same host name and pid (finding 7)', () => {
    const ids = new Set(Array.from({ length: 200 }, () => defaultInstanceId()));
    assert.equal(ids.size, 200);
    assert.match(defaultConfig({}).instanceId, /^[A-Za-z0-9.-]+$/);
  });
  it('kafka.pcap.out.layout and kafka.pcap.reingest are validated', () => {
    const config = defaultConfig({});
    applyConfig(config, { 'kafka.pcap.out.layout': 'hourly', 'kafka.pcap.reingest': '2026-05-01' });
    assert.equal(config.layout, 'hourly');
    assert.equal(config.reingest, '2026-05-01');
    assert.match(
      messageOf(() => applyConfig(defaultConfig({}), { 'kafka.pcap.out.layout': 'weekly' })),
      /layout/,
    );
    assert.match(
      messageOf(() => applyConfig(defaultConfig({}), { 'kafka.pcap.reingest': 'a b' })),
      /reingest/,
    );
  });
  it('hourly and daily buckets follow the UTC time of the first packet', () => {
    const ts = BigInt(Date.UTC(2026, 10, 17, 14, 5)) * 1_000_000n;
    assert.equal(new SinkLayout('/o', 'hourly').dataFile('f', ts), '/o/2026/11/17/14/f');
    assert.equal(new SinkLayout('/o', 'daily').indexDir(ts), '/o/2026/11/17/_index');
    assert.equal(new SinkLayout('/o').dataFile('f', ts), '/o/f');
  });
});

describe('FROM_VALUE link types with FCS bits (finding 9)', () => {
  it('the FCS flag bits are masked off, so the frame is decoded', () => {
    const frame = Buffer.alloc(60);
    frame.writeUInt16BE(0x0800, 12);
    const global = pcapGlobalHeader(1, 65535);
    global.writeUInt32LE((0x1 << 28) | (4 << 26) | 1, 20); // FCS present, 4 bytes, LINKTYPE_ETHERNET
    const header = Buffer.alloc(16);
    writePcapPacketHeader(header, 0, 1_700_000_000_000_000_000n, frame.length, frame.length);
    const r = createScheme('FROM_VALUE', 'MICROSECONDS')(null, Buffer.concat([global, header, frame]));
    assert.ok(r.ok, r.ok ? '' : r.detail);
    assert.equal(r.linkType, 1);
  });
});
