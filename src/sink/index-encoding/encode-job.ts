/**
 * One index encoding job as the worker thread runs it (./encode-worker.ts): pure, no thread of its
 * own, so tests and stand-in workers can run it too.
 */
import type { BloomFilter } from '../../formats/index/bloom.js';
import { encodeIndexV2 } from '../../formats/index/v2/writer.js';
import type { EncodeJob, EncodeReply } from './protocol.js';

/** Parts at least this large that own their whole buffer are handed over as they are. */
const OWN_PIECE_BYTES = 64 * 1024;

/**
 * The encoded file as transferable pieces, in order, without copying it whole: large parts that own
 * their memory go as they are, runs of small ones (slices of shared slabs or Node's pool, which must
 * not be transferred) are copied into one fresh buffer each. A 1M-packet index (~14 MB) would
 * otherwise exist twice at the end of the job.
 */
export function transferablePieces(parts: readonly Uint8Array[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let runBytes = 0;
  const flush = () => {
    if (!run.length) return;
    const joined = new Uint8Array(runBytes);
    let at = 0;
    for (const p of run) {
      joined.set(p, at);
      at += p.length;
    }
    pieces.push(joined);
    run = [];
    runBytes = 0;
  };
  for (const p of parts) {
    if (p.length >= OWN_PIECE_BYTES && p.byteOffset === 0 && p.byteLength === p.buffer.byteLength) {
      flush();
      pieces.push(p);
    } else {
      run.push(p);
      runBytes += p.length;
    }
  }
  flush();
  return pieces;
}

/** One job: the reply and the buffers to transfer with it. */
export function runEncodeJob(job: EncodeJob): [EncodeReply, ArrayBuffer[]] {
  try {
    const out: { sketches?: Map<string, BloomFilter> } = {};
    const parts = encodeIndexV2(
      job.columns,
      job.addresses,
      job.summary,
      out,
      // Deterministic (tests): fresh deflate trials, so the bytes do not depend on earlier files.
      job.deterministic ? { sync: job.deterministic.sync, trials: new Map() } : {},
    );
    const pieces = transferablePieces(parts);
    const sketches = [...(out.sketches ?? [])].map(([name, f]) => ({ name, hashes: f.hashes, bits: f.bits }));
    const transfer = [...pieces.map((p) => p.buffer), ...sketches.map((s) => s.bits.buffer)] as ArrayBuffer[];
    return [{ id: job.id, ok: true, pieces, sketches }, [...new Set(transfer)]];
  } catch (err) {
    return [{ id: job.id, ok: false, message: (err as Error)?.message ?? String(err) }, []];
  }
}
