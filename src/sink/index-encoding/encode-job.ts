/**
 * One index encoding job as the worker thread runs it (./encode-worker.ts): pure, no thread of its
 * own, so tests and stand-in workers can run it too.
 */
import type { BloomFilter } from '../../formats/index/bloom.js';
import { encodeIndexV2 } from '../../formats/index/v2/writer.js';
import type { EncodeJob, EncodeReply } from './protocol.js';

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
    // One buffer of its own (never a slice of Node's shared pool), so it can be transferred.
    let total = 0;
    for (const p of parts) total += p.length;
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    const sketches = [...(out.sketches ?? [])].map(([name, f]) => ({ name, hashes: f.hashes, bits: f.bits }));
    const transfer = [bytes.buffer, ...sketches.map((s) => s.bits.buffer as ArrayBuffer)];
    return [{ id: job.id, ok: true, bytes, sketches }, [...new Set(transfer)]];
  } catch (err) {
    return [{ id: job.id, ok: false, message: (err as Error)?.message ?? String(err) }, []];
  }
}
