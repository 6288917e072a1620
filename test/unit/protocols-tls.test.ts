/**
 * TLS fingerprints against an independent implementation: JA4 (and JA3) of every ClientHello in
 * the real capture, as computed by read-tls-client-hello (httptoolkit) from the raw hello bytes.
 * tshark 4.0 has JA3 but no JA4, so this is the JA4 oracle.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { calculateJa3, calculateJa4, readTlsClientHello } from 'read-tls-client-hello';
import { ja3, ja4 } from '../../src/protocols/tls/fingerprints.js';
import { parseClientHello } from '../../src/protocols/tls/handshake.js';
import { PROTOCOL_FIXTURES, analyzeFixture } from '../helpers/protocols.js';

function clientHellos(): Buffer[] {
  const out = execFileSync(
    'tshark',
    [
      '-r',
      join(PROTOCOL_FIXTURES, 'tls.pcap'),
      '-d',
      'tcp.port==4433,tls',
      '-Y',
      'tls.handshake.type == 1',
      '-T',
      'fields',
      '-e',
      'tcp.payload',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return out
    .trim()
    .split('\n')
    .map((l) => Buffer.from(l.replaceAll(':', ''), 'hex'));
}

describe('TLS fingerprints', () => {
  it('JA3 and JA4 agree with read-tls-client-hello for every ClientHello captured', async () => {
    const hellos = clientHellos();
    assert.equal(hellos.length, 4);
    const { events } = await analyzeFixture('tls');
    for (const record of hellos) {
      const s = new PassThrough();
      s.write(record);
      const oracle = await readTlsClientHello(s);
      const ours = parseClientHello(record.subarray(9, 9 + record.readUIntBE(6, 3)));
      assert.equal(ja4(ours), calculateJa4(oracle));
      assert.equal(ja3(ours), calculateJa3(oracle));
      assert.ok(events.some((e) => (e.tls as { client: { ja4: string } }).client.ja4 === calculateJa4(oracle)));
    }
  });

  it('GREASE values are ignored (RFC 8701)', () => {
    const base = {
      legacyVersion: 0x0303,
      sessionId: new Uint8Array(0),
      ciphers: [0x1301, 0x1302],
      extensions: [0, 10, 16, 43],
      serverName: 'a.test',
      alpn: ['h2'],
      supportedGroups: [29],
      ecPointFormats: [0],
      signatureAlgorithms: [0x0403],
      supportedVersions: [0x0304, 0x0303],
    };
    const greased = {
      ...base,
      ciphers: [0x0a0a, ...base.ciphers],
      extensions: [0x1a1a, ...base.extensions],
      supportedGroups: [0x2a2a, 29],
      supportedVersions: [0x3a3a, 0x0304, 0x0303],
    };
    assert.equal(ja3(greased), ja3(base));
    assert.equal(ja4(greased), ja4(base));
    assert.match(ja4(base), /^t13d0204h2_[0-9a-f]{12}_[0-9a-f]{12}$/);
  });
});
