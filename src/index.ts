/**
 * pcapline as a library: run the ingest topology and queries from code.
 *
 *   const topology = await Topology.start(config);         // ingest; 'sealed' and 'bad-record' events
 *   for await (const p of query({ store, basePath, ... })) // time-ordered matching packets
 */
export { Topology, type BadRecord, type SealedFile, type TopologyOptions } from './topology.js';
export {
  applyConfig,
  defaultConfig,
  loadTopologyConfig,
  parseOverrides,
  ConfigError,
  CONFIG_KEYS,
  type TopologyConfig,
  type StartMode,
  type TsScheme,
  type Granularity,
} from './config/topology-config.js';
export {
  QueryEngine,
  listDataFiles,
  type MatchedPacket,
  type QuerySpec,
  type QueryStats,
} from './query/engine/engine.js';
export { writePages, writeStream, type OutputLimits, type OutputResult } from './query/engine/output.js';
export { compileFixedFilter, type FixedFilterSpec } from './query/filter/fixed-filter.js';
export { compileQuery } from './query/filter/expr/compile.js';
export type { PacketFilter } from './query/filter/filter.js';
export { resolveTimeWindow, parseTime } from './query/time.js';
export { QueryError } from './query/errors.js';
export { openStorage, parseStorageUri } from './storage/index.js';
export type { Storage, FileStatus } from './storage/types.js';
export { StorageError } from './storage/errors.js';
export { replay, type ReplayOptions } from './sensor/replay.js';
// Protocol analysis (docs/protocols.md): the analyzer, its plugin API, and streaming mode.
export * as protocols from './protocols/index.js';
export { Analyzer, analyzePcap, registerProtocol, type AnalyzerOptions } from './protocols/index.js';
export { StreamAnalyzer, type StreamAnalyzerOptions } from './protocols/stream/kafka-analyzer.js';

import { openStorage } from './storage/index.js';
import { QueryEngine, type MatchedPacket, type QuerySpec } from './query/engine/engine.js';

/** Runs a query against a store URI and yields matching packets in time order. */
export async function* query(spec: QuerySpec & { store: string }): AsyncGenerator<MatchedPacket> {
  const storage = openStorage(spec.store);
  try {
    yield* new QueryEngine(storage, spec).run();
  } finally {
    await storage.close();
  }
}
