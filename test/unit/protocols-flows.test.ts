/**
 * Community ID v1 against the specification's published examples (corelight/community-id-spec
 * README and baseline), plus symmetry: both directions of a flow hash alike.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { communityId } from '../../src/protocols/flows/community-id.js';
import type { FlowTuple } from '../../src/protocols/types.js';

const t = (
  transport: FlowTuple['transport'],
  srcIp: string,
  dstIp: string,
  srcPort: number,
  dstPort: number,
): FlowTuple => ({
  ipVersion: srcIp.includes(':') ? 6 : 4,
  transport,
  srcIp,
  dstIp,
  srcPort,
  dstPort,
});

describe('community id', () => {
  it('matches the specification examples', () => {
    assert.equal(
      communityId(t('tcp', '128.232.110.120', '66.35.250.204', 34855, 80)),
      '1:LQU9qZlK+B5F3KDmev6m5PMibrg=',
    );
    assert.equal(communityId(t('icmp', '192.168.0.89', '192.168.0.1', 8, 0)), '1:X0snYXpgwiv9TZtqg64sgzUn6Dk=');
  });

  it('is the same in both directions, and differs with the seed', () => {
    const a = t('udp', '10.0.0.1', '10.0.0.2', 5353, 53);
    const b = t('udp', '10.0.0.2', '10.0.0.1', 53, 5353);
    assert.equal(communityId(a), communityId(b));
    assert.notEqual(communityId(a, 1), communityId(a));
    const e6 = t('tcp', '2001:db8::1', '2001:db8::2', 1234, 443);
    assert.equal(communityId(e6), communityId(t('tcp', '2001:db8::2', '2001:db8::1', 443, 1234)));
  });

  it('pairs ICMP echo with echo reply, and hashes one-way types unordered', () => {
    assert.equal(
      communityId(t('icmp', '10.0.0.1', '10.0.0.2', 8, 0)),
      communityId(t('icmp', '10.0.0.2', '10.0.0.1', 0, 0)),
    );
    assert.equal(communityId(t('ipv6-icmp', '::1', '::2', 128, 0)), communityId(t('ipv6-icmp', '::2', '::1', 129, 0)));
    assert.notEqual(
      communityId(t('icmp', '10.0.0.1', '10.0.0.2', 3, 3)),
      communityId(t('icmp', '10.0.0.2', '10.0.0.1', 3, 3)),
    );
  });

  it('returns null for an address that does not parse', () => {
    assert.equal(communityId(t('tcp', 'not-an-ip', '10.0.0.1', 1, 2)), null);
  });
});
