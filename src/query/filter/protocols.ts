/**
 * IP protocol names accepted by `-p` (Metron only took numbers, while its REST/UI examples sent
 * "TCP" and silently matched nothing). Names follow IANA keywords, case-insensitive.
 */
const BY_NAME: ReadonlyMap<string, number> = new Map([
  ['hopopt', 0],
  ['icmp', 1],
  ['igmp', 2],
  ['ipip', 4],
  ['ipv4', 4],
  ['ipencap', 4],
  ['tcp', 6],
  ['egp', 8],
  ['igp', 9],
  ['udp', 17],
  ['ipv6', 41],
  ['ipv6-route', 43],
  ['ipv6-frag', 44],
  ['rsvp', 46],
  ['gre', 47],
  ['esp', 50],
  ['ah', 51],
  ['icmpv6', 58],
  ['ipv6-icmp', 58],
  ['icmp6', 58],
  ['ipv6-nonxt', 59],
  ['ipv6-opts', 60],
  ['eigrp', 88],
  ['ospf', 89],
  ['ospfigp', 89],
  ['pim', 103],
  ['vrrp', 112],
  ['l2tp', 115],
  ['sctp', 132],
  ['udplite', 136],
]);

/** Protocol number for a decimal number (0-255) or a name; null when it is neither. */
export function parseProtocol(text: string): number | null {
  const t = text.trim();
  if (/^\d{1,3}$/.test(t)) {
    const n = Number(t);
    return n <= 255 ? n : null;
  }
  return BY_NAME.get(t.toLowerCase()) ?? null;
}

/** The names `-p` accepts, for help and error messages. */
export const PROTOCOL_NAMES_HINT = 'a number 0-255 or a name such as tcp, udp, icmp, icmpv6, gre, esp, sctp';
