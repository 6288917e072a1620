/**
 * Cross-check against tshark's dissection of the same captures: what we report for each protocol
 * (names, methods, status codes, fingerprints, envelope addresses, community ids) must be what
 * Wireshark reads from the packets. Ports that are not the protocol's registered one are given to
 * tshark with -d (our side finds them by content). Needs tshark on the PATH (scripts/test-tools.sh).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AppEvent } from '../../src/protocols/types.js';
import { PROTOCOL_FIXTURES, analyzeFixture } from '../helpers/protocols.js';

const DECODE_AS = [
  '-d',
  'tcp.port==18080,http',
  '-d',
  'tcp.port==18081,http',
  '-d',
  'tcp.port==4433,tls',
  '-d',
  'tcp.port==2525,smtp',
];

function tshark(name: string, filter: string, fields: string[], extra: string[] = []): string[][] {
  const out = execFileSync(
    'tshark',
    [
      '-r',
      join(PROTOCOL_FIXTURES, `${name}.pcap`),
      ...DECODE_AS,
      ...extra,
      '-Y',
      filter,
      '-T',
      'fields',
      '-E',
      'separator=\t',
      ...fields.flatMap((f) => ['-e', f]),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'));
}

const get = (e: AppEvent, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], e);
const sorted = (l: string[]): string[] => [...l].sort();
const byType = (events: AppEvent[], type: string) => events.filter((e) => e.type === type);

const DNS_TYPES: Record<string, string> = { '1': 'A', '28': 'AAAA', '15': 'MX', '16': 'TXT', '5': 'CNAME' };
const RCODES: Record<string, string> = { '0': 'NOERROR', '3': 'NXDOMAIN', '5': 'REFUSED', '2': 'SERVFAIL' };

describe('protocol events agree with tshark', () => {
  it('dns: question names and types, response codes, resolved addresses (UDP, TCP, IPv6, port 5353)', async () => {
    const events = byType((await analyzeFixture('dns')).events, 'dns');
    const queries = tshark('dns', 'dns.flags.response == 0', ['dns.qry.name', 'dns.qry.type']);
    assert.deepEqual(
      sorted(events.map((e) => `${get(e, 'dns.question.name')} ${get(e, 'dns.question.type')}`)),
      sorted(queries.map(([n, t]) => `${n} ${DNS_TYPES[t] ?? t}`)),
    );
    const responses = tshark('dns', 'dns.flags.response == 1', [
      'dns.qry.name',
      'dns.flags.rcode',
      'dns.a',
      'dns.aaaa',
    ]);
    assert.deepEqual(
      sorted(
        events.map(
          (e) =>
            `${get(e, 'dns.question.name')} ${get(e, 'dns.response_code')} ${((get(e, 'dns.resolved_ip') as string[]) ?? []).join(',')}`,
        ),
      ),
      sorted(responses.map(([n, rc, a, aaaa]) => `${n} ${RCODES[rc] ?? rc} ${[a, aaaa].filter(Boolean).join(',')}`)),
    );
  });

  it('http: host, method and URI of every request; status of every response', async () => {
    const events = byType((await analyzeFixture('http')).events, 'http');
    const requests = tshark('http', 'http.request', ['http.host', 'http.request.method', 'http.request.uri']);
    assert.deepEqual(
      sorted(
        events.map(
          (e) =>
            `${get(e, 'url.domain')}:${get(e, 'destination.port')} ${get(e, 'http.request.method')} ${get(e, 'url.path')}${get(e, 'url.query') ? `?${get(e, 'url.query')}` : ''}`,
        ),
      ),
      sorted(requests.map(([h, m, u]) => `${h.includes(':') ? h : `${h}:80`} ${m} ${u}`)),
    );
    const responses = tshark('http', 'http.response', ['http.response.code']);
    assert.deepEqual(
      sorted(events.map((e) => String(get(e, 'http.response.status_code')))),
      sorted(responses.map(([c]) => c)),
    );
  });

  it('tls: SNI, JA3, JA3S, cipher and certificate subject', async () => {
    const events = byType((await analyzeFixture('tls')).events, 'tls');
    const hellos = tshark('tls', 'tls.handshake.type == 1', [
      'tls.handshake.extensions_server_name',
      'tls.handshake.ja3',
    ]);
    assert.deepEqual(
      sorted(events.map((e) => `${get(e, 'tls.client.server_name')} ${get(e, 'tls.client.ja3')}`)),
      sorted(hellos.map(([sni, ja3]) => `${sni} ${ja3}`)),
    );
    const servers = tshark('tls', 'tls.handshake.type == 2', ['tls.handshake.ja3s']);
    assert.deepEqual(sorted(events.map((e) => String(get(e, 'tls.server.ja3s')))), sorted(servers.map(([j]) => j)));
    const certs = tshark('tls', 'tls.handshake.type == 11', ['x509sat.uTF8String']);
    const withCert = events.filter((e) => get(e, 'tls.server.subject') !== undefined);
    assert.equal(withCert.length, certs.length, 'a subject for every cleartext Certificate message (TLS 1.2)');
    for (const [names] of certs) {
      const cn = names.split(',')[0];
      assert.ok(withCert.some((e) => String(get(e, 'tls.server.subject')).includes(`CN=${cn}`)));
    }
  });

  it('smtp: envelope sender and recipients, subject and message id', async () => {
    const events = byType((await analyzeFixture('smtp')).events, 'smtp');
    const cmds = tshark('smtp', 'smtp.req.command == "MAIL" || smtp.req.command == "RCPT"', [
      'smtp.req.command',
      'smtp.req.parameter',
    ]);
    const addr = (p: string) => /<([^>]*)>/.exec(p)?.[1] ?? p;
    assert.deepEqual(
      sorted(events.map((e) => String(get(e, 'smtp.mail_from')))),
      sorted(cmds.filter(([c]) => c === 'MAIL').map(([, p]) => addr(p))),
    );
    assert.deepEqual(
      sorted(
        events.flatMap((e) => [
          ...((get(e, 'smtp.rcpt_to') as string[]) ?? []),
          ...((get(e, 'smtp.rcpt_rejected') as string[]) ?? []),
        ]),
      ),
      sorted(cmds.filter(([c]) => c === 'RCPT').map(([, p]) => addr(p))),
    );
    const imf = tshark('smtp', 'imf', ['imf.subject', 'imf.message_id']);
    assert.deepEqual(
      sorted(events.map((e) => `${get(e, 'email.subject')} <${get(e, 'email.message_id')}>`)),
      sorted(imf.map(([s, id]) => `${s} ${id}`)),
    );
  });

  it('sip: methods, call ids and final status codes', async () => {
    const events = byType((await analyzeFixture('sip')).events, 'sip');
    const requests = tshark('sip', 'sip.Method', ['sip.Method', 'sip.Call-ID']);
    assert.deepEqual(
      sorted(events.map((e) => `${get(e, 'sip.method')} ${get(e, 'sip.call_id')}`)),
      sorted(requests.map(([m, c]) => `${m} ${c}`)),
    );
    const responses = tshark('sip', 'sip.Status-Code', ['sip.Call-ID', 'sip.Status-Code']);
    assert.deepEqual(
      sorted(
        events
          .filter((e) => get(e, 'sip.status.code') !== undefined)
          .map((e) => `${get(e, 'sip.call_id')} ${get(e, 'sip.status.code')}`),
      ),
      sorted(responses.map(([c, s]) => `${c} ${s}`)),
    );
  });

  it('icmp: echo requests paired with their replies, errors on their own', async () => {
    const events = byType((await analyzeFixture('icmp')).events, 'icmp');
    const v4 = tshark('icmp', 'icmp', ['icmp.type', 'icmp.code']);
    const v6 = tshark('icmp', 'icmpv6', ['icmpv6.type']);
    const requests = v4.filter(([t]) => t === '8').length + v6.filter(([t]) => t === '128').length;
    const replies = v4.filter(([t]) => t === '0').length + v6.filter(([t]) => t === '129').length;
    const paired = events.filter((e) => get(e, 'icmp.request') && get(e, 'icmp.response'));
    assert.equal(paired.length, requests);
    assert.equal(replies, requests);
    const errors = v4.filter(([t]) => t === '3');
    assert.deepEqual(
      events.filter((e) => get(e, 'icmp.response.type') === 3).map((e) => get(e, 'icmp.response.code')),
      errors.map(([, c]) => Number(c)),
    );
  });

  it('community id of every event is the one tshark computes for its first packet', async () => {
    for (const name of ['dns', 'http', 'tls', 'smtp', 'sip', 'icmp']) {
      const { events } = await analyzeFixture(name);
      const ids = tshark(name, 'frame', ['frame.number', 'communityid'], ['--enable-protocol', 'communityid']);
      const byFrame = new Map(ids.map(([n, id]) => [Number(n), id]));
      for (const e of events) {
        const first = get(e, 'pcapline.packets.first.index') as number;
        assert.equal(get(e, 'network.community_id'), byFrame.get(first + 1), `${name} event at packet ${first}`);
      }
    }
  });
});
