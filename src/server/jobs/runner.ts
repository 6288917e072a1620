/**
 * Runs one job's query on the query engine, as `pcap-query` does (QueryEngine + writePages), into
 * the job's result directory, reporting progress per file and stopping when its AbortSignal fires.
 *
 * Cancellation reaches the engine through its two call-outs, so no engine change is needed: the
 * packet stream handed to the page writer ends at the next packet, and the per-file progress
 * callback throws, which ends the engine's loop at the next finished file even while a selective
 * query matches nothing. The stream always *ends* rather than throws into the page writer, so the
 * writer closes its open page file (an error thrown through it would leave the descriptor open);
 * the error is rethrown afterwards.
 */
import type { QueryRequest } from '../../cli/pcap-query/args.js';
import { QueryEngine, type MatchedPacket, type QueryStats } from '../../query/engine/engine.js';
import { writePages, type OutputResult } from '../../query/engine/output.js';
import type { Storage } from '../../storage/types.js';

export interface Progress {
  filesDone: number;
  filesTotal: number;
  packets: number;
}

export interface RunOutcome {
  result: OutputResult;
  stats: QueryStats;
}

export async function runQuery(
  request: QueryRequest,
  dir: string,
  storage: Storage,
  signal: AbortSignal,
  onProgress: (p: Progress) => void,
): Promise<RunOutcome> {
  const engine = new QueryEngine(storage, {
    basePath: request.basePath,
    startNs: request.startNs,
    endNs: request.endNs,
    filter: request.filter,
    useIndex: request.useIndex,
    concurrency: request.concurrency,
  });
  const progress: Progress = { filesDone: 0, filesTotal: 0, packets: 0 };
  const packets = engine.run((done, total) => {
    signal.throwIfAborted();
    progress.filesDone = done;
    progress.filesTotal = total;
    progress.packets = engine.stats.packetsMatched;
    onProgress(progress);
  });
  const failure: { error?: unknown } = {};
  const result = await writePages(ending(packets, signal, failure), dir, request.prefix, request.recordsPerFile, {
    maxPackets: request.maxPackets,
    maxBytes: request.maxBytes,
  });
  if (failure.error !== undefined) throw failure.error;
  signal.throwIfAborted();
  return { result, stats: engine.stats };
}

/**
 * Packets between two turns of the event loop. The engine's awaits on cached or fast reads resolve
 * as microtasks, which run before any I/O callback: without a turn now and then, a job would hold
 * the HTTP server (status polls, downloads) for as long as its data kept coming.
 */
const PACKETS_PER_TURN = 512;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** `source` until it ends, fails (kept in `failure`) or `signal` fires: never throws to its consumer. */
async function* ending(
  source: AsyncGenerator<MatchedPacket>,
  signal: AbortSignal,
  failure: { error?: unknown },
): AsyncGenerator<MatchedPacket> {
  let n = 0;
  try {
    for await (const p of source) {
      if (signal.aborted) return;
      yield p;
      if (++n % PACKETS_PER_TURN === 0) await nextTurn();
    }
  } catch (err) {
    failure.error = err;
  }
}
