/**
 * Protocol analysis as a library (docs/protocols.md):
 *
 *   const analyzer = new Analyzer((event) => out.push(event), { protocols: { http: { ports: [80, 8081] } } });
 *   analyzer.packet(frame, 0, frame.length, LINKTYPE_ETHERNET, tsNs, { index, position, partition: -1 });
 *   analyzer.finish(); // end of input: in-flight transactions are reported
 *
 * or `analyzePcap(createReadStream('capture.pcap'), report)`, or `StreamAnalyzer` on a Kafka topic.
 * Custom protocols: `registerProtocol({ name, defaultPorts, transports, create })` before creating an analyzer.
 */
export { Analyzer, type AnalyzerOptions } from './analyzer.js';
export { analyzePcap, type AnalyzeResult } from './input/pcap-input.js';
export {
  registerProtocol,
  registeredProtocols,
  DEFAULT_PROTOCOL_CONFIG,
  UnknownProtocolError,
  type ProtocolSettings,
} from './registry.js';
export { registerBuiltinProtocols, BUILTIN_PROTOCOLS } from './builtin.js';
export { ByteBudget, StreamBuffer } from './memory.js';
export { TransactionTable } from './transactions.js';
export { LineReader } from './lines/line-reader.js';
export { baseEvent, addNote, isoNs, type EventEnds } from './events/event.js';
export { communityId } from './flows/community-id.js';
export { EVENT_FIELDS, type FieldSpec } from './events/fields.js';
export type { AnalyzerStats } from './stats.js';
export type * from './types.js';
export { CLIENT_TO_SERVER, SERVER_TO_CLIENT } from './types.js';
