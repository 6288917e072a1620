/**
 * The protocols pcapline ships, registered once (like Packetbeat's include/list.go). A user's own
 * plugin is registered the same way, with registerProtocol, before the analyzer is created.
 */
import { dnsProtocol } from './dns/dns.js';
import { httpProtocol } from './http/http.js';
import { icmpProtocol } from './icmp/icmp.js';
import { protocolDefinition, registerProtocol } from './registry.js';
import { sipProtocol } from './sip/sip.js';
import { smtpProtocol } from './smtp/smtp.js';
import { tlsProtocol } from './tls/tls.js';
import type { ProtocolDefinition } from './types.js';

export const BUILTIN_PROTOCOLS: readonly ProtocolDefinition[] = [
  dnsProtocol,
  httpProtocol,
  tlsProtocol,
  smtpProtocol,
  sipProtocol,
  icmpProtocol,
];

export function registerBuiltinProtocols(): void {
  for (const def of BUILTIN_PROTOCOLS) if (protocolDefinition(def.name) === undefined) registerProtocol(def);
}
