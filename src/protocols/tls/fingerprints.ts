/**
 * Client and server fingerprints: JA3 and JA3S (salesforce/ja3: MD5 of the decimal field lists,
 * GREASE removed) and JA4 (FoxIO's JA4 spec: `t` + version + SNI flag + cipher and extension
 * counts + ALPN ends, then truncated SHA-256 of the sorted cipher list and of the sorted
 * extensions with the signature algorithms).
 */
import { createHash } from 'node:crypto';
import { type ClientHello, EXT_ALPN, EXT_SERVER_NAME, type ServerHello, isGrease } from './handshake.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const sha12 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 12);
const hex4 = (v: number): string => v.toString(16).padStart(4, '0');
const noGrease = (l: number[]): number[] => l.filter((v) => !isGrease(v));

export function ja3String(h: ClientHello): string {
  return [
    h.legacyVersion,
    noGrease(h.ciphers).join('-'),
    noGrease(h.extensions).join('-'),
    noGrease(h.supportedGroups).join('-'),
    h.ecPointFormats.join('-'),
  ].join(',');
}

export const ja3 = (h: ClientHello): string => md5(ja3String(h));

export function ja3sString(h: ServerHello): string {
  return [h.legacyVersion, h.cipher, h.extensions.join('-')].join(',');
}

export const ja3s = (h: ServerHello): string => md5(ja3sString(h));

const JA4_VERSIONS: Record<number, string> = {
  772: '13',
  771: '12',
  770: '11',
  769: '10',
  768: 's3',
  2: 's2',
};

const isAlnum = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

function alpnPart(alpn: string[]): string {
  const first = alpn[0];
  if (first === undefined || first.length === 0) return '00';
  const a = first.charCodeAt(0);
  const z = first.charCodeAt(first.length - 1);
  if (isAlnum(a) && isAlnum(z)) return `${first[0]}${first[first.length - 1]}`;
  const hex = Buffer.from(first, 'latin1').toString('hex');
  return `${hex[0]}${hex[hex.length - 1]}`;
}

const two = (n: number): string => String(Math.min(n, 99)).padStart(2, '0');

/** JA4 of a ClientHello seen over TCP. */
export function ja4(h: ClientHello): string {
  const versions = noGrease(h.supportedVersions);
  const version = versions.length > 0 ? Math.max(...versions) : h.legacyVersion;
  const ciphers = noGrease(h.ciphers);
  const exts = noGrease(h.extensions);
  const a = `t${JA4_VERSIONS[version] ?? '00'}${h.serverName !== null ? 'd' : 'i'}${two(ciphers.length)}${two(exts.length)}${alpnPart(h.alpn)}`;
  const b = ciphers.length === 0 ? '000000000000' : sha12(ciphers.map(hex4).sort().join(','));
  const extList = exts
    .filter((e) => e !== EXT_SERVER_NAME && e !== EXT_ALPN)
    .map(hex4)
    .sort()
    .join(',');
  const sigs = h.signatureAlgorithms.map(hex4).join(',');
  const c = exts.length === 0 ? '000000000000' : sha12(sigs.length > 0 ? `${extList}_${sigs}` : extList);
  return `${a}_${b}_${c}`;
}
