/**
 * Every field an event carries is declared in src/protocols/events/fields.ts with its type
 * (Packetbeat's all_fields_are_expected), checked on the golden captures and on hostile input.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EVENT_FIELDS } from '../../src/protocols/events/fields.js';
import { analyzeFixture, assertDeclared, protocolFixtures } from '../helpers/protocols.js';

describe('event schema', () => {
  for (const name of protocolFixtures()) {
    it(`${name}: every field declared, with its type`, async () => {
      const { events } = await analyzeFixture(name);
      assert.ok(events.length > 0);
      assertDeclared(events);
    });
  }

  it('fails on an undeclared field', () => {
    assert.throws(() => assertDeclared([{ type: 'dns', dns: { surprise: 1 } }]), /dns\.surprise is not declared/);
    assert.throws(() => assertDeclared([{ event: { duration: 'slow' } }]), /not an integer/);
  });

  it('every declared field has a description', () => {
    for (const [k, spec] of Object.entries(EVENT_FIELDS)) assert.ok(spec.description.length > 3, k);
  });
});
